// Package frontend is the frontend role of the sample service, the "grpc"
// data plane: HTTP in, one gRPC Hello call out per request through gRPC-Go's
// proxyless xDS client (xds:///backend by default), with the resilience xDS
// does not give gRPC: a per-attempt deadline and retries that go to a host
// the request has not tried yet (see package retrypick), bounded by an
// overall request timeout.
//
// The xDS bootstrap must be in gRPC's environment when the process starts
// (see package xdsbootstrap); this package does not read it.
//
// Config.RequireXDSConnected, Config.DropConfigOnNACK and
// Config.WaitOnControlPlane are test switches, not features: each takes away
// one thing that makes a control plane fault survivable (serving on the
// cached config while the control plane is away; keeping the last good
// config when a push is rejected; traffic that never waits on the control
// plane), so that okbreak's regression tests can show that the harness
// catches a data plane without it.
package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	_ "google.golang.org/grpc/xds" // Registers the xds:/// resolver and balancers.

	"github.com/okbreak/okbreak/internal/sample/retrypick"
	"github.com/okbreak/okbreak/internal/sample/sampleapi"
	"github.com/okbreak/okbreak/internal/sample/xdsmetrics"
)

// DefaultRetryOn are the gRPC codes retried by default: the host could not
// take the call, or did not answer within the attempt's deadline. Never
// PermissionDenied: that is a wrong-service answer and must stay visible.
var DefaultRetryOn = []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted}

// Config configures a Frontend.
type Config struct {
	// Target is the gRPC target, e.g. xds:///backend.
	Target string
	// AttemptTimeout bounds each attempt; 0 turns the per-attempt deadline
	// off (attempts then share the request timeout).
	AttemptTimeout time.Duration
	// Attempts is the most attempts per request; 1 turns retries off.
	Attempts int
	// RequestTimeout bounds a whole request, retries included.
	RequestTimeout time.Duration
	// RetryOn are the codes that are retried.
	RetryOn []codes.Code
	// RetryBackoff is waited before each retry; 0 retries at once (the retry
	// goes to another host anyway).
	RetryBackoff time.Duration
	// RetryOtherHost makes each retry avoid the hosts the request has already
	// tried (package retrypick).
	RetryOtherHost bool
	// RequireXDSConnected is a TEST SWITCH: a data plane without static
	// stability, for regression tests. When set, every proxied request is
	// answered 503 Unavailable without an upstream attempt while the xDS
	// client has no working ADS stream to the management server (gRPC's
	// grpc.xds_client.connected, the okbreak_frontend_xds_connected gauge),
	// instead of being served on the cached config. The state is tracked
	// while Serve runs (re-read every 100 ms, and at once when gRPC counts a
	// server failure); outside Serve every request is refused. Never set it
	// in a real deployment: the default (false) is the resilient behaviour.
	RequireXDSConnected bool
	// DropConfigOnNACK is a TEST SWITCH: a data plane that does not keep
	// its last good config when it rejects a push. When set, every proxied
	// request is answered 503 Unavailable without an upstream attempt while
	// the xDS client holds any resource it NACKed (CSDS status NACKED), i.e.
	// from a rejected update until an accepted one replaces it. Tracked while
	// Serve runs (re-read every 100 ms). Never set it in a real deployment.
	DropConfigOnNACK bool
	// WaitOnControlPlane is a TEST SWITCH: a data plane whose traffic waits
	// on the control plane. When set (to the xDS server's address, as the
	// bootstrap names it), every proxied request first makes one unary call
	// to that server and waits for its answer, whatever it is (the control
	// plane need not implement the method); a request whose call gets no
	// answer within the request timeout is answered 503. Never set it in a
	// real deployment.
	WaitOnControlPlane string
	// BackendTLS speaks TLS to the backends (their --tls), with the
	// certificates not verified (see backendCredentials); the xDS
	// connection is not concerned.
	BackendTLS bool
	// TLSSessionCache, under BackendTLS, is how many TLS sessions the
	// frontend keeps to resume on reconnect (tls.NewLRUClientSessionCache);
	// 0 keeps none, Go's default, so that every reconnect is a full
	// handshake.
	TLSSessionCache int
	// Logger receives state changes; nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults of the frontend's flags.
func DefaultConfig() Config {
	return Config{
		Target:         "xds:///backend",
		AttemptTimeout: 250 * time.Millisecond,
		Attempts:       3,
		RequestTimeout: 2 * time.Second,
		RetryOn:        DefaultRetryOn,
		RetryOtherHost: true,
	}
}

// Validate reports settings that make no sense.
func (c Config) Validate() error {
	var errs []error
	if c.Target == "" {
		errs = append(errs, errors.New("target is empty"))
	}
	if c.Attempts < 1 {
		errs = append(errs, fmt.Errorf("attempts %d must be at least 1", c.Attempts))
	}
	if c.AttemptTimeout < 0 {
		errs = append(errs, fmt.Errorf("attempt timeout %s must not be negative", c.AttemptTimeout))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request timeout %s must be positive", c.RequestTimeout))
	}
	if c.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("retry backoff %s must not be negative", c.RetryBackoff))
	}
	if c.TLSSessionCache < 0 {
		errs = append(errs, fmt.Errorf("TLS session cache %d must not be negative (0 is none)", c.TLSSessionCache))
	}
	if c.TLSSessionCache > 0 && !c.BackendTLS {
		errs = append(errs, fmt.Errorf("a TLS session cache (%d) without backend TLS would cache nothing", c.TLSSessionCache))
	}
	for _, code := range c.RetryOn {
		if code == codes.PermissionDenied || code == codes.OK {
			errs = append(errs, fmt.Errorf("retry on %s is not allowed: a wrong-service answer must stay visible", code))
		}
	}
	return errors.Join(errs...)
}

// ParseCodes parses a comma-separated list of gRPC code names in any of the
// usual spellings: "unavailable", "deadline-exceeded", "DeadlineExceeded",
// "DEADLINE_EXCEEDED".
func ParseCodes(list string) ([]codes.Code, error) {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		return strings.NewReplacer("-", "", "_", "").Replace(s)
	}
	byName := map[string]codes.Code{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		byName[norm(c.String())] = c
	}
	var out []codes.Code
	for _, part := range strings.Split(list, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		c, ok := byName[norm(part)]
		if !ok {
			return nil, fmt.Errorf("unknown gRPC code %q", strings.TrimSpace(part))
		}
		out = append(out, c)
	}
	return out, nil
}

// xdsPollInterval is how often Serve re-reads the xDS client's connected
// state under RequireXDSConnected. A disconnect also wakes the watcher at once
// (server failure), so this bounds mainly how late a reconnect is seen.
const xdsPollInterval = 100 * time.Millisecond

// RefusedMessage is the message of the answer to a request refused because
// the xDS stream is down and Config.RequireXDSConnected is set.
const RefusedMessage = "xDS server not connected (--require-xds-connected)"

// NACKedMessage is the message of the answer to a request refused because
// the xDS client holds a rejected resource and Config.DropConfigOnNACK is set.
const NACKedMessage = "xDS config rejected, last good config dropped (--drop-config-on-nack)"

// controlPlaneMethod is the call Config.WaitOnControlPlane makes: gRPC's
// health check, which any answer (Unimplemented included) completes.
const controlPlaneMethod = "/grpc.health.v1.Health/Check"

// Frontend is the frontend role. It is safe for concurrent use.
type Frontend struct {
	cfg     Config
	retryOn map[codes.Code]bool
	log     *slog.Logger
	cc      *grpc.ClientConn
	xds     *xdsmetrics.Recorder
	// xdsConnected is the last state the xDS watcher saw, and watching is
	// set while the watcher runs (Serve); read only under
	// cfg.RequireXDSConnected.
	xdsConnected atomic.Bool
	watching     atomic.Bool
	// nacked is set while the xDS client holds a NACKed resource, and
	// nackWatching while Serve tracks it; read only under
	// cfg.DropConfigOnNACK.
	nacked       atomic.Bool
	nackWatching atomic.Bool
	// cp is the channel to the control plane under cfg.WaitOnControlPlane.
	cp *grpc.ClientConn

	registry *prometheus.Registry
	requests *prometheus.CounterVec
	attempts *prometheus.CounterVec
	retries  prometheus.Counter
	duration prometheus.Histogram
}

// New validates cfg and creates the gRPC channel; the channel starts
// resolving (and the xDS client connecting) at once, so that readiness does
// not wait for the first request.
func New(cfg Config) (*Frontend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("frontend config: %w", err)
	}
	rec, err := xdsmetrics.New()
	if err != nil {
		return nil, fmt.Errorf("frontend xds metrics: %w", err)
	}
	f := &Frontend{
		cfg:      cfg,
		retryOn:  map[codes.Code]bool{},
		log:      cfg.Logger,
		xds:      rec,
		registry: prometheus.NewRegistry(),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	for _, c := range cfg.RetryOn {
		f.retryOn[c] = true
	}
	f.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "okbreak_frontend_requests_total",
		Help: "HTTP requests by final result: the gRPC code name of the last attempt (OK on success).",
	}, []string{"code"})
	f.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "okbreak_frontend_upstream_attempts_total",
		Help: "gRPC attempts to the upstream, by gRPC code name.",
	}, []string{"code"})
	f.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "okbreak_frontend_retries_total",
		Help: "Attempts beyond the first.",
	})
	f.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "okbreak_frontend_request_duration_seconds",
		Help:    "Time to answer an HTTP request, retries included.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10},
	})
	// Every code starts at zero so that increase() sees the first failure.
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		f.requests.WithLabelValues(c.String())
		f.attempts.WithLabelValues(c.String())
	}
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "okbreak_frontend_up", Help: "1 while the frontend runs."})
	up.Set(1)
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "okbreak_frontend_ready",
		Help: "1 when the xDS config is in and a request can be routed (the gRPC channel is READY).",
	}, func() float64 {
		if f.Ready() {
			return 1
		}
		return 0
	})
	f.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		f.requests, f.attempts, f.retries, f.duration, up, ready, rec,
	)

	creds := insecure.NewCredentials()
	if cfg.BackendTLS {
		creds = backendCredentials(cfg.TLSSessionCache)
	}
	cc, err := grpc.NewClient(cfg.Target,
		grpc.WithTransportCredentials(creds),
		grpc.WithStatsHandler(rec),
		// An idle channel drops its xDS watch and reports IDLE, not READY;
		// a data plane must keep its config warm.
		grpc.WithIdleTimeout(0),
	)
	if err != nil {
		return nil, fmt.Errorf("frontend: dial %s: %w", cfg.Target, err)
	}
	f.cc = cc
	cc.Connect()
	if cfg.WaitOnControlPlane != "" {
		cp, err := grpc.NewClient("passthrough:///"+cfg.WaitOnControlPlane,
			grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			_ = cc.Close()
			return nil, fmt.Errorf("frontend: dial control plane %s: %w", cfg.WaitOnControlPlane, err)
		}
		f.cp = cp
		cp.Connect()
	}
	return f, nil
}

// Gatherer exposes the frontend's metrics registry (tests read it).
func (f *Frontend) Gatherer() prometheus.Gatherer { return f.registry }

// XDS exposes the xDS metrics recorder (versions, CSDS dump).
func (f *Frontend) XDS() *xdsmetrics.Recorder { return f.xds }

// Ready reports whether the xDS config has been received and a request can
// be routed: the channel is READY (it has a ready subchannel).
func (f *Frontend) Ready() bool { return f.cc.GetState() == connectivity.Ready }

// Close closes the gRPC channels (and releases the xDS client).
func (f *Frontend) Close() error { return errors.Join(f.cc.Close(), f.closeCP()) }

func (f *Frontend) closeCP() error {
	if f.cp == nil {
		return nil
	}
	return f.cp.Close()
}

// Serve serves proxied HTTP on data and the admin endpoints on admin until
// ctx is done, then shuts both down gracefully (bounded by 5 s) and closes
// the channel. It takes ownership of both listeners.
func (f *Frontend) Serve(ctx context.Context, data, admin net.Listener) error {
	if f.cfg.RequireXDSConnected {
		// Know the state before the first request can arrive.
		f.pollXDS(true)
		f.watching.Store(true)
		defer f.watching.Store(false)
		go f.watchXDS(ctx)
	}
	if f.cfg.DropConfigOnNACK {
		f.pollNACK(true)
		f.nackWatching.Store(true)
		defer f.nackWatching.Store(false)
		go f.watchNACK(ctx)
	}
	dataSrv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	adminSrv := &http.Server{Handler: f.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("serve %s: %w", data.Addr(), dataSrv.Serve(data)) }()
	go func() { errc <- fmt.Errorf("serve admin %s: %w", admin.Addr(), adminSrv.Serve(admin)) }()
	go f.watchState(ctx)
	f.log.Info("frontend serving", "listen", data.Addr().String(), "admin", admin.Addr().String(), "target", f.cfg.Target,
		"attempt_timeout", f.cfg.AttemptTimeout, "attempts", f.cfg.Attempts, "request_timeout", f.cfg.RequestTimeout,
		"retry_other_host", f.cfg.RetryOtherHost, "require_xds_connected", f.cfg.RequireXDSConnected,
		"drop_config_on_nack", f.cfg.DropConfigOnNACK, "wait_on_control_plane", f.cfg.WaitOnControlPlane,
		"backend_tls", f.cfg.BackendTLS, "tls_session_cache", f.cfg.TLSSessionCache)

	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = errors.Join(err, dataSrv.Shutdown(shutdownCtx), adminSrv.Shutdown(shutdownCtx), f.Close())
	return err
}

// watchState logs the channel's connectivity changes until ctx is done.
func (f *Frontend) watchState(ctx context.Context) {
	state := f.cc.GetState()
	f.log.Info("grpc channel state", "state", state.String())
	for f.cc.WaitForStateChange(ctx, state) {
		state = f.cc.GetState()
		f.log.Info("grpc channel state", "state", state.String())
	}
}

// watchXDS keeps xdsConnected current until ctx is done: it re-reads gRPC's
// connected gauge every xdsPollInterval, and at once when the xDS client
// counts a server failure (gRPC clears the gauge just before it counts one).
func (f *Frontend) watchXDS(ctx context.Context) {
	every(ctx, xdsPollInterval, f.xds.ServerFailed(), func() { f.pollXDS(false) })
}

// every calls read every interval, and at once when wake receives (a nil
// wake never does), until ctx is done.
func every(ctx context.Context, interval time.Duration, wake <-chan struct{}, read func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		read()
	}
}

// xdsUp reports whether the xDS stream is connected, under
// RequireXDSConnected. A seen-up state is trusted (the watcher clears it
// within xdsPollInterval, at once on a server failure); a seen-down state is
// read again, so that neither startup nor a reconnect refuses requests the
// xDS client could already serve. That costs a hop through the xDS client's
// serializer per request only while the stream is down. Without a watcher
// (outside Serve) nothing would notice a disconnect: every request is refused.
func (f *Frontend) xdsUp() bool {
	if !f.watching.Load() {
		return false
	}
	if f.xdsConnected.Load() {
		return true
	}
	f.pollXDS(false)
	return f.xdsConnected.Load()
}

// pollXDS reads the xDS client's connected state into xdsConnected and logs
// changes (and the first reading when first is set).
func (f *Frontend) pollXDS(first bool) {
	connected, known := f.xds.Connected()
	up := connected && known
	if f.xdsConnected.Swap(up) == up && !first {
		return
	}
	if up {
		f.log.Info("xds stream connected: serving proxied requests (--require-xds-connected)")
		return
	}
	f.log.Warn("xds stream not connected: refusing proxied requests with 503 (--require-xds-connected, a test switch)",
		"xds_client_reporting", known)
}

// watchNACK keeps nacked current every xdsPollInterval until ctx is done.
func (f *Frontend) watchNACK(ctx context.Context) {
	every(ctx, xdsPollInterval, nil, func() { f.pollNACK(false) })
}

// pollNACK reads from CSDS whether the xDS client holds a NACKed resource
// and logs changes (and the first reading when first is set).
func (f *Frontend) pollNACK(first bool) {
	nacked := xdsmetrics.NACKed(f.xds.Dump())
	if f.nacked.Swap(len(nacked) > 0) == (len(nacked) > 0) && !first {
		return
	}
	if len(nacked) > 0 {
		f.log.Warn("xds config rejected: refusing proxied requests with 503 (--drop-config-on-nack, a test switch)",
			"nacked", strings.Join(nacked, ","))
		return
	}
	f.log.Info("no rejected xds config: serving proxied requests (--drop-config-on-nack)")
}

// configDropped reports whether a request must be refused under
// DropConfigOnNACK: a rejected resource is held, or nothing tracks it.
func (f *Frontend) configDropped() bool {
	return !f.nackWatching.Load() || f.nacked.Load()
}

// waitOnControlPlane makes the round trip to the control plane that
// WaitOnControlPlane puts in front of every request; it reports false when
// no answer came before ctx's deadline (the request timeout).
func (f *Frontend) waitOnControlPlane(ctx context.Context) (bool, string) {
	err := f.cp.Invoke(ctx, controlPlaneMethod, &emptypb.Empty{}, &emptypb.Empty{})
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return false, "no answer from the control plane (--wait-on-control-plane): " + status.Convert(err).Message()
	}
	return true, ""
}

// AdminHandler serves /healthz, /ready, /metrics and /config_dump (the CSDS
// view as JSON).
func (f *Frontend) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		state := f.cc.GetState()
		if state != connectivity.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: grpc channel %s\n", state)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(f.registry, promhttp.HandlerOpts{Registry: f.registry}))
	mux.HandleFunc("/config_dump", func(w http.ResponseWriter, _ *http.Request) {
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(f.xds.Dump())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	return mux
}

// Answer is the JSON body of a proxied request.
type Answer struct {
	Service  string `json:"service,omitempty"`
	Instance string `json:"instance,omitempty"`
	Attempts int    `json:"attempts"`
	// Code and Message are set on failure: the gRPC code name and message of
	// the last attempt.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// HTTPStatus maps the final gRPC code of a request to the HTTP status the
// frontend answers with.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unavailable, codes.ResourceExhausted:
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadGateway
	}
}

// ServeHTTP proxies any request as one Hello call, with retries; under
// RequireXDSConnected it refuses the request while the xDS stream is down.
func (f *Frontend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var ans Answer
	var code codes.Code
	switch {
	case f.cfg.RequireXDSConnected && !f.xdsUp():
		code = codes.Unavailable
		ans = Answer{Code: code.String(), Message: RefusedMessage}
	case f.cfg.DropConfigOnNACK && f.configDropped():
		code = codes.Unavailable
		ans = Answer{Code: code.String(), Message: NACKedMessage}
	case f.cp != nil:
		// One request timeout bounds the round trip and the call.
		ctx, cancel := context.WithTimeout(r.Context(), f.cfg.RequestTimeout)
		defer cancel()
		if ok, why := f.waitOnControlPlane(ctx); ok {
			ans, code = f.call(ctx, r.URL.Path)
		} else {
			code = codes.Unavailable
			ans = Answer{Code: code.String(), Message: why}
		}
	default:
		ans, code = f.call(r.Context(), r.URL.Path)
	}
	f.requests.WithLabelValues(code.String()).Inc()
	f.duration.Observe(time.Since(start).Seconds())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(HTTPStatus(code))
	_ = json.NewEncoder(w).Encode(ans)
}

func (f *Frontend) call(ctx context.Context, path string) (Answer, codes.Code) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.RequestTimeout)
	defer cancel()
	if f.cfg.RetryOtherHost {
		ctx, _ = retrypick.WithTracker(ctx)
	}
	req := &structpb.Struct{Fields: map[string]*structpb.Value{"path": structpb.NewStringValue(path)}}
	var ans Answer
	for {
		if ans.Attempts > 0 {
			f.retries.Inc()
			if !sleep(ctx, f.cfg.RetryBackoff) {
				break
			}
		}
		ans.Attempts++
		reply, err := f.attempt(ctx, req)
		code := status.Code(err)
		f.attempts.WithLabelValues(code.String()).Inc()
		if err == nil {
			return Answer{Service: reply.Service, Instance: reply.Instance, Attempts: ans.Attempts}, codes.OK
		}
		ans.Code, ans.Message = code.String(), status.Convert(err).Message()
		if ans.Attempts >= f.cfg.Attempts || !f.retryOn[code] || ctx.Err() != nil {
			return ans, code
		}
	}
	// The request's own deadline (or the client) ended the backoff.
	code := status.FromContextError(ctx.Err()).Code()
	ans.Code, ans.Message = code.String(), "request ended while waiting to retry: "+ctx.Err().Error()
	return ans, code
}

func (f *Frontend) attempt(ctx context.Context, req *structpb.Struct) (sampleapi.Reply, error) {
	if f.cfg.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.cfg.AttemptTimeout)
		defer cancel()
	}
	resp, err := sampleapi.Hello(ctx, f.cc, req)
	if err != nil {
		return sampleapi.Reply{}, err
	}
	reply, err := sampleapi.ParseReply(resp)
	if err != nil {
		return sampleapi.Reply{}, status.Error(codes.Internal, err.Error())
	}
	return reply, nil
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
