package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/alert"
)

// fakeDocker is a Docker API on a unix socket with containers to inspect.
type fakeDocker struct {
	socket string

	mu      sync.Mutex
	ctrs    map[string]any // id -> inspect answer
	order   []string
	methods []string
	filters []string
	down    bool
}

func newFakeDocker(t *testing.T) *fakeDocker {
	t.Helper()
	f := &fakeDocker{socket: filepath.Join(t.TempDir(), "d.sock"), ctrs: map[string]any{}}
	l, err := net.Listen("unix", f.socket)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

func (f *fakeDocker) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.methods = append(f.methods, r.Method)
	if f.down {
		http.Error(w, `{"message":"engine is restarting"}`, http.StatusInternalServerError)
		return
	}
	if r.URL.Path == "/containers/json" {
		f.filters = append(f.filters, r.URL.Query().Get("filters"))
		var list []map[string]string
		for _, id := range f.order {
			list = append(list, map[string]string{"Id": id})
		}
		_ = json.NewEncoder(w).Encode(list)
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/containers/"), "/json")
	c, ok := f.ctrs[id]
	if !ok {
		http.Error(w, `{"message":"No such container"}`, http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(c)
}

// add puts a container in, as `docker inspect` shows it.
func (f *fakeDocker) add(id, name string, labels map[string]string, running bool, exit, restarts int, finished string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if finished == "" {
		finished = "0001-01-01T00:00:00Z"
	}
	if _, ok := f.ctrs[id]; !ok {
		f.order = append(f.order, id)
	}
	f.ctrs[id] = map[string]any{
		"Id": id, "Name": "/" + name, "RestartCount": restarts,
		"State": map[string]any{"Status": map[bool]string{true: "running", false: "exited"}[running], "Running": running,
			"ExitCode": exit, "StartedAt": "2026-03-01T10:00:00.5Z", "FinishedAt": finished},
		"Config": map[string]any{"Image": "okbreak/" + name + ":1", "Labels": labels},
	}
}

// start runs the exporter on loopback against f and returns its URL.
func start(t *testing.T, f *fakeDocker, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"--listen=127.0.0.1:0", "--docker-socket=" + f.socket}, args...), &stderr, ready)
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, 0, <-done, "exit status; stderr:\n%s", stderr.String())
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case code := <-done:
		t.Fatalf("exited %d before serving:\n%s", code, stderr.String())
	}
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServesTheEnginesMetricNames(t *testing.T) {
	f := newFakeDocker(t)
	f.add("a1", "okbreak-r1-backend-1", map[string]string{"okbreak.component": "backend-1"}, true, 0, 0, "")
	f.add("b2", "okbreak-r1-etcd", map[string]string{"okbreak.component": "etcd"}, false, 137, 2, "2026-03-01T10:01:00Z")
	f.add("c3", "shop-cart-1", map[string]string{"com.docker.compose.service": "cart"}, true, 0, 0, "")
	f.add("c4", "shop-cart-2", map[string]string{"com.docker.compose.service": "cart"}, true, 0, 0, "")
	f.add("d5", "lonely", nil, true, 0, 0, "")
	url := start(t, f, "--filter=label=okbreak.run=r1", "--filter=label=team=shop", "--namespace=shop")

	code, body := get(t, url+"/metrics")
	require.Equal(t, http.StatusOK, code, body)
	for _, line := range []string{
		`okbreak_container_running{component="backend-1"} 1`,
		`okbreak_container_running{component="etcd"} 0`,
		`okbreak_container_last_exit_code{component="etcd"} 137`,
		`okbreak_container_restarts_total{component="etcd"} 2`,
		`okbreak_container_finished_timestamp_seconds{component="etcd"} 1.77235926e+09`,
		`okbreak_container_started_timestamp_seconds{component="backend-1"} 1.7723592005e+09`,
		`okbreak_container_running{component="shop-cart-1"} 1`, // one service, two containers: their names
		`okbreak_container_running{component="shop-cart-2"} 1`,
		`okbreak_container_running{component="lonely"} 1`, // no label: the name
		`okbreak_container_info{component="backend-1",image="okbreak/okbreak-r1-backend-1:1"} 1`,
	} {
		assert.Contains(t, body, line+"\n")
	}
	assert.NotContains(t, body, `okbreak_container_finished_timestamp_seconds{component="backend-1"}`, "never finished: no series")

	code, body = get(t, url+"/metrics/kube-state")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `kube_pod_container_status_running{namespace="shop",pod="backend-1",container="backend-1"} 1`+"\n")
	assert.Contains(t, body, `kube_pod_container_status_terminated_reason{namespace="shop",pod="etcd",container="etcd",reason="Error"} 1`+"\n")

	code, _ = get(t, url+"/-/healthy")
	assert.Equal(t, http.StatusOK, code)

	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, []string{`{"label":["okbreak.run=r1","team=shop"]}`}, f.filters[:1])
	for _, m := range f.methods {
		assert.Equal(t, http.MethodGet, m, "the exporter only reads")
	}
}

// The same text as the embedded engine renders, byte for byte: the rules
// cannot tell the two apart.
func TestSameTextAsTheEngine(t *testing.T) {
	f := newFakeDocker(t)
	f.add("a1", "x", map[string]string{"okbreak.component": "backend-1"}, true, 0, 1, "2026-03-01T09:59:00Z")
	s := newStates(newEngine(f.socket, nil), []string{"okbreak.component"}, "okbreak")
	got, err := s.ContainerStates(t.Context())
	require.NoError(t, err)
	want := []alert.ContainerState{{Component: "backend-1", Namespace: "okbreak", Image: "okbreak/x:1", Running: true, Restarts: 1,
		StartedAt: time.Date(2026, 3, 1, 10, 0, 0, 5e8, time.UTC), FinishedAt: time.Date(2026, 3, 1, 9, 59, 0, 0, time.UTC)}}
	assert.Equal(t, want, got)
	ours, err := alert.RenderContainerStates(got)
	require.NoError(t, err)
	engine, err := alert.RenderContainerStates(want)
	require.NoError(t, err)
	assert.Equal(t, string(engine), string(ours))
}

// Docker resets ExitCode when the restart policy starts the container
// again; the exit seen while it was down stays, as in the harness.
func TestLastExitOutlivesTheRestart(t *testing.T) {
	f := newFakeDocker(t)
	f.add("a1", "x", map[string]string{"okbreak.component": "backend-1"}, false, 137, 0, "2026-03-01T10:01:00Z")
	s := newStates(newEngine(f.socket, nil), []string{"okbreak.component"}, "okbreak")
	got, err := s.ContainerStates(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 137, got[0].ExitCode)

	f.add("a1", "x", map[string]string{"okbreak.component": "backend-1"}, true, 0, 1, "2026-03-01T10:01:00Z")
	s.last = nil // past stateTTL
	got, err = s.ContainerStates(t.Context())
	require.NoError(t, err)
	assert.True(t, got[0].Running)
	assert.Equal(t, 137, got[0].ExitCode, "the last exit, not Docker's reset")
}

func TestAnEngineErrorFailsTheScrape(t *testing.T) {
	f := newFakeDocker(t)
	f.add("a1", "x", nil, true, 0, 0, "")
	url := start(t, f)
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	code, body := get(t, url+"/metrics")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "engine is restarting")
}

func TestOnlyGETLeavesTheProcess(t *testing.T) {
	f := newFakeDocker(t)
	e := newEngine(f.socket, nil)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://docker/containers/a1/stop", nil)
	require.NoError(t, err)
	_, err = e.http.Do(req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only reads")
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Empty(t, f.methods, "nothing reached the engine")
}

func TestBadSettingsExitTwo(t *testing.T) {
	for args, want := range map[string]string{
		"--filter=label":        "want key=value",
		"extra":                 "unexpected arguments",
		"--docker-socket=":      "--docker-socket is empty",
		"--listen=127.0.0.1:-1": "listen on",
		"--no-such-flag=1":      "flag provided but not defined",
	} {
		var stderr bytes.Buffer
		code := run(t.Context(), strings.Fields(args), &stderr, nil)
		assert.Equal(t, 2, code, args)
		assert.Contains(t, stderr.String(), want, args)
	}
}
