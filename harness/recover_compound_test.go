package harness_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/sample"
)

// envCompoundRunner makes the test binary the runner child of
// TestRecoverAfterKillDuringASecondFault; envCompoundCatalog names its
// catalog.
const (
	envCompoundRunner  = "OKBREAK_RECOVER_TEST_COMPOUND_RUN"
	envCompoundCatalog = "OKBREAK_RECOVER_TEST_COMPOUND_CATALOG"
)

// compoundCatalog is a compound case whose second fault starts a second
// into the window (1m at scale 60) and that would hold both for 10 s.
const compoundCatalog = `version: 1
cases:
  - name: killed-mid-compound
    class: ok-to-break
    why: the runner is killed while its second fault is in force
    faults:
      - {type: latency, target: edge->backend-1, params: {latency: 500ms}}
      - {type: pause, target: backend-2, at: 1m}
    duration: 10m
`

// TestCompoundRunnerChild runs the compound case through the real runner
// against the parent's stack, until it is killed.
func TestCompoundRunnerChild(t *testing.T) {
	run := os.Getenv(envCompoundRunner)
	if run == "" {
		t.Skip("runs only as the child of TestRecoverAfterKillDuringASecondFault")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	def := sample.Definition(stack.GRPC)
	s, err := stack.Attach(ctx, run, def)
	require.NoError(t, err)
	in, err := harness.ReadInputs(os.Getenv(envCompoundCatalog), sample.RulePaths("..", stack.GRPC)...)
	require.NoError(t, err)
	cat, rules, _, err := in.Load(def)
	require.NoError(t, err)
	r := &harness.Runner{System: s, Defaults: cat.Defaults, Rules: rules, TimeScale: 60, Logf: t.Logf}
	res := r.RunCase(ctx, cat.Cases[0])
	t.Fatalf("never killed; the case ended %s: %s", res.Verdict, res.Reason)
}

// TestRecoverAfterKillDuringASecondFault kills the runner (SIGKILL: no
// revert runs) while both faults of a compound case are in force, then
// requires okbreak recover's path to leave nothing in force.
func TestRecoverAfterKillDuringASecondFault(t *testing.T) {
	ctx, s := recoveryStack(t)
	catPath := filepath.Join(t.TempDir(), "catalog.yaml")
	require.NoError(t, os.WriteFile(catPath, []byte(compoundCatalog), 0o644))

	runner := startChild(t, "TestCompoundRunnerChild", envCompoundRunner+"="+s.RunID, envCompoundCatalog+"="+catPath)

	// Wait until the journal holds both faults open: the second is in force.
	j := fault.OpenJournal(s.StateDir())
	var open []fault.Entry
	err := retry.Until(ctx, "the second fault in force", 120*time.Second, 20*time.Millisecond, func(context.Context) error {
		entries, err := j.Entries()
		if err != nil {
			return err
		}
		open = fault.OpenInjections(entries)
		if len(open) < 2 {
			return fmt.Errorf("%d fault(s) open in the journal, want 2", len(open))
		}
		return nil
	})
	require.NoError(t, err, "child's output:\n%s", runner.output())
	// The journal is written before a fault acts: wait for the pause itself.
	err = retry.Until(ctx, "backend-2 paused", 30*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		ctrs, err := stack.RunContainers(ctx, s.RunID)
		if err != nil {
			return err
		}
		for _, c := range ctrs {
			if c.Name == stack.ContainerName(s.RunID, "backend-2") && c.State == "paused" {
				return nil
			}
		}
		return retry.ErrNotYet
	})
	require.NoError(t, err, "child's output:\n%s", runner.output())
	runner.kill()
	names := []string{open[0].Fault, open[1].Fault}
	require.ElementsMatch(t, []string{"killed-mid-compound#1", "killed-mid-compound#2"}, names)

	// harness.Recover as `okbreak recover` does.
	rec, err := harness.Recover(ctx, harness.RecoverRun(s.RunID), harness.RecoverLogf(t.Logf))
	t.Logf("recovery:\n%s", rec)
	require.NoError(t, err)
	for _, n := range names {
		require.Contains(t, rec.String(), n)
	}

	st := stacktest.Toxiproxies(t, ctx, s)
	require.True(t, st.Clean(), "%s", st)
	ctrs, err := stack.RunContainers(ctx, s.RunID)
	require.NoError(t, err)
	require.Len(t, ctrs, len(s.Def.Components))
	for _, c := range ctrs {
		require.Equal(t, "running", c.State, c.Name)
	}
	entries, err := j.Entries()
	require.NoError(t, err)
	require.Empty(t, fault.OpenInjections(entries))
	require.NoError(t, s.WaitServing(ctx))
}
