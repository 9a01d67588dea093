package alert

import (
	"sort"
	"time"
)

// State is the state of an alert instance in a Timeline.
type State string

// Alert states, as Prometheus names them, plus resolved: firing, then no
// longer (a pending alert that clears goes back to inactive, it never
// resolves).
const (
	StateInactive State = "inactive"
	StatePending  State = "pending"
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// Transition is one change of an alert's state, at the evaluation that saw
// it (the rule manager's evaluation timestamp, on the wall clock).
type Transition struct {
	// Alert is the rule's name; Severity its labels.severity.
	Alert    string
	Severity string
	// Instance identifies one alert of the rule (its label set in PromQL
	// syntax); empty for the rule's first evaluation, recorded as a
	// transition from "" to inactive so that a timeline shows when each
	// rule started to be watched.
	Instance string
	// Labels are the alert's labels (alertname, severity and the series'
	// labels); nil for a rule's first evaluation.
	Labels   map[string]string
	From, To State
	At       time.Time
	// Value is the expression's value at the transition (0 on the way
	// down).
	Value float64
}

// Timeline is the record of alert transitions of a session, in the order
// they were observed. Its methods are pure functions of the slice.
type Timeline []Transition

// sorted returns the timeline ordered by time (stable: transitions of one
// evaluation keep their order).
func (tl Timeline) sorted() Timeline {
	out := append(Timeline(nil), tl...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// ForAlert returns the transitions of one alert.
func (tl Timeline) ForAlert(name string) Timeline {
	var out Timeline
	for _, t := range tl {
		if t.Alert == name {
			out = append(out, t)
		}
	}
	return out
}

// FirstFired returns when the named alert first went firing.
func (tl Timeline) FirstFired(name string) (time.Time, bool) {
	return tl.FirstFiredAfter(name, time.Time{})
}

// FirstFiredAfter returns the first time at or after t that the named alert
// went from not firing to firing: the detection time of a fault injected at
// t. An alert already firing at t does not count until it fires again.
func (tl Timeline) FirstFiredAfter(name string, t time.Time) (time.Time, bool) {
	for _, tr := range tl.sorted() {
		if tr.Alert == name && tr.To == StateFiring && !tr.At.Before(t) {
			return tr.At, true
		}
	}
	return time.Time{}, false
}

// FiringAt returns the names of the alerts with an instance firing at t,
// sorted.
func (tl Timeline) FiringAt(t time.Time) []string {
	set := map[string]bool{}
	for _, tr := range tl.firingAt(t) {
		set[tr.Alert] = true
	}
	return sortedKeys(set)
}

// firingAt returns, for each alert instance firing at t, the transition
// that made it fire.
func (tl Timeline) firingAt(t time.Time) []Transition {
	state := map[string]Transition{}
	for _, tr := range tl.sorted() {
		if tr.At.After(t) {
			break
		}
		if tr.Instance != "" {
			state[tr.Alert+"\x00"+tr.Instance] = tr
		}
	}
	var out []Transition
	for _, tr := range state {
		if tr.To == StateFiring {
			out = append(out, tr)
		}
	}
	return out
}

// FiringDuring returns the names of the alerts of the given severity ("" =
// any) that fired at any point in [from, to]: already firing at from, or
// going firing within the window. Sorted.
func (tl Timeline) FiringDuring(from, to time.Time, severity string) []string {
	return tl.firingDuring(from, to, func(tr Transition) bool { return severity == "" || tr.Severity == severity })
}

// PagesDuring returns the names of the alerts firing at any time in
// [from, to] whose labels carry every label of page (the catalog's
// page_label, e.g. {severity: page} or {severity: critical}). Sorted.
func (tl Timeline) PagesDuring(from, to time.Time, page map[string]string) []string {
	return tl.firingDuring(from, to, func(tr Transition) bool {
		for k, v := range page {
			if tr.Labels[k] != v {
				return false
			}
		}
		return true
	})
}

// firingDuring names the alerts that keep accepts among those already
// firing at from or going firing within [from, to].
func (tl Timeline) firingDuring(from, to time.Time, keep func(Transition) bool) []string {
	set := map[string]bool{}
	for _, tr := range tl.firingAt(from) {
		if keep(tr) {
			set[tr.Alert] = true
		}
	}
	for _, tr := range tl {
		if tr.To == StateFiring && !tr.At.Before(from) && !tr.At.After(to) && keep(tr) {
			set[tr.Alert] = true
		}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
