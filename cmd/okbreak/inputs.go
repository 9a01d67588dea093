package main

import (
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// inputFlags are --catalog and --alerts. Left out, each means the sample
// system's own, embedded in the binary, so that okbreak works from any
// folder.
type inputFlags struct {
	catalog string
	alerts  []string
}

func (f *inputFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.catalog, "catalog", "", "catalog file (default: the sample system's catalog, embedded)")
	fs.StringArrayVar(&f.alerts, "alerts", nil, "alert rule file, folder (every .yml/.yaml in it) or glob; repeat for more (default: the sample system's rules for the data plane, embedded)")
}

// inputs reads the catalog and rules for a data plane; bad paths are bad
// input (exit 2).
func (f inputFlags) inputs(dp stack.DataPlane) (harness.Inputs, error) {
	def, err := sample.Inputs(dp)
	if err != nil {
		return def, err
	}
	if f.catalog == "" && len(f.alerts) == 0 {
		return def, nil
	}
	in := def
	if f.catalog != "" {
		b, err := os.ReadFile(f.catalog)
		if err != nil {
			return in, badInput("catalog: %w", err)
		}
		in.Catalog = harness.Source{Name: f.catalog, Data: b}
	}
	if len(f.alerts) > 0 {
		read, err := harness.ReadRules(f.alerts...)
		if err != nil {
			return in, badInput("%w", err)
		}
		in.Rules = read
	}
	return in, nil
}

// describe names the inputs for humans.
func (f inputFlags) describe() string {
	c := f.catalog
	if c == "" {
		c = "the embedded catalog"
	}
	if len(f.alerts) == 0 {
		return c + " and the embedded rules"
	}
	return c + " and " + strings.Join(f.alerts, ", ")
}
