package catalog

import (
	"fmt"
	"slices"
	"time"
)

// Class says what a case must show: survival or an alert.
type Class string

const (
	// OkToBreak cases must be survived: the probe holds the SLO during and
	// after the fault, the system recovers, and nothing pages.
	OkToBreak Class = "ok-to-break"
	// NotOK cases must be alerted: every expected alert fires within the
	// detection window.
	NotOK Class = "not-ok"
)

// Data planes a case may require. They match harness/stack's DataPlane
// values; the catalog does not import the stack so that it stays a leaf.
const (
	RequireEnvoy = "envoy"
	RequireGRPC  = "grpc"
)

var knownRequires = []string{RequireEnvoy, RequireGRPC}

// Catalog is a parsed catalog file. Values are read-only after Parse and
// Validate return, and then safe to share between goroutines.
type Catalog struct {
	// File is the path the catalog was read from, as given; errors name it.
	File     string
	Version  int
	Defaults Defaults
	Cases    []Case

	// partial holds cases with parse errors, so that Validate can still
	// report what is wrong with their faults and alerts in the same run.
	partial []Case
}

// Case returns the case with the given name.
func (c *Catalog) Case(name string) (Case, bool) {
	for _, k := range c.Cases {
		if k.Name == name {
			return k, true
		}
	}
	return Case{}, false
}

// Names lists the cases' names in file order.
func (c *Catalog) Names() []string {
	out := make([]string, len(c.Cases))
	for i, k := range c.Cases {
		out[i] = k.Name
	}
	return out
}

// Defaults are the harness's defaults (README, "One case, start to finish"), plus the
// settings the time scale needs. A case may tighten the SLO; nothing a case
// says may loosen them.
type Defaults struct {
	// ProbeRate is the probe's constant request rate, per second.
	ProbeRate float64
	// SLO is what an ok-to-break case must hold after the grace period.
	SLO SLO
	// Grace is real time after injection and after revert during which the
	// SLO is not judged. Never scaled.
	Grace time.Duration
	// MinWindow is the shortest measured window, in real time. Never scaled.
	MinWindow time.Duration
	// MinSamples is the fewest probe samples a measured window may hold.
	MinSamples int
	// Recovery is the real time after revert within which the SLO must be
	// back and every component healthy. Never scaled: recovery runs on real
	// component timers (reconnect backoffs, ejection times), which the time
	// scale leaves alone.
	Recovery time.Duration
	// PageLabels mark an alert that wakes someone: every one must match.
	PageLabels map[string]string
	// ScrapeInterval, EvalInterval and Lookback are the team's Prometheus
	// settings, in world time; the time scale compresses them with the rest.
	ScrapeInterval time.Duration
	EvalInterval   time.Duration
	Lookback       time.Duration
	// MinScrapeInterval is the shortest real scrape or evaluation interval
	// the harness will run; it caps the scale.
	MinScrapeInterval time.Duration
	// MinScrapePoints is the fewest scrape (and evaluation) intervals a
	// judged window must span, so that rates and `for:` clauses have data.
	MinScrapePoints int
}

// BuiltinDefaults returns the harness's defaults; a catalog's defaults
// section overrides them field by field.
func BuiltinDefaults() Defaults {
	return Defaults{
		ProbeRate:         100,
		SLO:               SLO{Success: 0.99, P99: time.Second},
		Grace:             2 * time.Second,
		MinWindow:         5 * time.Second,
		MinSamples:        500,
		Recovery:          30 * time.Second,
		PageLabels:        map[string]string{"severity": "page"},
		ScrapeInterval:    15 * time.Second,
		EvalInterval:      15 * time.Second,
		Lookback:          5 * time.Minute,
		MinScrapeInterval: 250 * time.Millisecond,
		MinScrapePoints:   4,
	}
}

// SLO is what the probe must hold. A zero field is not judged.
type SLO struct {
	// Success is the least share of successful and correct answers, 0..1.
	Success float64
	// P50, P90, P99 and P999 are latency ceilings at those percentiles.
	P50, P90, P99, P999 time.Duration
}

// Latencies returns the latency ceilings that are set, keyed by quantile
// (0.5, 0.9, 0.99, 0.999).
func (s SLO) Latencies() map[float64]time.Duration {
	out := map[float64]time.Duration{}
	for q, d := range map[float64]time.Duration{0.5: s.P50, 0.9: s.P90, 0.99: s.P99, 0.999: s.P999} {
		if d > 0 {
			out[q] = d
		}
	}
	return out
}

// merge lays the fields set in o over s.
func (s SLO) merge(o SLO) SLO {
	if o.Success > 0 {
		s.Success = o.Success
	}
	for _, p := range []struct{ dst, src *time.Duration }{{&s.P50, &o.P50}, {&s.P90, &o.P90}, {&s.P99, &o.P99}, {&s.P999, &o.P999}} {
		if *p.src > 0 {
			*p.dst = *p.src
		}
	}
	return s
}

// Case is one catalog entry.
type Case struct {
	Name  string
	Class Class
	// Why says in one line why the case is ok to break, or why it is not.
	Why string
	// Faults are what the case injects: one for a case written with
	// `fault:`, one or more for `faults:`. Each starts At into the fault
	// window and stays For (zero: to the window's end); one starts at 0.
	Faults []Fault
	// Duration is how long the fault window lasts, in world time. For an
	// instantaneous fault (crash, restart, terminate, bad_config_at_start) it
	// is the window in which its consequences are observed before revert.
	Duration time.Duration
	// Mechanism is what lets the system survive (or detect) the fault; its
	// real timer sets the case's shortest window.
	Mechanism Mechanism
	Expect    Expect
	// Requires lists data planes the case needs ("envoy" or "grpc"); on any
	// other it is skipped with that reason.
	Requires []string
	// IdleLink says the links its network faults act on carry no traffic
	// in the steady state by design (an idle stream). Without it a network
	// fault on a link that carried no bytes before the fault proves
	// nothing, and the case is invalid.
	IdleLink bool
	// Provenance is set for incidents: cases kept as regression tests.
	Provenance *Provenance
	// Pos is where the case starts in the file.
	Pos Pos

	pos casePositions
}

// casePositions remembers where fields were written, so that validation
// against fault types and alert rules can point at them.
type casePositions struct {
	name      Pos
	duration  Pos
	alerts    []Pos
	detection Pos
	recovery  Pos
	slo       map[string]Pos
}

// Fault says what to inject and where.
type Fault struct {
	// Type is a fault type registered by harness/fault, e.g. "latency".
	Type string
	// Target lists the targets as written: link names ("edge->backend-2"),
	// component names ("etcd") or registry names ("backend"), or globs over
	// them ("edge->backend-*").
	Target []string
	// Targets is Target with globs expanded against the stack; Validate
	// fills it. Parse alone copies Target.
	Targets []string
	// Params are the fault type's parameters, e.g. {latency: 2s}. They are
	// real values (a toxic's latency, a timeout): the time scale never
	// touches them.
	Params map[string]any
	// At is when the fault starts, from the start of the case's fault
	// window, and For how long it stays (zero: to the window's end); both
	// world time, scaled like the case's duration. Only `faults:` entries
	// set them.
	At, For time.Duration

	pos faultPositions
}

// faultPositions remembers where a fault's fields were written.
type faultPositions struct {
	node, typ, params, at, dur Pos
	targets                    []Pos
}

// End is when the fault ends in a window of the given length (world or
// real time alike): At + For, or the window's end.
func (f Fault) End(window time.Duration) time.Duration {
	if f.For > 0 {
		return f.At + f.For
	}
	return window
}

// TargetNames are the fault's targets, expanded when Validate has run.
func (f Fault) TargetNames() []string {
	if len(f.Targets) > 0 {
		return f.Targets
	}
	return f.Target
}

// Compound reports whether the case injects more than one fault.
func (c Case) Compound() bool { return len(c.Faults) > 1 }

// Mechanism names the mechanism a case exercises and its real timer.
type Mechanism struct {
	What string
	// Timer is the real timer the mechanism runs on (e.g. outlier
	// detection's 30 s base ejection time); every measured window is at
	// least three times as long.
	Timer time.Duration
}

// Match says how many of the expected alerts must fire.
type Match string

const (
	// AllOf: every named alert must fire (a plain list).
	AllOf Match = "all_of"
	// AnyOf: at least one of the named alerts must fire.
	AnyOf Match = "any_of"
)

// Alerts are the alerts a not-ok case expects.
type Alerts struct {
	Match Match
	Names []string
}

// Satisfied reports whether the alerts that fired meet the expectation.
func (a Alerts) Satisfied(fired func(name string) bool) bool {
	if len(a.Names) == 0 {
		return false
	}
	if a.Match == AnyOf {
		return slices.ContainsFunc(a.Names, fired)
	}
	for _, n := range a.Names {
		if !fired(n) {
			return false
		}
	}
	return true
}

// Expect holds a case's expectations; zero fields take the defaults.
type Expect struct {
	// SLO overrides the default SLO field by field; it may only be
	// stricter. Ok-to-break cases only.
	SLO *SLO
	// Alerts must fire (not-ok cases only).
	Alerts Alerts
	// Detection is the window, in world time from injection, within which
	// the alerts must fire; zero means the fault's duration.
	Detection time.Duration
	// Recovery is the real-time recovery window; zero means the default
	// (raised to the case's shortest window when that is longer).
	Recovery time.Duration
}

// Provenance records the incident a case reproduces.
type Provenance struct {
	Date    time.Time
	Summary string
	Link    string
}

// EffectiveSLO is the SLO the case must hold: the defaults with the case's
// override laid over them.
func (c Case) EffectiveSLO(d Defaults) SLO {
	if c.Expect.SLO == nil {
		return d.SLO
	}
	return d.SLO.merge(*c.Expect.SLO)
}

// DetectionWindow is the world-time window within which a not-ok case's
// alerts must fire: the fault's duration unless the case says less.
func (c Case) DetectionWindow() time.Duration {
	if c.Expect.Detection > 0 {
		return c.Expect.Detection
	}
	return c.Duration
}

// ShortestWindow is the least length, in real time, of any measured window
// of the case: the largest of the default shortest window, the time the
// probe needs for its minimum samples, and three times the mechanism's real
// timer.
func (c Case) ShortestWindow(d Defaults) time.Duration {
	w := max(d.MinWindow, 3*c.Mechanism.Timer)
	if d.ProbeRate > 0 && d.MinSamples > 0 {
		w = max(w, time.Duration(float64(d.MinSamples)/d.ProbeRate*float64(time.Second)))
	}
	return w
}

// RecoveryWindow is the real-time window after revert: the case's value, or
// the default raised to the case's shortest window.
func (c Case) RecoveryWindow(d Defaults) time.Duration {
	if c.Expect.Recovery > 0 {
		return c.Expect.Recovery
	}
	return max(d.Recovery, c.ShortestWindow(d))
}

// SkipReason says why the case cannot run on the given data plane, or ""
// when it can.
func (c Case) SkipReason(dataPlane string) string {
	for _, r := range c.Requires {
		if (r == RequireEnvoy || r == RequireGRPC) && r != dataPlane {
			return fmt.Sprintf("case %s needs the %s data plane (this run uses %s)", c.Name, r, dataPlane)
		}
	}
	return ""
}
