package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
)

// Markdown writes the shareable list: a summary line, then two tables, ok
// to break and not ok, with each case's why, verdict, time to recover or to
// detect, and the alerts that fired.
func Markdown(w io.Writer, r *Report) error {
	c := r.Counts()
	var b strings.Builder
	fmt.Fprintf(&b, "# okbreak run %s\n\n", r.Run)
	fmt.Fprintf(&b, "%d cases on the %s data plane at time scale %g in %s: %s.",
		c.Cases, r.DataPlane, r.TimeScale, (time.Duration(r.ElapsedS) * time.Second).String(), countsText(c))
	fmt.Fprintf(&b, " okbreak %s.\n", r.Version)
	for _, t := range []struct {
		class   catalog.Class
		title   string
		timeCol string
		time    func(harness.Result) *float64
	}{
		{catalog.OkToBreak, "Ok to break", "Time to recover", func(res harness.Result) *float64 { return res.TimeToRecoverS }},
		{catalog.NotOK, "Not ok", "Time to detect", func(res harness.Result) *float64 { return res.TimeToDetectS }},
	} {
		cases := r.ByClass(t.class)
		fmt.Fprintf(&b, "\n## %s (%d)\n\n", t.title, len(cases))
		if len(cases) == 0 {
			b.WriteString("No case.\n")
			continue
		}
		fmt.Fprintf(&b, "| Case | Why | Verdict | %s | Alerts fired |\n|---|---|---|---:|---|\n", t.timeCol)
		for _, res := range cases {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(res.Name), cell(res.Why), verdictCell(res),
				fmtSeconds(t.time(res)), cell(alertsText(res)))
		}
	}
	if len(r.GameDay) > 0 {
		fmt.Fprintf(&b, "\n## Game-day log (%d)\n\n| Time (UTC) | Who | Action | Fault | Note |\n|---|---|---|---|---|\n", len(r.GameDay))
		for _, l := range r.GameDay {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", l.Time.UTC().Format(time.TimeOnly), cell(l.Who), l.Action, cell(l.Fault), cell(l.Note))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func countsText(c Counts) string {
	var parts []string
	for _, p := range []struct {
		n    int
		name string
	}{{c.Survived, "survived"}, {c.Alerted, "alerted"}, {c.Failed, "failed"}, {c.Invalid, "invalid"}, {c.Skipped, "skipped"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.name))
		}
	}
	if len(parts) == 0 {
		return "none run"
	}
	return strings.Join(parts, ", ")
}

// verdictCell marks a verdict that is not the one the class demands.
func verdictCell(res harness.Result) string {
	if Passed(res) {
		return string(res.Verdict)
	}
	return fmt.Sprintf("**%s** (want %s)", res.Verdict, harness.Expected(res.Class))
}

func alertsText(res harness.Result) string {
	if len(res.AlertsFired) == 0 {
		return "none"
	}
	var names []string
	for _, a := range res.AlertsFired {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// cell keeps a table cell on one line and its pipes literal.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
