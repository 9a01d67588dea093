package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// FaultChecker lets the catalog validator check faults against the fault
// registry and a stack definition, without a running stack. Safe for
// concurrent use.
type FaultChecker struct {
	Def stack.Definition
}

// Types lists the registered fault types.
func (c FaultChecker) Types() []string {
	var out []string
	for _, t := range fault.Types() {
		out = append(out, t.Name)
	}
	return out
}

// Targets lists what a fault of the type may target in the stack.
func (c FaultChecker) Targets(typ string) []string {
	for _, t := range fault.Types() {
		if t.Name == typ && t.Targets != nil {
			ts := t.Targets(c.Def)
			sort.Strings(ts)
			return ts
		}
	}
	return nil
}

// Check validates one fault against one target, params included.
func (c FaultChecker) Check(typ, target string, params map[string]any) error {
	return fault.Validate(fault.Spec{Type: typ, Target: target, Params: params}, c.Def)
}

// LoadCatalog reads and validates a catalog for one data plane: fault types,
// targets and params against the stack definition, and alert names against
// the rule files the data plane uses (common.yml plus <data plane>.yml in
// alertsDir). Errors carry file:line:column.
func LoadCatalog(path, alertsDir string, def stack.Definition) (*catalog.Catalog, []alert.RuleFile, error) {
	dp := string(def.DataPlane)
	files := []string{filepath.Join(alertsDir, alert.CommonRuleFile), filepath.Join(alertsDir, dp+".yml")}
	idx, err := catalog.LoadRuleIndex(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("alert rules in %s: %w", alertsDir, err)
	}
	rules, err := alert.LoadRules(os.DirFS(alertsDir), dp)
	if err != nil {
		return nil, nil, err
	}
	if errs := alert.LintFiles(rules); len(errs) > 0 {
		return nil, nil, fmt.Errorf("alert rules in %s fail the lint: %v", alertsDir, errs)
	}
	cat, err := catalog.Load(path, catalog.Checks{Faults: FaultChecker{Def: def}, Alerts: idx, DataPlane: dp})
	if err != nil {
		return nil, nil, err
	}
	return cat, rules, nil
}
