package report

import (
	"fmt"
	"math"
)

// Change is one case whose outcome differs between two reports.
type Change struct {
	Case string
	// What is "verdict", "time to detect", "time to recover", "added" or
	// "removed"; Before and After its values as text.
	What, Before, After string
}

func (c Change) String() string {
	switch c.What {
	case "added", "removed":
		return fmt.Sprintf("%s: %s (%s)", c.Case, c.What, c.After+c.Before)
	}
	return fmt.Sprintf("%s: %s %s -> %s", c.Case, c.What, c.Before, c.After)
}

// Times within DiffTolerance of each other, or within DiffRelTolerance of
// the larger one, count as unchanged: a case's time to detect moves by an
// evaluation interval from run to run.
const (
	DiffTolerance    = 1.0 // seconds
	DiffRelTolerance = 0.25
)

// Diff lists the cases whose verdict, time to detect or time to recover
// changed from a to b, in b's order, then the cases only a had.
func Diff(a, b *Report) []Change {
	old := map[string]int{}
	for i, res := range a.Cases {
		old[res.Name] = i
	}
	var out []Change
	seen := map[string]bool{}
	for _, nb := range b.Cases {
		seen[nb.Name] = true
		i, ok := old[nb.Name]
		if !ok {
			out = append(out, Change{Case: nb.Name, What: "added", After: string(nb.Verdict)})
			continue
		}
		na := a.Cases[i]
		if na.Verdict != nb.Verdict {
			out = append(out, Change{Case: nb.Name, What: "verdict", Before: string(na.Verdict), After: string(nb.Verdict)})
		}
		if timeChanged(na.TimeToDetectS, nb.TimeToDetectS) {
			out = append(out, Change{Case: nb.Name, What: "time to detect", Before: fmtSeconds(na.TimeToDetectS), After: fmtSeconds(nb.TimeToDetectS)})
		}
		if timeChanged(na.TimeToRecoverS, nb.TimeToRecoverS) {
			out = append(out, Change{Case: nb.Name, What: "time to recover", Before: fmtSeconds(na.TimeToRecoverS), After: fmtSeconds(nb.TimeToRecoverS)})
		}
	}
	for _, na := range a.Cases {
		if !seen[na.Name] {
			out = append(out, Change{Case: na.Name, What: "removed", Before: string(na.Verdict)})
		}
	}
	return out
}

func timeChanged(a, b *float64) bool {
	if (a == nil) != (b == nil) {
		return true
	}
	if a == nil {
		return false
	}
	d := math.Abs(*a - *b)
	return d > DiffTolerance && d > DiffRelTolerance*math.Max(math.Abs(*a), math.Abs(*b))
}
