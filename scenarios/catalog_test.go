// Package scenarios runs the catalog as tests: every case of
// fixtures/catalog.yaml is a subtest on one shared stack, and passes only
// with the verdict its class demands (survived or alerted).
//
//	go test ./scenarios/ -run 'TestCatalog/etcd-down'   # select cases by name
//
// Environment: OKBREAK_DATA_PLANE (grpc by default here), OKBREAK_TIME_SCALE
// (default 240, capped per case), OKBREAK_REPORT_DIR (where the run's
// report.json, junit.xml, report.md and report.html go, in a folder per run;
// default a folder under the system's temp dir).
package scenarios

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/report"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/sample"
)

// caseBudget is how long one case may take at most (the longest window plus
// recovery and steady state); a case that could not finish before the test
// binary's deadline is not started, so that teardown always runs.
const caseBudget = 4 * time.Minute

// The default catalog, relative to this package; the rules are the
// sample's for the data plane (sample.RulePaths).
const catalogPath = "../fixtures/catalog.yaml"

// inputs reads the catalog and the sample's rules for dp from the checkout.
func inputs(t *testing.T, dp stack.DataPlane) harness.Inputs {
	t.Helper()
	in, err := harness.ReadInputs(catalogPath, sample.RulePaths("..", dp)...)
	require.NoError(t, err)
	return in
}

func dataPlane(t *testing.T) stack.DataPlane {
	t.Helper()
	v := os.Getenv("OKBREAK_DATA_PLANE")
	if v == "" || v == "auto" {
		return stack.GRPC
	}
	dp, err := stack.ParseDataPlane(v)
	require.NoError(t, err, "OKBREAK_DATA_PLANE")
	return dp
}

func timeScale(t *testing.T) float64 {
	t.Helper()
	v := os.Getenv("OKBREAK_TIME_SCALE")
	if v == "" {
		return 240
	}
	f, err := strconv.ParseFloat(v, 64)
	require.NoError(t, err, "OKBREAK_TIME_SCALE")
	return f
}

// reportDir is where a run's four report files go; the test log names it.
func reportDir(runID string) string {
	dir := os.Getenv("OKBREAK_REPORT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "okbreak-reports")
	}
	return filepath.Join(dir, runID)
}

// writeReport writes every case run so far as the four report files, the
// same files okbreak run writes.
func writeReport(t *testing.T, rep *report.Report, started time.Time) string {
	t.Helper()
	rep.ElapsedS = time.Since(started).Seconds()
	dir := reportDir(rep.Run)
	require.NoError(t, report.Write(dir, rep, true))
	return dir
}

// setup loads the catalog and rules for def's data plane and brings def up,
// torn down when the test ends.
func setup(t *testing.T, ctx context.Context, def stack.Definition) (*catalog.Catalog, *harness.Runner) {
	t.Helper()
	stacktest.RequireDocker(t)
	cat, rules, _, err := inputs(t, def.DataPlane).Load(def)
	require.NoError(t, err)
	s := stacktest.UpDef(t, ctx, def)
	return cat, &harness.Runner{System: s, Defaults: cat.Defaults, Rules: rules, TimeScale: timeScale(t), Logf: t.Logf}
}

func TestCatalog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cat, r := setup(t, ctx, sample.Definition(dataPlane(t), fixtures.EnvoyBootstrap()))
	s := r.System.(*stack.Stack)
	deadline, hasDeadline := t.Deadline()
	started := time.Now()
	rep := &report.Report{Version: report.Version(), DataPlane: string(s.Def.DataPlane), TimeScale: r.TimeScale,
		Run: s.RunID, Started: started, Cases: []harness.Result{}}
	var err error
	rep.Inputs, err = report.RunInputs(s.Def, inputs(t, s.Def.DataPlane))
	require.NoError(t, err)
	t.Cleanup(func() { t.Logf("report: %s", writeReport(t, rep, started)) })

	for _, c := range cat.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if hasDeadline && time.Until(deadline) < caseBudget {
				t.Fatalf("not run: less than %s left before the test deadline (raise -timeout)", caseBudget)
			}
			cctx, ccancel := context.WithTimeout(ctx, caseBudget)
			defer ccancel()
			res := r.RunCase(cctx, c)
			rep.Cases = append(rep.Cases, res)
			t.Logf("%s: %s (%s) in %.1fs at scale %.4g", c.Name, res.Verdict, res.Reason, res.Elapsed, res.EffectiveScale)
			if res.Verdict == harness.Skipped {
				t.Skip(res.Reason)
			}
			if res.Verdict != harness.Expected(c.Class) {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Errorf("%s %s: want %s, got %s: %s\nreport (at the end of the run): %s\n%s", c.Class, c.Name, harness.Expected(c.Class), res.Verdict, res.Reason, reportDir(s.RunID), b)
			}
		})
	}
}
