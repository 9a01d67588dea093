package envfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/alert"
)

const docsExample = "../../docs/examples/env/staging.yaml"

// loadDocs loads the documented example, which every allow-list test
// reads: what the docs show is what the tests check.
func loadDocs(t *testing.T) *Env {
	t.Helper()
	e, err := Load(docsExample)
	require.NoError(t, err)
	return e
}

// docsPos is where text starts in the docs example (its first line
// holding text), so that tests follow the example as it is edited.
func docsPos(t *testing.T, text string) Pos {
	t.Helper()
	data, err := os.ReadFile(docsExample)
	require.NoError(t, err)
	for i, l := range strings.Split(string(data), "\n") {
		if c := strings.Index(l, text); c >= 0 {
			return Pos{Line: i + 1, Col: c + 1}
		}
	}
	t.Fatalf("%q is not in %s", text, docsExample)
	return Pos{}
}

// docsValue is where the value of key starts in the docs example.
func docsValue(t *testing.T, key string) Pos {
	t.Helper()
	p := docsPos(t, key+": ")
	p.Col += len(key + ": ")
	return p
}

// The docs example parses, with every section read as its comments say.
func TestDocsExampleLoads(t *testing.T) {
	e := loadDocs(t)
	assert.Equal(t, "staging", e.Name)
	assert.Equal(t, 1.0, e.Scale)
	assert.Equal(t, []Toxiproxy{{Name: "tp-1", API: "http://127.0.0.1:8474", Pos: docsPos(t, "name: tp-1")}}, e.Toxiproxies)
	assert.Equal(t, []string{"edge->backend-1", "edge->backend-2"}, e.Links())
	assert.Equal(t, Probe{
		URL: "http://127.0.0.1:10000", Path: "/", Target: "http://127.0.0.1:10000/",
		Header: map[string]string{"x-probe": "1"}, ExpectInstances: []string{"backend-1", "backend-2"}, Pos: docsPos(t, "url: http://127.0.0.1:10000"),
	}, e.Probe)
	require.Len(t, e.Scrape, 3)
	assert.Equal(t, ScrapeTarget{Job: "backend", Instance: "backend-1", URL: "http://127.0.0.1:9101/metrics", Pos: docsPos(t, "{job: backend, instance: backend-1")}, e.Scrape[1])
	assert.Equal(t, SourceEngine, e.Alerts.Source)
	assert.Equal(t, []string{filepath.Join(filepath.Dir(docsExample), "rules", "*.yml")}, e.Alerts.Rules)
	assert.Equal(t, []string{filepath.Join(filepath.Dir(docsExample), "rules", "staging.yml")}, e.Alerts.RuleFiles)
	assert.Equal(t, map[string]string{"severity": "page"}, e.Alerts.Page)
	require.NotNil(t, e.Docker)
	assert.True(t, e.LocalEngine())
	assert.Equal(t, []string{"backend-1", "backend-2"}, e.Components())
	assert.Equal(t, Limits{MaxFaultDuration: 5 * time.Minute, MaxTargets: 2, DurationAt: docsValue(t, "max_fault_duration"), TargetsAt: docsValue(t, "max_targets")}, e.Limits)
	assert.Equal(t, Halt{MinSuccess: 0.5, For: 30 * time.Second, Alerts: []string{"EdgeDown"}}, e.Halt)
}

// The example's rule files are rules the engine takes (lint errors, not
// house-rule warnings, would fail a run), and its abort alert is one of
// them.
func TestDocsExampleRules(t *testing.T) {
	e := loadDocs(t)
	var files []alert.RuleFile
	for _, name := range e.Alerts.RuleFiles {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := alert.ParseRules(name, data)
		require.NoError(t, err)
		files = append(files, f)
	}
	errs, warnings := alert.SplitFindings(alert.LintFiles(files, e.Alerts.Page))
	assert.Empty(t, errs)
	assert.Empty(t, warnings)
	var names []string
	for _, a := range alert.Alerts(files) {
		names = append(names, a.Name)
	}
	for _, a := range e.Halt.Alerts {
		assert.Contains(t, names, a, "halt alert %s is no rule of the example", a)
	}
}

// A minimal file gets every default; Parse reads no disk, so rule files
// stay unexpanded.
func TestParseDefaults(t *testing.T) {
	e, err := Parse("envs/min.yaml", []byte(minimal))
	require.NoError(t, err)
	assert.Equal(t, "envs", e.Dir)
	assert.Equal(t, "/", e.Probe.Path)
	assert.Equal(t, "http://127.0.0.1:10000/", e.Probe.Target)
	assert.Equal(t, Limits{MaxFaultDuration: DefaultMaxFaultDuration, MaxTargets: DefaultMaxTargets}, e.Limits)
	assert.Equal(t, Halt{}, e.Halt)
	assert.Nil(t, e.Docker)
	assert.False(t, e.LocalEngine())
	assert.Equal(t, map[string]string{"severity": "page"}, e.Alerts.Page)
	assert.Equal(t, SourcePrometheus, e.Alerts.Source)
	assert.Equal(t, "http://127.0.0.1:9090", e.Alerts.Prometheus)
	assert.Nil(t, e.Alerts.RuleFiles)
}

// Values are normalised: base URLs lose their trailing slash, the probe
// keeps a query, the host header and a numeric header value are text,
// anchors and aliases are followed.
func TestParseForms(t *testing.T) {
	src := `version: 1
name: s-2
scale: 60
toxiproxies:
  - {name: a, api: "HTTP://127.0.0.1:8474/"}
  - {name: b, api: "http://127.0.0.1:8475/toxiproxy/"}
links:
  - &l {name: x->y, toxiproxy: a, proxy: "x:y"}
  - {name: xds, toxiproxy: b, proxy: "x:y"}
probe:
  url: https://127.0.0.1:8443/
  path: /search?q=1
  host: shop.example.com:8443
  header: {x-probe: 1, X-Team: &team shop}
scrape:
  - {job: *team, instance: 127.0.0.1:9101, url: "http://127.0.0.1:9101/federate?match[]=up", labels: {zone: a}}
alerts:
  source: engine
  rules: [/etc/rules/a.yml, "r/[ab].yml"]
docker:
  engine: tcp://127.0.0.1:2376
  containers: [{component: y, container: y-1}]
`
	e, err := Parse("dir/e.yaml", []byte(src))
	require.NoError(t, err)
	assert.Equal(t, 60.0, e.Scale)
	assert.Equal(t, "http://127.0.0.1:8474", e.Toxiproxies[0].API)
	assert.Equal(t, "http://127.0.0.1:8475/toxiproxy", e.Toxiproxies[1].API)
	assert.Equal(t, []string{"x->y", "xds"}, e.Links())
	assert.Equal(t, "https://127.0.0.1:8443/search?q=1", e.Probe.Target)
	assert.Equal(t, "shop.example.com:8443", e.Probe.Host)
	assert.Equal(t, map[string]string{"x-probe": "1", "X-Team": "shop"}, e.Probe.Header)
	assert.Equal(t, ScrapeTarget{Job: "shop", Instance: "127.0.0.1:9101", URL: "http://127.0.0.1:9101/federate?match[]=up", Labels: map[string]string{"zone": "a"}, Pos: Pos{16, 5}}, e.Scrape[0])
	assert.Equal(t, []string{"/etc/rules/a.yml", filepath.Join("dir", "r", "[ab].yml")}, e.Alerts.Rules)
	assert.False(t, e.LocalEngine())
	assert.Equal(t, "tcp://127.0.0.1:2376", e.Docker.Engine)
}

// Load names a rule pattern that matches nothing at its position, and a
// file it cannot read without a position.
func TestLoadRulePatterns(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rules", "sub.yml"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules", "a.yml"), []byte("groups: []\n"), 0o644))
	src := minimal[:len(minimal)-len(minimalAlerts)] + "alerts:\n  source: engine\n  rules: [rules/*.yml, rules/a.yml, missing/*.yml]\nscrape: [{job: j, instance: i, url: http://127.0.0.1:9101/metrics}]\n"
	path := filepath.Join(dir, "env.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err := Load(path)
	var es Errors
	require.ErrorAs(t, err, &es)
	require.Len(t, es, 1, "%v", err)
	assert.Equal(t, 12, es[0].Line)
	assert.Contains(t, es[0].Msg, `rule pattern "missing/*.yml" matches no file`)

	require.NoError(t, os.MkdirAll(filepath.Join(dir, "missing"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "missing", "b.yml"), nil, 0o644))
	e, err := Load(path)
	require.NoError(t, err)
	// The folder named sub.yml is no rule file; a.yml, matched twice, is
	// one.
	assert.Equal(t, []string{filepath.Join(dir, "missing", "b.yml"), filepath.Join(dir, "rules", "a.yml")}, e.Alerts.RuleFiles)

	_, err = Load(filepath.Join(dir, "none.yaml"))
	require.Error(t, err)
	assert.False(t, errors.As(err, &es), "a file that cannot be read has no position")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// Every problem of a file is reported at once, sorted by position.
func TestParseReportsEverything(t *testing.T) {
	src := "version: 2\nname: Staging\nscale: 0\ntoxiproxies: []\nlinks: {}\nprobe: {url: x}\nalerts: {source: engine}\nfoo: 1\n"
	_, err := Parse("e.yaml", []byte(src))
	var es Errors
	require.ErrorAs(t, err, &es)
	var lines []int
	for _, e := range es {
		lines = append(lines, e.Line)
		assert.NotEmpty(t, e.Fix, "%v", e)
	}
	assert.True(t, slices.IsSorted(lines), "%v", lines)
	assert.Subset(t, lines, []int{1, 2, 3, 4, 5, 6, 7, 8}, "%v", err)
}
