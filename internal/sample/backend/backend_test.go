package backend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/okbreak/okbreak/internal/sample/backend"
	"github.com/okbreak/okbreak/internal/sample/internal/backendtest"
	"github.com/okbreak/okbreak/internal/sample/sampleapi"
)

// start serves a backend of service "other" on loopback and returns it with
// its address.
func start(t *testing.T, knobs backend.Knobs) (*backend.Backend, string) {
	t.Helper()
	b, err := backend.New(backend.Config{Service: "other", Instance: "other-1", Knobs: knobs})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	backendtest.Serve(t, b, ln)
	return b, ln.Addr().String()
}

func grpcConn(t *testing.T, addr, authority string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if authority != "" {
		opts = append(opts, grpc.WithAuthority(authority))
	}
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}, Timeout: 5 * time.Second}
}

type answer struct {
	Proto  string
	Code   int
	Fields map[string]string
}

func get(t *testing.T, c *http.Client, addr, host string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/hello", nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	fields := map[string]string{}
	require.NoError(t, json.Unmarshal(body, &fields), "body %s", body)
	return answer{Proto: resp.Proto, Code: resp.StatusCode, Fields: fields}
}

// metric returns the value of the counter or gauge, or the sample count of
// the histogram, name with the given labels, or 0 when there is no such
// series.
func metric(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func TestHTTPAndH2CAnswerWithServiceAndInstance(t *testing.T) {
	b, addr := start(t, backend.Knobs{})
	for _, tc := range []struct {
		name   string
		client *http.Client
		proto  string
	}{
		{"http1", &http.Client{Timeout: 5 * time.Second}, "HTTP/1.1"},
		{"h2c", h2cClient(), "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, tc.client, addr, "other")
			assert.Equal(t, tc.proto, a.Proto)
			assert.Equal(t, http.StatusOK, a.Code)
			assert.Equal(t, "other", a.Fields["service"])
			assert.Equal(t, "other-1", a.Fields["instance"])
		})
	}
	assert.Equal(t, 2.0, metric(t, b.Gatherer(), "okbreak_sample_requests_total",
		map[string]string{"service": "other", "instance": "other-1", "protocol": "http", "code": "200"}))
	assert.Equal(t, 2.0, metric(t, b.Gatherer(), "okbreak_sample_request_duration_seconds",
		map[string]string{"protocol": "http"}))
}

func TestGRPCAnswersWithServiceAndInstance(t *testing.T) {
	b, addr := start(t, backend.Knobs{})
	// No authority override: the authority is the address, not a service name.
	for _, authority := range []string{"", "other", "other:8080", "localhost", "toxiproxy:10021"} {
		resp, err := sampleapi.Hello(t.Context(), grpcConn(t, addr, authority), nil)
		require.NoError(t, err, "authority %q", authority)
		reply, err := sampleapi.ParseReply(resp)
		require.NoError(t, err)
		assert.Equal(t, sampleapi.Reply{Service: "other", Instance: "other-1"}, reply)
	}
	assert.Equal(t, 5.0, metric(t, b.Gatherer(), "okbreak_sample_requests_total",
		map[string]string{"protocol": "grpc", "code": "OK"}))
	assert.Equal(t, 0.0, metric(t, b.Gatherer(), "okbreak_sample_refused_total", nil))
}

func TestWrongServiceIsRefusedAndCounted(t *testing.T) {
	b, addr := start(t, backend.Knobs{})

	_, err := sampleapi.Hello(t.Context(), grpcConn(t, addr, "backend"), nil)
	require.Error(t, err)
	assert.Equal(t, codes.PermissionDenied, status.Code(err))
	assert.Contains(t, err.Error(), `"other"`)
	assert.Contains(t, err.Error(), `"backend"`)

	for _, c := range []*http.Client{{Timeout: 5 * time.Second}, h2cClient()} {
		a := get(t, c, addr, "Backend:8080")
		assert.Equal(t, http.StatusMisdirectedRequest, a.Code)
		assert.Equal(t, "backend", a.Fields["wanted"])
		assert.Contains(t, a.Fields["error"], `"other"`)
	}

	// Hosts that are not service names are served.
	for _, host := range []string{"127.0.0.1", "localhost:8080", "toxiproxy", "other-1:8080", "backend-1"} {
		assert.Equal(t, http.StatusOK, get(t, &http.Client{Timeout: 5 * time.Second}, addr, host).Code, host)
	}

	g := b.Gatherer()
	assert.Equal(t, 3.0, metric(t, g, "okbreak_sample_refused_total", map[string]string{"wanted": "backend", "instance": "other-1"}))
	assert.Equal(t, 1.0, metric(t, g, "okbreak_sample_requests_total", map[string]string{"protocol": "grpc", "code": "PermissionDenied"}))
	assert.Equal(t, 2.0, metric(t, g, "okbreak_sample_requests_total", map[string]string{"protocol": "http", "code": "421"}))
	assert.Equal(t, 5.0, metric(t, g, "okbreak_sample_requests_total", map[string]string{"protocol": "http", "code": "200"}))

	// Admin paths are never refused.
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	require.NoError(t, err)
	req.Host = "backend"
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "ok\n", string(body))
}

func postKnobs(t *testing.T, addr, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/knobs", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func TestLatencyKnob(t *testing.T) {
	_, addr := start(t, backend.Knobs{})
	code, out := postKnobs(t, addr, `{"latency":"300ms"}`)
	require.Equal(t, http.StatusOK, code, out)
	assert.Equal(t, "300ms", out["latency"])
	assert.Equal(t, 0.0, out["error_ratio"])

	begin := time.Now()
	assert.Equal(t, http.StatusOK, get(t, &http.Client{Timeout: 5 * time.Second}, addr, "other").Code)
	assert.GreaterOrEqual(t, time.Since(begin), 300*time.Millisecond)

	begin = time.Now()
	_, err := sampleapi.Hello(t.Context(), grpcConn(t, addr, "other"), nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(begin), 300*time.Millisecond)

	// A caller that gives up early is not held for the whole latency.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = sampleapi.Hello(ctx, grpcConn(t, addr, "other"), nil)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err))

	code, _ = postKnobs(t, addr, `{"latency":"0s"}`)
	require.Equal(t, http.StatusOK, code)
	begin = time.Now()
	assert.Equal(t, http.StatusOK, get(t, &http.Client{Timeout: 5 * time.Second}, addr, "other").Code)
	assert.Less(t, time.Since(begin), 200*time.Millisecond)
}

func TestErrorKnob(t *testing.T) {
	b, addr := start(t, backend.Knobs{ErrorRatio: 1})
	a := get(t, &http.Client{Timeout: 5 * time.Second}, addr, "other")
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.Equal(t, "other-1", a.Fields["instance"])
	_, err := sampleapi.Hello(t.Context(), grpcConn(t, addr, "other"), nil)
	assert.Equal(t, codes.Unavailable, status.Code(err))

	// Half: over 400 calls both answers must show up in sensible shares.
	require.NoError(t, b.SetKnobs(backend.Knobs{ErrorRatio: 0.5}))
	cc := grpcConn(t, addr, "other")
	failed := 0
	for range 400 {
		if _, err := sampleapi.Hello(t.Context(), cc, nil); err != nil {
			require.Equal(t, codes.Unavailable, status.Code(err))
			failed++
		}
	}
	assert.InDelta(t, 200, failed, 60)
	assert.Equal(t, float64(failed+1), metric(t, b.Gatherer(), "okbreak_sample_requests_total",
		map[string]string{"protocol": "grpc", "code": "Unavailable"}))

	code, _ := postKnobs(t, addr, `{"error_ratio":0}`)
	require.Equal(t, http.StatusOK, code)
	_, err = sampleapi.Hello(t.Context(), cc, nil)
	assert.NoError(t, err)
}

func TestBadKnobsAreRejected(t *testing.T) {
	b, addr := start(t, backend.Knobs{Latency: time.Millisecond})
	for _, body := range []string{`{"error_ratio":1.5}`, `{"latency":"-1s"}`, `{"latency":"fast"}`, `{"latency":200}`, `{"speed":1}`, `nope`} {
		code, out := postKnobs(t, addr, body)
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Contains(t, fmt.Sprint(out["error"]), "knobs", body)
	}
	assert.Equal(t, backend.Knobs{Latency: time.Millisecond}, b.Knobs())
	_, err := backend.New(backend.Config{Service: "s", Instance: "i", Knobs: backend.Knobs{ErrorRatio: -0.1}})
	assert.Error(t, err)
	_, err = backend.New(backend.Config{Instance: "i"})
	assert.Error(t, err)
}

func TestMetricsEndpoint(t *testing.T) {
	_, addr := start(t, backend.Knobs{})
	get(t, &http.Client{Timeout: 5 * time.Second}, addr, "backend")
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(body)
	for _, want := range []string{
		`okbreak_sample_requests_total{code="421",instance="other-1",protocol="http",service="other"} 1`,
		`okbreak_sample_refused_total{instance="other-1",service="other",wanted="backend"} 1`,
		"go_goroutines",
		"process_cpu_seconds_total",
	} {
		assert.Contains(t, text, want)
	}
}

// call makes one Hello call and reports its code and how long it took.
func call(ctx context.Context, cc *grpc.ClientConn) (codes.Code, time.Duration) {
	begin := time.Now()
	_, err := sampleapi.Hello(ctx, cc, nil)
	return status.Code(err), time.Since(begin)
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 5*time.Millisecond, what)
}

func TestConcurrencyLimitQueuesThenRefuses(t *testing.T) {
	b, addr := start(t, backend.Knobs{MaxConcurrency: 2, Work: 400 * time.Millisecond, QueueWait: 100 * time.Millisecond})
	cc := grpcConn(t, addr, "other")
	g := b.Gatherer()

	// Two calls take both slots for their work.
	held := make(chan codes.Code, 2)
	for range 2 {
		go func() { c, _ := call(t.Context(), cc); held <- c }()
	}
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_in_flight", nil) == 2 }, "two requests in service")

	// A third waits its queue wait, then is refused as overloaded, long
	// before a slot frees.
	c, took := call(t.Context(), cc)
	assert.Equal(t, codes.ResourceExhausted, c)
	assert.GreaterOrEqual(t, took, 100*time.Millisecond, "it waited for a slot first")
	assert.Less(t, took, 350*time.Millisecond, "refused at the end of its wait, not when a slot freed")
	_, err := sampleapi.Hello(t.Context(), cc, nil)
	assert.Contains(t, err.Error(), "overloaded", "the refusal says why")

	// Over HTTP the same refusal is a 503 that names the instance.
	a := get(t, &http.Client{Timeout: 5 * time.Second}, addr, "other")
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.Contains(t, a.Fields["error"], "overloaded")
	assert.Equal(t, "other-1", a.Fields["instance"])

	// Health, metrics and knobs are never limited.
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	for range 2 {
		assert.Equal(t, codes.OK, <-held, "the requests holding the slots are served")
	}
	assert.Equal(t, 2.0, metric(t, g, "okbreak_sample_rejected_total", map[string]string{"protocol": "grpc"}))
	assert.Equal(t, 1.0, metric(t, g, "okbreak_sample_rejected_total", map[string]string{"protocol": "http"}))
	assert.Equal(t, 2.0, metric(t, g, "okbreak_sample_requests_total", map[string]string{"protocol": "grpc", "code": "ResourceExhausted"}))
	assert.Equal(t, 1.0, metric(t, g, "okbreak_sample_requests_total", map[string]string{"protocol": "http", "code": "503"}))
	assert.Equal(t, 2.0, metric(t, g, "okbreak_sample_max_concurrency", nil))
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_in_flight", nil) == 0 }, "slots given back")
}

func TestWaitingRequestIsServedWhenASlotFrees(t *testing.T) {
	b, addr := start(t, backend.Knobs{MaxConcurrency: 1, Work: 200 * time.Millisecond, QueueWait: 2 * time.Second})
	cc := grpcConn(t, addr, "other")
	g := b.Gatherer()

	first := make(chan codes.Code, 1)
	go func() { c, _ := call(t.Context(), cc); first <- c }()
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_in_flight", nil) == 1 }, "first request in service")
	begin := time.Now()
	second := make(chan codes.Code, 1)
	go func() { c, _ := call(t.Context(), cc); second <- c }()
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_waiting", nil) == 1 }, "second request waiting")

	assert.Equal(t, codes.OK, <-first)
	assert.Equal(t, codes.OK, <-second, "served once the slot freed, within its queue wait")
	// It waited for the first one's work, then did its own.
	assert.GreaterOrEqual(t, time.Since(begin), 250*time.Millisecond)
	assert.Equal(t, 0.0, metric(t, g, "okbreak_sample_rejected_total", map[string]string{"protocol": "grpc"}))
	assert.Equal(t, 0.0, metric(t, g, "okbreak_sample_waiting", nil))
}

func TestLoadBeyondCapacityIsRefused(t *testing.T) {
	// Capacity: 2 slots of 100 ms, 20 requests a second. A burst of 20 at
	// once: 2 are served at once, 2 more at each 100 ms while the others
	// wait their 250 ms, and the rest are refused when the wait ends.
	_, addr := start(t, backend.Knobs{MaxConcurrency: 2, Work: 100 * time.Millisecond, QueueWait: 250 * time.Millisecond})
	cc := grpcConn(t, addr, "other")
	// The connection is up before the burst, so that it all arrives at once.
	_, err := sampleapi.Hello(t.Context(), cc, nil)
	require.NoError(t, err)

	codesSeen := make(chan codes.Code, 20)
	for range 20 {
		go func() { c, _ := call(t.Context(), cc); codesSeen <- c }()
	}
	served, refused := 0, 0
	for range 20 {
		switch c := <-codesSeen; c {
		case codes.OK:
			served++
		case codes.ResourceExhausted:
			refused++
		default:
			t.Errorf("unexpected code %s", c)
		}
	}
	// 6 in theory; timers on a busy machine may shift one round.
	assert.GreaterOrEqual(t, served, 4, "the slots and the queue serve some")
	assert.LessOrEqual(t, served, 8, "no more than the slots can serve within the wait")
	assert.Equal(t, 20, served+refused)
}

func TestCallerGivingUpWhileWaitingIsNotARejection(t *testing.T) {
	b, addr := start(t, backend.Knobs{MaxConcurrency: 1, Work: time.Second, QueueWait: 5 * time.Second})
	cc := grpcConn(t, addr, "other")
	g := b.Gatherer()
	go func() { _, _ = call(t.Context(), cc) }()
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_in_flight", nil) == 1 }, "slot taken")

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	c, _ := call(ctx, cc)
	assert.Equal(t, codes.DeadlineExceeded, c)
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_waiting", nil) == 0 }, "the waiter left the queue")
	assert.Equal(t, 0.0, metric(t, g, "okbreak_sample_rejected_total", map[string]string{"protocol": "grpc"}))
}

func TestConcurrencyKnobsAtRuntime(t *testing.T) {
	b, addr := start(t, backend.Knobs{})
	code, out := postKnobs(t, addr, `{"max_concurrency":1,"work":"300ms","work_jitter":"100ms","queue_wait":"5s"}`)
	require.Equal(t, http.StatusOK, code, out)
	assert.Equal(t, 1.0, out["max_concurrency"])
	assert.Equal(t, "300ms", out["work"])
	assert.Equal(t, "100ms", out["work_jitter"])
	assert.Equal(t, "5s", out["queue_wait"])
	assert.Equal(t, "0s", out["latency"], "the other knobs are left alone")
	assert.Equal(t, backend.Knobs{MaxConcurrency: 1, Work: 300 * time.Millisecond, WorkJitter: 100 * time.Millisecond, QueueWait: 5 * time.Second}, b.Knobs())

	// One request in service, one waiting; raising the limit serves the
	// waiting one at once instead of after the first one's work.
	cc := grpcConn(t, addr, "other")
	g := b.Gatherer()
	go func() { _, _ = call(t.Context(), cc) }()
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_in_flight", nil) == 1 }, "slot taken")
	waited := make(chan time.Duration, 1)
	go func() { _, d := call(t.Context(), cc); waited <- d }()
	eventually(t, func() bool { return metric(t, g, "okbreak_sample_waiting", nil) == 1 }, "second request waiting")
	code, _ = postKnobs(t, addr, `{"max_concurrency":2}`)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 0.0, metric(t, g, "okbreak_sample_waiting", nil), "the waiting request got the new slot")
	assert.Equal(t, 2.0, metric(t, g, "okbreak_sample_in_flight", nil))
	assert.Less(t, <-waited, 700*time.Millisecond, "served in its own work time plus a little, not after the first one's")

	// 0 lifts the limit.
	code, _ = postKnobs(t, addr, `{"max_concurrency":0,"work":"0s","work_jitter":"0s"}`)
	require.Equal(t, http.StatusOK, code)
	for range 5 {
		c, _ := call(t.Context(), cc)
		assert.Equal(t, codes.OK, c)
	}

	for _, body := range []string{`{"max_concurrency":-1}`, `{"work":"-1s"}`, `{"work":"10ms","work_jitter":"20ms"}`, `{"queue_wait":"soon"}`, `{"max_concurrency":"2"}`} {
		code, out := postKnobs(t, addr, body)
		assert.Equal(t, http.StatusBadRequest, code, body)
		assert.Contains(t, fmt.Sprint(out["error"]), "knobs", body)
	}
	assert.Equal(t, backend.Knobs{QueueWait: 5 * time.Second}, b.Knobs(), "bad values change nothing")
}

func TestWorkHoldsTheSlotWithItsJitter(t *testing.T) {
	_, addr := start(t, backend.Knobs{Work: 100 * time.Millisecond, WorkJitter: 50 * time.Millisecond})
	cc := grpcConn(t, addr, "other")
	var shortest, longest time.Duration
	for i := range 12 {
		c, d := call(t.Context(), cc)
		require.Equal(t, codes.OK, c)
		if i == 0 || d < shortest {
			shortest = d
		}
		longest = max(longest, d)
	}
	assert.GreaterOrEqual(t, shortest, 50*time.Millisecond, "work minus its jitter at least")
	assert.Less(t, longest, time.Second, "work plus its jitter, and some slack for a busy machine")
	assert.Greater(t, longest-shortest, 5*time.Millisecond, "the work varies")
}
