package alert

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Severities an alerting rule may carry in labels.severity. Only page wakes
// someone: no page may fire during an ok-to-break case.
const (
	SeverityPage    = "page"
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)

// RuleFile is one parsed Prometheus rule file.
type RuleFile struct {
	// Name identifies the file (its base name, e.g. "common.yml"); the rule
	// manager keys groups by file and group name.
	Name   string
	Groups []rulefmt.RuleGroup
}

// promqlParser is the parser every rule goes through: Prometheus's default
// options, as the rule manager uses them.
var promqlParser = parser.NewParser(parser.Options{})

// ParseRules parses and validates one rule file with Prometheus's own rule
// format code (the same checks as promtool check rules).
func ParseRules(name string, data []byte) (RuleFile, error) {
	rgs, errs := rulefmt.Parse(data, false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return RuleFile{}, fmt.Errorf("rule file %s: %w", name, errors.Join(errs...))
	}
	return RuleFile{Name: name, Groups: rgs.Groups}, nil
}

// AlertInfo describes one alerting rule, for catalogs that name alerts and
// for reports.
type AlertInfo struct {
	Name     string
	Severity string
	// Labels are the rule's static labels (severity among them).
	Labels map[string]string
	// For is the rule's production hold duration (unscaled).
	For     time.Duration
	Summary string
	File    string
	Group   string
}

// Alerts lists the alerting rules of files, sorted by name then file. A name
// may appear more than once (one rule per data-plane signal).
func Alerts(files []RuleFile) []AlertInfo {
	var out []AlertInfo
	for _, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				out = append(out, AlertInfo{
					Name: r.Alert, Severity: r.Labels["severity"], Labels: r.Labels, For: time.Duration(r.For),
					Summary: r.Annotations["summary"], File: f.Name, Group: g.Name,
				})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].File < out[j].File
	})
	return out
}

// Pages reports whether the rule carries every label of page (the
// catalog's page_label).
func (a AlertInfo) Pages(page map[string]string) bool {
	for k, v := range page {
		if a.Labels[k] != v {
			return false
		}
	}
	return len(page) > 0
}

// Groups flattens files into their rule groups.
func Groups(files []RuleFile) []rulefmt.RuleGroup {
	var out []rulefmt.RuleGroup
	for _, f := range files {
		out = append(out, f.Groups...)
	}
	return out
}
