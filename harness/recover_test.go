package harness_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/internal/registry"
	"github.com/okbreak/okbreak/sample"
)

// envInjector makes the test binary the injector child of
// TestRecoverAfterTheInjectorIsKilled, attached to the run it names.
const envInjector = "OKBREAK_RECOVER_TEST_INJECTOR_RUN"

// injected are the faults the child puts in force: every kind (network,
// process, config), and every kind of undo (toxic, disabled proxy, paused
// and stopped containers, a recreated container, a container started
// beside the stack, etcd keys).
var injected = []fault.Spec{
	{Type: "latency", Target: "edge->backend-1", Params: map[string]any{"latency": "2s"}},
	{Type: "down", Target: "edge->xds"},
	{Type: "pause", Target: "backend-2"},
	{Type: "stop", Target: "other-1", Params: map[string]any{"grace": "1s"}},
	{Type: "crash_loop", Target: "backend-3"},
	{Type: "bad_config_at_start", Target: sample.Edge},
	{Type: "route_to_other", Target: registry.BackendRoute},
	{Type: "empty_endpoints", Target: registry.OtherService},
}

// TestInjectorChild is the child: it attaches to the parent's stack, puts
// every fault of injected in force, says so, and waits to be killed.
func TestInjectorChild(t *testing.T) {
	run := os.Getenv(envInjector)
	if run == "" {
		t.Skip("runs only as the child of TestRecoverAfterTheInjectorIsKilled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := stack.Attach(ctx, run, sample.Definition(stack.GRPC))
	require.NoError(t, err)
	for _, spec := range injected {
		f, err := fault.New(spec, s)
		require.NoError(t, err)
		require.NoError(t, f.Inject(ctx), "inject %s", f.Name())
	}
	fmt.Println("INJECTED")
	<-ctx.Done() // killed long before
	t.Fatal("never killed")
}

// child is this test binary run again in one of its child roles; what it
// prints is kept for failure messages.
type child struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    []string
	exited bool
	done   sync.Once
}

// startChild runs the test named test in a child process with env added;
// the child is killed when the test ends, if not before.
func startChild(t *testing.T, test string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd}
	t.Cleanup(c.kill)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.mu.Lock()
			c.log = append(c.log, sc.Text())
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.exited = true
		c.mu.Unlock()
	}()
	return c
}

// kill sends SIGKILL (no revert runs in the child) and reaps it; safe to
// call more than once.
func (c *child) kill() {
	c.done.Do(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.log, "\n")
}

// waitLine waits until the child printed line, and fails the test when it
// ended or timed out first.
func (c *child) waitLine(t *testing.T, ctx context.Context, line string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := retry.Until(ctx, "the child's "+line, timeout, 20*time.Millisecond, func(context.Context) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if slices.Contains(c.log, line) {
			return nil
		}
		if c.exited {
			cancel() // it will never print it
			return errors.New("the child ended first")
		}
		return retry.ErrNotYet
	})
	require.NoError(t, err, "child's output:\n%s", c.output())
}

func requireDocker(t *testing.T) {
	t.Helper()
	if os.Getenv("OKBREAK_SKIP_DOCKER_TESTS") == "1" {
		t.Skip("OKBREAK_SKIP_DOCKER_TESTS=1: stack tests skipped on request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	require.NoError(t, err, "recovery tests need a Docker engine")
	defer cli.Close()
	_, err = cli.Ping(ctx, client.PingOptions{})
	require.NoError(t, err, "recovery tests need a Docker engine (set OKBREAK_SKIP_DOCKER_TESTS=1 to skip them on purpose)")
}

// recoveryStack brings up a stack for a recovery test, with a journal of
// its own; the context bounds the whole test.
func recoveryStack(t *testing.T) (context.Context, *stack.Stack) {
	t.Helper()
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	t.Setenv(stack.EnvStateDir, t.TempDir())
	// The ready timeout also bounds the wait for traffic after recovery: it
	// must outlast gRPC's reconnect backoff (up to 120 s), which grows while
	// the faults keep backends and the control plane out of reach.
	s := stacktest.Up(t, ctx, stack.GRPC, stack.WithReadyTimeout(150*time.Second))
	return ctx, s
}

func TestRecoverAfterTheInjectorIsKilled(t *testing.T) {
	ctx, s := recoveryStack(t)

	// The injector: this test binary again, in its child role.
	inj := startChild(t, "TestInjectorChild", envInjector+"="+s.RunID)
	inj.waitLine(t, ctx, "INJECTED", 90*time.Second)

	// Every fault is in force.
	st := stacktest.Toxiproxies(t, ctx, s)
	require.Len(t, st.Toxics["edge->backend-1"], 1, "%s", st)
	require.Equal(t, []string{"edge->xds"}, st.Disabled)
	state := func(component string) *stack.ContainerInfo {
		ctrs, err := stack.RunContainers(ctx, s.RunID)
		require.NoError(t, err)
		for _, c := range ctrs {
			if c.Name == stack.ContainerName(s.RunID, component) {
				return &c
			}
		}
		return nil
	}
	require.Equal(t, "paused", state("backend-2").State)
	require.Equal(t, "exited", state("other-1").State)
	require.NotEmpty(t, state("backend-3").FaultID(), "backend-3 is the crash-looping replacement")
	ctrs, err := stack.RunContainers(ctx, s.RunID)
	require.NoError(t, err)
	require.Len(t, ctrs, len(s.Def.Components)+1, "the second edge runs or ran beside the stack")
	reg := readRegistry(t, ctx, s)
	require.Contains(t, reg[registry.RouteKey(registry.BackendRoute)], `"service":"other"`)
	require.NotContains(t, reg, registry.EndpointKey(registry.OtherService, "other-1"))
	j := fault.OpenJournal(s.StateDir())
	entries, err := j.Entries()
	require.NoError(t, err)
	open := fault.OpenInjections(entries)
	require.Len(t, open, len(injected))
	for _, e := range open {
		require.Equal(t, inj.cmd.Process.Pid, e.By.PID)
	}

	// SIGKILL: no revert runs in the injector.
	inj.kill()
	require.False(t, open[0].By.Alive())

	t0 := time.Now()
	rec, err := harness.Recover(ctx, harness.RecoverRun(s.RunID), harness.RecoverLogf(t.Logf))
	t.Logf("recovery in %s:\n%s", time.Since(t0).Round(time.Millisecond), rec)
	require.NoError(t, err)
	for _, spec := range injected {
		found := false
		for _, r := range rec.Repaired {
			found = found || strings.Contains(r.What, "reverted "+spec.Type+" "+spec.Target)
		}
		require.True(t, found, "the recovery report names %s %s:\n%s", spec.Type, spec.Target, rec)
	}

	// Nothing bad remains.
	st = stacktest.Toxiproxies(t, ctx, s)
	require.True(t, st.Clean(), "%s", st)
	ctrs, err = stack.RunContainers(ctx, s.RunID)
	require.NoError(t, err)
	require.Len(t, ctrs, len(s.Def.Components))
	for _, c := range ctrs {
		require.Equal(t, "running", c.State, c.Name)
		require.Empty(t, c.FaultID(), c.Name)
		ins, err := stack.Inspect(ctx, c.ID)
		require.NoError(t, err)
		require.NotContains(t, ins.Config.Env, fault.EnvExitAtStart+"=1", c.Name)
	}
	require.Equal(t, s.Def.SeedMap(), readRegistry(t, ctx, s), "the registry as seeded")
	entries, err = j.Entries()
	require.NoError(t, err)
	require.Empty(t, fault.OpenInjections(entries))

	// The stack serves: every backend answers through the data plane.
	for _, c := range s.Def.Components {
		require.NoError(t, s.Refresh(ctx, c.Name), "the recreated backend-3 is a new container")
	}
	require.NoError(t, s.WaitServing(ctx))

	// A second recovery finds nothing to do.
	rec, err = harness.Recover(ctx, harness.RecoverRun(s.RunID))
	require.NoError(t, err)
	require.True(t, rec.Nothing(), "%s", rec)

	// Damage no journal knows of is repaired too: a component paused and
	// one stopped by hand, a toxic and a disabled proxy added by hand.
	cli, err := stack.Docker(ctx)
	require.NoError(t, err)
	_, err = cli.ContainerPause(ctx, stack.ContainerName(s.RunID, "backend-1"), client.ContainerPauseOptions{})
	require.NoError(t, err)
	grace := 1
	_, err = cli.ContainerStop(ctx, stack.ContainerName(s.RunID, stack.Etcd), client.ContainerStopOptions{Timeout: &grace})
	require.NoError(t, err)
	toxiproxyPost(t, ctx, stacktest.ToxiproxyAPI(t, ctx, s, "edge->backend-3")+"/proxies/edge-%3Ebackend-3/toxics", `{"type":"latency","attributes":{"latency":100}}`)
	toxiproxyPost(t, ctx, stacktest.ToxiproxyAPI(t, ctx, s, "xds->etcd")+"/proxies/xds-%3Eetcd", `{"enabled":false}`)
	rec, err = harness.Recover(ctx, harness.RecoverRun(s.RunID))
	t.Logf("recovery of unjournaled damage:\n%s", rec)
	require.NoError(t, err)
	report := rec.String()
	require.Contains(t, report, "unpaused backend-1")
	require.Contains(t, report, "started etcd")
	require.Contains(t, report, "reset toxiproxy")
	st = stacktest.Toxiproxies(t, ctx, s)
	require.True(t, st.Clean(), "%s", st)
	ctrs, err = stack.RunContainers(ctx, s.RunID)
	require.NoError(t, err)
	for _, c := range ctrs {
		require.Equal(t, "running", c.State, c.Name)
	}
	require.NoError(t, s.WaitServing(ctx))
}

func toxiproxyPost(t *testing.T, ctx context.Context, url, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
}

func readRegistry(t *testing.T, ctx context.Context, s *stack.Stack) map[string]string {
	t.Helper()
	cli, err := s.Etcd(ctx)
	require.NoError(t, err)
	defer cli.Close()
	res, err := cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	out := map[string]string{}
	for _, kv := range res.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}
