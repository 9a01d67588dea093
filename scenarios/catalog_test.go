// Package scenarios runs the catalog as tests: every case of
// fixtures/catalog.yaml is a subtest on one shared stack, and passes only
// with the verdict its class demands (survived or alerted).
//
//	go test ./scenarios/ -run 'TestCatalog/etcd-down'   # select cases by name
//
// Environment: OKBREAK_DATA_PLANE (grpc by default here), OKBREAK_TIME_SCALE
// (default 240, capped per case), OKBREAK_REPORT_DIR (where a failed case's
// report is kept; default a folder under the system's temp dir).
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
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// caseBudget is how long one case may take at most (the longest window plus
// recovery and steady state); a case that could not finish before the test
// binary's deadline is not started, so that teardown always runs.
const caseBudget = 4 * time.Minute

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

// keepReport writes a case's result where a person can read it after the
// run, and returns the path.
func keepReport(t *testing.T, runID string, res harness.Result) string {
	t.Helper()
	dir := os.Getenv("OKBREAK_REPORT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "okbreak-reports")
	}
	dir = filepath.Join(dir, runID)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	b, err := json.MarshalIndent(res, "", "  ")
	require.NoError(t, err)
	p := filepath.Join(dir, res.Name+".json")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// setup loads the catalog and rules for def's data plane and brings def up,
// torn down when the test ends.
func setup(t *testing.T, ctx context.Context, def stack.Definition) (*catalog.Catalog, *harness.Runner) {
	t.Helper()
	stacktest.RequireDocker(t)
	cat, rules, err := harness.LoadCatalog("../fixtures/catalog.yaml", "../fixtures/alerts", def)
	require.NoError(t, err)
	s := stacktest.UpDef(t, ctx, def)
	return cat, &harness.Runner{Stack: s, Defaults: cat.Defaults, Rules: rules, TimeScale: timeScale(t), Logf: t.Logf}
}

func TestCatalog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cat, r := setup(t, ctx, stack.Default(dataPlane(t), fixtures.EnvoyBootstrap()))
	s := r.Stack
	deadline, hasDeadline := t.Deadline()

	for _, c := range cat.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if hasDeadline && time.Until(deadline) < caseBudget {
				t.Fatalf("not run: less than %s left before the test deadline (raise -timeout)", caseBudget)
			}
			cctx, ccancel := context.WithTimeout(ctx, caseBudget)
			defer ccancel()
			res := r.RunCase(cctx, c)
			t.Logf("%s: %s (%s) in %.1fs at scale %.4g", c.Name, res.Verdict, res.Reason, res.Elapsed, res.EffectiveScale)
			if res.Verdict == harness.Skipped {
				t.Skip(res.Reason)
			}
			if res.Verdict != harness.Expected(c.Class) {
				path := keepReport(t, s.RunID, res)
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Errorf("%s %s: want %s, got %s: %s\nreport kept at %s\n%s", c.Class, c.Name, harness.Expected(c.Class), res.Verdict, res.Reason, path, b)
			}
		})
	}
}
