package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/okbreak/okbreak/internal/sample/backend"
	"github.com/okbreak/okbreak/internal/sample/cli"
	"github.com/okbreak/okbreak/internal/sample/internal/xdsfixture"
)

// childEnv makes the test binary run cli.Main instead of the tests, so that
// the real command line runs in a subprocess with its own environment.
const childEnv = "OKBREAK_SAMPLE_CLI_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		os.Exit(m.Run())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Process{
		Args:      os.Args[1:],
		LookupEnv: os.LookupEnv,
		Environ:   os.Environ(),
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Reexec: func(env []string) error {
			return syscall.Exec(os.Args[0], os.Args, env)
		},
	})
	stop()
	os.Exit(code)
}

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

func TestParseFlagsAndEnvironment(t *testing.T) {
	o, err := cli.Parse([]string{"--role", "backend", "--service", "other", "--instance", "other-1"},
		env(map[string]string{"OKBREAK_SERVICE": "backend", "OKBREAK_LATENCY": "150ms", "OKBREAK_ERROR_RATIO": "0.25",
			"OKBREAK_KNOWN_SERVICES": "a, b", "OKBREAK_ATTEMPTS": "not a number", "OKBREAK_LISTEN": ""}))
	require.NoError(t, err)
	assert.Equal(t, "other", o.Backend.Service, "a flag wins over the environment")
	assert.Equal(t, "other-1", o.Backend.Instance)
	assert.Equal(t, 150*time.Millisecond, o.Backend.Knobs.Latency)
	assert.Equal(t, 0.25, o.Backend.Knobs.ErrorRatio)
	assert.Equal(t, []string{"a", "b"}, o.Backend.KnownServices)
	assert.Equal(t, ":8080", o.Listen, "an empty variable counts as unset")

	o, err = cli.Parse(nil, env(map[string]string{"OKBREAK_ROLE": "frontend", "OKBREAK_BOOTSTRAP": "/b.json",
		"OKBREAK_ATTEMPTS": "1", "OKBREAK_RETRY_ON": "unavailable", "OKBREAK_RETRY_OTHER_HOST": "false", "OKBREAK_LATENCY": "bad"}))
	require.NoError(t, err)
	assert.Equal(t, cli.RoleFrontend, o.Role)
	assert.Equal(t, "/b.json", o.Bootstrap)
	assert.Equal(t, 1, o.Frontend.Attempts)
	assert.Equal(t, []codes.Code{codes.Unavailable}, o.Frontend.RetryOn)
	assert.False(t, o.Frontend.RetryOtherHost)
	assert.Equal(t, 250*time.Millisecond, o.Frontend.AttemptTimeout)
	assert.Equal(t, 2*time.Second, o.Frontend.RequestTimeout)
	assert.Equal(t, "xds:///backend", o.Frontend.Target)
	assert.Equal(t, ":9901", o.Admin)
	assert.False(t, o.Frontend.RequireXDSConnected, "static stability stays on by default")

	o, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json"}, env(map[string]string{"OKBREAK_REQUIRE_XDS_CONNECTED": "true"}))
	require.NoError(t, err)
	assert.True(t, o.Frontend.RequireXDSConnected, "set from the environment")
	o, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json", "--require-xds-connected=false"},
		env(map[string]string{"OKBREAK_REQUIRE_XDS_CONNECTED": "true"}))
	require.NoError(t, err)
	assert.False(t, o.Frontend.RequireXDSConnected, "the flag wins over the environment")
	o, err = cli.Parse([]string{"--role", "backend"}, env(map[string]string{"OKBREAK_REQUIRE_XDS_CONNECTED": "maybe"}))
	require.NoError(t, err, "a frontend-only variable does not concern a backend")
	assert.False(t, o.Frontend.RequireXDSConnected)

	o, err = cli.Parse([]string{"-role=frontend"}, env(map[string]string{"GRPC_XDS_BOOTSTRAP": "/etc/grpc.json"}))
	require.NoError(t, err)
	assert.Equal(t, "/etc/grpc.json", o.Bootstrap, "falls back to GRPC_XDS_BOOTSTRAP")

	_, err = cli.Parse([]string{"-h"}, env(nil))
	assert.True(t, errors.Is(err, flag.ErrHelp))
}

func TestParseConcurrencyKnobs(t *testing.T) {
	o, err := cli.Parse([]string{"--role", "backend", "--max-concurrency", "5", "--work", "90ms"},
		env(map[string]string{"OKBREAK_MAX_CONCURRENCY": "9", "OKBREAK_WORK_JITTER": "45ms", "OKBREAK_QUEUE_WAIT": "50ms"}))
	require.NoError(t, err)
	assert.Equal(t, backend.Knobs{MaxConcurrency: 5, Work: 90 * time.Millisecond, WorkJitter: 45 * time.Millisecond, QueueWait: 50 * time.Millisecond},
		o.Backend.Knobs, "flags win over the environment, which sets the rest")

	o, err = cli.Parse([]string{"--role", "backend"}, env(nil))
	require.NoError(t, err)
	assert.Equal(t, backend.Knobs{QueueWait: backend.DefaultQueueWait}, o.Backend.Knobs, "no limit by default")

	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--role", "backend", "--max-concurrency", "-1"}, nil, "max concurrency"},
		{[]string{"--role", "backend", "--work", "10ms", "--work-jitter", "20ms"}, nil, "work jitter"},
		{[]string{"--role", "backend"}, map[string]string{"OKBREAK_MAX_CONCURRENCY": "many"}, "OKBREAK_MAX_CONCURRENCY"},
		{[]string{"--role", "frontend", "--bootstrap", "b", "--max-concurrency", "2"}, nil, "--max-concurrency does not apply to role frontend"},
	} {
		_, err := cli.Parse(tc.args, env(tc.env))
		if assert.Error(t, err, "%v %v", tc.args, tc.env) {
			assert.Contains(t, err.Error(), tc.want, "%v %v", tc.args, tc.env)
		}
	}
}

func TestParseRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "--role (OKBREAK_ROLE) is required"},
		{[]string{"--role", "proxy"}, nil, `"proxy"`},
		{[]string{"--role", "backend", "--error-ratio", "2"}, nil, "error ratio"},
		{[]string{"--role", "backend", "--latency", "soon"}, nil, "latency"},
		{[]string{"--role", "backend"}, map[string]string{"OKBREAK_LATENCY": "soon"}, "OKBREAK_LATENCY"},
		{[]string{"--role", "backend", "--attempts", "2"}, nil, "--attempts does not apply to role backend"},
		{[]string{"--role", "backend", "--exit-at-start", "300"}, nil, "exit-at-start"},
		{[]string{"--role", "backend", "extra"}, nil, "unexpected arguments"},
		{[]string{"--role", "frontend"}, nil, "--bootstrap (OKBREAK_BOOTSTRAP) is required"},
		{[]string{"--role", "frontend", "--bootstrap", "b", "--retry-on", "permission-denied"}, nil, "wrong-service"},
		{[]string{"--role", "frontend", "--bootstrap", "b", "--retry-on", "often"}, nil, `"often"`},
		{[]string{"--role", "frontend", "--bootstrap", "b", "--attempts", "0"}, nil, "attempts"},
		{[]string{"--role", "frontend", "--bootstrap", "b", "--service", "x"}, nil, "--service does not apply"},
		{[]string{"--role", "frontend", "--bootstrap", "b"}, map[string]string{"OKBREAK_REQUIRE_XDS_CONNECTED": "maybe"}, "OKBREAK_REQUIRE_XDS_CONNECTED"},
		{[]string{"--role", "backend", "--require-xds-connected"}, nil, "--require-xds-connected does not apply to role backend"},
		{[]string{"--nope"}, nil, "nope"},
	} {
		_, err := cli.Parse(tc.args, env(tc.env))
		if assert.Error(t, err, "%v %v", tc.args, tc.env) {
			assert.Contains(t, err.Error(), tc.want, "%v %v", tc.args, tc.env)
		}
	}
}

type exit struct {
	code    int
	stderr  string
	elapsed time.Duration
}

// syncBuffer collects a subprocess's stderr while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// command returns the test binary set up to run cli.Main with args and a
// clean environment plus vars.
func command(ctx context.Context, args []string, vars ...string) (*exec.Cmd, *syncBuffer) {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OKBREAK_") && !strings.HasPrefix(kv, "GRPC_XDS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"=1")
	cmd.Env = append(cmd.Env, vars...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	return cmd, stderr
}

func run(t *testing.T, args []string, vars ...string) exit {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, stderr := command(ctx, args, vars...)
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	return exit{code: cmd.ProcessState.ExitCode(), stderr: stderr.String(), elapsed: time.Since(start)}
}

func TestExitAtStart(t *testing.T) {
	e := run(t, []string{"--role", "backend", "--exit-at-start", "3"})
	assert.Equal(t, 3, e.code)
	assert.Contains(t, e.stderr, "exit-at-start")
	assert.Contains(t, e.stderr, "code 3")

	e = run(t, nil, "OKBREAK_ROLE=backend", "OKBREAK_EXIT_AT_START=7")
	assert.Equal(t, 7, e.code)
	assert.Contains(t, e.stderr, "OKBREAK_EXIT_AT_START")
}

func TestBadFlagsExit2(t *testing.T) {
	e := run(t, []string{"--role", "backend", "--error-ratio", "1.5"})
	assert.Equal(t, 2, e.code)
	assert.Contains(t, e.stderr, "error ratio")
	e = run(t, []string{"--role", "backend"}, "OKBREAK_LATENCY=soon")
	assert.Equal(t, 2, e.code)
	assert.Contains(t, e.stderr, `OKBREAK_LATENCY="soon"`)
	e = run(t, []string{"-h"})
	assert.Equal(t, 0, e.code)
}

func TestBadBootstrapExitsFast(t *testing.T) {
	dir := t.TempDir()
	good := `{"xds_servers":[{"server_uri":"127.0.0.1:18000","channel_creds":[{"type":"insecure"}]}],"node":{"id":"n"}}`
	for _, tc := range []struct {
		name, contents, reason string
	}{
		{"not-json", `{"xds_servers": [`, "not a JSON object"},
		{"no-servers", `{"xds_servers":[],"node":{"id":"n"}}`, "xds_servers is empty"},
		{"no-port", strings.Replace(good, "127.0.0.1:18000", "control-plane", 1), "not host:port"},
		{"unknown-creds", strings.Replace(good, "insecure", "plaintext", 1), `"plaintext"`},
		{"no-node-id", strings.Replace(good, `"id":"n"`, `"id":""`, 1), "node.id is empty"},
		{"typo", strings.Replace(good, `"node"`, `"nodes"`, 1), `unknown top-level field(s) "nodes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".json")
			require.NoError(t, os.WriteFile(path, []byte(tc.contents), 0o600))
			e := run(t, []string{"--role", "frontend", "--bootstrap", path, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"})
			assert.Equal(t, 1, e.code, e.stderr)
			assert.Contains(t, e.stderr, path)
			assert.Contains(t, e.stderr, tc.reason)
			assert.Less(t, e.elapsed, time.Second)
		})
	}
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "absent.json")
		e := run(t, nil, "OKBREAK_ROLE=frontend", "OKBREAK_BOOTSTRAP="+path)
		assert.Equal(t, 1, e.code, e.stderr)
		assert.Contains(t, e.stderr, path)
		assert.Contains(t, e.stderr, "no such file")
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// start runs cli.Main in a subprocess until the test ends; it must then exit
// 0 on SIGTERM.
func start(t *testing.T, args []string, vars ...string) *syncBuffer {
	t.Helper()
	cmd, stderr := command(context.Background(), args, vars...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "graceful stop; stderr:\n%s", stderr)
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("no exit within 10s of SIGTERM; stderr:\n%s", stderr)
		}
	})
	return stderr
}

func getJSON(url string) (int, map[string]any, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	err = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, err
}

// answersOK waits up to 10 s until GET http://addr/ answers 200 and returns
// the JSON body; what and the process's stderr explain a timeout.
func answersOK(t *testing.T, addr, what string, stderr *syncBuffer) map[string]any {
	t.Helper()
	var body map[string]any
	eventually(t, 10*time.Second, what+"; stderr:\n"+stderr.String(), func() bool {
		code, b, err := getJSON("http://" + addr + "/")
		body = b
		return err == nil && code == http.StatusOK
	})
	return body
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestBackendFromEnvironmentOnly(t *testing.T) {
	addr := freeAddr(t)
	stderr := start(t, nil, "OKBREAK_ROLE=backend", "OKBREAK_LISTEN="+addr, "OKBREAK_SERVICE=other", "OKBREAK_INSTANCE=other-7")
	body := answersOK(t, addr, "backend answers", stderr)
	assert.Equal(t, "other", body["service"])
	assert.Equal(t, "other-7", body["instance"])
}

func TestFrontendGetsBootstrapFromFlagAndServes(t *testing.T) {
	// Backends and the control plane run here; only the frontend (and its
	// xDS client) runs in the subprocess.
	var endpoints []string
	for i := range 2 {
		b, err := backend.New(backend.Config{Service: "backend", Instance: fmt.Sprintf("backend-%d", i+1)})
		require.NoError(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Serve(ctx, ln) }()
		t.Cleanup(func() { cancel(); <-done })
		endpoints = append(endpoints, ln.Addr().String())
	}
	adsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ads := xdsfixture.Start(context.Background(), adsLn)
	t.Cleanup(ads.Stop)
	require.NoError(t, ads.Set(t.Context(), "cli-test", "v1", xdsfixture.Config{
		Route: "backend", Cluster: "backend",
		Localities: []xdsfixture.Locality{{Region: "r", Zone: "z", Weight: 1, Endpoints: endpoints}},
	}))
	path := filepath.Join(t.TempDir(), "bootstrap.json")
	require.NoError(t, os.WriteFile(path, xdsfixture.Bootstrap(ads.Addr(), "cli-test"), 0o600))

	data, admin := freeAddr(t), freeAddr(t)
	stderr := start(t, []string{"--role", "frontend", "--bootstrap", path, "--listen", data, "--admin", admin})
	eventually(t, 10*time.Second, "frontend ready", func() bool {
		resp, err := http.Get("http://" + admin + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	seen := map[any]bool{}
	for range 6 {
		code, body, err := getJSON("http://" + data + "/")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "%v", body)
		assert.Equal(t, "backend", body["service"])
		seen[body["instance"]] = true
	}
	assert.Len(t, seen, 2)
	assert.Contains(t, stderr.String(), "re-executing with the xDS bootstrap")
}

func TestUsageMarksRequireXDSConnectedAsTestSwitch(t *testing.T) {
	var b bytes.Buffer
	cli.Usage(&b)
	assert.Contains(t, b.String(), "-require-xds-connected")
	assert.Contains(t, b.String(), "TEST SWITCH, a data plane without static stability, for regression tests")
}

func TestFrontendRequireXDSConnectedFromEnvironment(t *testing.T) {
	ads, stopADS := backendBehindADS(t)
	path := filepath.Join(t.TempDir(), "bootstrap.json")
	require.NoError(t, os.WriteFile(path, xdsfixture.Bootstrap(ads.Addr(), "cli-test"), 0o600))

	data, admin := freeAddr(t), freeAddr(t)
	stderr := start(t, nil, "OKBREAK_ROLE=frontend", "OKBREAK_BOOTSTRAP="+path, "OKBREAK_LISTEN="+data,
		"OKBREAK_ADMIN="+admin, "OKBREAK_REQUIRE_XDS_CONNECTED=true")
	body := answersOK(t, data, "frontend serves", stderr)
	assert.Equal(t, "backend", body["service"])

	stopADS()
	eventually(t, 2*time.Second, "frontend refuses with the control plane gone", func() bool {
		code, b, err := getJSON("http://" + data + "/")
		body = b
		return err == nil && code == http.StatusServiceUnavailable
	})
	assert.Equal(t, map[string]any{"code": "Unavailable", "message": "xDS server not connected (--require-xds-connected)", "attempts": 0.0}, body)
	assert.Contains(t, stderr.String(), "require_xds_connected=true")
	assert.Contains(t, stderr.String(), "xds stream not connected")
}

func TestParseFrontendTestSwitches(t *testing.T) {
	o, err := cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json"}, env(nil))
	require.NoError(t, err)
	assert.False(t, o.Frontend.DropConfigOnNACK, "off by default")
	assert.False(t, o.WaitOnControlPlane, "off by default")
	assert.Empty(t, o.Frontend.WaitOnControlPlane, "the address comes from the bootstrap at start, not from Parse")
	assert.False(t, o.KeepRunningOnBadBootstrap, "off by default")

	o, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json",
		"--drop-config-on-nack", "--wait-on-control-plane", "--keep-running-on-bad-bootstrap"}, env(nil))
	require.NoError(t, err)
	assert.True(t, o.Frontend.DropConfigOnNACK)
	assert.True(t, o.WaitOnControlPlane)
	assert.True(t, o.KeepRunningOnBadBootstrap)

	o, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json", "--wait-on-control-plane=false"},
		env(map[string]string{"OKBREAK_DROP_CONFIG_ON_NACK": "true", "OKBREAK_WAIT_ON_CONTROL_PLANE": "true", "OKBREAK_KEEP_RUNNING_ON_BAD_BOOTSTRAP": "1"}))
	require.NoError(t, err)
	assert.True(t, o.Frontend.DropConfigOnNACK, "set from the environment")
	assert.False(t, o.WaitOnControlPlane, "the flag wins over the environment")
	assert.True(t, o.KeepRunningOnBadBootstrap, "set from the environment")

	o, err = cli.Parse([]string{"--role", "backend"}, env(map[string]string{"OKBREAK_DROP_CONFIG_ON_NACK": "maybe",
		"OKBREAK_WAIT_ON_CONTROL_PLANE": "maybe", "OKBREAK_KEEP_RUNNING_ON_BAD_BOOTSTRAP": "maybe"}))
	require.NoError(t, err, "frontend-only variables do not concern a backend")
	assert.False(t, o.Frontend.DropConfigOnNACK)
	assert.False(t, o.WaitOnControlPlane)
	assert.False(t, o.KeepRunningOnBadBootstrap)
}

func TestFrontendTestSwitchesAreRefusedForTheBackend(t *testing.T) {
	for _, name := range []string{"drop-config-on-nack", "wait-on-control-plane", "keep-running-on-bad-bootstrap"} {
		_, err := cli.Parse([]string{"--role", "backend", "--" + name}, env(nil))
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), "--"+name+" does not apply to role backend")
		}
		_, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "b"}, env(map[string]string{cli.EnvName(name): "maybe"}))
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), cli.EnvName(name))
		}
	}
}

func TestHelpListsFrontendTestSwitches(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := cli.Main(t.Context(), cli.Process{Args: []string{"--help"}, LookupEnv: env(nil), Stdout: &stdout, Stderr: &stderr})
	assert.Equal(t, cli.ExitOK, code, stderr.String())
	help := stdout.String()
	for _, want := range []string{
		"-drop-config-on-nack",
		"TEST SWITCH, a data plane that does not keep its last good config, for regression tests",
		"-wait-on-control-plane",
		"TEST SWITCH, a data plane whose traffic waits on the control plane, for regression tests",
		"-keep-running-on-bad-bootstrap",
		"TEST SWITCH, a data plane that does not fail fast, for regression tests",
	} {
		assert.Contains(t, help, want)
	}
}

// mainInProcess runs cli.Main in a goroutine until ctx is done and returns
// its exit code on the channel. A bad bootstrap stops a frontend before gRPC
// or a re-exec is involved, so the process need not be a subprocess.
func mainInProcess(ctx context.Context, args []string) (<-chan int, *syncBuffer) {
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, cli.Process{Args: args, LookupEnv: env(nil), Stdout: io.Discard, Stderr: stderr})
	}()
	return done, stderr
}

func TestKeepRunningOnBadBootstrap(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "not-json.json")
	require.NoError(t, os.WriteFile(notJSON, []byte(`{"xds_servers": [`), 0o600))
	for _, tc := range []struct{ name, path, reason string }{
		{"not-json", notJSON, "not a JSON object"},
		{"missing", filepath.Join(dir, "absent.json"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := freeAddr(t)
			args := []string{"--role", "frontend", "--bootstrap", tc.path, "--listen", data, "--admin", "127.0.0.1:0"}

			// Without the switch: exit 1 at once, whatever ctx does.
			done, stderr := mainInProcess(t.Context(), args)
			select {
			case code := <-done:
				assert.Equal(t, cli.ExitError, code, stderr.String())
				assert.Contains(t, stderr.String(), tc.reason)
			case <-time.After(5 * time.Second):
				t.Fatalf("no exit without --keep-running-on-bad-bootstrap; stderr:\n%s", stderr)
			}

			// With it: log the reason and run until ctx is done, serving
			// nothing, then exit 0.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done, stderr = mainInProcess(ctx, append(args, "--keep-running-on-bad-bootstrap"))
			eventually(t, 5*time.Second, "bad bootstrap logged; stderr:\n"+stderr.String(), func() bool {
				return strings.Contains(stderr.String(), "keep-running-on-bad-bootstrap")
			})
			assert.Contains(t, stderr.String(), tc.reason)
			assert.Contains(t, stderr.String(), tc.path)
			// Well past the time the switch-less run took to exit.
			select {
			case code := <-done:
				t.Fatalf("exited with %d while ctx was live; stderr:\n%s", code, stderr)
			case <-time.After(time.Second):
			}
			_, err := net.DialTimeout("tcp", data, time.Second)
			assert.Error(t, err, "nothing is served on --listen")
			cancel()
			select {
			case code := <-done:
				assert.Equal(t, cli.ExitOK, code, stderr.String())
			case <-time.After(5 * time.Second):
				t.Fatalf("no exit within 5s of ctx done; stderr:\n%s", stderr)
			}
		})
	}
}

func TestKeepRunningOnBadBootstrapStopsOnSIGTERM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"xds_servers":[],"node":{"id":"n"}}`), 0o600))
	// start's cleanup sends SIGTERM and requires exit 0.
	stderr := start(t, nil, "OKBREAK_ROLE=frontend", "OKBREAK_BOOTSTRAP="+path, "OKBREAK_LISTEN="+freeAddr(t),
		"OKBREAK_ADMIN="+freeAddr(t), "OKBREAK_KEEP_RUNNING_ON_BAD_BOOTSTRAP=true")
	eventually(t, 10*time.Second, "bad bootstrap logged; stderr:\n"+stderr.String(), func() bool {
		return strings.Contains(stderr.String(), "keep-running-on-bad-bootstrap")
	})
	assert.Contains(t, stderr.String(), "xds_servers is empty")
}

func TestFrontendWaitOnControlPlaneUsesTheBootstrapServer(t *testing.T) {
	ads, stopADS := backendBehindADS(t)
	path := filepath.Join(t.TempDir(), "bootstrap.json")
	// As in a compose file: the scheme must be taken off.
	bootstrap := bytes.Replace(xdsfixture.Bootstrap(ads.Addr(), "cli-test"), []byte(ads.Addr()), []byte("dns:///"+ads.Addr()), 1)
	require.NoError(t, os.WriteFile(path, bootstrap, 0o600))

	data, admin := freeAddr(t), freeAddr(t)
	stderr := start(t, []string{"--role", "frontend", "--bootstrap", path, "--listen", data, "--admin", admin,
		"--wait-on-control-plane", "--request-timeout", "500ms"})
	body := answersOK(t, data, "frontend serves", stderr)
	assert.Equal(t, "backend", body["service"])
	assert.Contains(t, stderr.String(), "wait_on_control_plane="+ads.Addr())

	// The control plane goes away: the cached config could serve, but every
	// request waits on the control plane first.
	stopADS()
	eventually(t, 5*time.Second, "frontend refuses with the control plane gone", func() bool {
		code, b, err := getJSON("http://" + data + "/")
		body = b
		return err == nil && code == http.StatusServiceUnavailable
	})
	assert.Equal(t, "Unavailable", body["code"])
	assert.Contains(t, body["message"], "--wait-on-control-plane")
	assert.Equal(t, 0.0, body["attempts"])
}

// backendBehindADS starts one backend and an xDS management server that
// routes "backend" to it (node "cli-test"), both stopped when the test ends;
// stopADS stops the management server early, once.
func backendBehindADS(t *testing.T) (ads *xdsfixture.Server, stopADS func()) {
	t.Helper()
	b, err := backend.New(backend.Config{Service: "backend", Instance: "backend-1"})
	require.NoError(t, err)
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, bln) }()
	t.Cleanup(func() { cancel(); <-done })

	adsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ads = xdsfixture.Start(context.Background(), adsLn)
	var once sync.Once
	stopADS = func() { once.Do(ads.Stop) }
	t.Cleanup(stopADS)
	require.NoError(t, ads.Set(t.Context(), "cli-test", "v1", xdsfixture.Config{
		Route: "backend", Cluster: "backend",
		Localities: []xdsfixture.Locality{{Region: "r", Zone: "z", Weight: 1, Endpoints: []string{bln.Addr().String()}}},
	}))
	return ads, stopADS
}
