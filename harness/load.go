package harness

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// LoadCatalog reads and validates a catalog for one data plane: fault types,
// targets and params against the stack definition, and alert names against
// the rule files the data plane uses (common.yml plus <data plane>.yml in
// alertsDir). Errors carry file:line:column.
func LoadCatalog(path, alertsDir string, def stack.Definition) (*catalog.Catalog, []alert.RuleFile, error) {
	dp := string(def.DataPlane)
	var files []string
	for _, name := range alert.RuleFileNames(dp) {
		files = append(files, filepath.Join(alertsDir, name))
	}
	idx, err := catalog.LoadRuleIndex(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("alert rules in %s: %w", alertsDir, err)
	}
	rules, err := alert.LoadRules(os.DirFS(alertsDir), dp)
	if err != nil {
		return nil, nil, err
	}
	if errs, _ := alert.SplitFindings(alert.LintFiles(rules)); len(errs) > 0 {
		return nil, nil, fmt.Errorf("alert rules in %s fail the lint: %v", alertsDir, errs)
	}
	cat, err := catalog.Load(path, catalog.Checks{Faults: fault.Checker{Def: def}, Alerts: idx, DataPlane: dp})
	if err != nil {
		return nil, nil, err
	}
	return cat, rules, nil
}
