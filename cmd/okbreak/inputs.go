package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/sample"
)

// inputFlags are --catalog and --alerts. Left out, each means the sample
// system's own, embedded in the binary, so that okbreak works from any
// folder.
type inputFlags struct {
	stack   string
	catalog string
	alerts  []string
}

func (f *inputFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.stack, "stack", "", "stack file: a Compose file with an x-okbreak block describing your own system (default: the sample system); its catalog and rules are the defaults of --catalog and --alerts")
	fs.StringVar(&f.catalog, "catalog", "", "catalog file (default: the sample system's catalog, embedded)")
	fs.StringArrayVar(&f.alerts, "alerts", nil, "alert rule file, folder (every .yml/.yaml in it) or glob; repeat for more (default: the sample system's rules for the data plane, embedded)")
}

// system is the system under test and its inputs: the stack file's when
// --stack is given, else the sample system for dp. A bad stack file is bad
// input (exit 2), its errors naming file:line:column.
func (f inputFlags) system(dp stack.DataPlane) (stack.Definition, harness.Inputs, error) {
	if f.stack == "" {
		in, err := f.inputs(dp)
		return sample.Definition(dp, fixtures.EnvoyBootstrap()), in, err
	}
	sf, err := loadStackFile(f.stack)
	if err != nil {
		return stack.Definition{}, harness.Inputs{}, err
	}
	def, err := sf.Definition()
	if err != nil {
		return def, harness.Inputs{}, badInput("%w", err)
	}
	var in harness.Inputs
	if f.catalog == "" || len(f.alerts) == 0 {
		if in, err = sf.Inputs(); err != nil {
			return def, in, badInput("%w", err)
		}
	}
	in, err = f.override(in)
	return def, in, err
}

// loadStackFile reads a stack file, its ${VAR}s seeing the environment and
// a .env beside it; any problem is bad input (exit 2).
func loadStackFile(path string) (*stackfile.File, error) {
	env, err := stackfile.DotEnv(filepath.Dir(path), stackfile.EnvMap(os.Environ()))
	if err != nil {
		return nil, badInput("%w", err)
	}
	sf, err := stackfile.Load(context.Background(), path, stackfile.Options{Env: env})
	if err != nil {
		return nil, badInput("%w", err)
	}
	return sf, nil
}

// inputs reads the catalog and rules for a data plane; bad paths are bad
// input (exit 2).
func (f inputFlags) inputs(dp stack.DataPlane) (harness.Inputs, error) {
	def, err := sample.Inputs(dp)
	if err != nil {
		return def, err
	}
	return f.override(def)
}

// override replaces def's catalog and rules with --catalog and --alerts,
// where given.
func (f inputFlags) override(def harness.Inputs) (harness.Inputs, error) {
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
	if f.stack != "" && f.catalog == "" && len(f.alerts) == 0 {
		return f.stack + " with its catalog and rules"
	}
	c := f.catalog
	switch {
	case c == "" && f.stack != "":
		c = "the catalog of " + f.stack
	case c == "":
		c = "the embedded catalog"
	}
	if len(f.alerts) == 0 && f.stack != "" {
		return c + " and the rules of " + f.stack
	}
	if len(f.alerts) == 0 {
		return c + " and the embedded rules"
	}
	return c + " and " + strings.Join(f.alerts, ", ")
}
