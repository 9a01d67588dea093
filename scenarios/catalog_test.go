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
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/okbreaktest"
	"github.com/okbreak/okbreak/sample"
)

// catalogStacks is how many stacks a catalog test runs its cases on, side
// by side (okbreaktest.Config.Parallel). The catalog tests are the
// package's sequential tests, so that their file-descriptor check sees no
// other test's; every other Docker test here calls t.Parallel and runs,
// after them, at most -parallel at a time (make test: 2, one per core).
const catalogStacks = 2

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

// reportRoot is where runs' reports go ($OKBREAK_REPORT_DIR, else the
// temp folder's okbreak-reports); the test log names each run's folder.
func reportRoot() string {
	if dir := os.Getenv("OKBREAK_REPORT_DIR"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "okbreak-reports")
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

// TestCatalog runs the sample system's catalog: every ok-to-break case must
// survive and every not-ok case must alert, through the same one call a
// team's own test makes.
func TestCatalog(t *testing.T) {
	dp := dataPlane(t)
	okbreaktest.Run(t, okbreaktest.Config{
		Definition: sample.Definition(dp),
		Inputs:     inputs(t, dp),
		TimeScale:  timeScale(t),
		ReportDir:  reportRoot(),
		CaseBudget: caseBudget,
		Parallel:   catalogStacks,
	})
}

// TestCatalogKubePrometheusStyle runs the same catalog with the rules
// rewritten as kube-prometheus writes them (severity critical, no summary,
// a runbook_url) and page_label {severity: critical}: the verdicts must not
// depend on okbreak's house style.
func TestCatalogKubePrometheusStyle(t *testing.T) {
	dp := dataPlane(t)
	in, err := sample.KubePrometheusStyle(inputs(t, dp))
	require.NoError(t, err)
	okbreaktest.Run(t, okbreaktest.Config{
		Definition: sample.Definition(dp),
		Inputs:     in,
		TimeScale:  timeScale(t),
		ReportDir:  reportRoot(),
		CaseBudget: caseBudget,
		Parallel:   catalogStacks,
	})
}
