package catalog

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// FaultChecker knows the fault types and the stack's names. harness/fault's
// registry satisfies it (with the stack definition at hand); tests use a
// small fake. Implementations must be safe for concurrent use if one checker
// validates several catalogs at once.
type FaultChecker interface {
	// Types lists the registered fault types.
	Types() []string
	// Targets lists the names a fault of that type may target: link names
	// for network faults, component names for process faults, registry
	// names for config faults. Globs in a catalog expand against it.
	Targets(typ string) []string
	// Check validates one fault against one concrete target, including its
	// parameters; the error says what is wrong in a sentence.
	Check(typ, target string, params map[string]any) error
}

// AlertIndex knows the alert rules. LoadRuleIndex builds one from Prometheus
// rule files; harness/alert's engine may satisfy it too.
type AlertIndex interface {
	// Lookup returns the labels of the alert rule(s) with that name: when
	// several rules share the name, only the labels they all agree on.
	Lookup(name string) (labels map[string]string, ok bool)
	// Names lists every alert name, sorted.
	Names() []string
}

// AlertDelays is an AlertIndex that also knows each alert's `for:`. When
// the index has it, Validate checks that an alert can fire within the
// case's detection window at all.
type AlertDelays interface {
	// For returns the shortest `for:` among the rules with that name.
	For(name string) (time.Duration, bool)
}

// Checks are what Validate checks a catalog against. A nil field skips those
// checks (Parse has checked everything else).
type Checks struct {
	Faults FaultChecker
	Alerts AlertIndex
	// DataPlane, when set, is the data plane whose rule files Alerts holds:
	// cases that would be skipped on it are not checked against Alerts.
	DataPlane string
}

// Validate checks the catalog's cases against the fault types, the stack's
// names and the alert rules, and expands target globs into Fault.Targets.
// It also checks the faults and alerts of cases Parse rejected (they are not
// in Cases), so that one run reports everything; the parts Parse could not
// read are skipped, so its errors and Validate's never repeat each other. It
// modifies the catalog: do not call it while other goroutines read it.
func (c *Catalog) Validate(checks Checks) error {
	r := &report{file: c.File}
	all := slices.Concat(c.Cases, c.partial)
	for i := range all {
		k := &all[i]
		label := fmt.Sprintf("case %q", k.Name)
		if k.Name == "" {
			label = fmt.Sprintf("the case at line %d", k.Pos.Line)
		}
		if checks.Faults != nil {
			for j := range k.Faults {
				if f := &k.Faults[j]; f.Type != "" && len(f.Target) > 0 {
					checkFault(r, label, f, checks.Faults)
				}
			}
			checkOverlaps(r, label, k)
		}
		if checks.Alerts != nil && k.Class == NotOK && (checks.DataPlane == "" || k.SkipReason(checks.DataPlane) == "") {
			checkAlerts(r, label, k, checks.Alerts, c.Defaults)
		}
	}
	// Globs expanded into Targets.
	copy(c.Cases, all[:len(c.Cases)])
	return r.errs.err()
}

func checkFault(r *report, label string, f *Fault, fc FaultChecker) {
	types := slices.Sorted(slices.Values(fc.Types()))
	if !slices.Contains(types, f.Type) {
		r.add(f.pos.typ, suggest(f.Type, "types", types), "unknown fault type %q in %s", f.Type, label)
		return
	}
	known := slices.Sorted(slices.Values(fc.Targets(f.Type)))
	var expanded []string
	seen := map[string]bool{}
	ok := true
	for i, t := range f.Target {
		at := Pos{}
		if i < len(f.pos.targets) {
			at = f.pos.targets[i]
		}
		var matched []string
		if strings.ContainsAny(t, "*?[\\") {
			if _, err := path.Match(t, ""); err != nil {
				r.add(at, `globs use * for any run of characters, e.g. "edge->backend-*"`, "bad target pattern %q in %s: %v", t, label, err)
				ok = false
				continue
			}
			for _, name := range known {
				if m, _ := path.Match(t, name); m {
					matched = append(matched, name)
				}
			}
			if len(matched) == 0 {
				r.add(at, fmt.Sprintf("valid targets of %s faults: %s", f.Type, strings.Join(known, ", ")), "target pattern %q in %s matches no %s target", t, label, f.Type)
				ok = false
				continue
			}
		} else {
			if !slices.Contains(known, t) {
				r.add(at, suggest(t, "targets of "+f.Type+" faults", known), "unknown target %q for a %s fault in %s", t, f.Type, label)
				ok = false
				continue
			}
			matched = []string{t}
		}
		for _, m := range matched {
			if !seen[m] {
				seen[m] = true
				expanded = append(expanded, m)
			}
		}
	}
	if !ok {
		return
	}
	f.Targets = expanded
	at := f.pos.params
	if at == (Pos{}) {
		at = f.pos.typ
	}
	// One message per distinct problem: the same bad parameter on every
	// target of a glob is one mistake.
	reported := map[string]bool{}
	for _, t := range expanded {
		if err := fc.Check(f.Type, t, f.Params); err != nil && !reported[err.Error()] {
			reported[err.Error()] = true
			r.add(at, "", "%s fault on %s in %s: %v", f.Type, t, label, err)
		}
	}
}

// checkOverlaps refuses two faults of one case on the same target at the
// same time: the second would change what the first put in force, and
// their reverts would fight.
func checkOverlaps(r *report, label string, k *Case) {
	for j := 1; j < len(k.Faults); j++ {
		b := k.Faults[j]
		for i := 0; i < j; i++ {
			a := k.Faults[i]
			if a.At >= b.End(k.Duration) || b.At >= a.End(k.Duration) {
				continue
			}
			for _, t := range b.TargetNames() {
				if slices.Contains(a.TargetNames(), t) {
					r.add(b.pos.node, fmt.Sprintf("one fault at a time on a target: start fault %d at %s or later, or end fault %d (for:) by %s", j+1, a.End(k.Duration), i+1, b.At),
						"faults %d and %d of %s overlap on %s (from %s to %s)", i+1, j+1, label, t, max(a.At, b.At), min(a.End(k.Duration), b.End(k.Duration)))
					break
				}
			}
		}
	}
}

func checkAlerts(r *report, label string, k *Case, idx AlertIndex, d Defaults) {
	names := idx.Names()
	delays, hasDelays := idx.(AlertDelays)
	for i, name := range k.Expect.Alerts.Names {
		at := Pos{}
		if i < len(k.pos.alerts) {
			at = k.pos.alerts[i]
		}
		labels, ok := idx.Lookup(name)
		if !ok {
			hint := "define it in fixtures/alerts/ with labels {" + fmtLabels(d.PageLabels) + "}"
			if c := closest(name, names, 3); len(c) > 0 {
				hint = "did you mean " + quoteJoin(c, " or ") + "? or " + hint
			}
			r.add(at, hint, "alert %q of %s is not defined in any rule file", name, label)
			continue
		}
		if missing := missingLabels(labels, d.PageLabels); missing != "" {
			var paging []string
			for _, n := range names {
				if l, ok := idx.Lookup(n); ok && missingLabels(l, d.PageLabels) == "" {
					paging = append(paging, n)
				}
			}
			hint := "a not-ok case must name alerts that page: label the rule " + fmtLabels(d.PageLabels)
			if len(paging) > 0 {
				hint += ", or name a paging alert: " + strings.Join(paging, ", ")
			}
			r.add(at, hint, "alert %q of %s is not labelled %s (%s)", name, label, fmtLabels(d.PageLabels), missing)
			continue
		}
		if hasDelays {
			if f, ok := delays.For(name); ok && k.DetectionWindow() > 0 && f >= k.DetectionWindow() {
				r.add(at, fmt.Sprintf("the alert needs its condition to hold for %s, so it cannot fire within the detection window; lengthen the window or shorten the rule's for:", f),
					"alert %q has for: %s, not shorter than the detection window %s of %s", name, f, k.DetectionWindow(), label)
			}
		}
	}
}

// missingLabels describes how labels fail to carry want, or "" when they do.
func missingLabels(labels, want map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		got, ok := labels[k]
		switch {
		case !ok:
			out = append(out, "it has no "+k+" label")
		case got != want[k]:
			out = append(out, fmt.Sprintf("it has %s: %s", k, got))
		}
	}
	return strings.Join(out, "; ")
}

func fmtLabels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+": "+m[k])
	}
	return strings.Join(parts, ", ")
}
