package alert

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// ForbiddenMetricPrefixes name metrics that carry the harness's own
// knowledge: which fault is in force, which case runs, what the probe (the
// harness's client, not a component) measured. A rule that reads them would
// "detect" the fault by being told about it.
var ForbiddenMetricPrefixes = []string{"okbreak_fault_", "okbreak_harness_", "okbreak_case_", "okbreak_probe_"}

// ForbiddenLabels are label names that would carry the same knowledge on an
// otherwise legitimate series.
var ForbiddenLabels = []string{"fault", "case", "okbreak_fault", "okbreak_case", "injected"}

// MinPageFor is the shortest production hold (for:) of a page. A page
// without a hold wakes someone for one bad scrape; a minute is the usual
// minimum of production rule sets (etcd's mixin uses 1m to 10m).
const MinPageFor = time.Minute

// wallClockFuncs read absolute time or extrapolate over seconds: the numbers
// compared with their results are durations, which the time scale can only
// compress when they are written as duration literals (1h, not 3600).
var wallClockFuncs = map[string]bool{"time": true, "timestamp": true, "predict_linear": true}

// Lint checks rule groups against the house rules, beyond what Prometheus
// itself validates (ParseRules):
//   - no rule reads a metric named by ForbiddenMetricPrefixes (also through
//     a __name__ regex that could match one) or uses a label in
//     ForbiddenLabels (matchers, by/without, on/ignoring/group_x,
//     label_replace/label_join arguments), and no annotation or label
//     template mentions them;
//   - house rules, reported as warnings (HouseRule): every alerting rule has
//     a labels.severity and an annotations.summary or description, and a
//     page (a rule whose labels include page, the catalog's page label;
//     nil means severity: page) holds for at least MinPageFor (production
//     time);
//   - expressions can be time-scaled (no duration arithmetic, no @
//     timestamps), and rules using time(), timestamp() or predict_linear()
//     write durations as duration literals.
//
// It returns every problem found, each naming its group and rule.
func Lint(groups []rulefmt.RuleGroup, page map[string]string) []error {
	if page == nil {
		page = map[string]string{"severity": SeverityPage}
	}
	var errs []error
	for _, g := range groups {
		for i, r := range g.Rules {
			where := fmt.Sprintf("group %q, rule %d %q", g.Name, i+1, ruleName(r))
			labels := maps.Clone(g.Labels)
			if labels == nil {
				labels = map[string]string{}
			}
			maps.Copy(labels, r.Labels)
			for _, err := range lintRule(r, labels, page) {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
	}
	return errs
}

// LintFiles lints every file, naming the file in each finding; errors and
// house-rule warnings both (SplitFindings tells them apart).
func LintFiles(files []RuleFile, page map[string]string) []error {
	var errs []error
	for _, f := range files {
		for _, err := range Lint(f.Groups, page) {
			errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
		}
	}
	return errs
}

func lintRule(r rulefmt.Rule, labels, page map[string]string) []error {
	var errs []error
	expr, err := promqlParser.ParseExpr(r.Expr)
	if err != nil {
		return []error{fmt.Errorf("parse expr: %w", err)}
	}
	errs = append(errs, lintExpr(expr)...)
	if _, err := scaleExpr(r.Expr, Timing{Factor: 1, ScrapeInterval: ProductionScrapeInterval}); err != nil {
		errs = append(errs, err)
	}
	for _, text := range templates(r) {
		for _, p := range ForbiddenMetricPrefixes {
			if strings.Contains(text, p) {
				errs = append(errs, fmt.Errorf("template %q mentions %s*: harness knowledge of the fault", text, p))
			}
		}
	}
	if r.Alert == "" {
		return errs
	}
	if labels["severity"] == "" {
		errs = append(errs, houseRule("no labels.severity"))
	}
	if strings.TrimSpace(r.Annotations["summary"]) == "" && strings.TrimSpace(r.Annotations["description"]) == "" {
		errs = append(errs, houseRule("no annotations.summary or description: the person paged reads nothing"))
	}
	if isPage(labels, page) && time.Duration(r.For) < MinPageFor {
		errs = append(errs, houseRule("page with for: %s: a page that holds less than %s wakes someone for one bad scrape", r.For, MinPageFor))
	}
	return errs
}

// isPage reports whether labels carry every page label.
func isPage(labels, page map[string]string) bool {
	for k, v := range page {
		if labels[k] != v {
			return false
		}
	}
	return len(page) > 0
}

// HouseRule is a lint finding about style (severity names, a summary, a
// page's hold), not about whether a verdict can be trusted: a warning, which
// `okbreak validate --strict` turns into an error. Every other finding is an
// error: a rule that reads the harness's knowledge or cannot be time-scaled
// would make a verdict a lie.
type HouseRule struct{ Err error }

func (h *HouseRule) Error() string { return h.Err.Error() + " (house rule)" }
func (h *HouseRule) Unwrap() error { return h.Err }

func houseRule(format string, args ...any) error {
	return &HouseRule{Err: fmt.Errorf(format, args...)}
}

// SplitFindings separates lint findings into errors and house-rule
// warnings, keeping their order.
func SplitFindings(findings []error) (errs, warnings []error) {
	for _, f := range findings {
		var h *HouseRule
		if errors.As(f, &h) {
			warnings = append(warnings, f)
		} else {
			errs = append(errs, f)
		}
	}
	return errs, warnings
}

func templates(r rulefmt.Rule) []string {
	var out []string
	for _, v := range r.Labels {
		out = append(out, v)
	}
	for _, v := range r.Annotations {
		out = append(out, v)
	}
	return out
}

func lintExpr(expr parser.Expr) []error {
	var errs []error
	forbiddenLabel := func(name, where string) {
		for _, f := range ForbiddenLabels {
			if name == f {
				errs = append(errs, fmt.Errorf("label %q in %s: harness knowledge of the fault", name, where))
			}
		}
	}
	wallClock := false
	var plainNumbers []float64
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if name := forbiddenMetric(n.Name); name != "" {
				errs = append(errs, fmt.Errorf("reads %s: harness knowledge of the fault (prefix %s)", n.Name, name))
			}
			for _, m := range n.LabelMatchers {
				if m == nil {
					continue
				}
				if m.Name == labels.MetricName {
					if m.Type == labels.MatchEqual && m.Value == n.Name {
						continue // the selector's name, checked above
					}
					if p := matcherAdmitsForbidden(m); p != "" {
						errs = append(errs, fmt.Errorf("matcher %s can read %s* metrics: harness knowledge of the fault", m, p))
					}
					continue
				}
				forbiddenLabel(m.Name, "matcher "+m.String())
			}
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				forbiddenLabel(l, "grouping")
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range n.VectorMatching.MatchingLabels {
					forbiddenLabel(l, "vector matching")
				}
				for _, l := range n.VectorMatching.Include {
					forbiddenLabel(l, "group_left/group_right")
				}
			}
		case *parser.Call:
			if n.Func == nil {
				return nil
			}
			if wallClockFuncs[n.Func.Name] {
				wallClock = true
			}
			if n.Func.Name == "label_replace" || n.Func.Name == "label_join" {
				for _, a := range n.Args {
					if s, ok := a.(*parser.StringLiteral); ok {
						forbiddenLabel(s.Val, n.Func.Name)
					}
				}
			}
		case *parser.NumberLiteral:
			if !n.Duration && math.Abs(n.Val) > 1 {
				plainNumbers = append(plainNumbers, n.Val)
			}
		}
		return nil
	})
	if wallClock && len(plainNumbers) > 0 {
		errs = append(errs, fmt.Errorf("time(), timestamp() or predict_linear() compared with plain number(s) %v: write durations as duration literals (1h, not 3600) so that the time scale compresses them", plainNumbers))
	}
	return errs
}

// forbiddenMetric returns the forbidden prefix name starts with, or "".
func forbiddenMetric(name string) string {
	for _, p := range ForbiddenMetricPrefixes {
		if strings.HasPrefix(name, p) {
			return p
		}
	}
	return ""
}

// matcherAdmitsForbidden reports a forbidden prefix whose metrics a
// __name__ matcher (regex or negative) would select, or "".
func matcherAdmitsForbidden(m *labels.Matcher) string {
	if m.Type == labels.MatchEqual {
		return forbiddenMetric(m.Value)
	}
	for _, p := range ForbiddenMetricPrefixes {
		for _, sample := range []string{p + "x", p + "active", p + "info", p + "injected_total"} {
			if m.Matches(sample) {
				return p
			}
		}
	}
	return ""
}
