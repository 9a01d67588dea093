package main

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/fixtures/alerts"
	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/sample"
)

// recorder is a Toxiproxy API in front of a real one that remembers every
// call: a dry run must make no mutating call.
type recorder struct {
	mu    sync.Mutex
	calls []string
	srv   *httptest.Server
}

func newRecorder(t *testing.T, api string) *recorder {
	u, err := url.Parse(api)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.calls = append(r.calls, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// mutating are the calls that change something (every method but GET).
func (r *recorder) mutating() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

// envFile writes an environment file for the running stack s: its
// Toxiproxy (through rec), the links given, its entry and metrics, and the
// sample's rules.
func envFile(t *testing.T, ctx context.Context, s *stack.Stack, api string, links []string, extra string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range sample.RuleFiles(stack.GRPC) {
		b, err := fs.ReadFile(alerts.FS, name)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "rules"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "rules", name), b, 0o644))
	}
	entry, err := s.EntryURL(ctx)
	require.NoError(t, err)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: test-env\nscale: 60\ntoxiproxies:\n  - {name: tp, api: %q}\nlinks:\n", api)
	for _, l := range links {
		fmt.Fprintf(&b, "  - {name: %q, toxiproxy: tp, proxy: %q}\n", l, l)
	}
	fmt.Fprintf(&b, "probe:\n  url: %q\nscrape:\n", entry)
	for _, c := range s.Def.Components {
		if s.Def.IsProxy(c.Name) {
			continue
		}
		m, err := s.MetricsURL(ctx, c.Name)
		require.NoError(t, err)
		fmt.Fprintf(&b, "  - {job: %q, instance: %q, url: %q}\n", c.JobOf(), c.Name, m)
	}
	b.WriteString("alerts:\n  source: engine\n  rules: [rules/*.yml]\n")
	b.WriteString(extra)
	path := filepath.Join(dir, "env.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// TestRunAgainstAnEnvironment runs okbreak run --env against a stack it
// did not start, through a recording Toxiproxy API: the dry run and every
// refusal make no mutating call, the cases get their class's verdicts with
// toxics named after the environment and the run, and after a SIGKILLed run
// okbreak recover --env removes exactly okbreak's toxics.
func TestRunAgainstAnEnvironment(t *testing.T) {
	stacktest.RequireDocker(t)
	if testing.Short() {
		t.Skip("-short: brings a stack up")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := stacktest.Up(t, ctx, stack.GRPC)
	api := stacktest.ToxiproxyAPI(t, ctx, s, "edge->backend-1")
	rec := newRecorder(t, api)
	bin := buildOkbreak(t)
	g := &gameDay{t: t, bin: bin, env: append(os.Environ(), "OKBREAK_STATE_DIR="+t.TempDir(), "OKBREAK_REPORT_DIR="+t.TempDir())}
	declared := []string{"edge->backend-1", "edge->backend-2", "edge->backend-3", "edge->xds"}
	env := envFile(t, ctx, s, rec.srv.URL, declared, "")
	catalogFile := "testdata/env-catalog.yaml"

	t.Run("dry run", func(t *testing.T) {
		rec.reset()
		out, code := g.okbreak("run", "--env", env, "--catalog", catalogFile, "--dry-run")
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "all-backends-slow")
		require.Contains(t, out, "proxy edge->xds at "+rec.srv.URL)
		require.Contains(t, out, "nothing was changed")
		require.NotEmpty(t, rec.calls, "the dry run checked the Toxiproxy answers")
		require.Empty(t, rec.mutating(), "a dry run makes no mutating call")
	})

	t.Run("refused before the first fault", func(t *testing.T) {
		rec.reset()
		narrow := envFile(t, ctx, s, rec.srv.URL, []string{"edge->backend-1"}, "")
		out, code := g.okbreak("run", "--env", narrow, "--catalog", catalogFile)
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "edge->xds")
		limited := envFile(t, ctx, s, rec.srv.URL, declared, "limits: {max_fault_duration: 5s, max_targets: 3}\n")
		out, code = g.okbreak("run", "--env", limited, "--catalog", catalogFile)
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "all-backends-slow")
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := "http://" + l.Addr().String()
		require.NoError(t, l.Close())
		gone := envFile(t, ctx, s, closed, declared, "")
		out, code = g.okbreak("run", "--env", gone, "--catalog", catalogFile)
		require.Equal(t, 3, code, out)
		require.Contains(t, out, "does not answer")
		require.Empty(t, rec.mutating(), "refusals make no mutating call")
	})

	t.Run("verdicts", func(t *testing.T) {
		rec.reset()
		dir := t.TempDir()
		out, code := g.okbreak("run", "--env", env, "--catalog", catalogFile, "--report", dir)
		require.Equal(t, 0, code, out)
		rep := readReport(t, dir)
		require.Len(t, rep.Cases, 2)
		for _, c := range rep.Cases {
			require.Equal(t, string(harness.Expected(c.Class)), string(c.Verdict), "%s: %s", c.Name, c.Reason)
		}
		var toxics int
		for _, c := range rec.mutating() {
			if strings.HasPrefix(c, "POST ") && strings.HasSuffix(c, "/toxics") {
				toxics++
			}
		}
		require.Equal(t, 3, toxics, "one latency toxic per backend link: %v", rec.mutating())
		require.NotEmpty(t, rep.GameDay, "the report holds the run's game-day log")
		require.True(t, stacktest.Toxiproxies(t, ctx, s).Clean())
	})

	t.Run("process faults through the engine the file names", func(t *testing.T) {
		ctr, err := s.ContainerName("backend-2")
		require.NoError(t, err)
		// The local engine's socket, named as a URL: okbreak takes it for
		// another host's engine, as it would tcp://staging-host:2376.
		engine := fmt.Sprintf("docker:\n  engine: unix:///var/run/docker.sock\n  containers:\n    - {component: backend-2, container: %s}\n", ctr)
		remote := envFile(t, ctx, s, rec.srv.URL, declared, engine)
		out, code := g.okbreak("run", "--env", remote, "--catalog", "testdata/env-process-catalog.yaml", "--only", "^one-backend-killed$")
		require.Equal(t, 2, code, out)
		require.Contains(t, out, "crash sends a signal from the engine's host")
		dir := t.TempDir()
		out, code = g.okbreak("run", "--env", remote, "--catalog", "testdata/env-process-catalog.yaml", "--only", "^backend-terminated$", "--report", dir)
		require.Equal(t, 0, code, out)
		rep := readReport(t, dir)
		require.Equal(t, "alerted", string(rep.Cases[0].Verdict), rep.Cases[0].Reason)
		// The stack's own handle refreshes the replaced container: later
		// subtests look it up by name again.
		require.NoError(t, s.Refresh(ctx, "backend-2"))
	})

	t.Run("recover after SIGKILL removes exactly okbreak's toxics", func(t *testing.T) {
		// A toxic made by hand on a declared proxy, and one named like
		// okbreak's on a proxy the file does not declare: both survive.
		byHand := addToxic(t, ctx, api, "edge->backend-1", "by-hand")
		undeclared := addToxic(t, ctx, api, "edge->other-1", "okbreak.test-env.cafe0001.latency-x-downstream")
		t.Cleanup(func() {
			_ = fault.RemoveToxic(context.Background(), api, "edge->backend-1", byHand)
			_ = fault.RemoveToxic(context.Background(), api, "edge->other-1", undeclared)
		})
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d (the SIGKILL points)", seed)
		rng := rand.New(rand.NewPCG(seed, seed))
		narrow := envFile(t, ctx, s, rec.srv.URL, []string{"edge->backend-2", "edge->backend-3", "edge->xds"}, "")
		// killedDuring starts a case and SIGKILLs the run at a random point
		// while its fault is in force.
		killedDuring := func(only string, inForce func(fault.ToxiproxyState) bool) {
			kctx, kcancel := context.WithTimeout(ctx, 3*time.Minute)
			defer kcancel()
			run := g.cmd(kctx, "run", "--env", narrow, "--catalog", catalogFile, "--only", only)
			require.NoError(t, run.Start())
			require.Eventually(t, func() bool { return inForce(stacktest.Toxiproxies(t, ctx, s)) }, 2*time.Minute, 50*time.Millisecond)
			time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second))))
			require.NoError(t, run.Process.Signal(syscall.SIGKILL))
			_ = run.Wait()
		}
		survivors := map[string][]string{"edge->backend-1": {byHand}, "edge->other-1": {undeclared}}

		// From another machine (no journal): the toxics are found by name.
		killedDuring("^all-backends-slow$", func(st fault.ToxiproxyState) bool { return len(st.Toxics["edge->backend-3"]) > 0 })
		elsewhere := &gameDay{t: t, bin: bin, env: append(os.Environ(), "OKBREAK_STATE_DIR="+t.TempDir(), "OKBREAK_REPORT_DIR="+t.TempDir())}
		out, code := elsewhere.okbreak("recover", "--env", narrow)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "removed toxic okbreak.test-env.")
		st := stacktest.Toxiproxies(t, ctx, s)
		require.Equal(t, survivors, st.Toxics, "only the toxics okbreak did not make, or on undeclared proxies, survive: %s", out)

		// On this machine: the journal also says which proxy was disabled.
		killedDuring("^control-plane-down-5m$", func(st fault.ToxiproxyState) bool { return slices.Contains(st.Disabled, "edge->xds") })
		out, code = g.okbreak("recover", "--env", narrow)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "reverted")
		st = stacktest.Toxiproxies(t, ctx, s)
		require.Empty(t, st.Disabled, "the disabled proxy is enabled again: %s", out)
		require.Equal(t, survivors, st.Toxics)
	})
}

func addToxic(t *testing.T, ctx context.Context, api, proxy, name string) string {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":1}}`, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/proxies/"+url.PathEscape(proxy)+"/toxics", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return name
}
