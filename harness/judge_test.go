package harness_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
)

// recordOf rebuilds what a case recorded from its result in a report.
func recordOf(res harness.Result) harness.Record {
	inject := res.Marks.Injected
	rec := harness.Record{
		Inject: inject, FaultEnd: inject.Add(seconds(res.Marks.RevertS)), End: inject.Add(seconds(res.Marks.EndS)),
		Timeline: res.Timeline, Recovered: res.TimeToRecoverS != nil, RecoveryWhy: "not back", Recovery: res.Plan.Recovery,
	}
	if res.Windows != nil {
		rec.Windows = *res.Windows
	}
	return rec
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// TestJudgeGivesTheRecordedVerdicts judges every case of a real recorded run
// (harness/report/testdata/run.json, the whole catalog) again from what it
// recorded, and then the same records changed the way a regression would
// change them.
func TestJudgeGivesTheRecordedVerdicts(t *testing.T) {
	b, err := os.ReadFile("report/testdata/run.json")
	require.NoError(t, err)
	var run struct{ Cases []harness.Result }
	require.NoError(t, json.Unmarshal(b, &run))
	cat, err := catalog.Parse(fixtures.CatalogFile, fixtures.Catalog())
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(run.Cases), 16)
	for _, res := range run.Cases {
		c, ok := cat.Case(res.Name)
		require.True(t, ok, res.Name)
		rec := recordOf(res)
		j := harness.Judge(c, cat.Defaults, rec)
		require.Equal(t, res.Verdict, j.Verdict, "%s: %s", res.Name, j.Reason)
		require.Equal(t, harness.Judge(c, cat.Defaults, rec), j, "%s: the same record, the same judgement", res.Name)

		switch c.Class {
		case catalog.NotOK:
			require.NotNil(t, j.TimeToDetect, res.Name)
			require.InDelta(t, *res.TimeToDetectS, j.TimeToDetect.Seconds(), 1e-6, res.Name)
			// The rule gone: nothing fires.
			quiet := rec
			quiet.Timeline = nil
			require.Equal(t, harness.Failed, harness.Judge(c, cat.Defaults, quiet).Verdict, res.Name)
			// Already firing before the fault: proves nothing.
			early := rec
			early.Timeline = append(alert.Timeline{{Alert: c.Expect.Alerts.Names[0], To: alert.StateFiring, At: rec.Inject.Add(-time.Second)}}, rec.Timeline...)
			require.Equal(t, harness.Invalid, harness.Judge(c, cat.Defaults, early).Verdict, res.Name)
		case catalog.OkToBreak:
			// A page during the fault fails the case.
			paged := rec
			paged.Timeline = append(append(alert.Timeline{}, rec.Timeline...), alert.Transition{Alert: "SomethingPaged", To: alert.StateFiring,
				At: rec.Inject.Add(time.Second), Labels: cat.Defaults.PageLabels})
			j := harness.Judge(c, cat.Defaults, paged)
			require.Equal(t, harness.Failed, j.Verdict, res.Name)
			require.Contains(t, j.Reason, "paged: SomethingPaged")
			// Not back within the recovery window.
			slow := rec
			slow.Recovered = false
			require.Equal(t, harness.Failed, harness.Judge(c, cat.Defaults, slow).Verdict, res.Name)
			// The SLO missed during the fault.
			bad := rec
			bad.Windows.During.SuccessRatio = 0.5
			require.Equal(t, harness.Failed, harness.Judge(c, cat.Defaults, bad).Verdict, res.Name)
			// A reaction the fault demanded did not happen.
			out := rec
			out.Outcomes = []string{"the new instance kept running"}
			require.Equal(t, harness.Failed, harness.Judge(c, cat.Defaults, out).Verdict, res.Name)
		}
	}
}
