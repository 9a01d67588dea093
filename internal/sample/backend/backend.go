// Package backend is the backend role of the sample service: one port that
// serves HTTP/1.1, h2c and gRPC, answers every request with the service and
// instance that served it, refuses requests meant for another service (the
// way a certificate name check would), and has latency and error knobs that
// can be turned at runtime.
//
// Refusal rule: the service a request is meant for is the host of its
// authority (gRPC :authority, HTTP Host header), port stripped, lowercased.
// A request is refused only when that host is one of the known service names
// (Config.KnownServices) and is not this backend's own service. Any other
// host — an IP address, "localhost", "toxiproxy", "backend-1:8080" used by a
// health check — is not a service name and is served. Refusals answer HTTP
// 421 Misdirected Request or gRPC PermissionDenied, name both services, and
// are counted in okbreak_sample_refused_total. /healthz, /metrics and /knobs
// are never refused.
//
// Knobs at runtime: GET /knobs shows them, POST /knobs changes the ones given,
// e.g. {"latency": "2s", "error_ratio": 0.5} (latency is a Go duration
// string). Answers 400 with the reason on a bad value.
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/okbreak/okbreak/internal/sample/sampleapi"
)

// DefaultKnownServices are the service names of the default stack.
var DefaultKnownServices = []string{"backend", "other"}

// Protocol label values of the request metrics.
const (
	ProtocolHTTP = "http"
	ProtocolGRPC = "grpc"
)

// Config configures a Backend.
type Config struct {
	// Service is the service this backend belongs to, e.g. "backend".
	Service string
	// Instance names this process, e.g. "backend-1".
	Instance string
	// KnownServices are the host names that name a service; a request whose
	// authority is one of them, other than Service, is refused.
	KnownServices []string
	// Knobs are the initial latency and error knobs.
	Knobs Knobs
}

// Knobs are the fault knobs of a backend, changeable at runtime.
type Knobs struct {
	// Latency is added to every served request (not to refusals, which
	// happen before any work, nor to /healthz, /metrics, /knobs).
	Latency time.Duration
	// ErrorRatio in [0, 1] is the share of requests answered with HTTP 503 /
	// gRPC Unavailable, after the latency.
	ErrorRatio float64
}

// Validate reports knobs that make no sense.
func (k Knobs) Validate() error {
	if k.Latency < 0 {
		return fmt.Errorf("latency %s must not be negative", k.Latency)
	}
	if k.ErrorRatio < 0 || k.ErrorRatio > 1 || k.ErrorRatio != k.ErrorRatio {
		return fmt.Errorf("error ratio %v must be within [0, 1]", k.ErrorRatio)
	}
	return nil
}

// knobsJSON is the wire form of Knobs for /knobs. Fields are pointers so that
// a POST can change one knob and leave the other alone.
type knobsJSON struct {
	Latency    *string  `json:"latency,omitempty"`
	ErrorRatio *float64 `json:"error_ratio,omitempty"`
}

// Backend is the backend role. It is safe for concurrent use.
type Backend struct {
	service  string
	instance string
	known    map[string]bool

	mu    sync.RWMutex
	knobs Knobs

	grpc     *grpc.Server
	registry *prometheus.Registry
	metrics  http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refused  *prometheus.CounterVec
}

// New returns a Backend for cfg.
func New(cfg Config) (*Backend, error) {
	if cfg.Service == "" {
		return nil, errors.New("backend: service is required")
	}
	if cfg.Instance == "" {
		return nil, errors.New("backend: instance is required")
	}
	if err := cfg.Knobs.Validate(); err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	known := cfg.KnownServices
	if known == nil {
		known = DefaultKnownServices
	}
	b := &Backend{
		service:  cfg.Service,
		instance: cfg.Instance,
		known:    map[string]bool{},
		knobs:    cfg.Knobs,
		registry: prometheus.NewRegistry(),
	}
	for _, s := range known {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			b.known[s] = true
		}
	}
	b.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	constLabels := prometheus.Labels{"service": b.service, "instance": b.instance}
	b.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "okbreak_sample_requests_total",
		Help:        "Requests served, by protocol and answer code (HTTP status or gRPC code name), refusals included.",
		ConstLabels: constLabels,
	}, []string{"protocol", "code"})
	b.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "okbreak_sample_request_duration_seconds",
		Help:        "Time to answer a request, injected latency included.",
		ConstLabels: constLabels,
		Buckets:     []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"protocol"})
	b.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "okbreak_sample_refused_total",
		Help:        "Requests refused because they were meant for another service (wanted).",
		ConstLabels: constLabels,
	}, []string{"wanted"})
	b.registry.MustRegister(b.requests, b.duration, b.refused)
	b.metrics = promhttp.HandlerFor(b.registry, promhttp.HandlerOpts{Registry: b.registry})

	b.grpc = grpc.NewServer(grpc.UnaryInterceptor(b.intercept))
	sampleapi.RegisterSampleServer(b.grpc, helloServer{b})
	return b, nil
}

// Gatherer exposes the backend's own metrics registry (tests read it).
func (b *Backend) Gatherer() prometheus.Gatherer { return b.registry }

// Knobs returns the knobs in force.
func (b *Backend) Knobs() Knobs {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.knobs
}

// SetKnobs replaces the knobs; requests already waiting keep their latency.
func (b *Backend) SetKnobs(k Knobs) error {
	if err := k.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	b.knobs = k
	b.mu.Unlock()
	return nil
}

// Serve serves HTTP/1.1, h2c and gRPC on ln until ctx is done, then shuts
// down gracefully (bounded by 5 s) and returns nil. Other failures are
// returned.
func (b *Backend) Serve(ctx context.Context, ln net.Listener) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           b,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		b.grpc.Stop()
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	b.grpc.Stop()
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down %s: %w", ln.Addr(), err)
	}
	return nil
}

// ServeHTTP routes gRPC (HTTP/2 with content-type application/grpc*) to the
// gRPC server and everything else to the HTTP handlers.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		b.grpc.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	case "/metrics":
		b.metrics.ServeHTTP(w, r)
	case "/knobs":
		b.serveKnobs(w, r)
	default:
		b.serveHello(w, r)
	}
}

// wanted returns the service a request with this authority is meant for, and
// whether this backend must refuse it.
func (b *Backend) wanted(authority string) (string, bool) {
	host := strings.ToLower(authority)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if !b.known[host] || host == b.service {
		return host, false
	}
	return host, true
}

func (b *Backend) misdirected(wanted string) string {
	return fmt.Sprintf("misdirected request: this is service %q (instance %q), the request was meant for service %q",
		b.service, b.instance, wanted)
}

// wait applies the latency knob; it returns ctx's error when the caller gave
// up first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) serveHello(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := b.hello(w, r)
	b.requests.WithLabelValues(ProtocolHTTP, strconv.Itoa(code)).Inc()
	b.duration.WithLabelValues(ProtocolHTTP).Observe(time.Since(start).Seconds())
}

// statusClientClosed is recorded when the client went away during the
// injected latency (nginx's convention); nothing is written then.
const statusClientClosed = 499

func (b *Backend) hello(w http.ResponseWriter, r *http.Request) int {
	reply := map[string]any{"service": b.service, "instance": b.instance}
	if wanted, refuse := b.wanted(r.Host); refuse {
		b.refused.WithLabelValues(wanted).Inc()
		reply["wanted"] = wanted
		reply["error"] = b.misdirected(wanted)
		return writeJSON(w, http.StatusMisdirectedRequest, reply)
	}
	k := b.Knobs()
	if err := wait(r.Context(), k.Latency); err != nil {
		return statusClientClosed
	}
	if k.ErrorRatio > 0 && rand.Float64() < k.ErrorRatio {
		reply["error"] = "injected error"
		return writeJSON(w, http.StatusServiceUnavailable, reply)
	}
	return writeJSON(w, http.StatusOK, reply)
}

func writeJSON(w http.ResponseWriter, code int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
	return code
}

func (b *Backend) serveKnobs(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost, http.MethodPut:
		var in knobsJSON
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "knobs: " + err.Error()})
			return
		}
		b.mu.Lock()
		k := b.knobs
		var err error
		if in.Latency != nil {
			k.Latency, err = time.ParseDuration(*in.Latency)
		}
		if err == nil && in.ErrorRatio != nil {
			k.ErrorRatio = *in.ErrorRatio
		}
		if err == nil {
			err = k.Validate()
		}
		if err == nil {
			b.knobs = k
		}
		b.mu.Unlock()
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "knobs: " + err.Error()})
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST, PUT")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "knobs: use GET or POST"})
		return
	}
	k := b.Knobs()
	lat := k.Latency.String()
	writeJSON(w, http.StatusOK, knobsJSON{Latency: &lat, ErrorRatio: &k.ErrorRatio})
}

// intercept refuses misdirected gRPC calls before they reach a handler and
// records every call's code and duration.
func (b *Backend) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	var authority string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(":authority"); len(v) > 0 {
			authority = v[0]
		}
	}
	var resp any
	var err error
	if wanted, refuse := b.wanted(authority); refuse {
		b.refused.WithLabelValues(wanted).Inc()
		err = status.Error(codes.PermissionDenied, b.misdirected(wanted))
	} else {
		resp, err = handler(ctx, req)
	}
	b.requests.WithLabelValues(ProtocolGRPC, status.Code(err).String()).Inc()
	b.duration.WithLabelValues(ProtocolGRPC).Observe(time.Since(start).Seconds())
	return resp, err
}

type helloServer struct{ b *Backend }

// Hello applies the knobs and names the service and instance.
func (h helloServer) Hello(ctx context.Context, _ *structpb.Struct) (*structpb.Struct, error) {
	k := h.b.Knobs()
	if err := wait(ctx, k.Latency); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if k.ErrorRatio > 0 && rand.Float64() < k.ErrorRatio {
		return nil, status.Errorf(codes.Unavailable, "injected error from service %q instance %q", h.b.service, h.b.instance)
	}
	return sampleapi.NewReply(sampleapi.Reply{Service: h.b.service, Instance: h.b.instance}), nil
}
