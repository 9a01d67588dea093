package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// Source is one input file: a name for messages (a path as given, or
// "embedded:<path>") and its content.
type Source struct {
	Name string
	Data []byte
}

// Inputs are what a run judges by: a catalog and the alert rule files, as
// read from disk (ReadInputs) or embedded (the sample system's defaults).
type Inputs struct {
	Catalog Source
	Rules   []Source
}

// ReadInputs reads a catalog file and the alert rules at rulePaths, each a
// rule file, a folder (every .yml and .yaml file in it, sorted) or a glob.
// Every path must yield at least one file, and no file is read twice.
func ReadInputs(catalogPath string, rulePaths ...string) (Inputs, error) {
	var in Inputs
	b, err := os.ReadFile(catalogPath)
	if err != nil {
		return in, fmt.Errorf("catalog: %w", err)
	}
	in.Catalog = Source{Name: catalogPath, Data: b}
	in.Rules, err = ReadRules(rulePaths...)
	return in, err
}

// ReadRules reads the alert rules at paths, as ReadInputs does.
func ReadRules(paths ...string) ([]Source, error) {
	files, err := ruleFiles(paths)
	if err != nil {
		return nil, err
	}
	var out []Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("alert rules: %w", err)
		}
		out = append(out, Source{Name: f, Data: b})
	}
	return out, nil
}

// ruleFiles expands files, folders and globs into rule files.
func ruleFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("alert rules: no file, folder or glob given")
	}
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		key, err := filepath.Abs(f)
		if err != nil {
			key = filepath.Clean(f)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, f)
		}
	}
	for _, p := range paths {
		matches := []string{p}
		if strings.ContainsAny(p, "*?[") {
			all, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("alert rules %q: bad glob: %w", p, err)
			}
			// A glob such as rules/* means the rule files among what it
			// matches, not a README beside them or a folder below.
			matches = nil
			for _, m := range all {
				if st, err := os.Stat(m); err == nil && !st.IsDir() && isRuleFile(m) {
					matches = append(matches, m)
				}
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("alert rules %q: the glob matches no .yml or .yaml file", p)
			}
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, fmt.Errorf("alert rules: %w", err)
			}
			if !st.IsDir() {
				add(m)
				continue
			}
			n := 0
			err = fs.WalkDir(os.DirFS(m), ".", func(name string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && name != "." {
					return fs.SkipDir // a folder means its own rule files
				}
				if !d.IsDir() && isRuleFile(name) {
					add(filepath.Join(m, name))
					n++
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("alert rules %s: %w", m, err)
			}
			if n == 0 {
				return nil, fmt.Errorf("alert rules %s: a folder with no .yml or .yaml file", m)
			}
		}
	}
	return out, nil
}

func isRuleFile(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".yml" || ext == ".yaml"
}

// Load parses and validates the inputs for a system: the rule files with
// Prometheus's own checks and the lint (a rule that reads the harness's
// knowledge or cannot be time-scaled is an error; style is a warning, in
// the second result), then the catalog against the definition's faults and
// the rules' alerts. Errors carry file:line:column.
func (in Inputs) Load(def stack.Definition) (*catalog.Catalog, []alert.RuleFile, []error, error) {
	idx := catalog.NewRuleIndex()
	var rules []alert.RuleFile
	var errs []error
	for _, src := range in.Rules {
		if err := idx.Add(src.Name, src.Data); err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := alert.ParseRules(src.Name, src.Data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, f)
	}
	if len(errs) > 0 {
		return nil, nil, nil, errors.Join(errs...)
	}
	cat, err := catalog.LoadData(in.Catalog.Name, in.Catalog.Data, checks(def, idx))
	page := catalog.BuiltinDefaults().PageLabels
	if cat != nil {
		page = cat.Defaults.PageLabels
	}
	lintErrs, warnings := alert.SplitFindings(alert.LintFiles(rules, page))
	if len(lintErrs) > 0 {
		err = errors.Join(err, fmt.Errorf("alert rules fail the lint: %w", errors.Join(lintErrs...)))
	}
	if err != nil {
		return nil, nil, warnings, err
	}
	return cat, rules, warnings, nil
}

func checks(def stack.Definition, idx *catalog.RuleIndex) catalog.Checks {
	return catalog.Checks{Faults: fault.Checker{Def: def}, Alerts: idx, DataPlane: string(def.DataPlane)}
}

// ValidateCases checks cases written outside the catalog (an incident's)
// as Load checks the catalog's: their faults against the system, their
// alerts against the rules, with the catalog's defaults d. It returns them
// with their targets' globs expanded; errors name file:line:column.
func (in Inputs) ValidateCases(def stack.Definition, file string, cases []catalog.Case, d catalog.Defaults) ([]catalog.Case, error) {
	idx := catalog.NewRuleIndex()
	for _, src := range in.Rules {
		if err := idx.Add(src.Name, src.Data); err != nil {
			return nil, err
		}
	}
	c := &catalog.Catalog{File: file, Cases: slices.Clone(cases), Defaults: d}
	if err := c.Validate(checks(def, idx)); err != nil {
		return nil, err
	}
	return c.Cases, nil
}
