package ruletest

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/value"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness/alert"
)

// rulesYAML is a team's rule file as written: production durations.
const rulesYAML = `groups:
  - name: demo
    rules:
      - alert: BackendDown
        expr: up{job="backend"} == 0
        for: 1m
        labels: {severity: page}
        annotations: {summary: 'backend {{ $labels.instance }} is down'}
      - alert: ErrorsHigh
        expr: sum(rate(requests_total{code!="OK"}[5m])) / sum(rate(requests_total[5m])) > 0.05
        for: 1m
        labels: {severity: page}
        annotations: {summary: '{{ $value | humanizePercentage }} of requests fail'}
`

func parseRules(t *testing.T, data string) alert.RuleFile {
	t.Helper()
	f, err := alert.ParseRules("rules.yml", []byte(data))
	require.NoError(t, err)
	return f
}

// recording scrapes two series every 250 ms (time scale 60) for 40 s real:
// backend-1's up goes to 0 at inject+1s when down is set; requests grow by
// 10 a scrape, errors by 1 a scrape after inject when failing is set.
func recording(start time.Time, down, failing bool) (series []alert.Series, inject, end time.Time) {
	inject, end = start.Add(10*time.Second), start.Add(40*time.Second)
	up := alert.Series{Labels: map[string]string{"__name__": "up", "job": "backend", "instance": "backend-1:8081"}}
	ok := alert.Series{Labels: map[string]string{"__name__": "requests_total", "code": "OK"}}
	bad := alert.Series{Labels: map[string]string{"__name__": "requests_total", "code": "Unavailable"}}
	var n, e float64
	for t := start; !t.After(end); t = t.Add(250*time.Millisecond + time.Millisecond) {
		v := 1.0
		if down && t.After(inject.Add(time.Second)) {
			v = 0
		}
		up.Samples = append(up.Samples, alert.Sample{T: t, V: v})
		n += 10
		if failing && t.After(inject) {
			e++
		}
		ok.Samples = append(ok.Samples, alert.Sample{T: t, V: n})
		bad.Samples = append(bad.Samples, alert.Sample{T: t, V: e})
	}
	return []alert.Series{up, ok, bad}, inject, end
}

func input(t *testing.T, down, failing bool) Input {
	t.Helper()
	start := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	series, inject, end := recording(start, down, failing)
	return Input{
		Case: "demo", Rules: []alert.RuleFile{parseRules(t, rulesYAML)}, RuleFiles: []string{"rules.yml"},
		Series: series, Start: start, Inject: inject, End: end, Factor: 60,
		PageLabels: map[string]string{"severity": "page"},
	}
}

func TestBuildExpectsTheAlertTheCaseSaw(t *testing.T) {
	in := input(t, true, false)
	in.Fire = []string{"BackendDown"}
	f, err := Build(context.Background(), in)
	require.NoError(t, err)
	require.Len(t, f.Tests, 1)
	tt := f.Tests[0]
	assert.Equal(t, "15s", tt.Interval.String(), "250 ms real at scale 60 is 15 s of world time")
	require.Len(t, tt.Alerts, 1)
	a := tt.Alerts[0]
	assert.Equal(t, "BackendDown", a.Alertname)
	// Down at inject+1 s real = 11 s → 660 s world; firing after the 1 m
	// hold, at the first evaluation past 720 s.
	assert.GreaterOrEqual(t, time.Duration(a.EvalTime), 720*time.Second)
	assert.LessOrEqual(t, time.Duration(a.EvalTime), 780*time.Second)
	require.Len(t, a.ExpAlerts, 1)
	assert.Equal(t, map[string]string{"instance": "backend-1:8081", "job": "backend", "severity": "page"}, a.ExpAlerts[0].Labels)
	assert.Equal(t, "backend backend-1:8081 is down", a.ExpAlerts[0].Annotations["summary"])
}

// TestBuildReplaysARecordingLongerThanAnHour: at scale 240, 40 s of
// recording are 160 min of world time, more than the TSDB head accepts
// behind its newest sample unless the replay allows it.
func TestBuildReplaysARecordingLongerThanAnHour(t *testing.T) {
	in := input(t, true, false)
	in.Factor, in.Fire = 240, []string{"BackendDown"}
	f, err := Build(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, "1m", f.Tests[0].Interval.String(), "the 250 ms floor at scale 240 is a minute of world time")
	require.Len(t, f.Tests[0].Alerts, 1)
	assert.Greater(t, time.Duration(f.Tests[0].Alerts[0].EvalTime), 44*time.Minute, "down at 11 s real = 44 min world, then the 1 m hold")
}

func TestBuildRefusesAReplayThatDoesNotFire(t *testing.T) {
	in := input(t, false, false)
	in.Fire = []string{"BackendDown"}
	_, err := Build(context.Background(), in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BackendDown never fires")
}

func TestBuildChecksPagesAbsent(t *testing.T) {
	in := input(t, false, false)
	in.Absent = []string{"BackendDown", "ErrorsHigh"}
	f, err := Build(context.Background(), in)
	require.NoError(t, err)
	tt := f.Tests[0]
	assert.Len(t, tt.Alerts, 2*absentChecks)
	for _, a := range tt.Alerts {
		assert.NotNil(t, a.ExpAlerts, "an empty list, so promtool checks that nothing fires")
		assert.Empty(t, a.ExpAlerts)
	}

	// A recording where a page fires cannot stand for a survived case.
	in = input(t, false, true)
	in.Absent = []string{"ErrorsHigh"}
	_, err = Build(context.Background(), in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ErrorsHigh pages")
}

func TestBuildRefusesIncompleteInput(t *testing.T) {
	in := input(t, true, false)
	_, err := Build(context.Background(), in)
	require.ErrorContains(t, err, "exactly one of Fire and Absent")
	in.Fire = []string{"BackendDown"}
	in.Inject = in.End.Add(time.Second)
	_, err = Build(context.Background(), in)
	require.ErrorContains(t, err, "in that order")
	in = input(t, true, false)
	in.Fire, in.Series = []string{"BackendDown"}, nil
	_, err = Build(context.Background(), in)
	require.ErrorContains(t, err, "no series")
}

// recordingRulesYAML has an alert that reads a recording rule of another
// group, evaluated before it only if the groups run in that order.
const recordingRulesYAML = `groups:
  - name: z-record
    rules:
      - record: job:up:min
        expr: min by (job) (up)
  - name: a-alert
    rules:
      - alert: JobDown
        expr: job:up:min == 0
        for: 1m
        labels: {severity: page}
`

// TestBuildPinsTheGroupOrder: the replay evaluates groups in file order,
// and the file says so (group_eval_order), so that promtool does too.
func TestBuildPinsTheGroupOrder(t *testing.T) {
	in := input(t, true, false)
	in.Rules = []alert.RuleFile{parseRules(t, recordingRulesYAML)}
	in.Fire = []string{"JobDown"}
	f, err := Build(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, []string{"z-record", "a-alert"}, f.GroupEvalOrder)
	if bin := promtoolOrSkip(t); bin != "" {
		dir := t.TempDir()
		b, err := f.Marshal("group order")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yml"), b, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(recordingRulesYAML), 0o644))
		for i := range 5 { // promtool's order is random without group_eval_order
			out, err := exec.Command(bin, "test", "rules", filepath.Join(dir, "test.yml")).CombinedOutput()
			require.NoError(t, err, "run %d:\n%s", i, out)
		}
	}
}

// TestBuildRefusesRepeatedGroupNames: group_eval_order names groups, so a
// name in two files could not be ordered.
func TestBuildRefusesRepeatedGroupNames(t *testing.T) {
	in := input(t, true, false)
	r := parseRules(t, rulesYAML)
	r2 := r
	r2.Name = "again.yml"
	in.Rules, in.RuleFiles, in.Fire = []alert.RuleFile{r, r2}, []string{"rules.yml", "again.yml"}, []string{"BackendDown"}
	_, err := Build(context.Background(), in)
	require.ErrorContains(t, err, `group "demo" is in both`)
}

func TestNotation(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	stale := math.Float64frombits(value.StaleNaN)
	assert.Equal(t, "1x2 _x2 0 2.5 stale stale 3", notation([]*float64{f(1), f(1), f(1), nil, nil, f(0), f(2.5), f(stale), f(stale), f(3)}))
	assert.Equal(t, "1000000 -Inf", notation([]*float64{f(1e6), f(math.Inf(-1))}))
	// A counter at a steady rate, then a reset; steps that are not whole
	// numbers are written out (promtool's expansion would round them).
	assert.Equal(t, "10+10x3 0 _ 9-2x2", notation([]*float64{f(10), f(20), f(30), f(40), f(0), nil, f(9), f(7), f(5)}))
	nan, inf := math.NaN(), math.Inf(1)
	assert.Equal(t, "NaN NaN NaN Inf Inf", notation([]*float64{f(nan), f(nan), f(nan), f(inf), f(inf)}), "promtool cannot expand NaNx2")
	x, y := 0.1, 0.2
	assert.Equal(t, "0.1 0.2 0.30000000000000004", notation([]*float64{f(x), f(y), f(x + y)}))
}

// promtoolOrSkip is promtool's path, or "" when there is none (outside CI).
func promtoolOrSkip(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OKBREAK_PROMTOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no promtool under CI: make promtool, and set OKBREAK_PROMTOOL")
	}
	return ""
}

// promtool returns the promtool binary: $OKBREAK_PROMTOOL (make test
// builds it from tools/promtool), else one on PATH. Without one the test is
// skipped with the fix, except under CI=true, where it fails.
func promtool(t *testing.T) string {
	t.Helper()
	p := promtoolOrSkip(t)
	if p == "" {
		t.Skip("no promtool: build it with `make promtool` (same Prometheus version as the engine) and set OKBREAK_PROMTOOL")
	}
	return p
}

// TestPromtoolPassesTheGeneratedFileAndFailsWithoutTheRule writes the test
// file and the rules, runs promtool test rules on them, then deletes the
// expected alert's rule and expects promtool to fail.
func TestPromtoolPassesTheGeneratedFileAndFailsWithoutTheRule(t *testing.T) {
	bin := promtool(t)
	for _, tc := range []struct {
		name          string
		down, failing bool
		fire, absent  []string
		deleteRule    string
	}{
		{name: "alert fires", down: true, fire: []string{"BackendDown"}, deleteRule: "BackendDown"},
		{name: "rate alert fires", failing: true, fire: []string{"ErrorsHigh"}, deleteRule: "ErrorsHigh"},
		{name: "nobody paged", absent: []string{"BackendDown", "ErrorsHigh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, tc.down, tc.failing)
			in.Fire, in.Absent = tc.fire, tc.absent
			f, err := Build(context.Background(), in)
			require.NoError(t, err)
			b, err := f.Marshal("generated by a test")
			require.NoError(t, err)
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yml"), b, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rulesYAML), 0o644))
			out, err := exec.Command(bin, "test", "rules", filepath.Join(dir, "test.yml")).CombinedOutput()
			require.NoError(t, err, "promtool test rules:\n%s\n%s", out, b)
			if tc.deleteRule == "" {
				return
			}
			without := deleteRule(t, rulesYAML, tc.deleteRule)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(without), 0o644))
			out, err = exec.Command(bin, "test", "rules", filepath.Join(dir, "test.yml")).CombinedOutput()
			require.Error(t, err, "promtool passed without the rule %s:\n%s", tc.deleteRule, out)
			assert.Contains(t, string(out), tc.deleteRule)
		})
	}
}

// deleteRule removes one alerting rule (its "- alert:" item, up to the
// next item at its indentation or less) from a rule file.
func deleteRule(t *testing.T, data, name string) string {
	t.Helper()
	var out []string
	skip, indent := false, 0
	for _, l := range strings.Split(data, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		depth := len(l) - len(trimmed)
		if skip && strings.HasPrefix(trimmed, "- ") && depth <= indent {
			skip = false
		}
		if strings.TrimSpace(l) == "- alert: "+name {
			skip, indent = true, depth
		}
		if !skip {
			out = append(out, l)
		}
	}
	res := strings.Join(out, "\n")
	require.NotEqual(t, data, res, "rule %s not found", name)
	return res
}

// TestCommittedExamplesPassPromtool runs promtool on the rule tests kept in
// docs/examples/rule-tests (written by okbreak run --rule-tests from real
// cases), then once more per expected alert with that alert's rule deleted
// from copies of the rule files, where promtool must fail.
func TestCommittedExamplesPassPromtool(t *testing.T) {
	bin := promtool(t)
	files, err := filepath.Glob("../../docs/examples/rule-tests/*.rules_test.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files, "docs/examples/rule-tests holds no example")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out, err := exec.Command(bin, "test", "rules", path).CombinedOutput()
			require.NoError(t, err, "promtool test rules %s:\n%s", path, out)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			var f File
			require.NoError(t, yaml.Unmarshal(b, &f))
			checked := 0
			for _, tg := range f.Tests {
				for _, a := range tg.Alerts {
					if len(a.ExpAlerts) == 0 {
						continue
					}
					checked++
					dir := t.TempDir()
					g := f
					g.RuleFiles = nil
					for i, rf := range f.RuleFiles {
						data, err := os.ReadFile(filepath.Join(filepath.Dir(path), rf))
						require.NoError(t, err)
						if strings.Contains(string(data), "- alert: "+a.Alertname+"\n") {
							data = []byte(deleteRule(t, string(data), a.Alertname))
						}
						name := fmt.Sprintf("rules-%d.yml", i)
						require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
						g.RuleFiles = append(g.RuleFiles, name)
					}
					nb, err := g.Marshal("without " + a.Alertname)
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(filepath.Join(dir, "test.yml"), nb, 0o644))
					out, err := exec.Command(bin, "test", "rules", filepath.Join(dir, "test.yml")).CombinedOutput()
					require.Error(t, err, "promtool passed %s without the rule %s:\n%s", path, a.Alertname, out)
					assert.Contains(t, string(out), "alertname: "+a.Alertname, "promtool must fail on the deleted alert, not on something else")
					assert.Contains(t, string(out), "got:[]")
				}
			}
			assert.Positive(t, checked, "the example expects no alert: nothing to delete")
		})
	}
}

// TestPromtoolVersionMatchesTheEngine keeps tools/promtool (the promtool
// CI runs the rule tests with) on the Prometheus version okbreak embeds:
// a rule test the engine wrote must mean the same to promtool.
func TestPromtoolVersionMatchesTheEngine(t *testing.T) {
	version := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := modfile.Parse(path, b, nil)
		require.NoError(t, err)
		for _, r := range f.Require {
			if r.Mod.Path == "github.com/prometheus/prometheus" {
				return r.Mod.Version
			}
		}
		t.Fatalf("%s requires no github.com/prometheus/prometheus", path)
		return ""
	}
	assert.Equal(t, version("../../go.mod"), version("../../tools/promtool/go.mod"),
		"tools/promtool must build the engine's Prometheus version: cd tools/promtool && go get github.com/prometheus/prometheus/cmd/promtool@<go.mod's version>")
}
