package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
)

// Colours of the chart, named so that a test can look for them in the
// rendered page.
const (
	ColourSuccess = "#1f6feb" // probe success ratio
	ColourP99     = "#8250df" // probe p99 latency
	ColourFault   = "#f7d4cf" // the fault window's shading
	// ColourFaultSpan marks each fault of a compound case on its own lane.
	ColourFaultSpan = "#b0413e"
	ColourPending   = "#e3b341" // an alert pending
	ColourFiring    = "#cf222e" // an alert firing
	colourMark      = "#57606a"
)

// Chart geometry, in SVG user units.
const (
	chartW     = 960.0
	chartLeft  = 170.0 // room for lane names
	chartRight = 20.0
	ratioTop   = 22.0
	ratioH     = 110.0
	p99Gap     = 16.0
	p99H       = 80.0
	laneGap    = 14.0
	laneH      = 16.0
	axisH      = 42.0
)

// HTML writes one self-contained page: no script, style, font or image is
// fetched from anywhere; each case's timeline is an inline SVG drawn here.
func HTML(w io.Writer, r *Report) error {
	c := r.Counts()
	page := htmlPage{Report: r, Summary: countsText(c), Elapsed: (time.Duration(r.ElapsedS) * time.Second).String()}
	for _, res := range r.Cases {
		page.Cases = append(page.Cases, htmlCase{
			Result: res, Passed: Passed(res), Expected: string(harness.Expected(res.Class)),
			TTD: fmtSeconds(res.TimeToDetectS), TTR: fmtSeconds(res.TimeToRecoverS),
			Alerts: alertsText(res), Chart: chart(res), Scale: scaleText(res),
			Evidence: evidenceIfFailed(res),
		})
	}
	return pageTemplate.Execute(w, page)
}

type htmlPage struct {
	Report  *Report
	Summary string
	Elapsed string
	Cases   []htmlCase
}

type htmlCase struct {
	harness.Result
	Passed             bool
	Expected, TTD, TTR string
	Alerts, Scale      string
	Evidence           string
	Chart              template.HTML
}

func evidenceIfFailed(res harness.Result) string {
	if Passed(res) {
		return ""
	}
	return evidenceText(res)
}

func scaleText(res harness.Result) string {
	if res.Plan == nil {
		return ""
	}
	s := fmt.Sprintf("Time scale ×%.4g", res.EffectiveScale)
	if res.Plan.CappedBy != "" {
		s += fmt.Sprintf(" (asked ×%.4g, capped by %s)", res.Plan.Requested, res.Plan.CappedBy)
	}
	return s + ": the axis is wall-clock seconds; a second of the fault and detection windows stands for " +
		fmt.Sprintf("%.4g s of production time; grace and recovery windows are real time.", res.EffectiveScale)
}

// span is one stretch of an alert's state on a chart lane.
type span struct {
	State    alert.State
	From, To float64 // seconds after injection
}

// alertSpans cuts the timeline into pending and firing spans per alert
// name (instances of one rule share a lane), relative to inject, closing
// open spans at end.
func alertSpans(tl alert.Timeline, inject time.Time, end float64) (names []string, spans map[string][]span) {
	spans = map[string][]span{}
	type key struct{ alert, instance string }
	open := map[key]span{}
	sorted := append(alert.Timeline(nil), tl...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	closeSpan := func(k key, at float64) {
		if s, ok := open[k]; ok {
			s.To = at
			spans[k.alert] = append(spans[k.alert], s)
			delete(open, k)
		}
	}
	for _, t := range sorted {
		if t.Instance == "" {
			continue // a rule's first evaluation
		}
		k := key{t.Alert, t.Instance}
		at := t.At.Sub(inject).Seconds()
		if _, ok := spans[t.Alert]; !ok {
			spans[t.Alert] = nil
			names = append(names, t.Alert)
		}
		closeSpan(k, at)
		if t.To == alert.StatePending || t.To == alert.StateFiring {
			open[k] = span{State: t.To, From: at}
		}
	}
	for k := range open {
		closeSpan(k, end)
	}
	for _, ss := range spans {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].From < ss[j].From })
	}
	sort.Strings(names)
	return names, spans
}

// chart draws a case's timeline: success ratio and p99 per second, the
// fault window shaded, grace and recovery marks, and a lane per alert.
func chart(res harness.Result) template.HTML {
	m := res.Marks
	if m == nil || len(res.Series) == 0 {
		return template.HTML(`<p class="nochart">No timeline: the case ended before its fault was injected.</p>`)
	}
	names, spans := alertSpans(res.Timeline, m.Injected, m.EndS)
	// A compound case gets a lane per fault above the alerts' lanes.
	var faultLanes []harness.FaultSpan
	if len(res.FaultSpans) > 1 {
		faultLanes = res.FaultSpans
	}
	lanesTop := ratioTop + ratioH + p99Gap + p99H + laneGap
	alertsTop := lanesTop + float64(len(faultLanes))*(laneH+4)
	height := alertsTop + float64(max(len(names), 1))*(laneH+4) + axisH
	lo, hi := m.StartS, m.EndS
	if hi <= lo {
		hi = lo + 1
	}
	x := func(t float64) float64 {
		t = math.Min(math.Max(t, lo), hi)
		return chartLeft + (t-lo)/(hi-lo)*(chartW-chartLeft-chartRight)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s timeline">`,
		chartW, height, chartW, height, template.HTMLEscapeString(res.Name))
	// The fault window over every panel.
	fmt.Fprintf(&b, `<rect class="fault" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`,
		x(0), ratioTop, math.Max(x(m.RevertS)-x(0), 1), alertsTop-ratioTop+float64(max(len(names), 1))*(laneH+4), ColourFault)
	fmt.Fprintf(&b, `<text x="%.1f" y="14" class="lbl">fault %.1f s</text>`, x(0)+2, m.RevertS)
	// Panels' frames and labels.
	p99Top := ratioTop + ratioH + p99Gap
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="frame"/>`, chartLeft, ratioTop, chartW-chartLeft-chartRight, ratioH)
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="frame"/>`, chartLeft, p99Top, chartW-chartLeft-chartRight, p99H)
	fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lbl" fill="%s">success ratio</text>`, ratioTop+14, ColourSuccess)
	fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lbl">100%%</text><text x="8" y="%.1f" class="lbl">0%%</text>`, ratioTop+30, ratioTop+ratioH)
	maxP99 := 1.0
	for _, p := range res.Series {
		maxP99 = math.Max(maxP99, p.P99Ms)
	}
	maxP99 *= 1.1
	fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lbl" fill="%s">p99 latency</text>`, p99Top+14, ColourP99)
	fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lbl">%.0f ms</text><text x="8" y="%.1f" class="lbl">0 ms</text>`, p99Top+30, maxP99, p99Top+p99H)
	// Series.
	var ratio, p99 []string
	for _, p := range res.Series {
		if p.Count == 0 {
			continue
		}
		// Steps, not a line between centres: each second's value holds
		// for that second, so a drop never seems to start before the
		// fault did.
		x0, x1 := x(p.T), x(p.T+harness.SeriesStep.Seconds())
		yr, yp := ratioTop+ratioH*(1-p.SuccessRatio), p99Top+p99H*(1-p.P99Ms/maxP99)
		ratio = append(ratio, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x0, yr, x1, yr))
		p99 = append(p99, fmt.Sprintf("%.1f,%.1f %.1f,%.1f", x0, yp, x1, yp))
	}
	fmt.Fprintf(&b, `<polyline class="series success" fill="none" stroke="%s" stroke-width="2.5" points="%s"/>`, ColourSuccess, strings.Join(ratio, " "))
	fmt.Fprintf(&b, `<polyline class="series p99" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, ColourP99, strings.Join(p99, " "))
	// Marks: injection, revert, the ends of the grace windows, the
	// recovery limit when it falls on the chart.
	bottom := height - axisH
	mark := func(t float64, label string, dashed bool) {
		row := 24.0 // inject and revert on one row, the windows' ends below
		if dashed {
			row = 36
		}
		if t < lo || t > hi {
			return
		}
		dash := ""
		if dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"%s/>`, x(t), ratioTop, x(t), bottom, colourMark, dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="lbl mark">%s</text>`, x(t)+2, bottom+row, template.HTMLEscapeString(label))
	}
	mark(0, "inject", false)
	mark(m.RevertS, "revert", false)
	if m.GraceS > 0 {
		mark(m.GraceS, "grace end", true)
		mark(m.RevertS+m.GraceS, "grace end", true)
	}
	mark(m.RevertS+m.RecoveryS, "recovery limit", true)
	// Fault lanes: when each fault of a compound case was in force.
	for i, f := range faultLanes {
		y := lanesTop + float64(i)*(laneH+4)
		end := m.RevertS
		if f.EndS != nil {
			end = *f.EndS
		}
		fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lbl">fault %d</text>`, y+12, i+1)
		fmt.Fprintf(&b, `<rect class="fault-span" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s from %+.1f s to %+.1f s</title></rect>`,
			x(f.StartS), y, math.Max(x(end)-x(f.StartS), 2), laneH, ColourFaultSpan, template.HTMLEscapeString(f.Fault), f.StartS, end)
	}
	// Alert lanes.
	if len(names) == 0 {
		fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lbl">no alert pending or firing</text>`, alertsTop+12)
	}
	for i, n := range names {
		y := alertsTop + float64(i)*(laneH+4)
		fmt.Fprintf(&b, `<text x="8" y="%.1f" class="lbl">%s</text>`, y+12, template.HTMLEscapeString(n))
		for _, s := range spans[n] {
			colour := ColourPending
			if s.State == alert.StateFiring {
				colour = ColourFiring
			}
			fmt.Fprintf(&b, `<rect class="alert %s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s from %+.1f s to %+.1f s</title></rect>`,
				s.State, x(s.From), y, math.Max(x(s.To)-x(s.From), 2), laneH, colour, template.HTMLEscapeString(n), s.State, s.From, s.To)
		}
	}
	// Time axis.
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`, chartLeft, bottom, chartW-chartRight, bottom, colourMark)
	step := tickStep(hi - lo)
	for t := math.Ceil(lo/step) * step; t <= hi; t += step {
		if t == 0 {
			t = 0 // not -0: Ceil keeps the sign of a negative start
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="lbl tick">%g s</text>`, x(t), bottom+12, t)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func tickStep(span float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600} {
		if span/s <= 12 {
			return s
		}
	}
	return 1800
}

var pageTemplate = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>okbreak run {{.Report.Run}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#1f2328;padding:0 12px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:0}
.case{border:1px solid #d0d7de;border-radius:6px;padding:12px 14px;margin:18px 0}
.verdict{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;margin-left:8px;vertical-align:2px}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}.skip{background:#eaeef2;color:#57606a}
.meta{color:#57606a;margin:4px 0}.why{margin:6px 0}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
.chart{display:block;margin-top:8px;max-width:100%;height:auto}
.chart .lbl{font-size:11px;fill:#57606a}.chart .frame{fill:none;stroke:#d0d7de}
.legend span{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin:0 4px 0 12px}
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:320px;font-size:12px}
</style></head><body>
<h1>okbreak run {{.Report.Run}}</h1>
<p class="meta">{{len .Report.Cases}} cases on the {{.Report.DataPlane}} data plane at time scale {{.Report.TimeScale}} in {{.Elapsed}}: {{.Summary}}. okbreak {{.Report.Version}}{{if not .Report.Started.IsZero}}, started {{.Report.Started.UTC.Format "2006-01-02 15:04 UTC"}}{{end}}.</p>
<p class="legend">Legend:<span style="background:#1f6feb"></span>success ratio<span style="background:#8250df"></span>p99 latency<span style="background:#f7d4cf"></span>fault in force<span style="background:#b0413e"></span>one fault of a compound case<span style="background:#e3b341"></span>alert pending<span style="background:#cf222e"></span>alert firing. Alert states come from the Prometheus rule engine, which knows pending as well as firing.</p>
{{if .Report.Inputs}}<table><tr><th>Input</th><th>Name</th><th>SHA-256</th></tr>{{range .Report.Inputs}}<tr><td>{{.Kind}}</td><td>{{.Name}}</td><td><code>{{printf "%.16s" .SHA256}}…</code></td></tr>{{end}}</table>{{end}}
{{range .Cases}}<section class="case" id="{{.Name}}">
<h2>{{.Name}}<span class="verdict {{if eq .Verdict "skipped"}}skip{{else if .Passed}}pass{{else}}fail{{end}}">{{.Verdict}}{{if not .Passed}} (want {{.Expected}}){{end}}</span></h2>
<p class="meta">{{.Class}}{{if .Fault}} · {{.Fault}}{{end}} · time to detect {{.TTD}} · time to recover {{.TTR}} · alerts fired: {{.Alerts}} · {{printf "%.1f" .Elapsed}} s</p>
{{if .Why}}<p class="why">{{.Why}}</p>{{end}}
<p>{{.Reason}}</p>
{{.Chart}}
{{if .Scale}}<p class="meta">{{.Scale}}</p>{{end}}
{{if .Evidence}}<details><summary>Evidence</summary><pre>{{.Evidence}}</pre></details>{{end}}
</section>
{{end}}</body></html>
`))
