package harness

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/probe"
)

// Record is what a case recorded, and all the judge reads. The runner fills
// it from its probe, its rule manager and its faults; another alert source
// (a real Prometheus, an Alertmanager) can fill Timeline instead.
type Record struct {
	// Inject is when the first fault went in, FaultEnd when the fault
	// window ended (a not-ok case's ends once every expected alert fired),
	// End the end of the after window.
	Inject, FaultEnd, End time.Time
	// Windows are the probe's numbers before, during and after the fault.
	Windows Windows
	// Timeline is every alert state transition, with the alerts' labels.
	Timeline alert.Timeline
	// Recovered says the system was back (SLO met again, every component
	// running, every instance answering) within Recovery after revert;
	// RecoveryWhy says why not.
	Recovered   bool
	RecoveryWhy string
	Recovery    time.Duration
	// Outcomes are the reactions the faults demanded that did not happen
	// (bad_config_at_start's new instance did not exit in time).
	Outcomes []string
}

// Judgement is a verdict with its reason and, for an alerted case, the
// time from injection to the last expected alert firing.
type Judgement struct {
	Verdict      Verdict
	Reason       string
	TimeToDetect *time.Duration
}

// Judge gives a case's verdict from what it recorded. It is a pure
// function of its arguments: the same record always gets the same verdict,
// which is what lets it be tested on recorded runs.
//   - not-ok: alerted when the expected alerts (all_of / any_of) went firing
//     after injection and by the end of the fault window (a second of
//     slack); invalid when one was firing before; failed otherwise.
//   - ok-to-break: survived when the SLO held during and after the fault,
//     the system was back within the recovery window, no page fired from
//     injection to the end (the catalog's page label) and every reaction a
//     fault demanded happened; invalid when a window held too few samples
//     and nothing paged; failed otherwise.
func Judge(c catalog.Case, d catalog.Defaults, rec Record) Judgement {
	if c.Class == catalog.NotOK {
		return judgeNotOK(c, rec)
	}
	return judgeOkToBreak(c, d, rec)
}

func judgeNotOK(c catalog.Case, rec Record) Judgement {
	var last time.Time
	var missing, early []string
	for _, name := range c.Expect.Alerts.Names {
		if at, ok := rec.Timeline.FirstFired(name); ok && at.Before(rec.Inject) {
			early = append(early, name)
			continue
		}
		at, ok := firedInWindow(rec.Timeline, name, rec.Inject, rec.FaultEnd)
		if !ok {
			missing = append(missing, name)
			continue
		}
		if at.After(last) {
			last = at
		}
	}
	fired := func(name string) bool { return !slices.Contains(missing, name) && !slices.Contains(early, name) }
	switch {
	case len(early) > 0:
		return Judgement{Verdict: Invalid, Reason: "expected alerts already firing before injection: " + strings.Join(early, ", ")}
	case c.Expect.Alerts.Satisfied(fired):
		ttd := last.Sub(rec.Inject)
		return Judgement{Verdict: Alerted, TimeToDetect: &ttd,
			Reason: fmt.Sprintf("%s fired %.1fs after injection", strings.Join(firedNames(c.Expect.Alerts.Names, fired), ", "), ttd.Seconds())}
	}
	return Judgement{Verdict: Failed, Reason: fmt.Sprintf("expected alerts did not fire within the detection window (%s): %s",
		rec.FaultEnd.Sub(rec.Inject).Round(time.Millisecond), strings.Join(missing, ", "))}
}

// firedInWindow returns when name first fired after inject, if it did
// within the detection window: by the fault's end, with a second for the
// last evaluation to land.
func firedInWindow(tl alert.Timeline, name string, inject, faultEnd time.Time) (time.Time, bool) {
	at, ok := tl.FirstFiredAfter(name, inject)
	if !ok || at.After(faultEnd.Add(time.Second)) {
		return time.Time{}, false
	}
	return at, true
}

func judgeOkToBreak(c catalog.Case, d catalog.Defaults, rec Record) Judgement {
	slo := toProbeSLO(c.EffectiveSLO(d))
	problems := slices.Clone(rec.Outcomes)
	invalid := false
	for _, w := range []struct {
		name string
		st   probe.Stats
	}{{"during", rec.Windows.During}, {"after", rec.Windows.After}} {
		if ok, why := w.st.Meets(slo, d.MinSamples); !ok {
			if errors.Is(why, probe.ErrTooFewSamples) {
				invalid = true
			}
			problems = append(problems, fmt.Sprintf("%s the fault: %v", w.name, why))
		}
	}
	if !rec.Recovered {
		problems = append(problems, "no recovery within "+rec.Recovery.String()+": "+rec.RecoveryWhy)
	}
	pages := rec.Timeline.PagesDuring(rec.Inject, rec.End, d.PageLabels)
	if len(pages) > 0 {
		problems = append(problems, "paged: "+strings.Join(pages, ", "))
	}
	switch {
	case len(problems) == 0:
		return Judgement{Verdict: Survived, Reason: fmt.Sprintf("SLO held (during: %.2f%% ok, p99 %s; after: %.2f%% ok, p99 %s), nobody paged",
			100*rec.Windows.During.SuccessRatio, rec.Windows.During.P99.Round(time.Millisecond),
			100*rec.Windows.After.SuccessRatio, rec.Windows.After.P99.Round(time.Millisecond))}
	case invalid && len(pages) == 0:
		return Judgement{Verdict: Invalid, Reason: strings.Join(problems, "; ")}
	}
	return Judgement{Verdict: Failed, Reason: strings.Join(problems, "; ")}
}
