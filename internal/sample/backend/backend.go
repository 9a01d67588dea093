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
// e.g. {"latency": "2s", "error_ratio": 0.5} or {"max_concurrency": 5,
// "work": "90ms", "work_jitter": "45ms", "queue_wait": "50ms"} (durations
// are Go duration strings). Answers 400 with the reason on a bad value.
//
// Capacity: with a concurrency limit (Knobs.MaxConcurrency) a backend serves
// at most that many requests at once, each holding its slot for its work
// and latency, so that it serves about MaxConcurrency/Work requests a
// second. A request that finds every slot taken waits up to QueueWait for
// one, first come first served, and is then refused as overloaded (HTTP 503,
// gRPC ResourceExhausted), counted in okbreak_sample_rejected_total. Load
// beyond the capacity is therefore refused fast rather than queued without
// bound: see Knobs.QueueWait for why.
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

// DefaultQueueWait is the sample service's --queue-wait: long enough to
// absorb a burst, short enough that a refused caller can still try another
// host within a per-attempt deadline of a few hundred milliseconds.
const DefaultQueueWait = 100 * time.Millisecond

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

// Knobs are the fault and capacity knobs of a backend, changeable at
// runtime.
type Knobs struct {
	// Latency is added to every served request (not to refusals, which
	// happen before any work, nor to /healthz, /metrics, /knobs). Like Work,
	// it holds the request's slot under MaxConcurrency: a worker waiting on
	// something slow is a busy worker.
	Latency time.Duration
	// ErrorRatio in [0, 1] is the share of requests answered with HTTP 503 /
	// gRPC Unavailable, after the latency.
	ErrorRatio float64

	// MaxConcurrency, when positive, is the most requests served at once;
	// 0 is no limit. /healthz, /metrics and /knobs are never limited: a
	// busy server still answers its health check and its scrape, and the
	// harness must keep seeing it.
	MaxConcurrency int
	// QueueWait is how long a request that finds every slot taken waits for
	// one before it is refused as overloaded; 0 refuses at once. A bounded
	// wait is what real servers do (an accept queue with a timeout, a
	// proxy's pending-request limit): an unbounded queue would turn
	// overload into latency for every request and keep serving requests
	// whose callers gave up long ago, while refusing at once would refuse
	// a burst that a few milliseconds of waiting absorb. Refused fast, a
	// caller can still retry on another host within its deadline.
	QueueWait time.Duration
	// Work is the time each served request holds its slot, the cost of
	// serving it; with MaxConcurrency it sets the capacity,
	// MaxConcurrency/Work requests a second.
	Work time.Duration
	// WorkJitter, at most Work, spreads each request's work uniformly over
	// [Work-WorkJitter, Work+WorkJitter]: real requests vary in cost, and
	// with a fixed cost a queue would never form below full load.
	WorkJitter time.Duration
}

// Validate reports knobs that make no sense.
func (k Knobs) Validate() error {
	var errs []error
	if k.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency %s must not be negative", k.Latency))
	}
	if k.ErrorRatio < 0 || k.ErrorRatio > 1 || k.ErrorRatio != k.ErrorRatio {
		errs = append(errs, fmt.Errorf("error ratio %v must be within [0, 1]", k.ErrorRatio))
	}
	if k.MaxConcurrency < 0 {
		errs = append(errs, fmt.Errorf("max concurrency %d must not be negative (0 is no limit)", k.MaxConcurrency))
	}
	if k.QueueWait < 0 {
		errs = append(errs, fmt.Errorf("queue wait %s must not be negative", k.QueueWait))
	}
	if k.Work < 0 {
		errs = append(errs, fmt.Errorf("work %s must not be negative", k.Work))
	}
	if k.WorkJitter < 0 || k.WorkJitter > k.Work {
		errs = append(errs, fmt.Errorf("work jitter %s must be within [0, work %s]", k.WorkJitter, k.Work))
	}
	return errors.Join(errs...)
}

// work returns one request's work: Work spread by WorkJitter.
func (k Knobs) work() time.Duration {
	if k.WorkJitter <= 0 {
		return k.Work
	}
	j := int64(k.WorkJitter)
	return k.Work + time.Duration(rand.Int64N(2*j+1)-j)
}

// knobsJSON is the wire form of Knobs for /knobs. Fields are pointers so that
// a POST can change one knob and leave the others alone.
type knobsJSON struct {
	Latency        *string  `json:"latency,omitempty"`
	ErrorRatio     *float64 `json:"error_ratio,omitempty"`
	MaxConcurrency *int     `json:"max_concurrency,omitempty"`
	QueueWait      *string  `json:"queue_wait,omitempty"`
	Work           *string  `json:"work,omitempty"`
	WorkJitter     *string  `json:"work_jitter,omitempty"`
}

// Backend is the backend role. It is safe for concurrent use.
type Backend struct {
	service  string
	instance string
	known    map[string]bool

	mu    sync.RWMutex
	knobs Knobs
	slots slots

	grpc     *grpc.Server
	registry *prometheus.Registry
	metrics  http.Handler
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refused  *prometheus.CounterVec
	rejected *prometheus.CounterVec
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
	b.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "okbreak_sample_rejected_total",
		Help:        "Requests refused as overloaded: no concurrency slot freed within the queue wait (HTTP 503, gRPC ResourceExhausted), by protocol.",
		ConstLabels: constLabels,
	}, []string{"protocol"})
	// Both protocols start at zero so that increase() sees the first
	// rejection.
	b.rejected.WithLabelValues(ProtocolHTTP)
	b.rejected.WithLabelValues(ProtocolGRPC)
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "okbreak_sample_in_flight",
		Help:        "Requests being served now, each holding a concurrency slot.",
		ConstLabels: constLabels,
	}, func() float64 { inUse, _ := b.slots.state(); return float64(inUse) })
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "okbreak_sample_waiting",
		Help:        "Requests waiting for a concurrency slot now.",
		ConstLabels: constLabels,
	}, func() float64 { _, w := b.slots.state(); return float64(w) })
	limit := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "okbreak_sample_max_concurrency",
		Help:        "The concurrency limit in force; 0 is no limit.",
		ConstLabels: constLabels,
	}, func() float64 { return float64(b.Knobs().MaxConcurrency) })
	b.registry.MustRegister(b.requests, b.duration, b.refused, b.rejected, inFlight, waiting, limit)
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

// SetKnobs replaces the knobs; requests already served keep their work and
// latency, and requests waiting for a slot get one at once if a raised
// concurrency limit has room.
func (b *Backend) SetKnobs(k Knobs) error {
	if err := k.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	b.knobs = k
	b.mu.Unlock()
	b.slots.grant(k.MaxConcurrency)
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
	switch err := b.serve(r.Context(), ProtocolHTTP); {
	case errors.Is(err, errOverloaded):
		reply["error"] = b.overloaded()
		return writeJSON(w, http.StatusServiceUnavailable, reply)
	case errors.Is(err, errInjected):
		reply["error"] = "injected error"
		return writeJSON(w, http.StatusServiceUnavailable, reply)
	case err != nil:
		return statusClientClosed
	}
	return writeJSON(w, http.StatusOK, reply)
}

// Errors of serve.
var (
	errOverloaded = errors.New("overloaded")
	errInjected   = errors.New("injected error")
)

// serve does a served request's part that the knobs shape: it takes a
// concurrency slot, holds it for the request's work and latency, gives it
// back, then applies the error knob. It returns errOverloaded when no slot
// freed within the queue wait, errInjected for an injected error, or ctx's
// error when the caller gave up first (the slot is given back at once: a Go
// server that honours its request's context stops working for a caller that
// has gone).
func (b *Backend) serve(ctx context.Context, protocol string) error {
	k := b.Knobs()
	if err := b.slots.acquire(ctx, k.MaxConcurrency, k.QueueWait); err != nil {
		if errors.Is(err, errOverloaded) {
			b.rejected.WithLabelValues(protocol).Inc()
		}
		return err
	}
	err := wait(ctx, k.work()+k.Latency)
	// The limit in force now, which a POST /knobs may have changed since.
	b.slots.release(b.Knobs().MaxConcurrency)
	if err != nil {
		return err
	}
	if k.ErrorRatio > 0 && rand.Float64() < k.ErrorRatio {
		return errInjected
	}
	return nil
}

func (b *Backend) overloaded() string {
	return fmt.Sprintf("overloaded: service %q instance %q has no free slot of %d within %s",
		b.service, b.instance, b.Knobs().MaxConcurrency, b.Knobs().QueueWait)
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
		err := in.apply(&k)
		if err == nil {
			err = k.Validate()
		}
		if err == nil {
			b.knobs = k
		}
		b.mu.Unlock()
		if err == nil {
			b.slots.grant(k.MaxConcurrency)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "knobs: " + err.Error()})
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST, PUT")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "knobs: use GET or POST"})
		return
	}
	writeJSON(w, http.StatusOK, toJSON(b.Knobs()))
}

// apply sets the knobs given in j on k.
func (j knobsJSON) apply(k *Knobs) error {
	for _, d := range []struct {
		name string
		in   *string
		out  *time.Duration
	}{
		{"latency", j.Latency, &k.Latency},
		{"queue_wait", j.QueueWait, &k.QueueWait},
		{"work", j.Work, &k.Work},
		{"work_jitter", j.WorkJitter, &k.WorkJitter},
	} {
		if d.in == nil {
			continue
		}
		v, err := time.ParseDuration(*d.in)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		*d.out = v
	}
	if j.ErrorRatio != nil {
		k.ErrorRatio = *j.ErrorRatio
	}
	if j.MaxConcurrency != nil {
		k.MaxConcurrency = *j.MaxConcurrency
	}
	return nil
}

func toJSON(k Knobs) knobsJSON {
	str := func(d time.Duration) *string { s := d.String(); return &s }
	return knobsJSON{
		Latency:        str(k.Latency),
		ErrorRatio:     &k.ErrorRatio,
		MaxConcurrency: &k.MaxConcurrency,
		QueueWait:      str(k.QueueWait),
		Work:           str(k.Work),
		WorkJitter:     str(k.WorkJitter),
	}
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

// Hello applies the knobs and names the service and instance. Overload is
// ResourceExhausted, gRPC's code for a server out of capacity, which a
// caller may retry on another host; an injected error is Unavailable.
func (h helloServer) Hello(ctx context.Context, _ *structpb.Struct) (*structpb.Struct, error) {
	switch err := h.b.serve(ctx, ProtocolGRPC); {
	case errors.Is(err, errOverloaded):
		return nil, status.Error(codes.ResourceExhausted, h.b.overloaded())
	case errors.Is(err, errInjected):
		return nil, status.Errorf(codes.Unavailable, "injected error from service %q instance %q", h.b.service, h.b.instance)
	case err != nil:
		return nil, status.FromContextError(err).Err()
	}
	return sampleapi.NewReply(sampleapi.Reply{Service: h.b.service, Instance: h.b.instance}), nil
}
