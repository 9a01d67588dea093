package alert

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// ScaleRules returns copies of groups compressed by the time scale factor:
// each rule's for: and keep_firing_for:, the group's interval and
// query_offset, and, inside every expression, each range selector, subquery
// range and step, offset, and duration literal (`> 1h`) are divided by
// factor. Expressions are rewritten on Prometheus's own syntax tree and
// printed back, never edited as text.
//
// Floors (documented so that a verdict can be trusted): a range selector or
// subquery range keeps at least as many scrapes as it had in production, up
// to two (see Timing); that only bites once the scrape interval reaches its
// 250 ms minimum, i.e. beyond MaxFactor. A subquery step is at least one
// scrape interval and a group interval at least MinEvalInterval. Holds
// (for:) and offsets are never floored: for: 0 stays 0.
//
// Expressions that cannot be scaled faithfully are errors: duration
// arithmetic (`[5m + 1m]`) and `@` timestamps.
func ScaleRules(groups []rulefmt.RuleGroup, factor float64) ([]rulefmt.RuleGroup, error) {
	tm, err := TimingFor(factor)
	if err != nil {
		return nil, err
	}
	out := make([]rulefmt.RuleGroup, 0, len(groups))
	var errs []error
	for _, g := range groups {
		ng := g
		if g.Interval != 0 {
			ng.Interval = model.Duration(max(tm.Scale(time.Duration(g.Interval)), MinEvalInterval))
		}
		if g.QueryOffset != nil {
			qo := model.Duration(tm.Scale(time.Duration(*g.QueryOffset)))
			ng.QueryOffset = &qo
		}
		ng.Rules = make([]rulefmt.Rule, 0, len(g.Rules))
		for _, r := range g.Rules {
			nr := r
			nr.For = model.Duration(tm.Scale(time.Duration(r.For)))
			nr.KeepFiringFor = model.Duration(tm.Scale(time.Duration(r.KeepFiringFor)))
			expr, err := scaleExpr(r.Expr, tm)
			if err != nil {
				errs = append(errs, fmt.Errorf("group %q, rule %q: %w", g.Name, ruleName(r), err))
				continue
			}
			nr.Expr = expr
			ng.Rules = append(ng.Rules, nr)
		}
		out = append(out, ng)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("scale rules by %v: %w", factor, errors.Join(errs...))
	}
	return out, nil
}

// ScaleFiles applies ScaleRules to every file.
func ScaleFiles(files []RuleFile, factor float64) ([]RuleFile, error) {
	out := make([]RuleFile, 0, len(files))
	for _, f := range files {
		gs, err := ScaleRules(f.Groups, factor)
		if err != nil {
			return nil, fmt.Errorf("rule file %s: %w", f.Name, err)
		}
		out = append(out, RuleFile{Name: f.Name, Groups: gs})
	}
	return out, nil
}

// ScaleExpr rewrites one PromQL expression as ScaleRules does.
func ScaleExpr(expr string, factor float64) (string, error) {
	tm, err := TimingFor(factor)
	if err != nil {
		return "", err
	}
	return scaleExpr(expr, tm)
}

func scaleExpr(src string, tm Timing) (string, error) {
	expr, err := promqlParser.ParseExpr(src)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", src, err)
	}
	var serr error
	fail := func(format string, args ...any) error {
		serr = fmt.Errorf("cannot time-scale %q: "+format, append([]any{src}, args...)...)
		return serr
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			if n.RangeExpr != nil {
				return fail("duration arithmetic in range %s; write a plain duration", n.RangeExpr)
			}
			n.Range = max(tm.Scale(n.Range), tm.minRange(n.Range))
		case *parser.SubqueryExpr:
			if n.RangeExpr != nil || n.StepExpr != nil || n.OriginalOffsetExpr != nil {
				return fail("duration arithmetic in a subquery; write plain durations")
			}
			if n.Timestamp != nil {
				return fail("@ timestamp in a subquery pins it to a production instant")
			}
			n.Range = max(tm.Scale(n.Range), tm.minRange(n.Range))
			if n.Step != 0 {
				n.Step = max(tm.Scale(n.Step), tm.ScrapeInterval)
			}
			n.OriginalOffset = tm.Scale(n.OriginalOffset)
			n.Offset = n.OriginalOffset
		case *parser.VectorSelector:
			if n.OriginalOffsetExpr != nil {
				return fail("duration arithmetic in offset %s; write a plain duration", n.OriginalOffsetExpr)
			}
			if n.Timestamp != nil {
				return fail("@ timestamp pins %s to a production instant", n.Name)
			}
			n.OriginalOffset = tm.Scale(n.OriginalOffset)
			n.Offset = n.OriginalOffset
		case *parser.NumberLiteral:
			// Only literals written as durations (`time() - x > 1h`) are
			// durations; a plain number may be anything.
			if n.Duration {
				n.Val = tm.Scale(time.Duration(n.Val * float64(time.Second))).Seconds()
			}
		}
		return serr
	})
	if serr != nil {
		return "", serr
	}
	return expr.String(), nil
}

// MaxFactor is the largest time scale at which ScaleRules floors no range
// selector of groups: beyond it the scrape interval is pinned at
// MinScrapeInterval and the shortest windows would hold too few scrapes. It
// is at least ProductionScrapeInterval/MinScrapeInterval (60), and +Inf when
// no rule has a range. Callers cap a case's factor with it so that the
// ratios between a rule's windows hold.
func MaxFactor(groups []rulefmt.RuleGroup) (float64, error) {
	base := float64(ProductionScrapeInterval) / float64(MinScrapeInterval)
	best := math.Inf(1)
	for _, g := range groups {
		for _, r := range g.Rules {
			expr, err := promqlParser.ParseExpr(r.Expr)
			if err != nil {
				return 0, fmt.Errorf("group %q, rule %q: parse: %w", g.Name, ruleName(r), err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				var w time.Duration
				switch n := n.(type) {
				case *parser.MatrixSelector:
					w = n.Range
				case *parser.SubqueryExpr:
					w = n.Range
				default:
					return nil
				}
				samples := math.Min(float64(w)/float64(ProductionScrapeInterval), 2)
				if samples <= 0 {
					return nil
				}
				best = math.Min(best, float64(w)/(samples*float64(MinScrapeInterval)))
				return nil
			})
		}
	}
	return math.Max(base, best), nil
}

func ruleName(r rulefmt.Rule) string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// Marshal writes the file as a Prometheus rule file (for a real Prometheus
// that evaluates the rules as ScaleFiles rewrote them).
func (f RuleFile) Marshal() ([]byte, error) {
	b, err := yaml.Marshal(rulefmt.RuleGroups{Groups: f.Groups})
	if err != nil {
		return nil, fmt.Errorf("rule file %s: %w", f.Name, err)
	}
	return b, nil
}
