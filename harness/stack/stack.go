// Package stack brings a system under test up in containers: components on
// one private Docker network, every hop between them through Toxiproxy, the
// registry seeded into etcd, and readiness judged by traffic flowing end to
// end. It also sweeps what killed runs left behind.
package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/probe"
	"github.com/okbreak/okbreak/harness/retry"
)

// Loopback is the only host address okbreak publishes ports on.
var Loopback = netip.MustParseAddr("127.0.0.1")

// Resolver finds or builds the image of a component.
type Resolver interface {
	Resolve(ctx context.Context, name image.Name) (image.Image, error)
}

type options struct {
	runID      string
	logf       func(format string, args ...any)
	resolver   Resolver
	readyAfter time.Duration
}

// Option configures Up.
type Option func(*options) error

// WithRunID names the run (default: a random ID).
func WithRunID(id string) Option {
	return func(o *options) error {
		if id == "" || strings.ContainsAny(id, " /:") {
			return fmt.Errorf("run ID %q: want letters, digits and dashes", id)
		}
		o.runID = id
		return nil
	}
}

// WithLogf sends progress lines to logf (default: discarded).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(o *options) error {
		if logf == nil {
			return errors.New("WithLogf: nil func")
		}
		o.logf = logf
		return nil
	}
}

// WithResolver sets how images are found (default: image.NewResolver).
func WithResolver(r Resolver) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("WithResolver: nil resolver")
		}
		o.resolver = r
		return nil
	}
}

// WithReadyTimeout bounds each wait for readiness (default 60 s).
func WithReadyTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("ready timeout %s: must be positive", d)
		}
		o.readyAfter = d
		return nil
	}
}

// Stack is a running system under test. Its methods are safe for concurrent
// use.
type Stack struct {
	// Def is the definition the stack was brought up from.
	Def Definition
	// RunID names the run; every container and network carries it.
	RunID string
	// Images are the images the components run, by image name.
	Images map[image.Name]image.Image

	logf    func(format string, args ...any)
	timeout time.Duration

	mu         sync.Mutex
	network    *testcontainers.DockerNetwork
	containers map[string]*testcontainers.DockerContainer
	// started is when the engine's first start of each component's
	// container returned (Up's progress lines).
	started map[string]time.Time
	down    bool
	// attachedNet is the network ID of a stack rebuilt by Attach, which
	// has no testcontainers handle on its network.
	attachedNet string
}

// Up brings def up and waits until traffic flows end to end through
// client->edge to every backend. On error it returns the stack too, torn
// down as far as it got, so that a caller's deferred Down is always safe.
func Up(ctx context.Context, def Definition, opts ...Option) (*Stack, error) {
	o := options{runID: NewRunID(), logf: func(string, ...any) {}, readyAfter: 60 * time.Second}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("stack options: %w", err)
		}
	}
	if err := CheckEnvironment(); err != nil {
		return nil, fmt.Errorf("stack up: %w", err)
	}
	s := &Stack{
		Def: def, RunID: o.runID, logf: o.logf, timeout: o.readyAfter,
		containers: map[string]*testcontainers.DockerContainer{},
		Images:     map[image.Name]image.Image{},
	}
	if err := s.up(ctx, o); err != nil {
		downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return s, errors.Join(fmt.Errorf("stack up (run %s): %w", s.RunID, err), s.Down(downCtx))
	}
	return s, nil
}

func (s *Stack) up(ctx context.Context, o options) error {
	start := time.Now()
	if _, ok := s.Def.Component(s.Def.EtcdComponent()); !ok && len(s.Def.Seed) > 0 {
		return fmt.Errorf("the definition seeds etcd but has no component %q to write it to", s.Def.EtcdComponent())
	}
	if o.resolver == nil {
		r, err := NewResolver(ctx, s.Def, s.logf)
		if err != nil {
			return err
		}
		defer r.Close()
		o.resolver = r
	}
	// The network needs no image: it is created while the images are
	// resolved (each a cache check, or a build on a cold cache).
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		nw, err := network.New(gctx, network.WithLabels(RunLabels(s.RunID)))
		s.mu.Lock()
		s.network = nw
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("create network: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := s.resolveImages(gctx, o.resolver); err != nil {
			return err
		}
		s.logf("images ready in %s", time.Since(start).Round(time.Millisecond))
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}

	if err := s.startStages(ctx, start); err != nil {
		return err
	}
	if err := s.WaitServing(ctx); err != nil {
		return err
	}
	s.logf("stack %s serving in %s", s.RunID, time.Since(start).Round(time.Millisecond))
	return nil
}

// startStages creates and starts the definition's containers stage by
// stage, each stage ready (and etcd seeded) before the next starts. start
// is Up's, for the progress lines.
func (s *Stack) startStages(ctx context.Context, start time.Time) error {
	stages := map[int][]Component{}
	var order []int
	for _, c := range s.Def.Components {
		if _, ok := stages[c.Stage]; !ok {
			order = append(order, c.Stage)
		}
		stages[c.Stage] = append(stages[c.Stage], c)
	}
	sort.Ints(order)
	if len(order) == 0 {
		return errors.New("the definition has no components")
	}
	if err := s.createAll(ctx, stages[order[0]]); err != nil {
		return err
	}
	s.logf("stage %d created at %s", order[0], time.Since(start).Round(time.Millisecond))
	// The later stages' containers are created while the first stage
	// starts: a created container runs nothing, so the stages keep their
	// order, and a later stage's start no longer waits for its create and
	// file copy. startStages never returns with a create in flight: Down
	// must find every container (one a cancelled create left carries the
	// run's labels, and Down removes those too).
	var later []Component
	for _, st := range order[1:] {
		later = append(later, stages[st]...)
	}
	laterCtx, cancelLater := context.WithCancel(ctx)
	laterDone := make(chan error, 1)
	go func() { laterDone <- s.createAll(laterCtx, later) }()
	waitLater := sync.OnceValue(func() error { return <-laterDone })
	defer func() {
		cancelLater()
		_ = waitLater()
	}()
	for i, st := range order {
		if i == 1 {
			if err := waitLater(); err != nil {
				return err
			}
		}
		if err := s.startStage(ctx, stages[st]); err != nil {
			return err
		}
		if c, ok := s.Def.Component(s.Def.EtcdComponent()); ok && c.Stage == st {
			if err := s.WriteSeed(ctx); err != nil {
				return err
			}
		}
		s.logf("stage %d ready at %s", st, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (s *Stack) resolveImages(ctx context.Context, r Resolver) error {
	names := map[image.Name]bool{}
	for _, c := range s.Def.Components {
		names[c.Image] = true
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for n := range names {
		g.Go(func() error {
			img, err := r.Resolve(gctx, n)
			if err != nil {
				return fmt.Errorf("image %s: %w", n, err)
			}
			mu.Lock()
			s.Images[n] = img
			mu.Unlock()
			s.logf("image %s: %s (%s)", n, img.Ref, img.Source)
			if img.Note != "" {
				s.logf("image %s: %s", n, img.Note)
			}
			return nil
		})
	}
	return g.Wait()
}

// createAll creates comps' containers in parallel.
func (s *Stack) createAll(ctx context.Context, comps []Component) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range comps {
		g.Go(func() error { return s.create(gctx, c) })
	}
	return g.Wait()
}

// startStage starts comps in parallel and waits until all are ready.
func (s *Stack) startStage(ctx context.Context, comps []Component) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range comps {
		g.Go(func() error { return s.start(gctx, c) })
	}
	return g.Wait()
}

// ContainerName is the Docker name of a component's container in a run.
func ContainerName(runID, component string) string {
	return "okbreak-" + runID + "-" + component
}

// containerOptions turns a component into testcontainers options. Exported
// through StartExtra for faults that start a second instance.
func (s *Stack) containerOptions(c Component, name string, restart RestartPolicy, aliases []string) []testcontainers.ContainerCustomizer {
	labels := RunLabels(s.RunID)
	labels[LabelComponent] = c.Name
	if s.Def.IsProxy(c.Name) {
		api, ok := c.PortNumber("api")
		if !ok {
			api = PortToxiproxy
		}
		labels[LabelToxiproxyAPI] = strconv.Itoa(api)
	}
	// Internal ports are not even exposed: containers reach each other on
	// any port, and an exposed port without a binding is published on all
	// interfaces (TestDefaultStackOnGRPCDataPlane saw it).
	var exposed []string
	for _, p := range c.Ports {
		if !p.Internal {
			exposed = append(exposed, fmt.Sprintf("%d/tcp", p.Number))
		}
	}
	opts := []testcontainers.ContainerCustomizer{
		network.WithNetwork(aliases, s.network),
		testcontainers.WithName(name),
		// okbreak reports its own progress; the caller's logger (the
		// process-wide default) stays the caller's.
		testcontainers.WithLogger(tclog.NewNoopLogger()),
		testcontainers.WithCmd(c.Cmd...),
		testcontainers.WithExposedPorts(exposed...),
		testcontainers.WithLabels(labels),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			// Publish on loopback only: nothing of the system under test
			// may be reachable from another host.
			hc.PortBindings = mobynet.PortMap{}
			for _, e := range exposed {
				p, err := mobynet.ParsePort(e)
				if err == nil {
					hc.PortBindings[p] = []mobynet.PortBinding{{HostIP: Loopback, HostPort: "0"}}
				}
			}
			hc.RestartPolicy = restart.docker()
		}),
	}
	if len(c.Env) > 0 {
		opts = append(opts, testcontainers.WithEnv(c.Env))
	}
	if len(c.Entrypoint) > 0 {
		opts = append(opts, testcontainers.WithEntrypoint(c.Entrypoint...))
	}
	if h := c.Healthcheck; h != nil {
		opts = append(opts, testcontainers.WithConfigModifier(func(cfg *container.Config) {
			cfg.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		}))
	}
	var files []testcontainers.ContainerFile
	for _, f := range c.Files {
		files = append(files, testcontainers.ContainerFile{Reader: bytes.NewReader(f.Content), ContainerFilePath: f.Path, FileMode: f.Mode})
	}
	if len(files) > 0 {
		opts = append(opts, testcontainers.WithFiles(files...))
	}
	return opts
}

// create creates c's container, its files copied in, without starting it.
func (s *Stack) create(ctx context.Context, c Component) error {
	img, ok := s.Images[c.Image]
	if !ok {
		return fmt.Errorf("create %s: no image resolved for %s", c.Name, c.Image)
	}
	opts := s.containerOptions(c, ContainerName(s.RunID, c.Name), c.Restart, c.Aliases)
	var waits []wait.Strategy
	if port, ok := c.PortNumber(c.Ready.Port); ok && c.Ready.Path != "" {
		waits = append(waits, httpReady{port: fmt.Sprintf("%d/tcp", port), path: c.Ready.Path})
	}
	if c.Healthcheck != nil {
		// Docker's health status changes once per check interval
		// (seconds): asking more often gains nothing.
		waits = append(waits, wait.ForHealthCheck().WithPollInterval(50*time.Millisecond))
	}
	if len(waits) > 0 {
		opts = append(opts, testcontainers.WithWaitStrategyAndDeadline(s.timeout, waits...))
	}
	// When the engine's first start returned, before the wait for ready,
	// for the progress line: what the engine took apart from what the
	// component took. The hook stays with the container, which a fault
	// may start again.
	opts = append(opts, testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
		PostStarts: []testcontainers.ContainerHook{func(context.Context, testcontainers.Container) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.started == nil {
				s.started = map[string]time.Time{}
			}
			if _, ok := s.started[c.Name]; !ok {
				s.started[c.Name] = time.Now()
			}
			return nil
		}},
	}))
	// testcontainers.Run, less the start: the same options, applied the
	// same way.
	req := testcontainers.GenericContainerRequest{ContainerRequest: testcontainers.ContainerRequest{Image: img.Ref}}
	for _, opt := range opts {
		if err := opt.Customize(&req); err != nil {
			return fmt.Errorf("create %s: %w", c.Name, err)
		}
	}
	got, err := testcontainers.GenericContainer(ctx, req)
	if ctr, ok := got.(*testcontainers.DockerContainer); ok && ctr != nil {
		s.mu.Lock()
		s.containers[c.Name] = ctr
		s.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", c.Name, err)
	}
	return nil
}

// start starts c's created container and waits until it is ready.
func (s *Stack) start(ctx context.Context, c Component) error {
	ctr, err := s.Container(c.Name)
	if err != nil {
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	t0 := time.Now()
	if err := ctr.Start(ctx); err != nil {
		return fmt.Errorf("start %s: %w%s", c.Name, err, s.logTail(ctx, ctr))
	}
	s.mu.Lock()
	running := s.started[c.Name]
	s.mu.Unlock()
	s.logf("%s ready in %s (running after %s)", c.Name, time.Since(t0).Round(time.Millisecond), running.Sub(t0).Round(time.Millisecond))
	return nil
}

// logTail returns the last lines a container logged, for error messages.
func (s *Stack) logTail(ctx context.Context, ctr *testcontainers.DockerContainer) string {
	if ctr == nil {
		return ""
	}
	t, err := tail(context.WithoutCancel(ctx), ctr, 20)
	if err != nil {
		return ""
	}
	return "\n  container log (last lines):\n    " + strings.ReplaceAll(t, "\n", "\n    ")
}

// Container returns a component's container.
func (s *Stack) Container(name string) (*testcontainers.DockerContainer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[name]
	if !ok {
		return nil, fmt.Errorf("no component %q: want one of %s", name, strings.Join(s.Def.ComponentNames(), ", "))
	}
	return c, nil
}

// ContainerName is the name of the container the stack started (or, after
// Attach, found) for a component: its own record, not a naming rule that a
// caller could apply to any name.
func (s *Stack) ContainerName(component string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.containers[component]; !ok {
		return "", fmt.Errorf("no container was started for component %q: want one of %s", component, strings.Join(s.Def.ComponentNames(), ", "))
	}
	return ContainerName(s.RunID, component), nil
}

// HostAddr returns "127.0.0.1:<port>" where the host reaches a component's
// named port. It asks Docker every time: a published port can change when a
// container restarts.
func (s *Stack) HostAddr(ctx context.Context, component, port string) (string, error) {
	c, ok := s.Def.Component(component)
	if !ok {
		return "", fmt.Errorf("no component %q: want one of %s", component, strings.Join(s.Def.ComponentNames(), ", "))
	}
	num, ok := c.PortNumber(port)
	if !ok {
		return "", fmt.Errorf("component %s has no port %q", component, port)
	}
	ctr, err := s.Container(component)
	if err != nil {
		return "", err
	}
	p, err := ctr.MappedPort(ctx, fmt.Sprintf("%d/tcp", num))
	if err != nil {
		return "", fmt.Errorf("host port of %s %s: %w", component, port, err)
	}
	return netip.AddrPortFrom(Loopback, p.Num()).String(), nil
}

// EntryURL is the probe's way in: the Toxiproxy listener of the
// definition's entry link, as published on the host.
func (s *Stack) EntryURL(ctx context.Context) (string, error) {
	l, ok := s.Def.Link(s.Def.Entry.Link)
	if !ok {
		return "", fmt.Errorf("entry link %q: no such link (want one of %s)", s.Def.Entry.Link, strings.Join(s.Def.LinkNames(), ", "))
	}
	if !l.Published {
		return "", fmt.Errorf("entry link %s is not published on the host", l.Name)
	}
	ctr, err := s.Container(l.ProxyComponent())
	if err != nil {
		return "", err
	}
	p, err := ctr.MappedPort(ctx, fmt.Sprintf("%d/tcp", l.Listen))
	if err != nil {
		return "", fmt.Errorf("host port of entry link %s: %w", l.Name, err)
	}
	return "http://" + netip.AddrPortFrom(Loopback, p.Num()).String(), nil
}

// ToxiproxyAPI is the URL of the HTTP API of the Toxiproxy component proxy
// (one of Def.Proxies()).
func (s *Stack) ToxiproxyAPI(ctx context.Context, proxy string) (string, error) {
	if !s.Def.IsProxy(proxy) {
		return "", fmt.Errorf("component %q carries no link: want one of %s", proxy, strings.Join(s.Def.Proxies(), ", "))
	}
	addr, err := s.HostAddr(ctx, proxy, "api")
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

// MetricsURL is a component's Prometheus endpoint as reached from the host.
func (s *Stack) MetricsURL(ctx context.Context, component string) (string, error) {
	c, ok := s.Def.Component(component)
	if !ok {
		return "", fmt.Errorf("no component %q", component)
	}
	addr, err := s.HostAddr(ctx, component, c.Metrics.Port)
	if err != nil {
		return "", err
	}
	return "http://" + addr + c.Metrics.Path, nil
}

// Etcd returns a client of the stack's etcd, reached directly (not through
// the xds->etcd link). The caller closes it.
func (s *Stack) Etcd(ctx context.Context) (*clientv3.Client, error) {
	addr, err := s.HostAddr(ctx, s.Def.EtcdComponent(), "client")
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client %s: %w", addr, err)
	}
	return cli, nil
}

// WriteSeed writes the definition's Seed into etcd in one transaction (Up
// does it once the first stage is ready; a test may do it again to put
// the seed back).
func (s *Stack) WriteSeed(ctx context.Context) error {
	if len(s.Def.Seed) == 0 {
		return nil
	}
	cli, err := s.Etcd(ctx)
	if err != nil {
		return fmt.Errorf("seed etcd: %w", err)
	}
	defer cli.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ops := make([]clientv3.Op, 0, len(s.Def.Seed))
	for _, kv := range s.Def.Seed {
		ops = append(ops, clientv3.OpPut(kv.Key, kv.Value))
	}
	if _, err := cli.Txn(cctx).Then(ops...).Commit(); err != nil {
		return fmt.Errorf("seed etcd (%d keys): %w", len(ops), err)
	}
	return nil
}

// Get sends one request through the entry and judges the answer with the
// entry's Check. An answer that is not OK is an error saying why.
func Get(ctx context.Context, hc *http.Client, entryURL string, e Entry) (probe.Answer, error) {
	path := e.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, entryURL+path, nil)
	if err != nil {
		return probe.Answer{}, err
	}
	if e.Host != "" {
		req.Host = e.Host
	}
	resp, err := hc.Do(req)
	if err != nil {
		return probe.Answer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a := probe.Judge(e.Check, e.Header, resp.StatusCode, resp.Header, body)
	if a.Outcome != probe.OK || resp.StatusCode != http.StatusOK {
		if a.Err == "" {
			a.Err = probe.StatusErr(resp.StatusCode, body)
		}
		return a, fmt.Errorf("entry answered %s", a.Err)
	}
	return a, nil
}

// WaitServing waits until requests through the entry are answered OK by
// every instance the entry names: readiness as a user sees it, not ports
// open.
func (s *Stack) WaitServing(ctx context.Context) error {
	entry, err := s.EntryURL(ctx)
	if err != nil {
		return err
	}
	return WaitAnswered(ctx, entry, s.Def.Entry, s.timeout)
}

// WaitAnswered waits, for at most timeout, until requests to entryURL are
// answered OK (Get) by every instance e names. It is WaitServing's end
// condition for a stack okbreak did not start (one docker-compose started
// from a rendering, for a benchmark against it).
func WaitAnswered(ctx context.Context, entryURL string, e Entry, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	seen := map[string]bool{}
	what := fmt.Sprintf("traffic through %s to every instance", e.Link)
	missing := func() []string {
		var out []string
		for _, b := range e.Instances {
			if !seen[b] {
				out = append(out, b)
			}
		}
		return out
	}
	return retry.Until(ctx, what, timeout, 20*time.Millisecond, func(ctx context.Context) error {
		// An OK answer is asked again at once: once the entry serves, the
		// next answers come from the other instances (round robin), and a
		// tick between them would only add up. A bound keeps a balancer
		// that sticks to one instance from spinning here.
		for range 4 * max(len(e.Instances), 1) {
			a, err := Get(ctx, hc, entryURL, e)
			if err != nil {
				return err
			}
			seen[a.Instance] = true
			if len(missing()) == 0 {
				return nil
			}
		}
		return fmt.Errorf("not yet answered by %s", strings.Join(missing(), ", "))
	})
}

// Down removes every container and the network. It is idempotent and keeps
// going past errors, returning them joined.
func (s *Stack) Down(ctx context.Context) error {
	s.mu.Lock()
	ctrs := s.containers
	s.containers = map[string]*testcontainers.DockerContainer{}
	nw := s.network
	s.network = nil
	s.down = true
	s.mu.Unlock()

	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for name, c := range ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := testcontainers.TerminateContainer(c, testcontainers.StopContext(ctx), testcontainers.StopTimeout(0)); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Containers a fault started beside the components would keep the
	// network from being removed.
	if err := s.removeLeftovers(ctx, s.attachedNet); err != nil {
		errs = append(errs, err)
	}
	if nw != nil {
		if err := nw.Remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Describe lists the stack's endpoints for humans: every component's
// published ports, every link, and the Toxiproxy API.
func (s *Stack) Describe(ctx context.Context) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s, data plane %s\n", s.RunID, s.Def.DataPlane)
	if u, err := s.EntryURL(ctx); err == nil {
		fmt.Fprintf(&b, "probe entry (%s): %s", s.Def.Entry.Link, u)
		if s.Def.Entry.Host != "" {
			fmt.Fprintf(&b, "  (send Host: %s)", s.Def.Entry.Host)
		}
		b.WriteString("\n")
	}
	for _, p := range s.Def.Proxies() {
		if u, err := s.ToxiproxyAPI(ctx, p); err == nil {
			fmt.Fprintf(&b, "toxiproxy API (%s): %s\n", p, u)
		}
	}
	b.WriteString("components:\n")
	for _, c := range s.Def.Components {
		var ports []string
		for _, p := range c.Ports {
			if p.Internal {
				ports = append(ports, fmt.Sprintf("%s %d (on the run's network)", p.Name, p.Number))
				continue
			}
			addr, err := s.HostAddr(ctx, c.Name, p.Name)
			if err != nil {
				addr = "?"
			}
			ports = append(ports, fmt.Sprintf("%s %d -> %s", p.Name, p.Number, addr))
		}
		img := s.Images[c.Image].Ref
		fmt.Fprintf(&b, "  %-14s %-40s %s\n", c.Name, img, strings.Join(ports, ", "))
	}
	b.WriteString("links (toxiproxy proxies):\n")
	for _, l := range s.Def.Links {
		fmt.Fprintf(&b, "  %-18s %s:%d -> %s\n", l.Name, l.ProxyComponent(), l.Listen, l.Upstream)
	}
	return b.String()
}
