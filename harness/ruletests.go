package harness

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/ruletest"
)

// RuleTests asks the runner for a `promtool test rules` file per case
// whose verdict is its class's (package ruletest): the team's rules checked
// against what the case recorded, without Docker.
type RuleTests struct {
	// Dir receives <case>.rules_test.yml; it is created when missing.
	Dir string
	// Rules are the rule files as read, the runner's Rules in the same
	// order. A test names a file on disk by its path relative to Dir, as
	// written; one with no file on disk (embedded) is copied, unchanged,
	// under Dir/rules.
	Rules []Source
}

// writeRuleTest writes the case's rule test when asked and the verdict is
// the class's; a failure to write never changes the verdict, it is logged
// and kept in the result.
func (k *caseRun) writeRuleTest(ctx context.Context) {
	rt := k.r.RuleTests
	if rt == nil || k.res.Verdict != Expected(k.c.Class) {
		return
	}
	path, err := k.buildRuleTest(ctx, rt)
	if err != nil {
		k.res.RuleTestError = err.Error()
		k.r.logf("%s: rule test not written: %v", k.c.Name, err)
		return
	}
	k.res.RuleTest = filepath.Base(path)
	k.r.logf("%s: rule test %s", k.c.Name, path)
}

func (k *caseRun) buildRuleTest(ctx context.Context, rt *RuleTests) (string, error) {
	rec, ok := k.sess.(interface {
		Recorded(ctx context.Context, from, to time.Time) ([]alert.Series, error)
	})
	if !ok {
		return "", fmt.Errorf("rule tests need the series the rules read: the embedded rule engine records them, %T does not", k.sess)
	}
	series, err := rec.Recorded(ctx, k.start, k.end)
	if err != nil {
		return "", err
	}
	refs, err := ruleRefs(rt)
	if err != nil {
		return "", err
	}
	in := ruletest.Input{
		Case: k.c.Name, Rules: k.r.Rules, RuleFiles: refs, Series: series,
		Start: k.start, Inject: k.inject, End: k.end, Factor: k.plan.Scale,
	}
	if k.c.Class == catalog.NotOK {
		// The alerts the judge counted: fired within the detection window.
		for _, a := range k.c.Expect.Alerts.Names {
			if _, ok := firedInWindow(k.res.Timeline, a, k.inject, k.faultEnd); ok {
				in.Fire = append(in.Fire, a)
			}
		}
	} else {
		in.Absent = pageAlerts(k.r.Rules, k.r.Defaults.PageLabels)
		in.PageLabels = k.r.Defaults.PageLabels
	}
	f, err := ruletest.Build(ctx, in)
	if err != nil {
		return "", err
	}
	b, err := f.Marshal(fmt.Sprintf("promtool test rules for okbreak case %s (%s), written by okbreak from\nwhat the case recorded on %s; run: promtool test rules %s",
		k.c.Name, k.c.Class, k.start.UTC().Format("2006-01-02"), ruleTestName(k.c.Name)))
	if err != nil {
		return "", err
	}
	path := filepath.Join(rt.Dir, ruleTestName(k.c.Name))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("rule test: %w", err)
	}
	return path, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func ruleTestName(caseName string) string {
	return unsafeName.ReplaceAllString(caseName, "_") + ".rules_test.yml"
}

// pageAlerts lists, once each, the alerts whose rule pages: its labels
// over its group's carry every page label. (An alert that pages through a
// templated label is caught by the replay's scan of every firing instance,
// not listed here.)
func pageAlerts(files []alert.RuleFile, page map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range alert.Groups(files) {
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] || !pages(g.Labels, r.Labels, page) {
				continue
			}
			seen[r.Alert] = true
			out = append(out, r.Alert)
		}
	}
	return out
}

func pages(group, rule, page map[string]string) bool {
	for k, v := range page {
		got, ok := rule[k]
		if !ok {
			got = group[k]
		}
		if got != v {
			return false
		}
	}
	return len(page) > 0
}

// ruleRefs returns how a test in rt.Dir names each rule file: its path
// relative to Dir when it is a file on disk, else a copy under Dir/rules.
func ruleRefs(rt *RuleTests) ([]string, error) {
	if err := os.MkdirAll(rt.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("rule test: %w", err)
	}
	dir, err := filepath.Abs(rt.Dir)
	if err != nil {
		return nil, fmt.Errorf("rule test: %w", err)
	}
	refs := make([]string, 0, len(rt.Rules))
	for _, src := range rt.Rules {
		if st, err := os.Stat(src.Name); err == nil && st.Mode().IsRegular() {
			abs, err := filepath.Abs(src.Name)
			if err == nil {
				if rel, err := filepath.Rel(dir, abs); err == nil {
					refs = append(refs, filepath.ToSlash(rel))
					continue
				}
			}
		}
		name := "rules/" + unsafeName.ReplaceAllString(path.Base(filepath.ToSlash(src.Name)), "_")
		if slices.Contains(refs, name) {
			name = fmt.Sprintf("rules/%d-%s", len(refs), name[len("rules/"):])
		}
		if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
			return nil, fmt.Errorf("rule test: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), src.Data, 0o644); err != nil {
			return nil, fmt.Errorf("rule test: %w", err)
		}
		refs = append(refs, name)
	}
	return refs, nil
}
