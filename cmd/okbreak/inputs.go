package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/spf13/pflag"

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

// target is the system under test as the CLI runs it.
type target struct {
	// def is what runs: a stack file's ${VAR}s interpolated.
	def stack.Definition
	// shown is what reports fingerprint and renderings write: the stack
	// file as written, no value from the environment.
	shown stack.Definition
	// file is the stack file (nil for the sample system).
	file *stackfile.File
}

// target is the stack file's system when --stack is given, else the sample
// system for dp. A bad stack file is bad input (exit 2), its errors naming
// file:line:column.
func (f inputFlags) target(dp stack.DataPlane) (target, error) {
	if f.stack == "" {
		shown, err := sample.Rendering(dp)
		if err != nil {
			return target{}, badInput("%w", err) // an unknown data plane
		}
		return target{def: sample.Definition(dp), shown: shown}, nil
	}
	sf, err := stackfile.Open(context.Background(), f.stack, os.Environ())
	if err != nil {
		return target{}, badInput("%w", err)
	}
	t := target{file: sf}
	if t.def, err = sf.Definition(); err != nil {
		return t, badInput("%w", err)
	}
	if t.shown, err = sf.Rendering(); err != nil {
		return t, badInput("%w", err)
	}
	return t, nil
}

// system is the target and its catalog and rules: --catalog and --alerts,
// else the stack file's, else the sample's.
func (f inputFlags) system(dp stack.DataPlane) (target, harness.Inputs, error) {
	t, err := f.target(dp)
	if err != nil || t.file == nil {
		in, ierr := f.inputs(dp)
		return t, in, errors.Join(err, ierr)
	}
	var in harness.Inputs
	if f.catalog == "" {
		if in, err = t.file.Inputs(); err != nil {
			return t, in, badInput("%w (or give --catalog)", err)
		}
	} else if len(f.alerts) == 0 {
		if in.Rules, err = harness.ReadRules(t.file.Rules...); err != nil {
			return t, in, badInput("%w", err)
		}
	}
	in, err = f.override(in)
	return t, in, err
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
