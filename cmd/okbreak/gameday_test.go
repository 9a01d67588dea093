package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/report"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/sample"
)

// gameDay drives the okbreak binary against one stack of `okbreak up
// --detach`, the way people at a game day do from their terminals.
type gameDay struct {
	t     *testing.T
	bin   string
	env   []string
	run   string
	stack *stack.Stack
}

func (g *gameDay) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, g.bin, args...)
	c.Env = g.env
	return c
}

// okbreak runs a command to its end and returns its output and exit code.
func (g *gameDay) okbreak(args ...string) (string, int) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := g.cmd(ctx, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	require.NoError(g.t, err, "okbreak %s: %s", strings.Join(args, " "), out)
	return string(out), 0
}

// status is `okbreak status --json`.
func (g *gameDay) status() statusView {
	g.t.Helper()
	out, code := g.okbreak("status", "--run", g.run, "--json")
	require.Equal(g.t, 0, code, out)
	var v statusView
	require.NoError(g.t, json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &v), out)
	return v
}

// clean requires that nothing of okbreak's is in force: no open journal
// entry, and no toxic or disabled proxy in the stack's Toxiproxy.
func (g *gameDay) clean(why string) {
	g.t.Helper()
	v := g.status()
	require.Empty(g.t, v.InForce, "%s: faults still in force in the journal", why)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := stacktest.Toxiproxies(g.t, ctx, g.stack)
	require.True(g.t, st.Clean(), "%s: Toxiproxy holds %s", why, st)
}

func buildOkbreak(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "okbreak")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// TestGameDay brings a stack up with okbreak up --detach and plays a game
// day on it from other processes: bad input refused before any change, a
// fault seen through the data plane, ended by okbreak revert, injectors
// SIGKILLed at random points whose faults still end at their deadline, a
// halt that reverts and exits 4, the game-day log, and down leaving nothing.
func TestGameDay(t *testing.T) {
	stacktest.RequireDocker(t)
	if testing.Short() {
		t.Skip("-short: the game day brings a stack up")
	}
	g := &gameDay{t: t, bin: buildOkbreak(t)}
	g.env = append(os.Environ(), "OKBREAK_STATE_DIR="+t.TempDir(), "OKBREAK_REPORT_DIR="+t.TempDir(), "OKBREAK_DATA_PLANE=grpc")
	out, code := g.okbreak("up", "--detach", "--time-scale", "60", "--halt-success", "0.5", "--halt-for", "8s", "--probe-rate", "50")
	m := regexp.MustCompile(`run (\w+) is up in the background`).FindStringSubmatch(out)
	require.NotNil(t, m, "okbreak up --detach says its run: %s", out)
	g.run = m[1]
	t.Cleanup(func() {
		if out, code := g.okbreak("down", "--run", g.run); code != 0 {
			t.Errorf("okbreak down: exit %d: %s", code, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		left, err := stack.RunContainers(ctx, g.run)
		require.NoError(t, err)
		require.Empty(t, left, "okbreak down leaves nothing of the run")
	})
	require.Equal(t, 0, code, out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	g.stack, err = stack.Attach(ctx, g.run, sample.Definition(stack.GRPC))
	require.NoError(t, err)

	t.Run("bad input is refused before any change", g.badInput)
	t.Run("a fault is seen through the data plane and ended by revert", g.seenAndReverted)
	t.Run("SIGKILLed injectors' faults end at their deadline", g.killedInjectors)
	t.Run("a halt reverts and exits 4", g.halt)
	t.Run("run --attach holds the stack", g.attach)
	t.Run("a halted run --attach exits 4", g.haltedRun)
	t.Run("the game-day log", g.log)
}

func (g *gameDay) badInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"inject", "latency", "--link", "edge->nowhere", "--param", "latency=1s", "--for", "10s"}, `unknown link "edge->nowhere"`},
		{[]string{"inject", "latency", "--link", "edge->backend-1", "--param", "latency=1s", "--for", "11m"}, "over the limit of 10m0s"},
		{[]string{"inject", "latency", "--link", "edge->*", "--param", "latency=1s", "--for", "10s"}, "over the limit of 3"},
		{[]string{"inject", "latency", "--link", "edge->backend-1", "--param", "latency", "--for", "10s"}, "want name=value"},
		{[]string{"inject", "latency", "--link", "edge->backend-1", "--param", "latency=1s"}, "--for"},
		{[]string{"inject", "latency", "--link", "edge->backend-1", "--param", "latency=1s", "--for", "10s", "--run", "nosuchrun"}, "no stack of okbreak up by that ID"},
		{[]string{"revert", "--run", g.run, "ffffffff"}, "matches 0 faults"},
	} {
		out, code := g.okbreak(c.args...)
		require.Equal(t, 2, code, "okbreak %v: %s", c.args, out)
		require.Contains(t, out, c.want)
	}
	out, code := g.okbreak("inject", "latency", "--link", "edge->backend-1", "--param", "latency=1s", "--for", "10s", "--dry-run", "--run", g.run)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "dry run: nothing was changed")
	g.clean("after bad input and a dry run")
}

func (g *gameDay) seenAndReverted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out safeBuffer
	inj := g.cmd(ctx, "inject", "latency", "--link", "edge->backend-*", "--param", "latency=400ms", "--for", "5m", "--run", g.run, "--who", "alice")
	inj.Stdout, inj.Stderr = &out, &out
	require.NoError(t, inj.Start())
	// The keeper's probe sees the latency: p99 over the last minute.
	var v statusView
	require.Eventually(t, func() bool {
		v = g.status()
		return len(v.InForce) == 1 && v.Keeper != nil && v.Keeper.Probe.P99 >= 400*time.Millisecond
	}, 30*time.Second, 500*time.Millisecond, "the fault in force and seen by the probe: %+v", v)
	f := v.InForce[0]
	require.Equal(t, "alice", f.Who)
	require.Equal(t, "edge->backend-*", f.Target)
	require.Greater(t, f.LeftS, 200.0)

	rout, code := g.okbreak("revert", "--run", g.run, "--who", "bob", f.ID[:6])
	require.Equal(t, 0, code, rout)
	require.NoError(t, inj.Wait(), "the injector exits 0 when another ends its fault: %s", out.String())
	require.Contains(t, out.String(), "reverted by bob")
	g.clean("after okbreak revert")
}

func (g *gameDay) killedInjectors(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (the SIGKILL points)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	const faultFor = 5 * time.Second
	for i := range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		args := [][]string{
			{"inject", "latency", "--link", "edge->backend-2", "--param", "latency=200ms"},
			{"inject", "down", "--link", "edge->backend-3"},
			{"inject", "reset_peer", "--link", "edge->backend-1"},
			{"inject", "pause", "--component", "backend-2"},
		}[i]
		inj := g.cmd(ctx, append(args, "--for", faultFor.String(), "--run", g.run)...)
		var out safeBuffer
		inj.Stdout = &out
		started := time.Now()
		require.NoError(t, inj.Start())
		at := time.Duration(rng.Int64N(int64(2500 * time.Millisecond)))
		if i == 0 {
			// One point for sure after the fault is in force: the keeper
			// must end it alone.
			require.Eventually(t, func() bool { return strings.Contains(out.String(), "injected") }, 20*time.Second, 20*time.Millisecond)
			at = time.Since(started)
		} else {
			time.Sleep(at)
		}
		_ = inj.Process.Signal(syscall.SIGKILL)
		_ = inj.Wait()
		cancel()
		t.Logf("%s SIGKILLed %s after start", args[1], at.Round(time.Millisecond))
		// The deadline, plus the keeper's look at the journal, plus the
		// revert of a paused container.
		time.Sleep(time.Until(started.Add(faultFor + 3*time.Second)))
		g.clean("after a SIGKILLed " + args[1])
		ctrs, err := stack.RunContainers(context.Background(), g.run)
		require.NoError(t, err)
		for _, c := range ctrs {
			require.Equal(t, "running", c.State, "%s after a SIGKILLed %s", c.Name, args[1])
		}
	}
}

// safeBuffer is a bytes.Buffer a process writes while the test reads it.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (g *gameDay) halt(t *testing.T) {
	t0 := time.Now()
	out, code := g.okbreak("inject", "down", "--link", "client->edge", "--for", "2m", "--run", g.run)
	require.Equal(t, exitHalted, code, out)
	require.Contains(t, out, "the probe's success stayed under 0.5 for 8s")
	require.Less(t, time.Since(t0), time.Minute, "the halt came long before the deadline")
	g.clean("after a halt")
}

func (g *gameDay) log(t *testing.T) {
	out, code := g.okbreak("status", "--run", g.run, "--log")
	require.Equal(t, 0, code, out)
	for _, want := range []string{"inject        alice", "reverted      bob", "deadline", "kept by okbreak up", "halt          okbreak up"} {
		require.Contains(t, out, want)
	}
}

func (g *gameDay) attach(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, code := g.okbreak("run", "--attach", "--run", g.run, "--only", "^data-plane-crash$", "--dry-run")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "on the stack of okbreak up, run "+g.run)
	require.Contains(t, out, "dry run: nothing was changed")
	// A fault in force: the run is refused before its first case.
	var iout safeBuffer
	inj := g.cmd(ctx, "inject", "latency", "--link", "edge->backend-1", "--param", "latency=100ms", "--for", "5m", "--run", g.run)
	inj.Stdout = &iout
	require.NoError(t, inj.Start())
	require.Eventually(t, func() bool { return strings.Contains(iout.String(), "injected") }, 30*time.Second, 50*time.Millisecond)
	out, code = g.okbreak("run", "--attach", "--run", g.run, "--only", "^data-plane-crash$")
	require.Equal(t, 3, code, out)
	require.Contains(t, out, "has faults in force")
	out, code = g.okbreak("revert", "--all", "--run", g.run)
	require.Equal(t, 0, code, out)
	require.NoError(t, inj.Wait())

	// A not-ok case on the held stack: the keeper pauses, inject is
	// refused, and the success floor does not halt a case meant to hurt.
	dir := t.TempDir()
	var rout safeBuffer
	run := g.cmd(ctx, "run", "--attach", "--run", g.run, "--only", "^data-plane-crash$", "--report", dir,
		"--halt-success", "0.5", "--halt-for", "2s")
	run.Stdout, run.Stderr = &rout, &rout
	require.NoError(t, run.Start())
	require.Eventually(t, func() bool {
		v := g.status()
		return v.Keeper != nil && strings.Contains(v.Keeper.Paused, "okbreak run --attach")
	}, time.Minute, 250*time.Millisecond, "the keeper pauses while the run holds the stack")
	out, code = g.okbreak("inject", "latency", "--link", "edge->backend-1", "--param", "latency=100ms", "--for", "1m", "--run", g.run)
	require.Equal(t, 3, code, out)
	require.Contains(t, out, "a second injector during a case is refused")
	require.NoError(t, run.Wait(), "run --attach: %s", rout.String())
	rep := readReport(t, dir)
	require.Len(t, rep.Cases, 1)
	require.Equal(t, "alerted", string(rep.Cases[0].Verdict), rep.Cases[0].Reason)
	require.NotEmpty(t, rep.GameDay, "the report holds the game-day log")
	g.clean("after run --attach")
	require.Eventually(t, func() bool { v := g.status(); return v.Keeper != nil && v.Keeper.Paused == "" }, 10*time.Second, 250*time.Millisecond)
}

func (g *gameDay) haltedRun(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now()
	out, code := g.okbreak("run", "--attach", "--run", g.run, "--catalog", "testdata/halt-catalog.yaml", "--report", dir,
		"--halt-success", "0.5", "--halt-for", "3s")
	require.Equal(t, exitHalted, code, out)
	rep := readReport(t, dir)
	require.Len(t, rep.Cases, 1)
	require.Contains(t, rep.Cases[0].Halted, "success stayed under 0.5 for 3s")
	require.Less(t, time.Since(t0), 2*time.Minute)
	g.clean("after a halted run")
}

func readReport(t *testing.T, dir string) report.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var rep report.Report
	require.NoError(t, json.Unmarshal(b, &rep))
	return rep
}
