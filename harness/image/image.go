// Package image resolves the container image of every okbreak component:
// the image the user configured if it is present locally, else that image
// pulled, else an image built from source (the sample service, control
// plane and container exporter from this repository; etcd, Toxiproxy,
// Prometheus and Alertmanager from their Go modules) as a static binary in
// a FROM scratch image. Envoy has no source build.
//
// Built images are cached by a hash of their build inputs
// (okbreak/<name>:<first 12 hex of the key>, label okbreak.image.key), so a
// second run with the same code reuses the image and changed code never runs
// on a stale one. Our own tags are never pulled: they only exist locally.
package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Name names a component image.
type Name string

// The component images okbreak knows. Any other name resolves only when an
// image is configured for it (env var or WithImage).
const (
	SampleService Name = "sample-service"
	ControlPlane  Name = "control-plane"
	Etcd          Name = "etcd"
	Toxiproxy     Name = "toxiproxy"
	Envoy         Name = "envoy"
	// Prometheus and Alertmanager are for game days and their tests (alerts
	// read from a real server's API): no default stack runs them, and
	// Buildable leaves them out, so BuildAll does not spend minutes on them.
	Prometheus   Name = "prometheus"
	Alertmanager Name = "alertmanager"
	// ContainerExporter publishes Docker container state under the names
	// the embedded engine gives it, for a real Prometheus; game days only,
	// like Prometheus.
	ContainerExporter Name = "container-exporter"
)

// DefaultEnvoyImage is the official Envoy image used when OKBREAK_ENVOY_IMAGE
// is not set. Its minor version follows the go-control-plane/envoy API module
// the control plane is built against (v1.40), so the config we push is
// understood by the proxy that reads it.
const DefaultEnvoyImage = "envoyproxy/envoy:v1.40-latest"

// ModulePath is the module whose commands the repository recipes build.
const ModulePath = "github.com/okbreak/okbreak"

// Labels set on every image okbreak builds. Containers inherit image labels,
// so a container made from one of these images carries them too.
const (
	LabelManaged = "okbreak"            // "true"
	LabelKey     = "okbreak.image.key"  // full hex cache key
	LabelName    = "okbreak.image.name" // component name
)

// DefaultPullTimeout bounds one pull attempt: where no registry is reachable
// the pull must fail fast and let resolution move on to a build.
const DefaultPullTimeout = 30 * time.Second

// ErrUnavailable marks an image that is neither present locally nor pullable
// and that okbreak cannot build.
var ErrUnavailable = errors.New("image unavailable")

// Source says how an image was obtained.
type Source string

// Sources of a resolved image.
const (
	SourceLocal  Source = "local"  // already present in the engine (including our cached builds)
	SourcePulled Source = "pulled" // pulled from a registry during this resolution
	SourceBuilt  Source = "built"  // built from source during this resolution
)

// Image is a resolved component image.
type Image struct {
	// Ref is what to pass to the container runtime (a tag).
	Ref string
	// ID is the engine's content-addressable image ID.
	ID string
	// Source says how the image was obtained.
	Source Source
	// Key is the full cache key of an image okbreak builds; empty for
	// configured and official images.
	Key string
	// Note explains a fallback, e.g. a configured image that could not be had
	// and was replaced by a build from source. Empty when nothing unusual
	// happened. Callers should print it.
	Note string
}

// String renders the image for humans, e.g. "okbreak/etcd:0123456789ab (built)".
func (i Image) String() string {
	s := fmt.Sprintf("%s (%s)", i.Ref, i.Source)
	if i.Note != "" {
		s += ": " + i.Note
	}
	return s
}

// Names returns every component image okbreak knows, in a stable order.
func Names() []Name {
	return []Name{Etcd, Toxiproxy, ControlPlane, SampleService, Envoy, Prometheus, Alertmanager, ContainerExporter}
}

// Buildable returns the component images of okbreak's stacks that it can
// build from source, the ones BuildAll warms. Prometheus, Alertmanager and
// the container exporter build too (Resolve them by name) but are left
// out: Prometheus alone takes minutes to build cold, and no stack needs
// them.
func Buildable() []Name {
	return []Name{Etcd, Toxiproxy, ControlPlane, SampleService}
}

// EnvVar returns the environment variable that configures the image of name,
// e.g. OKBREAK_SAMPLE_SERVICE_IMAGE.
func EnvVar(name Name) string {
	up := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(string(name)))
	return "OKBREAK_" + up + "_IMAGE"
}

// Option configures a Resolver.
type Option func(*config) error

type config struct {
	repoRoot    string
	repoErr     error // why no okbreak source was found, for messages
	lookupEnv   func(string) (string, bool)
	logf        func(format string, args ...any)
	pullTimeout time.Duration
	images      map[Name]string
	builds      map[Name]recipe
	engine      Engine
}

// WithRepoRoot sets the okbreak source to build the repository images
// from. Default: found as findRepoRoot says (a checkout, the module that
// requires okbreak, the installed version).

func WithRepoRoot(dir string) Option {
	return func(c *config) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("repo root %s: %w", dir, err)
		}
		c.repoRoot = abs
		return nil
	}
}

// WithLookupEnv replaces os.LookupEnv for the OKBREAK_<NAME>_IMAGE variables
// (tests use it to avoid touching the process environment).
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return func(c *config) error {
		if lookup == nil {
			return errors.New("nil env lookup")
		}
		c.lookupEnv = lookup
		return nil
	}
}

// WithLogger receives progress lines (builds, pulls, fallbacks). Default: none.
// It may be called from several goroutines at once.
func WithLogger(logf func(format string, args ...any)) Option {
	return func(c *config) error {
		if logf == nil {
			return errors.New("nil logger")
		}
		c.logf = logf
		return nil
	}
}

// WithPullTimeout bounds each pull attempt (default DefaultPullTimeout).
func WithPullTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("pull timeout %v: must be positive", d)
		}
		c.pullTimeout = d
		return nil
	}
}

// WithImage configures the image of name, as a stack file does. The
// OKBREAK_<NAME>_IMAGE environment variable still wins over it.
func WithImage(name Name, ref string) Option {
	return func(c *config) error {
		if name == "" || strings.TrimSpace(ref) == "" {
			return fmt.Errorf("image for %q: empty name or reference", name)
		}
		c.images[name] = strings.TrimSpace(ref)
		return nil
	}
}

// WithGoBuild has the resolver build image name from a team's Go main
// package into a scratch image whose entrypoint is the binary, cached by the
// sources of the module that holds dir, as okbreak's own images are: pkg is
// the package's import path, or "" for the package in dir itself.
// OKBREAK_<NAME>_IMAGE still wins.
func WithGoBuild(name Name, dir, pkg string) Option {
	return func(c *config) error {
		if name == "" || dir == "" {
			return fmt.Errorf("go build of %q: empty name or folder", name)
		}
		if _, ok := recipes[name]; ok {
			return fmt.Errorf("go build of %q: okbreak builds that image itself; choose another name", name)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("go build of %s: %w", name, err)
		}
		root := nearestModule(abs)
		if root == "" {
			return fmt.Errorf("go build of %s: no go.mod holds %s: a Go build needs the package's module", name, dir)
		}
		if pkg == "" {
			rel, err := filepath.Rel(root, abs)
			if err != nil {
				return fmt.Errorf("go build of %s: %w", name, err)
			}
			pkg = "./" + filepath.ToSlash(rel)
		}
		c.builds[name] = recipe{name: name, mainPkg: pkg, binary: path.Base(pkg), root: root}
		return nil
	}
}

// WithDockerfileBuild has the resolver build image name from the
// Dockerfile folder dir, cached by the folder's contents. Only bases the
// engine has or can pull build (offline, FROM scratch).
func WithDockerfileBuild(name Name, dir string) Option {
	return func(c *config) error {
		if name == "" || dir == "" {
			return fmt.Errorf("docker build of %q: empty name or folder", name)
		}
		if _, ok := recipes[name]; ok {
			return fmt.Errorf("docker build of %q: okbreak builds that image itself; choose another name", name)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("docker build of %s: %w", name, err)
		}
		c.builds[name] = recipe{name: name, dockerDir: abs}
		return nil
	}
}

// WithEngine replaces the Docker engine client (tests, other runtimes). The
// Resolver closes it in Close.
func WithEngine(e Engine) Option {
	return func(c *config) error {
		if e == nil {
			return errors.New("nil engine")
		}
		c.engine = e
		return nil
	}
}

// Resolver resolves component images against one container engine.
//
// A Resolver is safe for use by several goroutines: resolutions of the same
// name are serialized (the second finds the first one's build), and Go builds
// run one at a time whatever the name, because a Go build already uses every
// core. Results are not memoized: each Resolve recomputes the cache key, so a
// long-lived Resolver still notices changed code.
type Resolver struct {
	cfg    config
	engine Engine

	buildSem chan struct{} // one Go build at a time

	mu        sync.Mutex
	nameLocks map[Name]chan struct{}
	arch      string // GOARCH of the engine, "" until first needed

	tcMu sync.Mutex // held while `go env` runs, apart from mu
	tc   *toolchain // nil until first needed
}

// NewResolver connects to the Docker engine (the one testcontainers-go uses)
// unless WithEngine is given.
func NewResolver(ctx context.Context, opts ...Option) (*Resolver, error) {
	cfg := config{
		lookupEnv:   os.LookupEnv,
		logf:        func(string, ...any) {},
		pullTimeout: DefaultPullTimeout,
		images:      map[Name]string{},
		builds:      map[Name]recipe{},
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("image resolver option: %w", err)
		}
	}
	if cfg.repoRoot == "" {
		// No checkout is fine until a repository image must be built.
		cfg.repoRoot, cfg.repoErr = findRepoRoot()
	}
	eng := cfg.engine
	if eng == nil {
		var err error
		eng, err = NewDockerEngine(ctx)
		if err != nil {
			return nil, err
		}
	}
	return &Resolver{
		cfg:       cfg,
		engine:    eng,
		buildSem:  make(chan struct{}, 1),
		nameLocks: map[Name]chan struct{}{},
	}, nil
}

// Close releases the engine connection.
func (r *Resolver) Close() error {
	if err := r.engine.Close(); err != nil {
		return fmt.Errorf("close container engine client: %w", err)
	}
	return nil
}

// RepoRoot returns the okbreak checkout used for repository builds ("" if none).
func (r *Resolver) RepoRoot() string { return r.cfg.repoRoot }

// configured returns the image the user configured for name: the env var
// first, then WithImage.
func (r *Resolver) configured(name Name) (string, bool) {
	if v, ok := r.cfg.lookupEnv(EnvVar(name)); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v), true
	}
	ref, ok := r.cfg.images[name]
	return ref, ok
}

// Resolve returns the image to run for name, obtaining it if needed: the
// configured image if present locally, else pulled, else (for buildable
// names) the cached build okbreak/<name>:<key>, built when absent. An Envoy
// image that cannot be had is an error wrapping ErrUnavailable that names
// the fix.
func (r *Resolver) Resolve(ctx context.Context, name Name) (Image, error) {
	unlock, err := r.lockName(ctx, name)
	if err != nil {
		return Image{}, err
	}
	defer unlock()

	rc, buildable := r.recipe(name)
	if ref, ok := r.configured(name); ok {
		img, fetchErr := r.fetch(ctx, ref)
		if fetchErr == nil {
			return img, nil
		}
		if !errors.Is(fetchErr, ErrUnavailable) || !buildable {
			return Image{}, r.unavailable(name, ref, true, fetchErr)
		}
		note := fmt.Sprintf("configured image %s (%s) could not be had: %v; built from source instead", ref, r.configSource(name), fetchErr)
		r.cfg.logf("image %s: %s", name, note)
		img, err := r.buildOrReuse(ctx, rc)
		if err != nil {
			return Image{}, fmt.Errorf("configured image %s (%s) could not be had (%v), and building from source failed: %w", ref, r.configSource(name), fetchErr, err)
		}
		img.Note = note
		return img, nil
	}
	if buildable {
		return r.buildOrReuse(ctx, rc)
	}
	if name == Envoy {
		img, err := r.fetch(ctx, DefaultEnvoyImage)
		if err != nil {
			return Image{}, r.unavailable(name, DefaultEnvoyImage, false, err)
		}
		return img, nil
	}
	return Image{}, fmt.Errorf("image %q: unknown component and no image configured (set %s)", name, EnvVar(name))
}

// recipe is how name is built: okbreak's own recipe, or a team's build
// given as an option.
func (r *Resolver) recipe(name Name) (recipe, bool) {
	if rc, ok := recipes[name]; ok {
		return rc, true
	}
	rc, ok := r.cfg.builds[name]
	return rc, ok
}

// ResolveAll resolves names in parallel and stops at the first error.
func (r *Resolver) ResolveAll(ctx context.Context, names ...Name) (map[Name]Image, error) {
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	out := make(map[Name]Image, len(names))
	for _, n := range names {
		g.Go(func() error {
			img, err := r.Resolve(gctx, n)
			if err != nil {
				return fmt.Errorf("resolve image %s: %w", n, err)
			}
			mu.Lock()
			out[n] = img
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// Available reports whether the image of name can be had without failing the
// run: true for buildable names (without building), and for others whether
// the configured or default image is present locally or can be pulled (a
// successful pull leaves it local, so the later Resolve is instant). It is
// what OKBREAK_DATA_PLANE=auto uses to choose between Envoy and gRPC. A false
// answer comes with a nil error; errors are engine failures.
func (r *Resolver) Available(ctx context.Context, name Name) (bool, error) {
	if _, ok := recipes[name]; ok {
		return true, nil
	}
	ref, ok := r.configured(name)
	if !ok {
		if name != Envoy {
			return false, nil
		}
		ref = DefaultEnvoyImage
	}
	unlock, err := r.lockName(ctx, name)
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := r.fetch(ctx, ref); err != nil {
		if errors.Is(err, ErrUnavailable) {
			r.cfg.logf("image %s: %s is not available: %v", name, ref, err)
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// BuildAll resolves every buildable component image (building what is
// missing) with a resolver made from opts, for `okbreak images` and CI
// warm-up. Envoy is not included: it cannot be built; ask Available.
func BuildAll(ctx context.Context, opts ...Option) (map[Name]Image, error) {
	r, err := NewResolver(ctx, opts...)
	if err != nil {
		return nil, err
	}
	imgs, err := r.ResolveAll(ctx, Buildable()...)
	if cerr := r.Close(); err == nil && cerr != nil {
		return nil, cerr
	}
	return imgs, err
}

func (r *Resolver) configSource(name Name) string {
	if v, ok := r.cfg.lookupEnv(EnvVar(name)); ok && strings.TrimSpace(v) != "" {
		return EnvVar(name)
	}
	return "stack file"
}

// unavailable builds the error for an image that cannot be had. For Envoy
// it names the two ways out.
func (r *Resolver) unavailable(name Name, ref string, configured bool, cause error) error {
	how := "default image"
	if configured {
		how = "image configured by " + r.configSource(name)
	}
	msg := fmt.Sprintf("%s %s for %s is not present locally and could not be pulled", how, ref, name)
	if !errors.Is(cause, ErrUnavailable) {
		// An engine failure, not a missing image: no fix to suggest.
		return fmt.Errorf("%s: %w", msg, cause)
	}
	if name == Envoy {
		return fmt.Errorf("%s: set %s to a local Envoy image, or use --data-plane grpc (%w)", msg, EnvVar(Envoy), cause)
	}
	return fmt.Errorf("%s: make it present locally or unset %s (%w)", msg, EnvVar(name), cause)
}

// fetch finds ref locally or pulls it. A missing image that cannot be pulled
// is reported as ErrUnavailable; engine failures are returned as they are.
func (r *Resolver) fetch(ctx context.Context, ref string) (Image, error) {
	info, found, err := r.engine.Inspect(ctx, ref)
	if err != nil {
		return Image{}, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	if found {
		return Image{Ref: ref, ID: info.ID, Source: SourceLocal}, nil
	}
	r.cfg.logf("image %s: not present locally, pulling (timeout %v)", ref, r.cfg.pullTimeout)
	pctx, cancel := context.WithTimeout(ctx, r.cfg.pullTimeout)
	defer cancel()
	if err := r.engine.Pull(pctx, ref); err != nil {
		if ctx.Err() != nil {
			return Image{}, fmt.Errorf("pull image %s: %w", ref, ctx.Err())
		}
		return Image{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	info, found, err = r.engine.Inspect(ctx, ref)
	if err != nil {
		return Image{}, fmt.Errorf("inspect pulled image %s: %w", ref, err)
	}
	if !found {
		return Image{}, fmt.Errorf("pull %s reported success but the image is absent: %w", ref, ErrUnavailable)
	}
	return Image{Ref: ref, ID: info.ID, Source: SourcePulled}, nil
}

// lockName serializes resolutions of one name, so that two goroutines asking
// for the same missing image build it once.
func (r *Resolver) lockName(ctx context.Context, name Name) (func(), error) {
	r.mu.Lock()
	ch, ok := r.nameLocks[name]
	if !ok {
		ch = make(chan struct{}, 1)
		r.nameLocks[name] = ch
	}
	r.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to resolve image %s: %w", name, ctx.Err())
	}
}

// findRepoRoot finds okbreak's source, from which the repository images
// build, trying in turn:
//   - the nearest go.mod above the working directory, if it is okbreak's
//     (a checkout);
//   - that module's requirement of okbreak (`go list -m`: a team's module
//     that imports okbreak, through its replace directive or the module
//     cache);
//   - the folder this binary was built from, if it is still there (a
//     checkout, or the module cache of `go install ...@version`);
//   - the version this binary was installed at, downloaded into the module
//     cache (`go mod download`, through GOPROXY), for a binary built with
//     -trimpath.
func findRepoRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	if mod := nearestModule(wd); mod != "" {
		if isOkbreak(mod) {
			return mod, nil
		}
		if dir, err := goOutput(ctx, mod, "list", "-m", "-f", "{{.Dir}}", ModulePath); err == nil && isOkbreak(dir) {
			return dir, nil
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if dir := filepath.Dir(filepath.Dir(filepath.Dir(file))); isOkbreak(dir) {
			return dir, nil
		}
	}
	why := "not in a checkout, not required by the module here, not built from a folder still there"
	// A build in a checkout stamps a version with +dirty or a local
	// pseudo-version that no proxy has: only a clean version is worth asking for.
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == ModulePath && bi.Main.Version != "" && bi.Main.Version != "(devel)" && !strings.Contains(bi.Main.Version, "+") {
		out, err := goOutput(ctx, os.TempDir(), "mod", "download", "-json", ModulePath+"@"+bi.Main.Version)
		if err == nil {
			var m struct{ Dir string }
			if err := json.Unmarshal([]byte(out), &m); err == nil && isOkbreak(m.Dir) {
				return m.Dir, nil
			}
		}
		why += fmt.Sprintf(", and okbreak %s could not be downloaded: %v", bi.Main.Version, err)
	}
	return "", errors.New("no okbreak source found: " + why)
}

// nearestModule is the folder of the nearest go.mod at or above dir.
func nearestModule(dir string) string {
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// isOkbreak reports whether dir holds okbreak's go.mod.
func isOkbreak(dir string) bool {
	if dir == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && modulePathOf(b) == ModulePath
}

// goOutput runs the go command in dir and returns its trimmed stdout.
func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
