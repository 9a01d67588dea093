package catalog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validateErrs parses src (which must parse cleanly) and validates it.
func validateErrs(t *testing.T, src string, checks Checks) (*Catalog, Errors) {
	t.Helper()
	c, err := Parse(testFile, []byte(src))
	require.NoError(t, err)
	err = c.Validate(checks)
	if err == nil {
		return c, nil
	}
	var es Errors
	require.True(t, errors.As(err, &es), "error is an Errors: %v", err)
	return c, es
}

const faultCase = `version: 1
cases:
  - name: slow
    class: ok-to-break
    why: retries cover it
    fault: {type: %s, target: %s%s}
    duration: 5m
`

func TestValidateFaults(t *testing.T) {
	checks := Checks{Faults: fakeFaults{}}
	tests := []struct {
		name, typ, target, params string
		marker, msg, hint         string
	}{
		{"unknown type", "latancy", "edge->backend-1", "", "latancy", `unknown fault type "latancy" in case "slow"`, `did you mean "latency"? valid types: bad_config_at_start, bandwidth,`},
		{"unknown link", "latency", "edge->backend-4", ", params: {latency: 2s}", "edge->backend-4", `unknown target "edge->backend-4" for a latency fault`, `did you mean "edge->backend-1" or "edge->backend-2" or "edge->backend-3"? valid targets of latency faults: client->edge,`},
		{"component given for a link fault", "latency", "etcd", ", params: {latency: 2s}", "etcd", `unknown target "etcd" for a latency fault`, "xds->etcd"},
		{"link given for a process fault", "stop", "xds->etcd", "", "xds->etcd", `unknown target "xds->etcd" for a stop fault`, `did you mean "etcd"?`},
		{"glob matching nothing", "latency", `"edge->db-*"`, ", params: {latency: 2s}", `"edge->db-*"`, `target pattern "edge->db-*" in case "slow" matches no latency target`, "valid targets of latency faults: client->edge"},
		{"bad glob", "latency", `"edge->[backend"`, ", params: {latency: 2s}", `"edge->[backend"`, `bad target pattern "edge->[backend"`, "globs use *"},
		{"one bad entry in a list", "stop", "[etcd, backend-9]", "", "backend-9", `unknown target "backend-9"`, `did you mean "backend-1"`},
		{"bad params", "latency", "edge->backend-1", ", params: {latncy: 2s}", "params", `latency fault on edge->backend-1 in case "slow": unknown parameter "latncy"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fmt.Sprintf(faultCase, tt.typ, tt.target, tt.params)
			_, es := validateErrs(t, src, checks)
			require.NotEmpty(t, es)
			p := at(t, src, tt.marker, 1)
			if tt.marker == "params" {
				p = at(t, src, "{latncy", 1)
			}
			e := findErr(t, es, p, tt.msg)
			assert.Contains(t, e.Hint, tt.hint)
		})
	}
}

func TestValidateExpandsGlobs(t *testing.T) {
	src := fmt.Sprintf(faultCase, "latency", `[edge->backend-2, "edge->backend-*"]`, ", params: {latency: 2s}")
	c, es := validateErrs(t, src, Checks{Faults: fakeFaults{}})
	require.Empty(t, es)
	assert.Equal(t, []string{"edge->backend-2", "edge->backend-1", "edge->backend-3"}, c.Cases[0].Faults[0].Targets, "listed order, then glob matches, without repeats")
	assert.Equal(t, []string{"edge->backend-2", "edge->backend-*"}, c.Cases[0].Faults[0].Target, "as written")
}

const alertCase = `version: 1
cases:
  - name: etcd-down-2h
    class: not-ok
    why: too long
    fault: {type: stop, target: etcd}
    duration: 2h
    expect: {alerts: %s}
`

func TestValidateAlerts(t *testing.T) {
	checks := Checks{Alerts: pagingAlerts()}
	tests := []struct {
		name, alerts      string
		marker, msg, hint string
	}{
		{"unknown alert", "[EtcdDown]", "EtcdDown", `alert "EtcdDown" of case "etcd-down-2h" is not defined in any rule file`, `did you mean "EtcdDownTooLong"?`},
		{"unknown alert, nothing close", "[Zzz]", "Zzz", `alert "Zzz" of case "etcd-down-2h" is not defined`, "define it in fixtures/alerts/ with labels {severity: page}"},
		{"warning alert", "[XDSConfigRejected]", "XDSConfigRejected", `alert "XDSConfigRejected" of case "etcd-down-2h" is not labelled severity: page (it has severity: warning)`, "name a paging alert: CrashLooping, DataPlaneDown,"},
		{"any_of checks every name", "{any_of: [EtcdDownTooLong, ControlPlaneDisconnected]}", "ControlPlaneDisconnected", "is not labelled severity: page", "label the rule severity: page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fmt.Sprintf(alertCase, tt.alerts)
			_, es := validateErrs(t, src, checks)
			require.Len(t, es, 1, "%v", es)
			e := findErr(t, es, at(t, src, tt.marker, 1), tt.msg)
			assert.Contains(t, e.Hint, tt.hint)
		})
	}

	t.Run("no severity label", func(t *testing.T) {
		idx := fakeAlerts{"EtcdDownTooLong": {"team": "sre"}}
		src := fmt.Sprintf(alertCase, "[EtcdDownTooLong]")
		_, es := validateErrs(t, src, Checks{Alerts: idx})
		findErr(t, es, at(t, src, "EtcdDownTooLong", 1), "not labelled severity: page (it has no severity label)")
	})
	t.Run("valid", func(t *testing.T) {
		_, es := validateErrs(t, fmt.Sprintf(alertCase, "{any_of: [EtcdDownTooLong, DataPlaneDown]}"), checks)
		assert.Empty(t, es)
	})
	t.Run("custom page label", func(t *testing.T) {
		src := strings.Replace(fmt.Sprintf(alertCase, "[EtcdDownTooLong]"), "cases:", "defaults:\n  page_label: {severity: critical}\ncases:", 1)
		_, es := validateErrs(t, src, checks)
		findErr(t, es, at(t, src, "EtcdDownTooLong", 1), "is not labelled severity: critical (it has severity: page)")
	})
	t.Run("envoy-only case skipped on grpc rules", func(t *testing.T) {
		src := fmt.Sprintf(alertCase, "[EnvoyOnly]") + "    requires: [envoy]\n"
		_, es := validateErrs(t, src, Checks{Alerts: checks.Alerts, DataPlane: "grpc"})
		assert.Empty(t, es, "its alerts live in envoy.yml")
		_, es = validateErrs(t, src, Checks{Alerts: checks.Alerts, DataPlane: "envoy"})
		assert.Len(t, es, 1)
	})
}

// writeRules writes a rule file into dir and returns its path.
func writeRules(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestLoadRuleIndex(t *testing.T) {
	dir := t.TempDir()
	common := writeRules(t, dir, "common.yml", `groups:
  - name: etcd
    labels: {team: sre}
    rules:
      - alert: EtcdDownTooLong
        expr: up{job="etcd"} == 0
        for: 1h
        labels: {severity: page}
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: xds
    labels: {severity: page}
    rules:
      - alert: XDSConfigRejected
        expr: increase(okbreak_frontend_xds_resource_updates_total{result="invalid"}[5m]) > 0
        labels: {severity: warning}
      - alert: DataPlaneDown
        expr: up{job="edge"} == 0
        for: 30s
`)
	grpc := writeRules(t, dir, "grpc.yml", `groups:
  - name: grpc
    rules:
      - alert: DataPlaneDown
        expr: okbreak_frontend_up == 0
        for: 10s
        labels: {severity: page}
      - alert: UpstreamErrorRateHigh
        expr: rate(okbreak_frontend_requests_total{code!="OK"}[1m]) > 0
        labels: {severity: warning}
  - name: split
    rules:
      - alert: UpstreamErrorRateHigh
        expr: rate(okbreak_frontend_requests_total{code!="OK"}[1m]) > 1
        labels: {severity: page}
`)
	idx, err := LoadRuleIndex(common, grpc)
	require.NoError(t, err)
	assert.Equal(t, []string{"DataPlaneDown", "EtcdDownTooLong", "UpstreamErrorRateHigh", "XDSConfigRejected"}, idx.Names(), "alerts only, no recording rules")

	l, ok := idx.Lookup("EtcdDownTooLong")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"severity": "page", "team": "sre"}, l, "group labels apply")
	l, _ = idx.Lookup("XDSConfigRejected")
	assert.Equal(t, "warning", l["severity"], "a rule's own label wins over its group's")
	l, _ = idx.Lookup("DataPlaneDown")
	assert.Equal(t, "page", l["severity"], "from the group in one file, the rule in the other")
	l, _ = idx.Lookup("UpstreamErrorRateHigh")
	assert.NotContains(t, l, "severity", "rules of one name disagree: it does not always page")
	_, ok = idx.Lookup("Nope")
	assert.False(t, ok)

	f, ok := idx.For("DataPlaneDown")
	assert.True(t, ok)
	assert.Equal(t, "10s", f.String(), "the shortest for: among same-named rules")
	assert.Equal(t, []string{common, grpc}, idx.Files("DataPlaneDown"))

	// The index plugs into Validate, for: included.
	src := fmt.Sprintf(alertCase, "[EtcdDownTooLong, UpstreamErrorRateHigh]")
	_, es := validateErrs(t, src, Checks{Alerts: idx})
	require.Len(t, es, 1, "%v", es)
	findErr(t, es, at(t, src, "UpstreamErrorRateHigh", 1), "is not labelled severity: page (it has no severity label)")

	src = strings.Replace(fmt.Sprintf(alertCase, "[EtcdDownTooLong]"), "duration: 2h", "duration: 1h", 1)
	_, es = validateErrs(t, src, Checks{Alerts: idx})
	e := findErr(t, es, at(t, src, "EtcdDownTooLong", 1), `alert "EtcdDownTooLong" has for: 1h0m0s, not shorter than the detection window 1h0m0s`)
	assert.Contains(t, e.Hint, "cannot fire within the detection window")
}

func TestLoadRuleIndexErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeRules(t, dir, "bad.yml", "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: up ==\n")
	unknown := writeRules(t, dir, "unknown.yml", "groups:\n  - name: x\n    rulez: []\n")
	_, err := LoadRuleIndex(bad, unknown, filepath.Join(dir, "missing.yml"))
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "rule file "+bad)
	assert.Contains(t, msg, "rule file "+unknown)
	assert.Contains(t, msg, "missing.yml")
}

func TestLoadReportsParseAndValidationErrorsTogether(t *testing.T) {
	src := `version: 1
cases:
  - name: broken
    class: not-ok
    why: two problems in one case
    fault: {type: stopp, target: etcd}
    duration: 2h
    expect: {alerts: [EtcdDown]}
    bogus: true
  - name: fine-but-wrong-alert
    class: not-ok
    why: one problem
    fault: {type: stop, target: etcd}
    duration: 2h
    expect: {alerts: [EtcdDown]}
`
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	c, err := Load(path, Checks{Faults: fakeFaults{}, Alerts: pagingAlerts()})
	require.Error(t, err)
	var es Errors
	require.True(t, errors.As(err, &es))
	require.Len(t, es, 4, "%v", es)
	for _, e := range es {
		assert.Equal(t, path, e.File)
	}
	findErr(t, es, at(t, src, "stopp", 1), `unknown fault type "stopp" in case "broken"`)
	findErr(t, es, at(t, src, "EtcdDown", 1), `alert "EtcdDown" of case "broken" is not defined`)
	findErr(t, es, at(t, src, "bogus", 1), `unknown field "bogus"`)
	findErr(t, es, at(t, src, "EtcdDown", 2), `alert "EtcdDown" of case "fine-but-wrong-alert" is not defined`)
	assert.Equal(t, []string{"fine-but-wrong-alert"}, c.Names(), "only cases that parsed cleanly are runnable")

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), Checks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read catalog")
}
