package alert

import (
	"errors"
	"fmt"
	"io/fs"
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

// CommonRuleFile is the rule file loaded for every data plane; the data
// plane's own file is "<data plane>.yml" (envoy.yml, grpc.yml).
const CommonRuleFile = "common.yml"

// RuleFileNames are the rule files a data plane loads, in load order:
// common.yml, then "<data plane>.yml".
func RuleFileNames(dataPlane string) []string {
	return []string{CommonRuleFile, dataPlane + ".yml"}
}

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

// LoadRules reads common.yml and "<dataPlane>.yml" from fsys (the embedded
// fixtures/alerts, or a directory of the team's own rules).
func LoadRules(fsys fs.FS, dataPlane string) ([]RuleFile, error) {
	if dataPlane == "" {
		return nil, errors.New("load rules: no data plane given")
	}
	var files []RuleFile
	for _, name := range RuleFileNames(dataPlane) {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("load rules for data plane %s: %w", dataPlane, err)
		}
		f, err := ParseRules(name, b)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
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
