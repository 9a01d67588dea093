// Package incidentrun runs incident files (package incident) against a
// system and judges them:
//   - an incident that is a case alone (by name or written out) runs on a
//     stack of its own and must get its class's verdict;
//   - an incident with before and after runs twice, each on a stack of its
//     own (the stack files with that configuration laid over them): before
//     must fail exactly as expect_before says, after must get the class's
//     verdict;
//   - an incident whose before and after are identical is skipped as to
//     do; one that needs another data plane is skipped with the reason.
//
// okbreaktest.RunIncidents (subtests) and `okbreak run --incidents` (the
// command line) share it, so both give the same verdicts. The judging
// (JudgeCase, Judge) is a pure function of the recorded results.
package incidentrun

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
)

// Config is what Load needs.
type Config struct {
	// Dir is the folder of incident files: in FS when FS is set, else on
	// disk.
	Dir string
	FS  fs.FS
	// StackFiles are the system's stack file and overlays, on which each
	// incident's before and after are laid; its catalog is where an
	// incident's `case:` is found and its defaults apply.
	StackFiles []string
	// Options say how the stack files are read (Options.Env: what ${VAR}s
	// see; the package never reads the process environment).
	Options stackfile.Options
	// Adjust, when set, changes each definition compiled from the stack
	// files (the sample system puts its own answer check in).
	Adjust func(*stack.Definition)
	// DataPlane is the data plane the run is on, for `requires:`; default
	// the stack file's.
	DataPlane string
	// TimeScale compresses long windows (default 240; each case caps it).
	TimeScale float64
	// CaseBudget bounds one case (0: no bound but ctx).
	CaseBudget time.Duration
	// StackOptions are passed to stack.Up, after okbreak's own.
	StackOptions []stack.Option
	// ReportDir, when set, names the report folder of one stack's run
	// (v is Alone for an incident that is a case alone); reports are
	// written there after every case and at the end.
	ReportDir func(in *incident.Incident, v incident.Variant, runID string) string
	// RuleTestDir, when set, gets a promtool rule test for each case that
	// gives its class's verdict (harness.RuleTests), in RuleTestDir/NAME
	// for an incident that is a case alone, else RuleTestDir/NAME/VARIANT.
	RuleTestDir string
}

// Suite is a folder of incidents, read and ready to run on a system.
type Suite struct {
	// Incidents are in run order: the cases alone first, then those with
	// before and after, each group sorted by name.
	Incidents []*incident.Incident
	// DataPlane is the data plane the run is on.
	DataPlane string

	cfg  Config
	base system
}

// system is what one stack runs: the definition, the same as written for
// the report, and the catalog and rules.
type system struct {
	def, shown stack.Definition
	inputs     harness.Inputs
}

// Load reads cfg's incidents and its stack files, and checks that the
// stack's catalog and rules load. Every error is bad input: an incident
// file's names its file, line and column.
func Load(ctx context.Context, cfg Config) (*Suite, error) {
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 240
	}
	ins, err := loadIncidents(cfg)
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	s := &Suite{cfg: cfg}
	for _, alone := range []bool{true, false} {
		for _, in := range ins {
			if in.HasVariants() != alone {
				s.Incidents = append(s.Incidents, in)
			}
		}
	}
	f, err := stackfile.LoadFiles(ctx, cfg.StackFiles, cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("stack file: %w", err)
	}
	if s.base, err = s.compile(f); err != nil {
		return nil, fmt.Errorf("stack file: %w", err)
	}
	if _, _, _, err := s.base.inputs.Load(s.base.def); err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	s.DataPlane = cfg.DataPlane
	if s.DataPlane == "" {
		s.DataPlane = string(s.base.def.DataPlane)
	}
	return s, nil
}

func loadIncidents(cfg Config) ([]*incident.Incident, error) {
	if cfg.FS != nil {
		return incident.LoadFS(cfg.FS, cfg.Dir)
	}
	return incident.LoadDir(cfg.Dir)
}

// Names are the incidents' names, in run order.
func (s *Suite) Names() []string {
	out := make([]string, len(s.Incidents))
	for i, in := range s.Incidents {
		out[i] = in.Name
	}
	return out
}

// Skip says why in does not run here ("" when it runs): its before and
// after are still identical (to do), or it needs another data plane.
func (s *Suite) Skip(in *incident.Incident) string {
	if in.Identical() {
		return "to do: before and after are identical"
	}
	for _, r := range in.Requires {
		if r != s.DataPlane {
			return fmt.Sprintf("incident %s needs the %s data plane (this run uses %s)", in.Name, r, s.DataPlane)
		}
	}
	return ""
}

// Check reads every configuration of in and its cases as a run would,
// without Docker, so that a mistake costs no stack: errors name the
// incident file's lines. An incident that Skip skips is not checked.
func (s *Suite) Check(ctx context.Context, in *incident.Incident) error {
	if s.Skip(in) != "" {
		return nil
	}
	for _, v := range Variants(in) {
		if _, err := s.prepare(ctx, in, v); err != nil {
			return err
		}
	}
	return nil
}

// prepared is one variant of an incident, ready to bring up and run.
type prepared struct {
	sys      system
	cat      *catalog.Catalog
	rules    []alert.RuleFile
	warnings []error
	cases    []catalog.Case
}

// prepare compiles the stack files with v laid over them (the stack files
// as they are for Alone), loads its catalog and rules, and finds the
// incident's cases in them.
func (s *Suite) prepare(ctx context.Context, in *incident.Incident, v incident.Variant) (prepared, error) {
	var p prepared
	p.sys = s.base
	if v != Alone {
		// incident.Stack's errors name the incident and the variant.
		f, err := in.Stack(ctx, v, s.cfg.StackFiles, s.cfg.Options)
		if err != nil {
			return p, err
		}
		if p.sys, err = s.compile(f); err != nil {
			return p, wrap(in, v, err)
		}
	}
	var err error
	p.cat, p.rules, p.warnings, err = p.sys.inputs.Load(p.sys.def)
	if err != nil {
		return p, wrap(in, v, fmt.Errorf("inputs: %w", err))
	}
	if p.cases, err = casesOf(in, p.cat, p.sys); err != nil {
		return p, wrap(in, v, err)
	}
	return p, nil
}

func wrap(in *incident.Incident, v incident.Variant, err error) error {
	if v == Alone {
		return fmt.Errorf("incident %s: %w", in.Name, err)
	}
	return fmt.Errorf("incident %s, %s: %w", in.Name, v, err)
}

// compile turns a stack file into what runs, what the report shows, and
// its catalog and rules.
func (s *Suite) compile(f *stackfile.File) (system, error) {
	var sys system
	var err error
	if sys.def, err = f.Definition(); err != nil {
		return sys, err
	}
	if sys.shown, err = f.Rendering(); err != nil {
		return sys, err
	}
	if s.cfg.Adjust != nil {
		s.cfg.Adjust(&sys.def)
		s.cfg.Adjust(&sys.shown)
	}
	if sys.inputs, err = f.Inputs(); err != nil {
		return sys, err
	}
	return sys, nil
}

// casesOf are the incident's cases, checked against the system: a catalog
// case by name, or its own cases with the catalog's defaults.
func casesOf(in *incident.Incident, cat *catalog.Catalog, sys system) ([]catalog.Case, error) {
	if in.Case != "" {
		k, ok := cat.Case(in.Case)
		if !ok {
			return nil, fmt.Errorf("%s: case %q is not in the catalog %s", in.Path, in.Case, cat.File)
		}
		return []catalog.Case{k}, nil
	}
	return sys.inputs.ValidateCases(sys.def, in.Path, in.Cases, cat.Defaults)
}

// notRun are the names of cases that have no outcome.
func notRun(cases []catalog.Case, ran []CaseOutcome) []string {
	var out []string
	for _, c := range cases {
		if !slices.ContainsFunc(ran, func(co CaseOutcome) bool { return co.Case.Name == c.Name }) {
			out = append(out, c.Name)
		}
	}
	return out
}
