package frontend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/okbreak/okbreak/internal/sample/backend"
	"github.com/okbreak/okbreak/internal/sample/frontend"
	"github.com/okbreak/okbreak/internal/sample/internal/backendtest"
	"github.com/okbreak/okbreak/internal/sample/internal/xdsfixture"
	"github.com/okbreak/okbreak/internal/sample/xdsbootstrap"
)

// gRPC-Go reads the xDS bootstrap from the environment once, when the process
// starts (see package xdsbootstrap). The test binary therefore runs twice:
// the first run opens the ADS listener, writes a bootstrap naming it, and
// runs itself again with the bootstrap in the environment and the listener
// as fd 3; the second run is where the tests execute, all in one process.
const adsFDEnv = "OKBREAK_FRONTEND_TEST_ADS_FD"

const nodeID = "frontend-test"

var (
	ads *xdsfixture.Server
	// adsStopped is set while a test holds the ADS server stopped (see
	// stopADS); Stop must not be called twice.
	adsStopped bool
)

func TestMain(m *testing.M) {
	if os.Getenv(adsFDEnv) == "" {
		os.Exit(runWithBootstrap())
	}
	// FileListener dups the descriptor: close fd 3, so that stopping the
	// server closes the socket and clients see "connection refused" (an
	// open copy would keep accepting connections nobody serves).
	fd3 := os.NewFile(3, "ads")
	ln, err := net.FileListener(fd3)
	_ = fd3.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ads listener from fd 3:", err)
		os.Exit(1)
	}
	ads = xdsfixture.Start(context.Background(), ln)
	code := m.Run()
	if !adsStopped {
		ads.Stop()
	}
	os.Exit(code)
}

func runWithBootstrap() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen for ads:", err)
		return 1
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ads listener file:", err)
		return 1
	}
	addr := ln.Addr().String()
	_ = ln.Close() // f keeps the socket open for the child.
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = xdsbootstrap.ExecEnv(append(os.Environ(), adsFDEnv+"=3"), xdsfixture.Bootstrap(addr, nodeID))
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Start()
	// The child owns the socket now; a copy kept here would keep accepting
	// connections after the child stops its ADS server.
	_ = f.Close()
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "run tests with bootstrap:", err)
		return 1
	}
	return 0
}

var version atomic.Int64

// serve pushes cfg to the frontend's node under a new version and returns
// the version.
func serve(t *testing.T, cfg xdsfixture.Config) string {
	t.Helper()
	v := fmt.Sprintf("v%d", version.Add(1))
	require.NoError(t, ads.Set(t.Context(), nodeID, v, cfg))
	return v
}

type sample struct {
	b    *backend.Backend
	addr string
}

func startBackends(t *testing.T, service string, n int) []sample {
	t.Helper()
	var out []sample
	for i := range n {
		b, err := backend.New(backend.Config{Service: service, Instance: fmt.Sprintf("%s-%d", service, i+1)})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		backendtest.Serve(t, b, ln)
		out = append(out, sample{b: b, addr: ln.Addr().String()})
	}
	return out
}

func config(backends []sample) xdsfixture.Config {
	l := xdsfixture.Locality{Region: "test", Zone: "a", Weight: 1}
	for _, b := range backends {
		l.Endpoints = append(l.Endpoints, b.addr)
	}
	return xdsfixture.Config{Route: "backend", Cluster: "backend", Localities: []xdsfixture.Locality{l}}
}

type running struct {
	f     *frontend.Frontend
	url   string
	admin string
}

// startFrontend runs a frontend on loopback until the test ends and waits
// until it is ready.
func startFrontend(t *testing.T, cfg frontend.Config) running {
	t.Helper()
	f, err := frontend.New(cfg)
	require.NoError(t, err)
	data, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx, data, admin) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	r := running{f: f, url: "http://" + data.Addr().String() + "/", admin: "http://" + admin.Addr().String()}
	eventually(t, 10*time.Second, "frontend ready", func() bool {
		resp, err := http.Get(r.admin + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type result struct {
	status  int
	answer  frontend.Answer
	elapsed time.Duration
}

var client = &http.Client{Timeout: 10 * time.Second}

func request(t *testing.T, url string) result {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var a frontend.Answer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	return result{status: resp.StatusCode, answer: a, elapsed: time.Since(start)}
}

// load sends n requests from workers concurrent clients.
func load(t *testing.T, url string, n, workers int) []result {
	t.Helper()
	results := make([]result, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				results[i] = request(t, url)
			}
		})
	}
	wg.Wait()
	return results
}

func p99(rs []result) time.Duration {
	var d []time.Duration
	for _, r := range rs {
		d = append(d, r.elapsed)
	}
	slices.Sort(d)
	return d[(len(d)*99+99)/100-1]
}

// value returns the value of a counter or gauge with the given labels, and
// whether the series exists.
func value(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
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
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func TestTrafficReachesEveryBackendAndXDSIsCounted(t *testing.T) {
	backends := startBackends(t, "backend", 3)
	v1 := serve(t, config(backends))
	fe := startFrontend(t, frontend.DefaultConfig())

	seen := map[string]int{}
	for range 30 {
		r := request(t, fe.url)
		require.Equal(t, http.StatusOK, r.status, "%+v", r.answer)
		assert.Equal(t, "backend", r.answer.Service)
		assert.Equal(t, 1, r.answer.Attempts)
		seen[r.answer.Instance]++
	}
	assert.Len(t, seen, 3, "instances seen: %v", seen)
	for i := range backends {
		assert.Contains(t, seen, fmt.Sprintf("backend-%d", i+1))
	}
	for inst, n := range seen {
		assert.GreaterOrEqual(t, n, 5, "round robin should spread load; %s got %d", inst, n)
	}

	g := fe.f.Gatherer()
	ok, _ := value(t, g, "okbreak_frontend_requests_total", map[string]string{"code": "OK"})
	assert.Equal(t, 30.0, ok)
	attempts, _ := value(t, g, "okbreak_frontend_upstream_attempts_total", map[string]string{"code": "OK"})
	assert.Equal(t, 30.0, attempts)
	up, _ := value(t, g, "okbreak_frontend_up", nil)
	assert.Equal(t, 1.0, up)
	ready, _ := value(t, g, "okbreak_frontend_ready", nil)
	assert.Equal(t, 1.0, ready)
	for _, typ := range []string{"lds", "rds", "cds", "eds"} {
		valid, _ := value(t, g, "okbreak_frontend_xds_resource_updates_total", map[string]string{"type": typ, "result": "valid"})
		assert.GreaterOrEqual(t, valid, 1.0, "valid %s updates", typ)
		invalid, found := value(t, g, "okbreak_frontend_xds_resource_updates_total", map[string]string{"type": typ, "result": "invalid"})
		assert.True(t, found, "invalid %s counter must exist at zero", typ)
		assert.Zero(t, invalid)
		info, found := value(t, g, "okbreak_frontend_xds_config_info", map[string]string{"type": typ, "version": v1})
		assert.True(t, found, "config version %s for %s", v1, typ)
		assert.Equal(t, 1.0, info)
	}
	connected, found := value(t, g, "okbreak_frontend_xds_connected", map[string]string{"server": ads.Addr()})
	assert.True(t, found)
	assert.Equal(t, 1.0, connected)
	acked, _ := value(t, g, "okbreak_frontend_xds_resources", map[string]string{"type": "eds", "cache_state": "acked"})
	assert.Equal(t, 1.0, acked)

	// A locality without an ID is NACKed: counted as invalid, the version in
	// use stays, and traffic keeps flowing on the cached config.
	broken := config(backends)
	broken.Localities[0].Region, broken.Localities[0].Zone = "", ""
	v2 := serve(t, broken)
	eventually(t, 5*time.Second, "NACK counted", func() bool {
		invalid, _ := value(t, g, "okbreak_frontend_xds_resource_updates_total", map[string]string{"type": "eds", "result": "invalid"})
		return invalid >= 1
	})
	// gRPC counts the invalid update before it sends the NACK.
	eventually(t, 5*time.Second, "the control plane saw the NACK", func() bool {
		return ads.NACKs(resourcev3.EndpointType) >= 1
	})
	_, found = value(t, g, "okbreak_frontend_xds_config_info", map[string]string{"type": "eds", "version": v1})
	assert.True(t, found, "NACKed %s must leave %s in use", v2, v1)
	_, found = value(t, g, "okbreak_frontend_xds_config_info", map[string]string{"type": "eds", "version": v2})
	assert.False(t, found, "NACKed version %s must not show as in use", v2)
	nacked, _ := value(t, g, "okbreak_frontend_xds_resources", map[string]string{"type": "eds", "cache_state": "nacked_but_cached"})
	assert.Equal(t, 1.0, nacked)
	assert.Equal(t, http.StatusOK, request(t, fe.url).status)

	// A good version after the bad one is taken.
	v3 := serve(t, config(backends))
	eventually(t, 5*time.Second, "version "+v3+" in use", func() bool {
		_, found := value(t, g, "okbreak_frontend_xds_config_info", map[string]string{"type": "eds", "version": v3})
		return found
	})

	// The admin server shows the same through HTTP.
	resp, err := http.Get(fe.admin + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(fe.admin + "/config_dump")
	require.NoError(t, err)
	var dump map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&dump))
	resp.Body.Close()
	assert.Contains(t, fmt.Sprint(dump), v3)
}

func TestSlowBackendIsRoutedAroundByAttemptDeadlineAndRetry(t *testing.T) {
	backends := startBackends(t, "backend", 3)
	slow := backends[1]
	require.NoError(t, slow.b.SetKnobs(backend.Knobs{Latency: 2 * time.Second}))
	serve(t, config(backends))

	t.Run("with retries every request succeeds fast", func(t *testing.T) {
		fe := startFrontend(t, frontend.DefaultConfig())
		results := load(t, fe.url, 100, 4)
		retried := 0
		for _, r := range results {
			require.Equal(t, http.StatusOK, r.status, "%+v", r.answer)
			assert.NotEqual(t, "backend-2", r.answer.Instance)
			// One slow host: the retry must go to another host, so a
			// request never needs a third attempt.
			assert.LessOrEqual(t, r.answer.Attempts, 2)
			retried += r.answer.Attempts - 1
		}
		assert.Greater(t, retried, 10, "about a third of the requests should have met the slow host first")
		assert.Less(t, p99(results), time.Second)
		retries, _ := value(t, fe.f.Gatherer(), "okbreak_frontend_retries_total", nil)
		assert.Equal(t, float64(retried), retries)
		deadline, _ := value(t, fe.f.Gatherer(), "okbreak_frontend_upstream_attempts_total", map[string]string{"code": "DeadlineExceeded"})
		assert.Equal(t, float64(retried), deadline)
	})

	t.Run("without retries the slow host shows", func(t *testing.T) {
		cfg := frontend.DefaultConfig()
		cfg.Attempts = 1
		fe := startFrontend(t, cfg)
		results := load(t, fe.url, 60, 4)
		failed := 0
		for _, r := range results {
			if r.status != http.StatusOK {
				failed++
				assert.Equal(t, http.StatusGatewayTimeout, r.status)
				assert.Equal(t, "DeadlineExceeded", r.answer.Code)
				assert.Equal(t, 1, r.answer.Attempts)
			}
		}
		assert.Greater(t, failed, 5, "a third of 60 requests should meet the slow host")
		n, _ := value(t, fe.f.Gatherer(), "okbreak_frontend_requests_total", map[string]string{"code": "DeadlineExceeded"})
		assert.Equal(t, float64(failed), n)
	})
}

func TestWrongServiceIsNotRetried(t *testing.T) {
	others := startBackends(t, "other", 2)
	serve(t, config(others))
	fe := startFrontend(t, frontend.DefaultConfig())
	r := request(t, fe.url)
	assert.Equal(t, http.StatusBadGateway, r.status)
	assert.Equal(t, "PermissionDenied", r.answer.Code)
	assert.Equal(t, 1, r.answer.Attempts)
	assert.Contains(t, r.answer.Message, `"backend"`)
	assert.Contains(t, r.answer.Message, `"other"`)
	refused := 0.0
	for _, o := range others {
		mfs, err := o.b.Gatherer().Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "okbreak_sample_refused_total" {
				for _, m := range mf.GetMetric() {
					refused += m.GetCounter().GetValue()
				}
			}
		}
	}
	assert.Equal(t, 1.0, refused)
}

func TestConfigValidation(t *testing.T) {
	cfg := frontend.DefaultConfig()
	require.NoError(t, cfg.Validate())
	cfg.Attempts = 0
	assert.Error(t, cfg.Validate())
	cfg = frontend.DefaultConfig()
	codes, err := frontend.ParseCodes("unavailable, DEADLINE_EXCEEDED,ResourceExhausted")
	require.NoError(t, err)
	assert.Equal(t, frontend.DefaultRetryOn, codes)
	cfg.RetryOn, err = frontend.ParseCodes("permission-denied")
	require.NoError(t, err)
	assert.ErrorContains(t, cfg.Validate(), "wrong-service")
	_, err = frontend.ParseCodes("unavailable,sometimes")
	assert.ErrorContains(t, err, "sometimes")
}

func TestRetryAvoidsTriedHostAcrossLocalities(t *testing.T) {
	// One host per locality: the locality pick (weighted_target) is random,
	// so avoiding the tried host takes re-picking the locality.
	backends := startBackends(t, "backend", 3)
	require.NoError(t, backends[0].b.SetKnobs(backend.Knobs{Latency: 2 * time.Second}))
	cfg := xdsfixture.Config{Route: "backend", Cluster: "backend"}
	for i, b := range backends {
		cfg.Localities = append(cfg.Localities, xdsfixture.Locality{
			Region: "test", Zone: fmt.Sprintf("z%d", i), Weight: 1, Endpoints: []string{b.addr},
		})
	}
	serve(t, cfg)
	fe := startFrontend(t, frontend.DefaultConfig())
	results := load(t, fe.url, 90, 4)
	retried := 0
	for _, r := range results {
		require.Equal(t, http.StatusOK, r.status, "%+v", r.answer)
		assert.LessOrEqual(t, r.answer.Attempts, 2)
		retried += r.answer.Attempts - 1
	}
	assert.Greater(t, retried, 5, "some requests should have met the slow host first")
	assert.Less(t, p99(results), time.Second)
}

// stopADS stops the fixture's ADS server, as a control plane going away. The
// returned restart starts a new one on the same address serving cfg under
// version v (a restarted control plane rebuilding the same config); if the
// test ends with the server still stopped, cleanup restarts it so that later
// tests have a control plane.
func stopADS(t *testing.T, cfg xdsfixture.Config, v string) (restart func()) {
	t.Helper()
	addr := ads.Addr()
	ads.Stop()
	adsStopped = true
	restart = func() {
		t.Helper()
		if !adsStopped {
			return
		}
		ln, err := net.Listen("tcp", addr)
		require.NoError(t, err, "listen again on the ADS address")
		ads = xdsfixture.Start(context.Background(), ln)
		adsStopped = false
		require.NoError(t, ads.Set(context.Background(), nodeID, v, cfg))
	}
	t.Cleanup(restart)
	return restart
}

// sum adds up every series of a counter.
func sum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func xdsConnected(t *testing.T, g prometheus.Gatherer) float64 {
	t.Helper()
	v, found := value(t, g, "okbreak_frontend_xds_connected", map[string]string{"server": ads.Addr()})
	require.True(t, found, "the frontend's recorder must get the xDS client's connected gauge")
	return v
}

// poll sends a request every 20 ms until one answers with want, and returns
// how long that took and the 503s seen on the way; it fails the test after
// within.
func poll(t *testing.T, url string, want int, within time.Duration) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	refused := 0
	for {
		r := request(t, url)
		if r.status == http.StatusServiceUnavailable {
			refused++
		}
		if r.status == want {
			return time.Since(start), refused
		}
		if time.Since(start) > within {
			t.Fatalf("no HTTP %d within %s; last answer %d %+v", want, within, r.status, r.answer)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRequireXDSConnectedRefusesWhileControlPlaneIsAway(t *testing.T) {
	backends := startBackends(t, "backend", 3)
	xcfg := config(backends)
	v := serve(t, xcfg)
	cfg := frontend.DefaultConfig()
	cfg.RequireXDSConnected = true
	fe := startFrontend(t, cfg)
	g := fe.f.Gatherer()

	for range 10 {
		r := request(t, fe.url)
		require.Equal(t, http.StatusOK, r.status, "connected: requests are served; %+v", r.answer)
	}
	require.Equal(t, 1.0, xdsConnected(t, g))
	failuresBefore, _ := value(t, g, "okbreak_frontend_xds_server_failures_total", nil)

	restart := stopADS(t, xcfg, v)
	took, refused := poll(t, fe.url, http.StatusServiceUnavailable, 2*time.Second)
	t.Logf("first refusal %s after the ADS server stopped", took)
	for range 20 {
		r := request(t, fe.url)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "still disconnected: %+v", r.answer)
		assert.Equal(t, frontend.Answer{Code: "Unavailable", Message: frontend.RefusedMessage, Attempts: 0}, r.answer)
		refused++
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, 0.0, xdsConnected(t, g))
	failures, _ := value(t, g, "okbreak_frontend_xds_server_failures_total", nil)
	assert.Greater(t, failures, failuresBefore, "gRPC counts the server failure")
	unavailable, _ := value(t, g, "okbreak_frontend_requests_total", map[string]string{"code": "Unavailable"})
	assert.Equal(t, float64(refused), unavailable, "refusals are counted as Unavailable requests")
	ok, _ := value(t, g, "okbreak_frontend_requests_total", map[string]string{"code": "OK"})
	assert.Equal(t, ok, sum(t, g, "okbreak_frontend_upstream_attempts_total"), "a refused request makes no upstream attempt")

	// The control plane comes back with the same config: the stream
	// reconnects (after gRPC's backoff, about 1 s for a short outage) and
	// the refusals stop.
	restart()
	took, _ = poll(t, fe.url, http.StatusOK, 15*time.Second)
	t.Logf("served again %s after the ADS server restarted", took)
	assert.Equal(t, 1.0, xdsConnected(t, g))
	for range 20 {
		r := request(t, fe.url)
		require.Equal(t, http.StatusOK, r.status, "reconnected: %+v", r.answer)
		assert.Equal(t, "backend", r.answer.Service)
	}
}

func TestStaticStabilityByDefault(t *testing.T) {
	backends := startBackends(t, "backend", 3)
	xcfg := config(backends)
	v := serve(t, xcfg)
	fe := startFrontend(t, frontend.DefaultConfig())
	g := fe.f.Gatherer()
	require.Equal(t, http.StatusOK, request(t, fe.url).status)
	require.Equal(t, 1.0, xdsConnected(t, g))

	stopADS(t, xcfg, v)
	// The stream must really be down, or this test could not fail.
	eventually(t, 2*time.Second, "xDS client sees the ADS server gone", func() bool {
		return xdsConnected(t, g) == 0
	})
	// Longer than the refusal takes to show with --require-xds-connected.
	seen := map[string]bool{}
	for deadline := time.Now().Add(2500 * time.Millisecond); time.Now().Before(deadline); {
		r := request(t, fe.url)
		require.Equal(t, http.StatusOK, r.status, "cached config keeps serving with the control plane away: %+v", r.answer)
		seen[r.answer.Instance] = true
		time.Sleep(20 * time.Millisecond)
	}
	assert.Len(t, seen, 3, "every backend keeps getting traffic")
	assert.Equal(t, 0.0, xdsConnected(t, g))
}

func TestRequireXDSConnectedRefusesOutsideServe(t *testing.T) {
	cfg := frontend.DefaultConfig()
	cfg.RequireXDSConnected = true
	f, err := frontend.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, f.Close()) })
	// Give the xDS client time to connect: it must not matter.
	time.Sleep(300 * time.Millisecond)
	w := httptest.NewRecorder()
	f.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.JSONEq(t, `{"code":"Unavailable","message":"xDS server not connected (--require-xds-connected)","attempts":0}`, w.Body.String())
	n, _ := value(t, f.Gatherer(), "okbreak_frontend_requests_total", map[string]string{"code": "Unavailable"})
	assert.Equal(t, 1.0, n)
}

// controlPlane is a gRPC server standing in for the xDS server under
// WaitOnControlPlane: it implements no service, so every call gets
// Unimplemented (after delay), and it records the methods called.
type controlPlane struct {
	addr  string
	mu    sync.Mutex
	calls []string
}

func (c *controlPlane) called() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func startControlPlane(t *testing.T, delay time.Duration) *controlPlane {
	t.Helper()
	c := &controlPlane{}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		c.mu.Lock()
		c.calls = append(c.calls, method)
		c.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-stream.Context().Done():
			}
		}
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Stop()
		assert.NoError(t, <-done)
	})
	return c
}

// silentListener accepts TCP connections and never answers on them: a
// control plane that is there but does not speak HTTP/2 (hung, or a
// blackhole behind a proxy).
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestWaitOnControlPlaneAnsweredServes(t *testing.T) {
	backends := startBackends(t, "backend", 2)
	serve(t, config(backends))

	t.Run("any answer lets the request through", func(t *testing.T) {
		cp := startControlPlane(t, 0)
		cfg := frontend.DefaultConfig()
		cfg.WaitOnControlPlane = cp.addr
		fe := startFrontend(t, cfg)
		for range 10 {
			r := request(t, fe.url)
			require.Equal(t, http.StatusOK, r.status, "%+v", r.answer)
			assert.Equal(t, "backend", r.answer.Service)
		}
		calls := cp.called()
		assert.Len(t, calls, 10, "one control plane call per request")
		for _, m := range calls {
			assert.Equal(t, "/grpc.health.v1.Health/Check", m)
		}
	})

	t.Run("every request waits for the answer", func(t *testing.T) {
		const delay = 300 * time.Millisecond
		cp := startControlPlane(t, delay)
		cfg := frontend.DefaultConfig()
		cfg.WaitOnControlPlane = cp.addr
		fe := startFrontend(t, cfg)
		for range 3 {
			r := request(t, fe.url)
			require.Equal(t, http.StatusOK, r.status, "%+v", r.answer)
			assert.GreaterOrEqual(t, r.elapsed, delay)
		}
		assert.Len(t, cp.called(), 3)
	})

	t.Run("unset makes no call", func(t *testing.T) {
		cp := startControlPlane(t, 0)
		fe := startFrontend(t, frontend.DefaultConfig())
		for range 5 {
			require.Equal(t, http.StatusOK, request(t, fe.url).status)
		}
		assert.Empty(t, cp.called())
	})
}

func TestWaitOnControlPlaneUnansweredRefuses(t *testing.T) {
	backends := startBackends(t, "backend", 2)
	serve(t, config(backends))
	closed := freeAddr(t)

	for _, tc := range []struct {
		name, addr string
		hangs      bool
	}{
		{"accepts but never speaks HTTP/2", silentListener(t), true},
		{"connection refused", closed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := frontend.DefaultConfig()
			cfg.RequestTimeout = 300 * time.Millisecond
			cfg.WaitOnControlPlane = tc.addr
			fe := startFrontend(t, cfg)
			g := fe.f.Gatherer()
			for range 3 {
				r := request(t, fe.url)
				require.Equal(t, http.StatusServiceUnavailable, r.status, "%+v", r.answer)
				assert.Equal(t, "Unavailable", r.answer.Code)
				assert.Contains(t, r.answer.Message, "--wait-on-control-plane")
				assert.Zero(t, r.answer.Attempts)
				if tc.hangs {
					assert.GreaterOrEqual(t, r.elapsed, cfg.RequestTimeout, "the request waited for an answer")
				}
				assert.Less(t, r.elapsed, 2*time.Second, "bounded by the request timeout")
			}
			unavailable, _ := value(t, g, "okbreak_frontend_requests_total", map[string]string{"code": "Unavailable"})
			assert.Equal(t, 3.0, unavailable)
			assert.Zero(t, sum(t, g, "okbreak_frontend_upstream_attempts_total"), "a refused request makes no upstream attempt")
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestDropConfigOnNACKRefusesWhileARejectedResourceIsHeld(t *testing.T) {
	backends := startBackends(t, "backend", 2)
	good := config(backends)
	serve(t, good)
	cfg := frontend.DefaultConfig()
	cfg.DropConfigOnNACK = true
	fe := startFrontend(t, cfg)
	// The same xDS client without the switch: it keeps serving on the last
	// good config, so a refusal comes from the switch alone.
	plain := startFrontend(t, frontend.DefaultConfig())
	g := fe.f.Gatherer()

	for range 10 {
		r := request(t, fe.url)
		require.Equal(t, http.StatusOK, r.status, "nothing rejected: requests are served; %+v", r.answer)
	}

	// A locality without an ID: gRPC NACKs the EDS resource.
	broken := config(backends)
	broken.Localities[0].Region, broken.Localities[0].Zone = "", ""
	nacksBefore := ads.NACKs(resourcev3.EndpointType)
	serve(t, broken)
	took, refused := poll(t, fe.url, http.StatusServiceUnavailable, 5*time.Second)
	t.Logf("first refusal %s after the bad push", took)
	assert.Greater(t, ads.NACKs(resourcev3.EndpointType), nacksBefore, "the control plane saw the NACK")
	attemptsBefore := sum(t, g, "okbreak_frontend_upstream_attempts_total")
	for range 10 {
		r := request(t, fe.url)
		require.Equal(t, http.StatusServiceUnavailable, r.status, "rejected resource held: %+v", r.answer)
		assert.Equal(t, frontend.Answer{Code: "Unavailable", Message: frontend.NACKedMessage}, r.answer)
		refused++
		p := request(t, plain.url)
		require.Equal(t, http.StatusOK, p.status, "without the switch the cached config serves: %+v", p.answer)
	}
	assert.Equal(t, attemptsBefore, sum(t, g, "okbreak_frontend_upstream_attempts_total"), "a refused request makes no upstream attempt")
	unavailable, _ := value(t, g, "okbreak_frontend_requests_total", map[string]string{"code": "Unavailable"})
	assert.Equal(t, float64(refused), unavailable)

	// An accepted push replaces the rejected one: served again.
	serve(t, good)
	took, _ = poll(t, fe.url, http.StatusOK, 5*time.Second)
	t.Logf("served again %s after the good push", took)
	for range 10 {
		r := request(t, fe.url)
		require.Equal(t, http.StatusOK, r.status, "good config back: %+v", r.answer)
		assert.Equal(t, "backend", r.answer.Service)
	}
}

func TestDropConfigOnNACKRefusesOutsideServe(t *testing.T) {
	backends := startBackends(t, "backend", 1)
	serve(t, config(backends))
	cfg := frontend.DefaultConfig()
	cfg.DropConfigOnNACK = true
	f, err := frontend.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, f.Close()) })
	// The config is in and accepted: it must not matter.
	eventually(t, 10*time.Second, "channel ready", f.Ready)
	w := httptest.NewRecorder()
	f.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.JSONEq(t, `{"code":"Unavailable","message":"xDS config rejected, last good config dropped (--drop-config-on-nack)","attempts":0}`, w.Body.String())
}
