package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// toolchain describes the go command that builds the binaries.
type toolchain struct {
	goBin    string
	version  string // e.g. go1.26.8
	buildEnv string // settings that change the output: GOFLAGS, GOEXPERIMENT, GOAMD64, GOARM64
	gowork   string // go.work in force for the checkout, "" or "off" if none
}

// toolchain runs `go env` once per Resolver (a few ms) and remembers it.
func (r *Resolver) toolchain(ctx context.Context) (toolchain, error) {
	r.tcMu.Lock()
	defer r.tcMu.Unlock()
	if r.tc != nil {
		return *r.tc, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return toolchain{}, fmt.Errorf("the go command is needed to build images but is not in PATH (%w): install Go, or set the OKBREAK_<NAME>_IMAGE variables to prebuilt images", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "env", "-json", "GOVERSION", "GOFLAGS", "GOEXPERIMENT", "GOAMD64", "GOARM64", "GOWORK")
	cmd.Dir = r.cfg.repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return toolchain{}, fmt.Errorf("go env: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var env map[string]string
	if err := json.Unmarshal(out, &env); err != nil {
		return toolchain{}, fmt.Errorf("parse go env output: %w", err)
	}
	if env["GOVERSION"] == "" {
		return toolchain{}, errors.New("go env reported no GOVERSION")
	}
	tc := toolchain{
		goBin:   goBin,
		version: env["GOVERSION"],
		buildEnv: fmt.Sprintf("GOFLAGS=%q GOEXPERIMENT=%q GOAMD64=%q GOARM64=%q",
			env["GOFLAGS"], env["GOEXPERIMENT"], env["GOAMD64"], env["GOARM64"]),
		gowork: env["GOWORK"],
	}
	r.tc = &tc
	return tc, nil
}

// targetArch asks the engine once which architecture to build for.
func (r *Resolver) targetArch(ctx context.Context) (string, error) {
	r.mu.Lock()
	arch := r.arch
	r.mu.Unlock()
	if arch != "" {
		return arch, nil
	}
	arch, err := r.engine.Arch(ctx)
	if err != nil {
		return "", err
	}
	if arch == "" {
		return "", errors.New("container engine reported no architecture")
	}
	r.mu.Lock()
	r.arch = arch
	r.mu.Unlock()
	return arch, nil
}

func (r *Resolver) keyInputs(ctx context.Context) (keyInputs, error) {
	tc, err := r.toolchain(ctx)
	if err != nil {
		return keyInputs{}, err
	}
	arch, err := r.targetArch(ctx)
	if err != nil {
		return keyInputs{}, err
	}
	return keyInputs{tc: tc, arch: arch}, nil
}

// checkRepo makes sure repository recipes build from an okbreak checkout,
// not from whatever module the user happens to run okbreak in.
func (r *Resolver) checkRepo(rc recipe) error {
	if r.cfg.repoRoot == "" {
		return fmt.Errorf("building %s needs the okbreak source (%v): run from the okbreak checkout or set %s to a prebuilt image", rc.name, r.cfg.repoErr, EnvVar(rc.name))
	}
	gomod, err := os.ReadFile(filepath.Join(r.cfg.repoRoot, "go.mod"))
	if err != nil {
		return fmt.Errorf("read go.mod: %w", err)
	}
	if mp := modulePathOf(gomod); mp != ModulePath {
		return fmt.Errorf("building %s needs the okbreak source, but %s is module %q: run from the okbreak checkout or set %s to a prebuilt image", rc.name, r.cfg.repoRoot, mp, EnvVar(rc.name))
	}
	return nil
}

// Key returns the cache key of a buildable image and the tag it would carry,
// without touching the engine's images. It exists so callers (and tests) can
// see what a build would be cached under.
func (r *Resolver) Key(ctx context.Context, name Name) (key, ref string, err error) {
	rc, ok := r.recipe(name)
	if !ok {
		return "", "", fmt.Errorf("image %s: okbreak cannot build it", name)
	}
	in, err := r.keyInputs(ctx)
	if err != nil {
		return "", "", err
	}
	key, _, err = r.key(rc, in)
	if err != nil {
		return "", "", err
	}
	return key, tagFor(name, key), nil
}

func tagFor(name Name, key string) string {
	return fmt.Sprintf("okbreak/%s:%s", name, key[:12])
}

// key computes a recipe's cache key; version is the module version of an
// external recipe.
func (r *Resolver) key(rc recipe, in keyInputs) (key, version string, err error) {
	switch {
	case rc.dockerDir != "":
		key, err = dirKey(rc.dockerDir, rc.name)
		return key, "", err
	case rc.root != "":
		key, err = repoKey(rc.root, rc, in)
		if err != nil {
			return "", "", fmt.Errorf("cache key of %s: %w", rc.name, err)
		}
		return key, "", nil
	}
	if rc.repo() {
		if err := r.checkRepo(rc); err != nil {
			return "", "", err
		}
		key, err = repoKey(r.cfg.repoRoot, rc, in)
		if err != nil {
			return "", "", fmt.Errorf("cache key of %s: %w", rc.name, err)
		}
		return key, "", nil
	}
	version, err = r.externalVersion(rc)
	if err != nil {
		return "", "", err
	}
	return externalKey(rc, version, in), version, nil
}

// buildOrReuse returns the cached image of a recipe, building it if the
// engine does not have it.
func (r *Resolver) buildOrReuse(ctx context.Context, rc recipe) (Image, error) {
	in, err := r.keyInputs(ctx)
	if err != nil {
		return Image{}, err
	}
	key, version, err := r.key(rc, in)
	if err != nil {
		return Image{}, err
	}
	ref := tagFor(rc.name, key)
	info, found, err := r.engine.Inspect(ctx, ref)
	if err != nil {
		return Image{}, fmt.Errorf("inspect cached image %s: %w", ref, err)
	}
	if found && info.Labels[LabelKey] == key {
		return Image{Ref: ref, ID: info.ID, Source: SourceLocal, Key: key}, nil
	}
	if found {
		// Same 12-hex prefix, different inputs: build and move the tag.
		r.cfg.logf("image %s: tag carries key %q, want %s; rebuilding", ref, info.Labels[LabelKey], key)
	}

	bctx, err := r.context(ctx, rc, version, in, key)
	if err != nil {
		return Image{}, err
	}
	start := time.Now()
	err = r.engine.Build(ctx, BuildRequest{
		Ref:     ref,
		Context: bctx,
		Labels:  map[string]string{LabelManaged: "true", LabelKey: key, LabelName: string(rc.name)},
	})
	if err != nil {
		if rc.dockerDir != "" {
			return Image{}, fmt.Errorf("%w: only a base the engine has or can pull builds here (FROM scratch always does); or set %s to a prebuilt image", err, EnvVar(rc.name))
		}
		return Image{}, err
	}
	info, found, err = r.engine.Inspect(ctx, ref)
	if err != nil {
		return Image{}, fmt.Errorf("inspect built image %s: %w", ref, err)
	}
	if !found {
		return Image{}, fmt.Errorf("image %s: build reported success but the tag is absent", ref)
	}
	r.cfg.logf("image %s: docker build took %v", ref, time.Since(start).Round(time.Millisecond))
	return Image{Ref: ref, ID: info.ID, Source: SourceBuilt, Key: key}, nil
}

// context is the docker build context of a recipe: a team's Dockerfile
// folder as it is, or a scratch image around a Go binary built here.
func (r *Resolver) context(ctx context.Context, rc recipe, version string, in keyInputs, key string) (*bytes.Buffer, error) {
	if rc.dockerDir != "" {
		return dirContext(rc.dockerDir)
	}
	bin, err := r.buildBinary(ctx, rc, version, in, key)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	return buildContext(rc.dockerfile(), rc.binary, bin)
}

// buildBinary builds the recipe's static linux binary into a fresh temp
// directory and returns its path. Go builds run one at a time per Resolver.
func (r *Resolver) buildBinary(ctx context.Context, rc recipe, version string, in keyInputs, key string) (string, error) {
	select {
	case r.buildSem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("wait for the Go build slot (%s): %w", rc.name, ctx.Err())
	}
	defer func() { <-r.buildSem }()

	tmp, err := os.MkdirTemp("", "okbreak-image-"+string(rc.name)+"-")
	if err != nil {
		return "", fmt.Errorf("temp dir for %s build: %w", rc.name, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	out := filepath.Join(tmp, rc.binary)
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+in.arch)
	start := time.Now()
	if rc.repo() {
		r.cfg.logf("image %s: go build %s (linux/%s)", rc.name, rc.mainPkg, in.arch)
		args := append(append([]string{"build"}, rc.buildFlags("")...), "-o", out, rc.mainPkg)
		root := r.cfg.repoRoot
		if rc.root != "" {
			root = rc.root
		}
		if err := runGo(ctx, in.tc.goBin, root, env, args...); err != nil {
			return "", fmt.Errorf("build %s: %w", rc.name, err)
		}
		// The key was taken before the build: if the sources moved meanwhile
		// the binary may not match it, and caching it would be a lie.
		again, _, err := r.key(rc, in)
		if err != nil {
			return "", err
		}
		if again != key {
			return "", fmt.Errorf("build %s: sources changed during the build; run again", rc.name)
		}
	} else {
		r.cfg.logf("image %s: go build %s@%s (linux/%s; minutes with a cold module cache)", rc.name, rc.pkg, version, in.arch)
		if err := buildExternal(ctx, in.tc.goBin, tmp, env, rc, version, out); err != nil {
			return "", fmt.Errorf("build %s: %w", rc.name, err)
		}
	}
	r.cfg.logf("image %s: go build took %v", rc.name, time.Since(start).Round(time.Millisecond))
	ok = true
	return out, nil
}

// buildExternal builds rc.pkg at version inside a throwaway module, so the
// dependency versions are the ones the package's own module asks for (not
// this repository's), and modules whose go.mod has replace directives (etcd)
// build too, which `go install pkg@version` refuses.
func buildExternal(ctx context.Context, goBin, tmp string, env []string, rc recipe, version, out string) error {
	wrap := filepath.Join(tmp, "wrapper")
	if err := os.Mkdir(wrap, 0o755); err != nil {
		return fmt.Errorf("wrapper module dir: %w", err)
	}
	// The user's workspace and -mod settings belong to their checkout, not
	// to this throwaway module.
	env = append(env, "GOWORK=off", "GOFLAGS=-mod=mod")
	if err := runGo(ctx, goBin, wrap, env, "mod", "init", "okbreak.local/imagebuild"); err != nil {
		return err
	}
	if err := runGo(ctx, goBin, wrap, env, "get", rc.pkg+"@"+version); err != nil {
		return err
	}
	args := append(append([]string{"build"}, rc.buildFlags(version)...), "-o", out, rc.pkg)
	return runGo(ctx, goBin, wrap, env, args...)
}

// runGo runs the go command and returns its output's tail on failure.
func runGo(ctx context.Context, goBin, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("go %s: %w", strings.Join(args, " "), ctx.Err())
		}
		text := out.String()
		if len(text) > 4000 {
			text = "..." + text[len(text)-4000:]
		}
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(text))
	}
	return nil
}
