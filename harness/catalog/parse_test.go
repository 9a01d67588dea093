package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testFile = "fixtures/catalog.yaml"

// at returns the position of the first occurrence of marker in src (the
// n-th when n > 1), so that tests assert exact positions without counting
// columns by hand.
func at(t *testing.T, src, marker string, n int) Pos {
	t.Helper()
	off := 0
	for i := 0; i < n; i++ {
		j := strings.Index(src[off:], marker)
		require.GreaterOrEqual(t, j, 0, "marker %q (#%d) not in source", marker, i+1)
		off += j
		if i < n-1 {
			off += len(marker)
		}
	}
	line := strings.Count(src[:off], "\n") + 1
	col := off - strings.LastIndex(src[:off], "\n")
	return Pos{Line: line, Column: col}
}

// parseErrs parses src and returns its problems.
func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	c, err := Parse(testFile, []byte(src))
	require.NotNil(t, c, "Parse always returns a catalog")
	if err == nil {
		return nil
	}
	var es Errors
	require.True(t, errors.As(err, &es), "error is an Errors: %v", err)
	return es
}

// findErr returns the problem at p whose message holds msg.
func findErr(t *testing.T, es Errors, p Pos, msg string) *Error {
	t.Helper()
	for _, e := range es {
		if e.Line == p.Line && e.Column == p.Column && strings.Contains(e.Msg, msg) {
			return e
		}
	}
	t.Fatalf("no error %q at %d:%d; got:\n%v", msg, p.Line, p.Column, es)
	return nil
}

const okCase = `version: 1
cases:
  - name: etcd-down-10m
    class: ok-to-break
    why: the control plane serves its cached snapshot
    fault: {type: stop, target: etcd}
    duration: 10m
`

func TestParseIdleLink(t *testing.T) {
	c, err := Parse(testFile, []byte(strings.Replace(okCase, "    duration: 10m\n", "    duration: 10m\n    idle_link: true\n", 1)))
	require.NoError(t, err)
	require.True(t, c.Cases[0].IdleLink)
	c, err = Parse(testFile, []byte(okCase))
	require.NoError(t, err)
	require.False(t, c.Cases[0].IdleLink, "links carry traffic unless a case says otherwise")
}

func TestParseValidCase(t *testing.T) {
	c, err := Parse(testFile, []byte(okCase))
	require.NoError(t, err)
	require.Len(t, c.Cases, 1)
	k := c.Cases[0]
	assert.Equal(t, "etcd-down-10m", k.Name)
	assert.Equal(t, OkToBreak, k.Class)
	assert.Equal(t, "stop", k.Faults[0].Type)
	assert.Equal(t, []string{"etcd"}, k.Faults[0].Target)
	assert.Equal(t, 10*time.Minute, k.Duration)
	assert.Equal(t, Pos{3, 5}, k.Pos)
	assert.Equal(t, BuiltinDefaults(), c.Defaults, "no defaults section: the built-in ones")
	assert.Equal(t, BuiltinDefaults().SLO, k.EffectiveSLO(c.Defaults))
	assert.Equal(t, 30*time.Second, k.RecoveryWindow(c.Defaults))
}

func TestParseUnknownFieldMessage(t *testing.T) {
	src := strings.Replace(okCase, "    duration: 10m", "    durration: 10m", 1)
	es := parseErrs(t, src)
	p := at(t, src, "durration", 1)
	e := findErr(t, es, p, `unknown field "durration" in case "etcd-down-10m"`)
	assert.Equal(t, fmt.Sprintf(`fixtures/catalog.yaml:%d:%d: unknown field "durration" in case "etcd-down-10m" (hint: did you mean "duration"? valid fields: %s)`,
		p.Line, p.Column, strings.Join(caseFields, ", ")), e.Error())
	assert.Len(t, es, 1, "the misspelt field is not reported as missing too")
	// A field that is simply missing is.
	src = strings.Replace(okCase, "    duration: 10m\n", "    expect: {}\n", 1)
	findErr(t, parseErrs(t, src), at(t, src, "name: etcd", 1), `case "etcd-down-10m" has no "duration"`)
}

func TestParseErrors(t *testing.T) {
	replace := func(old, new string) string {
		t.Helper()
		require.Contains(t, okCase, old)
		return strings.Replace(okCase, old, new, 1)
	}
	notOK := func(extra string) string {
		return replace("    class: ok-to-break\n", "    class: not-ok\n") + extra
	}
	tests := []struct {
		name   string
		src    string
		marker string // where the error must point
		nth    int
		msg    string
		hint   string
	}{
		{"unknown top field", "verison: 1\n" + okCase[len("version: 1\n"):], "verison", 1, `unknown field "verison" at the top`, `did you mean "version"`},
		{"unknown defaults field", replace("cases:\n", "defaults:\n  grase: 2s\ncases:\n"), "grase", 1, `unknown field "grase" in defaults`, `did you mean "grace"`},
		{"unknown fault field", replace("target: etcd}", "targte: etcd}"), "targte", 1, `unknown field "targte" in the fault of case "etcd-down-10m"`, `did you mean "target"`},
		{"unknown expect field", replace("    duration: 10m\n", "    duration: 10m\n    expect: {recovry: 30s}\n"), "recovry", 1, `unknown field "recovry" in the expectations`, `did you mean "recovery"`},
		{"field set twice", replace("    duration: 10m\n", "    duration: 10m\n    duration: 5m\n"), "duration", 2, `field "duration" set twice`, "first set at line 7"},
		{"idle_link not a boolean", replace("    duration: 10m\n", "    duration: 10m\n    idle_link: yes please\n"), "yes please", 1, `idle_link of case "etcd-down-10m" must be true or false`, "write idle_link: true"},
		{"bad duration", replace("duration: 10m", "duration: 10 minutes"), "10 minutes", 1, `bad duration "10 minutes"`, "Go syntax"},
		{"duration without unit", replace("duration: 10m", "duration: 10"), "10\n", 1, `bad duration "10"`, "add a unit"},
		{"duration in days", replace("duration: 10m", "duration: 2d"), "2d", 1, `bad duration "2d"`, "write 48h"},
		{"zero duration", replace("duration: 10m", "duration: 0s"), "0s", 1, "must be longer than zero", "Go syntax"},
		{"bad default duration", replace("cases:\n", "defaults:\n  recovery: soon\ncases:\n"), "soon", 1, `bad duration "soon" for defaults.recovery`, "Go syntax"},
		{"bad percent", replace("cases:\n", "defaults:\n  slo: {success: 99}\ncases:\n"), "99}", 1, "more than 1", `write "99%" or 0.99`},
		{"bad percent text", replace("cases:\n", "defaults:\n  slo: {success: lots}\ncases:\n"), "lots", 1, `bad percentage "lots"`, `"99%"`},
		{"bad rate", replace("cases:\n", "defaults:\n  probe: {rate: 100/h}\ncases:\n"), "100/h", 1, `bad rate "100/h"`, `"100/s"`},
		{"unknown class", replace("class: ok-to-break", "class: ok_to_break"), "ok_to_break", 1, `unknown class "ok_to_break"`, `did you mean "ok-to-break"`},
		{"bad name", replace("name: etcd-down-10m", "name: Etcd Down"), "Etcd Down", 1, `bad case name "Etcd Down"`, "lower-case"},
		{"missing why", replace("    why: the control plane serves its cached snapshot\n", ""), "name:", 1, `case "etcd-down-10m" has no "why"`, "one line"},
		{"not-ok without alerts", notOK(""), "name:", 1, `not-ok case "etcd-down-10m" names no alert`, "expect: {alerts: [AlertName]}"},
		{"not-ok with empty expect", notOK("    expect: {detection: 5m}\n"), "{detection", 1, `names no alert`, "a not-ok case must page"},
		{"not-ok with SLO", notOK("    expect: {alerts: [A], slo: {p99: 500ms}}\n"), "{alerts", 1, "sets an SLO", "ok-to-break"},
		{"detection longer than duration", notOK("    expect: {alerts: [A], detection: 20m}\n"), "20m", 1, "detection window 20m0s of case \"etcd-down-10m\" is longer than its duration 10m0s", "at most 10m0s"},
		{"detection too short", notOK("    expect: {alerts: [A], detection: 3s}\n"), "3s", 1, "detection window 3s is shorter than the case's shortest window 5s", "at least 5s"},
		{"detection spans too few scrapes", notOK("    expect: {alerts: [A], detection: 30s}\n"), "30s", 1, "fewer than 4 scrape/evaluation intervals of 15s", "at least 1m0s"},
		{"ok-to-break with alerts", replace("    duration: 10m\n", "    duration: 10m\n    expect: {alerts: [EtcdDown]}\n"), "EtcdDown", 1, "expects alerts; it must survive without paging", "make the case not-ok"},
		{"ok-to-break with detection", replace("    duration: 10m\n", "    duration: 10m\n    expect: {detection: 5m}\n"), "5m}", 1, "sets a detection window", "not-ok"},
		{"looser success", replace("    duration: 10m\n", "    duration: 10m\n    expect: {slo: {success: 95%}}\n"), "95%", 1, "sets success 95%, looser than the default 99%", "only tighten"},
		{"looser latency", replace("    duration: 10m\n", "    duration: 10m\n    expect: {slo: {p99: 2s}}\n"), "2s}", 1, "sets p99 2s, looser than the default 1s", "only tighten"},
		{"duration too short", replace("duration: 10m", "duration: 6s"), "6s", 1, "duration 6s leaves 4s after the 2s grace period, less than the case's shortest window 5s", "at least 7s"},
		{"duration spans too few scrapes", replace("duration: 10m", "duration: 50s"), "50s", 1, "fewer than 4 scrape/evaluation intervals of 15s", "at least 1m2s"},
		{"window below 3x timer", replace("duration: 10m", "duration: 1m30s\n    mechanism: {what: outlier ejection, timer: 30s}"), "1m30s", 1, "less than the case's shortest window 1m30s (3× the 30s timer of outlier ejection)", "at least 1m32s"},
		{"recovery below 3x timer", replace("duration: 10m", "duration: 10m\n    mechanism: {what: outlier ejection, timer: 30s}\n    expect: {recovery: 1m}"), "1m}", 1, "recovery window 1m0s of case \"etcd-down-10m\" is shorter than the case's shortest window 1m30s", "at least 1m30s"},
		{"recovery looser than default", replace("duration: 10m", "duration: 10m\n    expect: {recovery: 5m}"), "5m}", 1, "looser than the default 30s", "at most 30s"},
		{"timer without what", replace("duration: 10m", "duration: 10m\n    mechanism: {timer: 1s}"), "{timer", 1, "does not say what runs on it", "what:"},
		{"unknown requirement", replace("duration: 10m", "duration: 10m\n    requires: [envoi]"), "envoi", 1, `unknown requirement "envoi"`, `did you mean "envoy"`},
		{"requires not a list", replace("duration: 10m", "duration: 10m\n    requires: envoy"), "envoy", 1, "requires must be a list", "[envoy]"},
		{"bad provenance date", replace("duration: 10m", "duration: 10m\n    provenance: {date: 11/11/2018, summary: it broke}"), "11/11/2018", 1, `bad provenance date "11/11/2018"`, "YYYY-MM-DD"},
		{"bad provenance link", replace("duration: 10m", "duration: 10m\n    provenance: {date: 2018-11-11, summary: it broke, link: postmortem}"), "postmortem", 1, `bad provenance link "postmortem"`, "http(s)"},
		{"provenance without summary", replace("duration: 10m", "duration: 10m\n    provenance: {date: 2018-11-11}"), "{date", 1, "has no summary", "what happened"},
		{"alerts with both matches", notOK("    expect: {alerts: {any_of: [A], all_of: [B]}}\n"), "{any_of", 1, "exactly one of all_of or any_of", "any_of"},
		{"alert listed twice", notOK("    expect: {alerts: [A, A]}\n"), "A]", 1, `"A" listed twice`, "already listed"},
		{"params not a mapping", replace("target: etcd}", "target: etcd, params: [1]}"), "[1]", 1, "fault params must be a mapping", "{latency: 2s}"},
		{"empty target list", replace("target: etcd}", "target: []}"), "[]", 1, "fault target is an empty list", "glob"},
		{"duplicate case", okCase + okCase[len("version: 1\ncases:\n"):], "etcd-down-10m", 2, `duplicate case name "etcd-down-10m"`, "first defined at line 3"},
		{"wrong version", replace("version: 1", "version: 2"), "2\n", 1, "unsupported catalog version 2", "version 1"},
		{"no version", okCase[len("version: 1\n"):], "cases", 1, "the catalog has no version", `"version: 1"`},
		{"no cases", "version: 1\n", "version", 1, "the catalog has no cases", `"cases"`},
		{"cases not a list", "version: 1\ncases: {}\n", "{}", 1, "cases must be a list", "- name"},
		{"empty file", "", "", 1, "the catalog is empty", "version: 1"},
		{"alias", replace("cases:\n", "x: &a 1\ncases:\n"), "x:", 1, `unknown field "x"`, "valid fields"},
		{"anchor", replace("    fault: {type: stop, target: etcd}", "    fault: &f {type: stop, target: etcd}"), "&f", 1, "YAML anchors (&f) are not supported", "in full"},
		{"second document", okCase + "---\nversion: 1\n", "---", 1, "a second YAML document", "one catalog a file"},
		{"syntax error", replace("    why: the control plane", "   why: the control plane"), "why: the", 1, "YAML syntax", ""},
		{"page label", replace("cases:\n", "defaults:\n  page_label: page\ncases:\n"), "page\n", 1, "page_label must be a mapping", "{severity: page}"},
		{"interval below floor", replace("cases:\n", "defaults:\n  prometheus: {scrape_interval: 10ms}\ncases:\n"), "prometheus", 1, "shorter than min_scrape_interval 250ms", "lower min_scrape_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := parseErrs(t, tt.src)
			require.NotEmpty(t, es, "want an error")
			var p Pos
			if tt.marker == "" {
				p = Pos{1, 1}
			} else {
				p = at(t, tt.src, tt.marker, tt.nth)
			}
			e := findErr(t, es, p, tt.msg)
			assert.Contains(t, e.Hint, tt.hint)
			assert.Equal(t, testFile, e.File)
			assert.True(t, strings.HasPrefix(e.Error(), fmt.Sprintf("%s:%d:%d: ", testFile, p.Line, p.Column)), e.Error())
		})
	}
}

func TestParseCollectsEveryErrorSorted(t *testing.T) {
	src := `version: 1
defaults:
  grace: two
cases:
  - name: a
    class: nope
    why: x
    fault: {type: stop, target: etcd}
    duration: 5x
  - name: b
    class: not-ok
    why: y
    fault: {type: stop, target: etcd}
    duration: 10m
    bogus: 1
`
	es := parseErrs(t, src)
	require.Len(t, es, 4, "%v", es)
	findErr(t, es, at(t, src, "two", 1), `bad duration "two"`)
	findErr(t, es, at(t, src, "nope", 1), `unknown class "nope"`)
	findErr(t, es, at(t, src, "5x", 1), `bad duration "5x"`)
	findErr(t, es, at(t, src, "bogus", 1), `unknown field "bogus" in case "b"`)
	for i := 1; i < len(es); i++ {
		assert.True(t, es[i-1].Line < es[i].Line || (es[i-1].Line == es[i].Line && es[i-1].Column <= es[i].Column), "sorted: %v", es)
	}
	// The multi-line message has one problem a line.
	var err error = es
	assert.Equal(t, 4, strings.Count(err.Error(), "\n")+1)
}

func TestParseAcceptsEveryForm(t *testing.T) {
	src := `version: 1
defaults:
  probe: {rate: 6000/m}
  slo: {success: 0.995, p99: 800ms, p50: 100ms}
  grace: 1s
  page_label: {severity: critical, team: sre}
cases:
  - name: all-backends-slow
    class: not-ok
    why: nowhere to route around
    fault:
      type: latency
      target: [edge->backend-1, "edge->backend-*"]
      params: {latency: 2s, jitter: 0}
    duration: 2h
    mechanism: {what: retry backoff, timer: 250ms}
    expect:
      alerts: {any_of: [UpstreamErrorRateHigh, NoHealthyUpstream]}
      detection: 1h
    requires: [envoy]
    provenance:
      date: 2018-11-11
      summary: every backend slowed down at once
      link: https://example.org/postmortem/1
  - name: tight
    class: ok-to-break
    why: the SLO may be tightened
    fault: {type: down, target: edge->xds}
    duration: 5m
    expect: {slo: {success: "99.9%", p99: 500ms, p999: 800ms}, recovery: 20s}
`
	c, err := Parse(testFile, []byte(src))
	require.NoError(t, err)
	d := c.Defaults
	assert.InDelta(t, 100.0, d.ProbeRate, 1e-9)
	assert.Equal(t, SLO{Success: 0.995, P99: 800 * time.Millisecond, P50: 100 * time.Millisecond}, d.SLO)
	assert.Equal(t, time.Second, d.Grace)
	assert.Equal(t, map[string]string{"severity": "critical", "team": "sre"}, d.PageLabels)
	assert.Equal(t, 5*time.Second, d.MinWindow, "fields not in the file keep the built-in defaults")

	k := c.Cases[0]
	assert.Equal(t, []string{"edge->backend-1", "edge->backend-*"}, k.Faults[0].Target)
	assert.Equal(t, map[string]any{"latency": "2s", "jitter": 0}, k.Faults[0].Params)
	assert.Equal(t, Alerts{Match: AnyOf, Names: []string{"UpstreamErrorRateHigh", "NoHealthyUpstream"}}, k.Expect.Alerts)
	assert.Equal(t, time.Hour, k.DetectionWindow())
	assert.Equal(t, 250*time.Millisecond, k.Mechanism.Timer)
	require.NotNil(t, k.Provenance)
	assert.Equal(t, time.Date(2018, 11, 11, 0, 0, 0, 0, time.UTC), k.Provenance.Date)
	assert.Equal(t, "https://example.org/postmortem/1", k.Provenance.Link)
	assert.Equal(t, "", k.SkipReason("envoy"))
	assert.Equal(t, "case all-backends-slow needs the envoy data plane (this run uses grpc)", k.SkipReason("grpc"))

	tight := c.Cases[1]
	assert.Equal(t, SLO{Success: 0.999, P50: 100 * time.Millisecond, P99: 500 * time.Millisecond, P999: 800 * time.Millisecond}, tight.EffectiveSLO(d))
	assert.Equal(t, 20*time.Second, tight.RecoveryWindow(d))
	assert.Equal(t, "", tight.SkipReason("grpc"))

	c2, err := Parse(testFile, []byte(strings.Replace(okCase, "cases:", "defaults:\n  slo: {success: 99.9%}\ncases:", 1)))
	require.NoError(t, err)
	assert.Equal(t, SLO{Success: 0.999, P99: time.Second}, c2.Defaults.SLO, "the SLO's fields are defaults one by one too")
}

func TestAlertsSatisfied(t *testing.T) {
	fired := func(names ...string) func(string) bool {
		return func(n string) bool {
			for _, x := range names {
				if x == n {
					return true
				}
			}
			return false
		}
	}
	all := Alerts{Match: AllOf, Names: []string{"A", "B"}}
	anyOf := Alerts{Match: AnyOf, Names: []string{"A", "B"}}
	assert.True(t, all.Satisfied(fired("A", "B")))
	assert.False(t, all.Satisfied(fired("A")))
	assert.True(t, anyOf.Satisfied(fired("B")))
	assert.False(t, anyOf.Satisfied(fired("C")))
	assert.False(t, Alerts{}.Satisfied(fired("A")), "no expected alert is never satisfied")
}

func TestParseWrongKinds(t *testing.T) {
	for _, tt := range []struct {
		old, new, marker, msg string
	}{
		{"name: etcd-down-10m", "name: 123", "123", "a case name must be text, not the number 123"},
		{"why: the control plane serves its cached snapshot", `why: " "`, `" "`, "why of case \"etcd-down-10m\" is empty"},
		{"duration: 10m", "duration: [10m]", "[10m]", "must be a single value, not a list"},
		{"duration: 10m", "duration:", "duration:", "must be a single value, not empty"},
		{"class: ok-to-break", "class: true", "true", "must be text, not the boolean true"},
		{"version: 1", "version: one", "one", `bad version "one"`},
		{"    fault: {type: stop, target: etcd}", "    fault: stop", "stop", "in the fault of case \"etcd-down-10m\" must be a mapping, not \"stop\""},
	} {
		t.Run(tt.new, func(t *testing.T) {
			src := strings.Replace(okCase, tt.old, tt.new, 1)
			p := at(t, src, tt.marker, 1)
			if tt.marker == "duration:" {
				p.Column += len("duration:") // an empty value sits right after the colon
			}
			findErr(t, parseErrs(t, src), p, tt.msg)
		})
	}
}

func TestErrorsUnwrap(t *testing.T) {
	_, err := Parse(testFile, []byte("version: 2\ncases: []\n"))
	var e *Error
	require.True(t, errors.As(err, &e), "errors.As reaches each *Error")
	assert.Equal(t, 1, e.Line)
	assert.Equal(t, 10, e.Column)
}

func TestSLOLatencies(t *testing.T) {
	s := SLO{Success: 0.99, P50: 100 * time.Millisecond, P99: time.Second}
	assert.Equal(t, map[float64]time.Duration{0.5: 100 * time.Millisecond, 0.99: time.Second}, s.Latencies())
}
