package catalog

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sort"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	promql "github.com/prometheus/prometheus/promql/parser"
)

// RuleIndex is the alerting rules of a set of Prometheus rule files, by
// alert name. It satisfies AlertIndex and AlertDelays. It is read-only after
// LoadRuleIndex returns, and safe for concurrent use.
type RuleIndex struct {
	rules map[string][]indexedRule
}

type indexedRule struct {
	file   string
	labels map[string]string
	for_   time.Duration
}

// LoadRuleIndex reads Prometheus rule files (strictly: unknown fields and bad
// PromQL are errors) and indexes their alerting rules, so that a catalog can
// be validated without the rule engine. A group's labels apply to its rules,
// as in Prometheus; a rule's own labels win.
func LoadRuleIndex(files ...string) (*RuleIndex, error) {
	idx := NewRuleIndex()
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule file %s: %w", f, err))
			continue
		}
		if err := idx.Add(f, b); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return idx, nil
}

// NewRuleIndex returns an empty index; Add fills it.
func NewRuleIndex() *RuleIndex { return &RuleIndex{rules: map[string][]indexedRule{}} }

// Add parses one rule file (name is for messages) and indexes its alerting
// rules. It is not safe for concurrent use; the index is read-only once
// filled.
func (x *RuleIndex) Add(name string, data []byte) error {
	groups, ferrs := rulefmt.Parse(data, false, model.UTF8Validation, promql.NewParser(promql.Options{}), slog.New(slog.DiscardHandler))
	if len(ferrs) > 0 {
		var errs []error
		for _, e := range ferrs {
			errs = append(errs, fmt.Errorf("rule file %s: %w", name, e))
		}
		return errors.Join(errs...)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			labels := maps.Clone(g.Labels)
			if labels == nil {
				labels = map[string]string{}
			}
			maps.Copy(labels, r.Labels)
			x.rules[r.Alert] = append(x.rules[r.Alert], indexedRule{file: name, labels: labels, for_: time.Duration(r.For)})
		}
	}
	return nil
}

// Lookup returns the labels every rule named name agrees on, so that an
// alert counts as paging only when each of its rules pages.
func (x *RuleIndex) Lookup(name string) (map[string]string, bool) {
	rs, ok := x.rules[name]
	if !ok {
		return nil, false
	}
	out := maps.Clone(rs[0].labels)
	for _, r := range rs[1:] {
		for k, v := range out {
			if r.labels[k] != v {
				delete(out, k)
			}
		}
	}
	return out, true
}

// Names lists every alert name, sorted.
func (x *RuleIndex) Names() []string {
	names := make([]string, 0, len(x.rules))
	for n := range x.rules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// For returns the shortest `for:` among the rules named name: the alert
// fires as soon as any of them does.
func (x *RuleIndex) For(name string) (time.Duration, bool) {
	rs, ok := x.rules[name]
	if !ok {
		return 0, false
	}
	least := rs[0].for_
	for _, r := range rs[1:] {
		least = min(least, r.for_)
	}
	return least, true
}

// Files returns the rule files that define the alert, for messages.
func (x *RuleIndex) Files(name string) []string {
	var out []string
	for _, r := range x.rules[name] {
		out = append(out, r.file)
	}
	return out
}
