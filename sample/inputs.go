package sample

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/fixtures/alerts"
	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/stack"
)

// RulesDir is where the sample's rule files live in the repository.
const RulesDir = "fixtures/alerts"

// RuleFiles are the sample's rule files for a data plane, in load order:
// common.yml for every data plane plus one per data plane (envoy.yml,
// grpc.yml), because the two export different metrics. This split is the
// sample's convention; a team's rules are any list of files.
func RuleFiles(dp stack.DataPlane) []string {
	return []string{"common.yml", string(dp) + ".yml"}
}

// Inputs are the sample system's catalog and rules for a data plane, as
// embedded in the binary: what `okbreak run` uses when given no --catalog
// or --alerts, from any folder.
func Inputs(dp stack.DataPlane) (harness.Inputs, error) {
	in := harness.Inputs{Catalog: harness.Source{Name: "embedded:" + fixtures.CatalogFile, Data: fixtures.Catalog()}}
	for _, name := range RuleFiles(dp) {
		b, err := fs.ReadFile(alerts.FS, name)
		if err != nil {
			return in, fmt.Errorf("the sample's rules for data plane %s: %w", dp, err)
		}
		in.Rules = append(in.Rules, harness.Source{Name: "embedded:" + RulesDir + "/" + name, Data: b})
	}
	return in, nil
}

// RulePaths are the sample's rule files for a data plane as paths under a
// checkout's root, for `--alerts` and tests that read them from disk.
func RulePaths(root string, dp stack.DataPlane) []string {
	var out []string
	for _, name := range RuleFiles(dp) {
		out = append(out, filepath.Join(root, RulesDir, name))
	}
	return out
}
