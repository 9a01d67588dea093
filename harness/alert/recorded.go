package alert

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Series is one recorded time series: its labels and its samples in time
// order, at real (scaled) time. A Prometheus staleness marker is kept as
// the StaleNaN value it is stored as.
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Sample is one scraped value.
type Sample struct {
	T time.Time
	V float64
}

// Recorded returns every scraped series the rules' selectors read, with
// its samples between from and to: what a rule test needs to replay the
// case (package ruletest), and no more. Series the rules write themselves
// (recording rules' outputs, ALERTS, ALERTS_FOR_STATE) are left out: a
// replay computes them again, and recorded ones would stand in for a rule
// that is gone. Series come sorted by their labels. It fails before Start
// and after Stop.
func (s *Session) Recorded(ctx context.Context, from, to time.Time) ([]Series, error) {
	sets, err := ruleSelectors(s.scaled)
	if err != nil {
		return nil, fmt.Errorf("alert session: recorded series: %w", err)
	}
	written := writtenByRules(s.scaled)
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return nil, errors.New("alert session: recorded series: session not running")
	}
	q, err := s.db.Querier(from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("alert session: recorded series: %w", err)
	}
	defer q.Close()
	byKey := map[string]Series{}
	for _, ms := range sets {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("alert session: recorded series: %w", err)
		}
		ss := q.Select(ctx, false, nil, ms...)
		for ss.Next() {
			ls := ss.At().Labels()
			if written[ls.Get(labels.MetricName)] {
				continue
			}
			key := ls.String()
			if _, ok := byKey[key]; ok {
				continue
			}
			byKey[key] = Series{Labels: ls.Map(), Samples: samples(ss.At())}
		}
		if err := ss.Err(); err != nil {
			return nil, fmt.Errorf("alert session: recorded series: %w", err)
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Series, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out, nil
}

// samples reads a series' float samples (the scraper writes no histograms).
func samples(s interface {
	Iterator(chunkenc.Iterator) chunkenc.Iterator
}) []Sample {
	var out []Sample
	it := s.Iterator(nil)
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		if vt != chunkenc.ValFloat {
			continue
		}
		t, v := it.At()
		out = append(out, Sample{T: time.UnixMilli(t), V: v})
	}
	return out
}

// writtenByRules names the series the rule manager writes: each recording
// rule's, and the alerts' own.
func writtenByRules(files []RuleFile) map[string]bool {
	out := map[string]bool{"ALERTS": true, "ALERTS_FOR_STATE": true}
	for _, g := range Groups(files) {
		for _, r := range g.Rules {
			if r.Record != "" {
				out[r.Record] = true
			}
		}
	}
	return out
}

// ruleSelectors lists the label matchers of every vector selector in the
// rules' expressions, each selector once.
func ruleSelectors(files []RuleFile) ([][]*labels.Matcher, error) {
	seen := map[string]bool{}
	var out [][]*labels.Matcher
	for _, g := range Groups(files) {
		for _, r := range g.Rules {
			expr, err := promqlParser.ParseExpr(r.Expr)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", ruleName(r), err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				key := vs.String()
				if !seen[key] {
					seen[key] = true
					out = append(out, vs.LabelMatchers)
				}
				return nil
			})
		}
	}
	return out, nil
}
