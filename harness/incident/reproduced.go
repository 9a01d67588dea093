package incident

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/probe"
)

// Reproduced tells whether a case's result under `before` is the failure
// the incident had, and says why not. Only a failed verdict can reproduce
// an incident, and only by the failure named: an invalid or skipped case,
// a timeout, or a failure of another kind (another window, another alert,
// a page where the SLO was expected to break) does not. It is a pure
// function of its arguments.
func Reproduced(e Expectation, c catalog.Case, d catalog.Defaults, r harness.Result) (bool, string) {
	if r.Verdict != harness.Failed {
		return false, fmt.Sprintf("%s was %s (%s), not failed with %s", c.Name, r.Verdict, r.Reason, e)
	}
	inject := time.Time{}
	end, revert := 0.0, 0.0
	if r.Marks != nil {
		inject, end, revert = r.Marks.Injected, r.Marks.EndS, r.Marks.RevertS
	}
	switch e.Kind {
	case SLOBreached:
		if c.Class != catalog.OkToBreak {
			return false, fmt.Sprintf("%s is %s: only an ok-to-break case has an SLO to breach", c.Name, c.Class)
		}
		if r.Windows == nil {
			return false, c.Name + " recorded no probe windows"
		}
		st := r.Windows.During
		if e.Window == WindowAfter {
			st = r.Windows.After
		}
		slo := c.EffectiveSLO(d)
		ok, why := st.Meets(probe.SLO{Success: slo.Success, P99: slo.P99}, d.MinSamples)
		switch {
		case ok:
			return false, fmt.Sprintf("%s failed (%s), but the SLO held %s the fault", c.Name, r.Reason, e.Window)
		case errors.Is(why, probe.ErrTooFewSamples):
			return false, fmt.Sprintf("%s: too few samples %s the fault to say the SLO broke: %v", c.Name, e.Window, why)
		}
		return true, fmt.Sprintf("the SLO breached %s the fault: %v", e.Window, why)
	case AlertNotFired:
		if c.Class != catalog.NotOK || !slices.Contains(c.Expect.Alerts.Names, e.Alert) {
			return false, fmt.Sprintf("%s does not expect alert %s", c.Name, e.Alert)
		}
		for _, a := range r.AlertsFired {
			// The judge's own slack: an alert firing within a second of
			// the window's end counts as in time.
			if a.Name == e.Alert && a.FirstFiredS >= 0 && a.FirstFiredS <= revert+1 {
				return false, fmt.Sprintf("%s failed (%s), but %s fired %.1fs after injection", c.Name, r.Reason, e.Alert, a.FirstFiredS)
			}
		}
		return true, fmt.Sprintf("%s did not fire within the detection window", e.Alert)
	case PageFired:
		if c.Class != catalog.OkToBreak {
			return false, fmt.Sprintf("%s is %s: a page is the failure of an ok-to-break case", c.Name, c.Class)
		}
		pages := r.Timeline.PagesDuring(inject, inject.Add(time.Duration(end*float64(time.Second))), d.PageLabels)
		if !slices.Contains(pages, e.Alert) {
			return false, fmt.Sprintf("%s failed (%s), but did not page with %s (pages: %v)", c.Name, r.Reason, e.Alert, pages)
		}
		return true, "paged with " + e.Alert
	}
	return false, fmt.Sprintf("unknown expectation %q", e.Kind)
}
