package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	cplog "github.com/envoyproxy/go-control-plane/pkg/log"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"

	"github.com/okbreak/okbreak/internal/controlplane/translate"
	"github.com/okbreak/okbreak/internal/registry"
)

// shutdownGrace bounds how long Run waits for the gRPC and HTTP servers to
// finish in-flight work on shutdown.
const shutdownGrace = 5 * time.Second

// Server is the control plane. Create it with New and start it with Run,
// once. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	m        *metrics
	cache    cachev3.SnapshotCache
	resolver *resolver

	ready     chan struct{}
	adsAddr   string
	adminAddr string
	started   atomic.Bool

	// xdsCtx lives as long as the ADS server; cancelling it ends the
	// streams so that the gRPC server can stop gracefully.
	xdsCtx context.Context

	synced    atomic.Bool
	reachable atomic.Bool
	watchLive atomic.Bool
	relist    chan struct{}

	// mu guards the registry and the nodes, and serialises snapshot
	// building so that an older registry never overwrites a newer one.
	// Lock order: mu, then smu.
	mu    sync.Mutex
	reg   *registry.Registry
	nodes map[string]*node
	// servingEmpty is set while the test switch EtcdLossClear serves empty
	// snapshots in place of reg.
	servingEmpty bool

	// smu guards the stream states. It is separate from mu because
	// go-control-plane calls OnStreamResponse while mu may be held by a
	// SetSnapshot that is handing responses to that very stream.
	smu     sync.Mutex
	streams map[int64]*streamState
}

// New checks cfg and returns a Server that is not started yet.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("control plane config: %w", err)
	}
	if cfg.EnvoyUpstreamProtocol == "" {
		cfg.EnvoyUpstreamProtocol = translate.UpstreamHTTP1
	}
	if cfg.OnEtcdLoss == "" {
		cfg.OnEtcdLoss = EtcdLossKeep
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		m:        newMetrics(),
		resolver: newResolver(cfg.EtcdDialTimeout, log),
		ready:    make(chan struct{}),
		relist:   make(chan struct{}, 1),
		nodes:    map[string]*node{},
		streams:  map[int64]*streamState{},
		xdsCtx:   context.Background(),
	}
	s.cache = cachev3.NewSnapshotCache(true, cachev3.IDHash{}, cplog.LoggerFuncs{
		DebugFunc: func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...), "component", "xds-cache") },
		InfoFunc:  func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...), "component", "xds-cache") },
		WarnFunc:  func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...), "component", "xds-cache") },
		ErrorFunc: func(f string, a ...any) { log.Error(fmt.Sprintf(f, a...), "component", "xds-cache") },
	})
	return s, nil
}

// Ready is closed once both listeners are bound and serving.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ADSAddr is the address the ADS server listens on; valid after Ready.
func (s *Server) ADSAddr() string { return s.adsAddr }

// AdminAddr is the address the admin server listens on; valid after Ready.
func (s *Server) AdminAddr() string { return s.adminAddr }

// Synced reports whether the registry has been read from etcd at least
// once, that is, whether the control plane serves anything.
func (s *Server) Synced() bool { return s.synced.Load() }

// Run binds the ADS and admin listeners, serves until ctx is done, then
// stops gracefully: it ends the xDS streams, lets the gRPC server finish,
// and shuts the admin server down. It returns nil after a clean stop, or the
// error that stopped it.
func (s *Server) Run(ctx context.Context) error {
	if s.started.Swap(true) {
		return errors.New("control plane: Run called twice")
	}
	var lc net.ListenConfig
	adsLis, err := lc.Listen(ctx, "tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen for ADS on %s: %w", s.cfg.ListenAddr, err)
	}
	defer adsLis.Close()
	adminLis, err := lc.Listen(ctx, "tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen for admin on %s: %w", s.cfg.AdminAddr, err)
	}
	defer adminLis.Close()
	s.adsAddr, s.adminAddr = adsLis.Addr().String(), adminLis.Addr().String()

	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   s.cfg.EtcdEndpoints,
		DialTimeout: s.cfg.EtcdDialTimeout,
		// Keepalives notice a connection that hangs (a paused etcd, a
		// Toxiproxy timeout toxic) instead of waiting on it forever.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		// gRPC's default reconnect backoff grows to 2 minutes: after a long
		// etcd outage the control plane would stay blind that long after
		// etcd is back. Bound it, so that it follows etcd within seconds.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: s.cfg.EtcdDialTimeout,
		})},
		Logger: zap.NewNop(), // reachability is logged by checkLoop
	})
	if err != nil {
		return fmt.Errorf("etcd client for %v: %w", s.cfg.EtcdEndpoints, err)
	}
	defer cli.Close()

	xdsCtx, cancelXDS := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelXDS()
	s.mu.Lock()
	s.xdsCtx = xdsCtx
	s.mu.Unlock()
	xds := serverv3.NewServer(xdsCtx, s.cache, s.callbacks())
	gs := grpc.NewServer(
		// Envoy's bootstrap pings the xDS connection every 5s; gRPC's
		// default policy would answer that with GOAWAY "too_many_pings".
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		// Pinging clients lets a dead stream be noticed and closed, which
		// keeps connected_streams true.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}),
	)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, xds)

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("/metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{Registry: s.m.reg}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	errc := make(chan error, 2)
	go func() {
		if err := gs.Serve(adsLis); err != nil {
			errc <- fmt.Errorf("ADS server: %w", err)
		}
	}()
	go func() {
		if err := hs.Serve(adminLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin server: %w", err)
		}
	}()
	close(s.ready)
	s.log.Info("control plane serving", "ads", s.adsAddr, "admin", s.adminAddr,
		"etcd", s.cfg.EtcdEndpoints, "etcd_check_interval", s.cfg.EtcdCheckInterval, "on_etcd_loss", s.cfg.OnEtcdLoss)
	if s.cfg.OnEtcdLoss == EtcdLossClear {
		s.log.Warn("on-etcd-loss=clear: TEST SWITCH, a control plane without a cache: an etcd outage will empty every data plane's config")
	}

	workCtx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.syncLoop(workCtx, cli) })
	wg.Go(func() { s.checkLoop(workCtx, cli) })
	wg.Go(func() { s.resolveLoop(workCtx) })

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("control plane stopping")
	case runErr = <-errc:
		s.log.Error("control plane stopping", "err", runErr)
	}
	stopWork()
	wg.Wait()

	cancelXDS()
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	grace := time.NewTimer(shutdownGrace)
	defer grace.Stop()
	select {
	case <-stopped:
	case <-grace.C:
		gs.Stop()
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("admin server shutdown: %w", err)
	}
	return runErr
}

// setRegistry makes reg the registry every snapshot is built from, and
// rebuilds the snapshots of every known node. The first call starts serving.
func (s *Server) setRegistry(ctx context.Context, reg registry.Registry) {
	// Resolve new host names before building, so that Envoy's first
	// snapshot already has IP addresses. Outside mu: it may wait on DNS.
	s.resolver.resolve(ctx, translate.EndpointHosts(reg), true)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reg = &reg
	if s.servingEmpty {
		s.servingEmpty = false
		s.m.servingEmpty.Set(0)
		s.log.Warn("on-etcd-loss=clear: registry read from etcd again; serving it",
			"services", len(reg.Services), "routes", len(reg.Routes))
	}
	if !s.synced.Swap(true) {
		s.m.synced.Set(1)
		s.log.Info("registry read from etcd; serving", "services", len(reg.Services), "routes", len(reg.Routes))
	}
	s.publishAllLocked()
}

// resolveLoop resolves endpoint host names again every resolve interval and
// rebuilds Envoy snapshots when an address changed (a restarted container
// may come back with another IP).
func (s *Server) resolveLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ResolveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var hosts []string
		if s.reg != nil {
			hosts = translate.EndpointHosts(*s.reg)
		}
		s.mu.Unlock()
		if len(hosts) == 0 || !s.resolver.resolve(ctx, hosts, false) {
			continue
		}
		s.mu.Lock()
		s.publishAllLocked(DataPlaneEnvoy)
		s.mu.Unlock()
	}
}

// healthz answers 200 while the ADS server is listening, even before the
// first etcd read, and says in the body whether the registry has been read.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "ok: serving ADS on %s\nregistry synced: %s\netcd reachable: %s\n",
		s.adsAddr, yes(s.synced.Load()), yes(s.reachable.Load()))
}
