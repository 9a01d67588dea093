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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
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

// metric returns the value of the counter or the sample count of the
// histogram name with the given labels, or 0 when there is no such series.
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
