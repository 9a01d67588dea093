package catalog

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Plan is a case's effective time scale and every duration a run uses, in
// real time. The verdict reports it.
type Plan struct {
	// Requested is the scale asked for (--time-scale); Scale is the one in
	// force after the case's cap.
	Requested float64 `json:"requested_scale"`
	Scale     float64 `json:"scale"`
	// CappedBy says which constraint capped the scale; empty when the
	// requested scale holds.
	CappedBy string `json:"capped_by,omitempty"`

	// Fault is how long the fault stays in force.
	Fault time.Duration `json:"fault"`
	// Detection is the window from injection within which a not-ok case's
	// alerts must fire (zero for ok-to-break cases).
	Detection time.Duration `json:"detection,omitempty"`
	// Judged is the ok-to-break fault window after the grace period, the
	// one the SLO is judged on (zero for not-ok cases).
	Judged time.Duration `json:"judged,omitempty"`
	// Recovery, Grace, Before and Shortest are real time, never scaled.
	// Before is the steady-state window before injection.
	Recovery time.Duration `json:"recovery"`
	Grace    time.Duration `json:"grace"`
	Before   time.Duration `json:"before"`
	Shortest time.Duration `json:"shortest_window"`

	// ScrapeInterval, EvalInterval and Lookback are the Prometheus settings
	// for the case's fresh TSDB and rule manager.
	ScrapeInterval time.Duration `json:"scrape_interval"`
	EvalInterval   time.Duration `json:"evaluation_interval"`
	Lookback       time.Duration `json:"lookback_delta"`

	// Schedule is when each fault of a compound case starts and how long
	// it stays, in real time, in the order of the case's faults; empty for
	// a case whose one fault fills the window.
	Schedule []Slot `json:"schedule,omitempty"`
}

// Slot is one fault's place in the fault window, in real time: it starts At
// after the window's start and stays For (zero: to the window's end).
type Slot struct {
	At  time.Duration `json:"at"`
	For time.Duration `json:"for,omitempty"`
}

// Compress turns a world duration (an alert rule's `for:`, a range
// selector's [5m]) into the run's real duration. It is safe to call from
// several goroutines.
func (p Plan) Compress(world time.Duration) time.Duration {
	return compress(world, p.Scale)
}

// String reads like "scale 240 (requested 240): fault 30s, detection 30s, ...".
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scale %s (requested %s", fmtScale(p.Scale), fmtScale(p.Requested))
	if p.CappedBy != "" {
		fmt.Fprintf(&b, "; capped: %s", p.CappedBy)
	}
	fmt.Fprintf(&b, "): fault %s", p.Fault)
	if p.Judged > 0 {
		fmt.Fprintf(&b, ", judged %s after %s grace", p.Judged, p.Grace)
	}
	if p.Detection > 0 {
		fmt.Fprintf(&b, ", detection %s", p.Detection)
	}
	fmt.Fprintf(&b, ", recovery %s, scrape %s, evaluation %s, lookback %s", p.Recovery, p.ScrapeInterval, p.EvalInterval, p.Lookback)
	return b.String()
}

func fmtScale(s float64) string { return fmt.Sprintf("%.4g", s) }

// compress divides and rounds up to the millisecond.
func compress(world time.Duration, scale float64) time.Duration {
	if scale <= 1 || world <= 0 {
		return world
	}
	// The nanosecond of slack keeps float error (300s / (300s/7s) is not
	// exactly 7s) from rounding a whole millisecond up to the next one.
	ms := math.Ceil((float64(world)/scale - 1) / float64(time.Millisecond))
	return max(time.Duration(ms)*time.Millisecond, time.Millisecond)
}

// limit is one upper bound on a case's scale.
type limit struct {
	max  float64 // the largest scale that keeps the constraint
	why  string  // the constraint, for Plan.CappedBy
	pos  Pos     // where to point when the case breaks it even at scale 1
	msg  string  // what is wrong at scale 1
	hint string
	// global limits come from the defaults alone; Parse reports them once,
	// at the defaults, rather than at every case.
	global bool
}

// limits lists every bound the case puts on its scale. A bound below 1 means
// the case breaks the rule even unscaled.
func (c Case) limits(d Defaults) []limit {
	w := c.ShortestWindow(d)
	iv := max(d.ScrapeInterval, d.EvalInterval)
	pts := time.Duration(max(d.MinScrapePoints, 0))
	var out []limit
	switch c.Class {
	case OkToBreak:
		f := c.Duration
		out = append(out, limit{
			max:  float64(f) / float64(w+d.Grace),
			why:  fmt.Sprintf("the fault window after the %s grace period must stay at least %s long", d.Grace, w),
			pos:  c.pos.duration,
			msg:  fmt.Sprintf("duration %s leaves %s after the %s grace period, less than the case's shortest window %s%s", f, max(f-d.Grace, 0), d.Grace, w, c.windowReason(d)),
			hint: fmt.Sprintf("make duration at least %s", w+d.Grace),
		})
		need := pts * iv
		l := limit{
			why:  fmt.Sprintf("the fault window after grace must span %d scrape intervals", d.MinScrapePoints),
			pos:  c.pos.duration,
			msg:  fmt.Sprintf("duration %s spans fewer than %d scrape/evaluation intervals of %s after the %s grace period", f, d.MinScrapePoints, iv, d.Grace),
			hint: fmt.Sprintf("make duration at least %s", need+d.Grace),
		}
		switch {
		case f < need:
			l.max = 0
		case d.Grace > 0:
			l.max = float64(f-need) / float64(d.Grace)
		default:
			l.max = math.Inf(1)
		}
		out = append(out, l)
	case NotOK:
		det := c.DetectionWindow()
		p := c.pos.duration
		if c.Expect.Detection > 0 {
			p = c.pos.detection
		}
		out = append(out, limit{
			max:  float64(det) / float64(w),
			why:  fmt.Sprintf("the detection window must stay at least %s long", w),
			pos:  p,
			msg:  fmt.Sprintf("detection window %s is shorter than the case's shortest window %s%s", det, w, c.windowReason(d)),
			hint: fmt.Sprintf("make it at least %s", w),
		})
		l := limit{
			max:  math.Inf(1),
			pos:  p,
			msg:  fmt.Sprintf("detection window %s spans fewer than %d scrape/evaluation intervals of %s", det, d.MinScrapePoints, iv),
			hint: fmt.Sprintf("make it at least %s", pts*iv),
		}
		if det < pts*iv {
			l.max = 0
		}
		out = append(out, l)
	}
	if d.MinScrapeInterval > 0 {
		out = append(out, limit{
			max:    float64(min(d.ScrapeInterval, d.EvalInterval)) / float64(d.MinScrapeInterval),
			why:    fmt.Sprintf("scrape and evaluation intervals must stay at least %s", d.MinScrapeInterval),
			msg:    "the scrape or evaluation interval is shorter than min_scrape_interval",
			global: true,
		})
	}
	return out
}

// windowReason explains where the shortest window comes from when it is not
// the plain default.
func (c Case) windowReason(d Defaults) string {
	if 3*c.Mechanism.Timer >= c.ShortestWindow(d) && c.Mechanism.Timer > 0 {
		return fmt.Sprintf(" (3× the %s timer of %s)", c.Mechanism.Timer, c.Mechanism.What)
	}
	return ""
}

// Plan returns the case's effective scale and durations for a requested
// scale (1 = real time). It fails on a scale below 1 and on a case whose
// windows are too short even unscaled (Parse reports those too); the Plan it
// returns then is the unscaled one.
func (c Case) Plan(requested float64, d Defaults) (Plan, error) {
	if math.IsNaN(requested) || math.IsInf(requested, 0) || requested < 1 {
		return c.plan(1, 1, "", d), fmt.Errorf("case %s: time scale %v: want a number ≥ 1 (1 = real time)", c.Name, requested)
	}
	scale, capped := requested, ""
	for _, l := range c.limits(d) {
		if l.max < 1 && l.global {
			// The defaults break it unscaled (Parse reports that at the
			// defaults); running unscaled is the best the case can do.
			l.max = 1
		}
		if l.max < 1 {
			return c.plan(requested, 1, "", d), fmt.Errorf("case %s: %s", c.Name, l.msg)
		}
		if l.max < scale {
			scale, capped = l.max, l.why
		}
	}
	return c.plan(requested, scale, capped, d), nil
}

func (c Case) plan(requested, scale float64, capped string, d Defaults) Plan {
	p := Plan{
		Requested:      requested,
		Scale:          scale,
		CappedBy:       capped,
		Fault:          compress(c.Duration, scale),
		Recovery:       c.RecoveryWindow(d),
		Grace:          d.Grace,
		Shortest:       c.ShortestWindow(d),
		Before:         Case{}.ShortestWindow(d),
		ScrapeInterval: compress(d.ScrapeInterval, scale),
		EvalInterval:   compress(d.EvalInterval, scale),
		Lookback:       compress(d.Lookback, scale),
	}
	if len(c.Faults) > 1 || (len(c.Faults) == 1 && (c.Faults[0].At > 0 || c.Faults[0].For > 0)) {
		for _, f := range c.Faults {
			p.Schedule = append(p.Schedule, Slot{At: compress(f.At, scale), For: compress(f.For, scale)})
		}
	}
	switch c.Class {
	case OkToBreak:
		p.Judged = max(p.Fault-d.Grace, 0)
	case NotOK:
		p.Detection = compress(c.DetectionWindow(), scale)
	}
	return p
}
