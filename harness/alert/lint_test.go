package alert

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func goodRule() rulefmt.Rule {
	return rulefmt.Rule{
		Alert:       "Good",
		Expr:        `up{job="edge"} == 0`,
		For:         model.Duration(MinPageFor),
		Labels:      map[string]string{"severity": SeverityPage},
		Annotations: map[string]string{"summary": "edge down"},
	}
}

func lintOne(r rulefmt.Rule) []error {
	return Lint([]rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{r}}}, nil)
}

func TestLintAcceptsAGoodRule(t *testing.T) {
	assert.Empty(t, lintOne(goodRule()))
	r := goodRule()
	r.Expr = `time() - okbreak_controlplane_etcd_last_sync_timestamp_seconds > 1h`
	assert.Empty(t, lintOne(r), "durations written as literals are fine with time()")
	r.Expr = `sum by (le) (rate({__name__=~"okbreak_container_.*"}[5m])) > 0`
	assert.Empty(t, lintOne(r), "a name regex that cannot reach harness metrics is fine")
	r = goodRule()
	r.Labels["severity"] = SeverityWarning
	r.For = 0
	assert.Empty(t, lintOne(r), "a warning may fire without a hold")
	r = rulefmt.Rule{Record: "job:up:sum", Expr: `sum by (job) (up)`}
	assert.Empty(t, lintOne(r), "recording rules need no severity")
}

func TestLintRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*rulefmt.Rule)
		want   string
	}{
		{"fault metric", func(r *rulefmt.Rule) { r.Expr = `okbreak_fault_active{target="edge"} == 1` }, "okbreak_fault_"},
		{"probe metric", func(r *rulefmt.Rule) {
			r.Expr = `rate(okbreak_probe_requests_total{result="error"}[5m]) > 0`
		}, "okbreak_probe_"},
		{"harness metric in a nested expression", func(r *rulefmt.Rule) {
			r.Expr = `up == 0 and on(job) (okbreak_harness_phase == 2)`
		}, "okbreak_harness_"},
		{"case metric through __name__", func(r *rulefmt.Rule) { r.Expr = `{__name__="okbreak_case_running"} == 1` }, "okbreak_case_"},
		{"name regex reaching fault metrics", func(r *rulefmt.Rule) { r.Expr = `{__name__=~"okbreak_.+"} > 0` }, "okbreak_"},
		{"fault label in a matcher", func(r *rulefmt.Rule) { r.Expr = `up{fault="edge-crash"} == 0` }, `label "fault"`},
		{"case label in grouping", func(r *rulefmt.Rule) { r.Expr = `sum by (case) (up) == 0` }, `label "case"`},
		{"fault label in vector matching", func(r *rulefmt.Rule) { r.Expr = `up == on(fault) group_left up` }, `label "fault"`},
		{"fault label via label_replace", func(r *rulefmt.Rule) {
			r.Expr = `label_replace(up, "fault", "$1", "job", "(.*)") == 0`
		}, `label "fault"`},
		{"fault metric in a template", func(r *rulefmt.Rule) {
			r.Annotations["description"] = `{{ with query "okbreak_fault_active" }}{{ . }}{{ end }}`
		}, "template"},
		{"no severity", func(r *rulefmt.Rule) { delete(r.Labels, "severity") }, "severity"},
		{"no summary", func(r *rulefmt.Rule) { delete(r.Annotations, "summary") }, "summary"},
		{"page without a hold", func(r *rulefmt.Rule) { r.For = 0 }, "holds less than"},
		{"page with a short hold", func(r *rulefmt.Rule) { r.For = model.Duration(MinPageFor / 2) }, "holds less than"},
		{"seconds as plain numbers with time()", func(r *rulefmt.Rule) {
			r.Expr = `time() - okbreak_controlplane_etcd_last_sync_timestamp_seconds > 3600`
		}, "duration literals"},
		{"duration arithmetic", func(r *rulefmt.Rule) { r.Expr = `rate(up[5m + 1m]) == 0` }, "duration arithmetic"},
		{"@ timestamp", func(r *rulefmt.Rule) { r.Expr = `up @ 1700000000 == 0` }, "@ timestamp"},
		{"parse error", func(r *rulefmt.Rule) { r.Expr = `up ==` }, "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := goodRule()
			tt.mutate(&r)
			errs := lintOne(r)
			require.NotEmpty(t, errs, "lint accepted %q", r.Expr)
			msgs := fmt.Sprint(errs)
			assert.Contains(t, msgs, tt.want)
			assert.True(t, strings.Contains(msgs, `group "g"`) && strings.Contains(msgs, `"Good"`), "errors name the rule: %s", msgs)
		})
	}
}

func TestLintFilesNamesTheFile(t *testing.T) {
	r := goodRule()
	r.Expr = `okbreak_fault_active == 1`
	errs := LintFiles([]RuleFile{{Name: "mine.yml", Groups: []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{r}}}}}, nil)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "mine.yml")
}

func TestNewSessionRefusesRulesThatFailLint(t *testing.T) {
	r := goodRule()
	r.Expr = `okbreak_probe_success_ratio < 0.99`
	_, err := NewSession(Config{Rules: []RuleFile{{Name: "x.yml", Groups: []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{r}}}}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "okbreak_probe_")
}

func TestLintHouseRulesAreWarnings(t *testing.T) {
	r := goodRule()
	delete(r.Labels, "severity")
	delete(r.Annotations, "summary")
	r.Expr = `okbreak_fault_active == 1`
	errs, warns := SplitFindings(lintOne(r))
	require.Len(t, errs, 1, "reading the harness's knowledge stays an error")
	assert.Contains(t, errs[0].Error(), "okbreak_fault_")
	require.Len(t, warns, 2, "severity and summary are house rules: %v", warns)
	assert.Contains(t, fmt.Sprint(warns), "severity")
	assert.Contains(t, fmt.Sprint(warns), "summary")
}

// Rules as kube-prometheus and etcd-mixin write them: severity critical, a
// description and a runbook_url, no summary. With the catalog's page label
// {severity: critical} the hold of a page is judged on them; nothing else is
// a finding.
func TestLintTakesRulesAsTeamsWriteThem(t *testing.T) {
	r := goodRule()
	r.Labels["severity"] = "critical"
	r.Annotations = map[string]string{"description": "edge is down", "runbook_url": "https://runbooks.example/edge"}
	critical := map[string]string{"severity": "critical"}
	g := []rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{r}}}
	assert.Empty(t, Lint(g, critical))
	g[0].Rules[0].For = 0
	errs, warns := SplitFindings(Lint(g, critical))
	assert.Empty(t, errs, "a page with for: 0 is refused nowhere")
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].Error(), "holds less than")
	assert.Empty(t, Lint(g, nil), "with the default page label a critical rule is no page")
}
