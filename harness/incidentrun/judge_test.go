package incidentrun_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/incidentrun"
	"github.com/okbreak/okbreak/harness/probe"
)

const provenance = `version: 1
title: t
date: 2018-11-11
provenance: {summary: s, link: l, broke: b, detected: d, remediation: r, source: s}
`

// parse reads an incident written in the test.
func parse(t *testing.T, name, body string) *incident.Incident {
	t.Helper()
	in, err := incident.Parse(name+".yaml", []byte(provenance+body))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// variants is an incident with before and after whose before must breach
// the SLO during the fault.
func variants(t *testing.T) *incident.Incident {
	t.Helper()
	return parse(t, "retry", `cases:
  - name: resets
    class: ok-to-break
    why: retries cover resets
    fault: {type: reset_peer, target: edge->backend-2}
    duration: 5m
before: {services: {edge: {command: [--attempts=1]}}}
after: {services: {edge: {command: [--attempts=3]}}}
expect_before: {slo_breached: during}
`)
}

var (
	okCase = catalog.Case{Name: "resets", Class: catalog.OkToBreak}
	notOK  = catalog.Case{Name: "etcd-down-2h", Class: catalog.NotOK}
	good   = probe.Stats{Count: 1000, OK: 1000, SuccessRatio: 1, P99: 20 * time.Millisecond}
	bad    = probe.Stats{Count: 1000, OK: 900, Errors: 100, SuccessRatio: 0.9, P99: 20 * time.Millisecond}
	marks  = &harness.Marks{Injected: time.Unix(1000, 0), RevertS: 30, EndS: 60}
)

// result is a recorded result with the windows given.
func result(v harness.Verdict, during probe.Stats) harness.Result {
	return harness.Result{Name: okCase.Name, Class: okCase.Class, Verdict: v, Reason: "why " + string(v),
		Windows: &harness.Windows{Before: good, During: during, After: good}, Marks: marks}
}

func run(in *incident.Incident, v incident.Variant, c catalog.Case, res harness.Result) incidentrun.VariantRun {
	dir := "reports/" + string(v)
	return incidentrun.VariantRun{Variant: v, RunID: "run-" + string(v), Report: dir,
		Cases: []incidentrun.CaseOutcome{incidentrun.JudgeCase(in, v, c, catalog.BuiltinDefaults(), res, dir)}}
}

func TestJudgeCase(t *testing.T) {
	in := variants(t)
	d := catalog.BuiltinDefaults()
	for _, tc := range []struct {
		name   string
		v      incident.Variant
		c      catalog.Case
		res    harness.Result
		status incidentrun.Status
		msg    string
	}{
		{"before reproduced", incident.Before, okCase, result(harness.Failed, bad), incidentrun.Passed,
			"before reproduced the incident: the SLO breached during the fault"},
		{"before survived", incident.Before, okCase, result(harness.Survived, good), incidentrun.Failed,
			"before did not fail as the incident did (the SLO breached during the fault): resets was survived (why survived), not failed with the SLO breached during the fault\nreport: dir"},
		{"a skipped before reproduces nothing", incident.Before, okCase, result(harness.Skipped, good), incidentrun.Failed,
			"before did not fail as the incident did"},
		{"after survived", incident.After, okCase, result(harness.Survived, good), incidentrun.Passed, ""},
		{"after failed", incident.After, okCase, result(harness.Failed, bad), incidentrun.Failed,
			"ok-to-break resets: want survived, got failed: why failed\nreport (at the end of the run): dir\n{"},
		{"after skipped", incident.After, okCase, result(harness.Skipped, good), incidentrun.Skipped, "why skipped"},
		{"alone alerted", incidentrun.Alone, notOK, harness.Result{Verdict: harness.Alerted}, incidentrun.Passed, ""},
		{"alone invalid", incidentrun.Alone, notOK, harness.Result{Verdict: harness.Invalid, Reason: "no steady state"}, incidentrun.Failed,
			"not-ok etcd-down-2h: want alerted, got invalid: no steady state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			co := incidentrun.JudgeCase(in, tc.v, tc.c, d, tc.res, "dir")
			if co.Status != tc.status {
				t.Errorf("status %s (%s), want %s", co.Status, co.Why, tc.status)
			}
			if msg := co.Message(); !strings.HasPrefix(msg, tc.msg) || (tc.msg == "") != (msg == "") {
				t.Errorf("message %q, want it to start with %q", msg, tc.msg)
			}
		})
	}
}

func TestJudgeAnIncidentWithBeforeAndAfter(t *testing.T) {
	in := variants(t)
	before, after := run(in, incident.Before, okCase, result(harness.Failed, bad)), run(in, incident.After, okCase, result(harness.Survived, good))
	out := incidentrun.Judge(in, []incidentrun.VariantRun{before, after})
	if out.Status != incidentrun.Passed {
		t.Fatalf("reproduced then fixed: %s: %s", out.Status, out.Why)
	}
	for _, want := range []string{"incident retry: passed: reproduced before: the SLO breached during the fault", "; fixed after: resets survived"} {
		if !strings.Contains(out.Summary(), want) {
			t.Errorf("summary %q lacks %q", out.Summary(), want)
		}
	}

	notReproduced := run(in, incident.Before, okCase, result(harness.Survived, good))
	out = incidentrun.Judge(in, []incidentrun.VariantRun{notReproduced, after})
	want := "incident retry: before must fail with the SLO breached during the fault and after get the class's verdict; got:\n" +
		"  before, resets: survived (why survived), report reports/before\n" +
		"  after, resets: survived (why survived), report reports/after"
	if out.Status != incidentrun.Failed || out.Why != want {
		t.Errorf("before not reproduced: %s:\n%s\nwant:\n%s", out.Status, out.Why, want)
	}
	if s := out.Summary(); !strings.HasPrefix(s, "incident retry: FAILED: before must fail") {
		t.Errorf("summary %q", s)
	}

	broken := run(in, incident.After, okCase, result(harness.Failed, bad))
	if out := incidentrun.Judge(in, []incidentrun.VariantRun{before, broken}); out.Status != incidentrun.Failed ||
		!strings.Contains(out.Why, "after, resets: failed (why failed)") {
		t.Errorf("after broken: %s: %s", out.Status, out.Why)
	}
}

// An incident is only as good as what ran: a variant or a case that did
// not run, or a stack that did not come up, fails it.
func TestJudgeMissingRunsFail(t *testing.T) {
	in := variants(t)
	before, after := run(in, incident.Before, okCase, result(harness.Failed, bad)), run(in, incident.After, okCase, result(harness.Survived, good))
	noStack := incidentrun.VariantRun{Variant: incident.After, Err: errors.New("stack up: no engine")}
	partial := after
	partial.Cases, partial.NotRun = nil, []string{"resets"}
	for name, tc := range map[string]struct {
		runs []incidentrun.VariantRun
		want string
	}{
		"after missing":   {[]incidentrun.VariantRun{before}, "  after: not run"},
		"stack not up":    {[]incidentrun.VariantRun{before, noStack}, "  after: stack up: no engine"},
		"case not run":    {[]incidentrun.VariantRun{before, partial}, "  after: resets: not run"},
		"nothing ran":     {nil, "  before: not run\n  after: not run"},
		"before repeated": {[]incidentrun.VariantRun{before, before}, "  after: not run"},
	} {
		out := incidentrun.Judge(in, tc.runs)
		if out.Status != incidentrun.Failed || !strings.Contains(out.Why, tc.want) {
			t.Errorf("%s: %s:\n%s\nwant it to hold %q", name, out.Status, out.Why, tc.want)
		}
	}
}

func TestJudgeACaseAlone(t *testing.T) {
	in := parse(t, "etcd-away", "case: etcd-down-2h\n")
	alerted := run(in, incidentrun.Alone, notOK, harness.Result{Verdict: harness.Alerted})
	out := incidentrun.Judge(in, []incidentrun.VariantRun{alerted})
	if out.Status != incidentrun.Passed || out.Summary() != "incident etcd-away: passed: etcd-down-2h alerted" {
		t.Errorf("alerted: %s: %q", out.Status, out.Summary())
	}
	skipped := run(in, incidentrun.Alone, notOK, harness.Result{Verdict: harness.Skipped, Reason: "needs envoy"})
	if out := incidentrun.Judge(in, []incidentrun.VariantRun{skipped}); out.Status != incidentrun.Passed ||
		out.Why != "etcd-down-2h skipped (needs envoy)" {
		t.Errorf("a skipped case passes as a catalog's does: %s: %q", out.Status, out.Why)
	}
	failed := run(in, incidentrun.Alone, notOK, harness.Result{Verdict: harness.Failed, Reason: "EtcdDownTooLong did not fire"})
	want := "incident etcd-away: every case must get its class's verdict; got:\n  etcd-down-2h: failed (EtcdDownTooLong did not fire), report reports/"
	if out := incidentrun.Judge(in, []incidentrun.VariantRun{failed}); out.Status != incidentrun.Failed || out.Why != want {
		t.Errorf("failed: %s:\n%s\nwant:\n%s", out.Status, out.Why, want)
	}
	if s := incidentrun.Skip(in, "to do").Summary(); s != "incident etcd-away: skipped: to do" {
		t.Errorf("skip summary %q", s)
	}
}
