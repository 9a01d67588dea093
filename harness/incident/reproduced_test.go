package incident_test

import (
	"strings"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/probe"
)

func TestReproduced(t *testing.T) {
	d := catalog.BuiltinDefaults()
	okCase := catalog.Case{Name: "resets", Class: catalog.OkToBreak}
	notOK := catalog.Case{Name: "crash", Class: catalog.NotOK, Expect: catalog.Expect{Alerts: catalog.Alerts{Names: []string{"DataPlaneDown"}}}}
	inject := time.Unix(1000, 0)
	good := probe.Stats{Count: 1000, OK: 1000, SuccessRatio: 1, P99: 20 * time.Millisecond}
	bad := probe.Stats{Count: 1000, OK: 700, Errors: 300, SuccessRatio: 0.7, P99: 20 * time.Millisecond}
	few := probe.Stats{Count: 10, OK: 5, Errors: 5, SuccessRatio: 0.5}
	marks := &harness.Marks{Injected: inject, RevertS: 30, EndS: 60}
	failed := func(during, after probe.Stats) harness.Result {
		return harness.Result{Verdict: harness.Failed, Reason: "r", Windows: &harness.Windows{Before: good, During: during, After: after}, Marks: marks}
	}
	page := alert.Timeline{{Alert: "EdgeErrors", Labels: map[string]string{"severity": "page"}, From: alert.StateInactive, To: alert.StateFiring, At: inject.Add(5 * time.Second)}}
	for _, tc := range []struct {
		name string
		e    incident.Expectation
		c    catalog.Case
		r    harness.Result
		want bool
		why  string
	}{
		{"SLO broke during", incident.Expectation{Kind: incident.SLOBreached, Window: "during"}, okCase, failed(bad, good), true, "breached during"},
		{"SLO broke after, not during", incident.Expectation{Kind: incident.SLOBreached, Window: "during"}, okCase, failed(good, bad), false, "held during"},
		{"too few samples is no breach", incident.Expectation{Kind: incident.SLOBreached, Window: "during"}, okCase, failed(few, good), false, "too few samples"},
		{"invalid reproduces nothing", incident.Expectation{Kind: incident.SLOBreached, Window: "during"}, okCase,
			harness.Result{Verdict: harness.Invalid, Reason: "no steady state", Windows: &harness.Windows{During: bad}}, false, "was invalid"},
		{"survived reproduces nothing", incident.Expectation{Kind: incident.SLOBreached, Window: "during"}, okCase,
			harness.Result{Verdict: harness.Survived, Windows: &harness.Windows{During: good}}, false, "was survived"},
		{"alert missing", incident.Expectation{Kind: incident.AlertNotFired, Alert: "DataPlaneDown"}, notOK,
			harness.Result{Verdict: harness.Failed, Marks: marks}, true, "did not fire"},
		{"alert fired late is missing", incident.Expectation{Kind: incident.AlertNotFired, Alert: "DataPlaneDown"}, notOK,
			harness.Result{Verdict: harness.Failed, Marks: marks, AlertsFired: []harness.AlertFired{{Name: "DataPlaneDown", FirstFiredS: 45}}}, true, "did not fire"},
		{"alert fired in time", incident.Expectation{Kind: incident.AlertNotFired, Alert: "DataPlaneDown"}, notOK,
			harness.Result{Verdict: harness.Failed, Marks: marks, AlertsFired: []harness.AlertFired{{Name: "DataPlaneDown", FirstFiredS: 3}}}, false, "fired 3.0s"},
		{"alert the case does not expect", incident.Expectation{Kind: incident.AlertNotFired, Alert: "Other"}, notOK,
			harness.Result{Verdict: harness.Failed, Marks: marks}, false, "does not expect"},
		{"page fired", incident.Expectation{Kind: incident.PageFired, Alert: "EdgeErrors"}, okCase,
			harness.Result{Verdict: harness.Failed, Marks: marks, Timeline: page}, true, "paged"},
		{"another page", incident.Expectation{Kind: incident.PageFired, Alert: "Other"}, okCase,
			harness.Result{Verdict: harness.Failed, Marks: marks, Timeline: page}, false, "did not page with Other"},
		{"a page is no SLO breach", incident.Expectation{Kind: incident.SLOBreached, Window: "during"}, okCase,
			harness.Result{Verdict: harness.Failed, Reason: "paged", Marks: marks, Timeline: page, Windows: &harness.Windows{During: good, After: good}}, false, "held during"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := incident.Reproduced(tc.e, tc.c, d, tc.r)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("Reproduced = %v, %q; want %v and a reason with %q", got, why, tc.want, tc.why)
			}
		})
	}
}
