package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureDir is the repository's fixtures directory, seen from this package.
var fixtureDir = filepath.Join("..", "..", "fixtures")

func readFixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "catalog.yaml"))
	require.NoError(t, err)
	return b
}

// catalogMD is every case of the first catalog with its class, and the
// compound cases with the class running them found: the fixture must hold
// exactly these.
var catalogMD = map[string]Class{
	"control-plane-down-5m": OkToBreak,
	"control-plane-restart": OkToBreak,
	"control-plane-slow":    OkToBreak,
	"etcd-down-10m":         OkToBreak,
	"bad-config-at-start":   OkToBreak,
	"xds-rejected-push":     OkToBreak,
	"one-backend-slow":      OkToBreak,
	"one-backend-resets":    OkToBreak,
	"one-backend-killed":    OkToBreak,
	"data-plane-crash":      NotOK,
	"xds-incomplete-data":   NotOK,
	"xds-incorrect-data":    NotOK,
	"etcd-down-2h":          NotOK,
	"all-backends-slow":     NotOK,
	"backend-crash-loop":    NotOK,
	"backend-terminated":    NotOK,

	"two-backends-slow":                     OkToBreak,
	"control-plane-down-backend-terminated": NotOK,
	"etcd-away-control-plane-restart":       OkToBreak,
}

func TestFixtureCatalog(t *testing.T) {
	path := filepath.Join(fixtureDir, "catalog.yaml")
	c, err := Load(path, Checks{Faults: fakeFaults{}, Alerts: pagingAlerts()})
	require.NoError(t, err)

	assert.Equal(t, BuiltinDefaults(), c.Defaults, "the fixture's defaults are the harness's, as the code has them")

	got := map[string]Class{}
	for _, k := range c.Cases {
		got[k.Name] = k.Class
		assert.NotContains(t, k.Why, "\n", "%s: the why is one line", k.Name)
		assert.NotEmpty(t, k.Why, k.Name)
		for _, f := range k.Faults {
			assert.NotEmpty(t, f.Targets, k.Name)
			for _, target := range f.Targets {
				assert.NotContains(t, target, "*", "%s: globs are expanded", k.Name)
			}
		}
		for _, scale := range []float64{1, 10, 60, 240, 1000} {
			p, err := k.Plan(scale, c.Defaults)
			require.NoError(t, err, "%s at scale %v", k.Name, scale)
			checkPlanInvariants(t, k, c.Defaults, p)
		}
	}
	assert.Equal(t, catalogMD, got, "the fixture holds every case of the catalog (README, The catalog)")

	all, ok := c.Case("all-backends-slow")
	require.True(t, ok)
	assert.Equal(t, []string{"edge->backend-1", "edge->backend-2", "edge->backend-3"}, all.Faults[0].Targets, "every backend link, not other-1")
	etcd, _ := c.Case("etcd-down-2h")
	p, err := etcd.Plan(240, c.Defaults)
	require.NoError(t, err)
	// The naive reading of scale 240 (2h into 30s) would scrape every
	// 62.5ms; the 250ms scrape floor caps the scale at 60 instead, ratios
	// intact.
	assert.Equal(t, "2m0s", p.Fault.String(), "15s scrape interval / 250ms floor caps the scale at 60")
	assert.InDelta(t, 60, p.Scale, 1e-9)
	etcdAway, ok := c.Case("etcd-away-control-plane-restart")
	require.True(t, ok)
	require.True(t, etcdAway.Compound())
	assert.Equal(t, "etcd-away-control-plane-restart", c.Cases[len(c.Cases)-1].Name,
		"last: it leaves the data plane's xDS gauge at 0 (README, Known bugs), so a case after it would be invalid")
	slow, _ := c.Case("one-backend-slow")
	assert.Equal(t, "30s", slow.RecoveryWindow(c.Defaults).String(), "3× the 10s base ejection time")
}

// TestFixtureRuleFiles checks the not-ok cases' alerts against the real rule
// files, one data plane at a time (common.yml plus that data plane's file).
func TestFixtureRuleFiles(t *testing.T) {
	dir := filepath.Join(fixtureDir, "alerts")
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		t.Skipf("%s does not exist yet: alert names were checked against the fake index only (TestFixtureCatalog)", dir)
	}
	for _, dp := range []string{RequireGRPC, RequireEnvoy} {
		t.Run(dp, func(t *testing.T) {
			files := []string{filepath.Join(dir, "common.yml"), filepath.Join(dir, dp+".yml")}
			for _, f := range files {
				if _, err := os.Stat(f); os.IsNotExist(err) {
					t.Skipf("%s does not exist yet", f)
				}
			}
			idx, err := LoadRuleIndex(files...)
			require.NoError(t, err)
			_, err = Load(filepath.Join(fixtureDir, "catalog.yaml"), Checks{Faults: fakeFaults{}, Alerts: idx, DataPlane: dp})
			require.NoError(t, err, "alerts of the fixture against %s", strings.Join(files, " + "))
		})
	}
}
