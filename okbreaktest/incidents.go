package okbreaktest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
)

// Incidents is what RunIncidents needs.
//
//	func TestIncidents(t *testing.T) {
//		okbreaktest.RunIncidents(t, okbreaktest.Incidents{StackFiles: []string{"stack.yaml"}, Dir: "incidents"})
//	}
type Incidents struct {
	// Dir is the folder of incident files (in Options.FS when set).
	Dir string
	// StackFiles are the system's stack file and overlays, on which each
	// incident's before and after are laid; its catalog is where an
	// incident's `case:` is found and its defaults apply.
	StackFiles []string
	// Options say how the stack files are read. Without FS and Env, ${VAR}s
	// see the process environment and a .env beside the first file.
	Options stackfile.Options
	// Adjust, when set, changes each definition compiled from the stack
	// files (the sample system puts its own answer check in).
	Adjust func(*stack.Definition)
	// DataPlane is the data plane the run is on, for `requires:`; default
	// the stack file's.
	DataPlane  string
	TimeScale  float64
	ReportDir  string
	CaseBudget time.Duration
	// StackOptions are passed to stack.Up.
	StackOptions []stack.Option
}

// RunIncidents runs every incident of cfg.Dir as subtests of t, named
// after the incident:
//   - an incident that is a case alone (by name or written out) runs on a
//     stack of its own, and must get its class's verdict;
//   - an incident with before and after runs twice, each on a stack of its
//     own (the stack files with that configuration laid over them):
//     before must fail exactly as expect_before says, after must get the
//     class's verdict; both results are in the message when either is
//     wrong;
//   - an incident whose before and after are identical is skipped as to
//     do; one that needs another data plane is skipped with the reason.
func RunIncidents(t *testing.T, cfg Incidents) {
	t.Helper()
	c := common{TimeScale: cfg.TimeScale, ReportDir: cfg.ReportDir, CaseBudget: cfg.CaseBudget, StackOptions: cfg.StackOptions}
	c.setDefaults()
	ctx := context.Background()
	ins, err := cfg.load()
	if err != nil {
		t.Fatalf("okbreak incidents: %v", err)
	}
	base, err := cfg.system(ctx, nil)
	if err != nil {
		t.Fatalf("okbreak stack file: %v", err)
	}
	dp := cfg.DataPlane
	if dp == "" {
		dp = string(base.def.DataPlane)
	}
	cat, _, _, err := base.inputs.Load(base.def)
	if err != nil {
		t.Fatalf("okbreak inputs: %v", err)
	}
	for _, in := range ins {
		if in.HasVariants() {
			continue
		}
		// A stack each: `-run TestIncidents/NAME` brings up only NAME's.
		t.Run(in.Name, func(t *testing.T) {
			if why := skipReason(in, dp); why != "" {
				t.Skip(why)
			}
			cases, err := casesOf(in, cat, base)
			if err != nil {
				t.Fatal(err)
			}
			_, s := start(t, base, c)
			s.run(t, cases, classVerdict)
		})
	}
	for _, in := range ins {
		if !in.HasVariants() {
			continue
		}
		t.Run(in.Name, func(t *testing.T) {
			switch {
			case in.Identical():
				t.Skip("to do: before and after are identical")
			case skipReason(in, dp) != "":
				t.Skip(skipReason(in, dp))
			}
			cfg.runVariants(t, ctx, in, c)
		})
	}
}

// runVariants runs an incident's cases under before, then under after.
func (cfg Incidents) runVariants(t *testing.T, ctx context.Context, in *incident.Incident, c common) {
	t.Helper()
	var outcomes []string // every case's result under each configuration
	failed := false
	for _, v := range []incident.Variant{incident.Before, incident.After} {
		ok := t.Run(string(v), func(t *testing.T) {
			o, err := in.Overlay(v)
			if err != nil {
				t.Fatal(err)
			}
			sys, err := cfg.system(ctx, &o)
			if err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			cat, s := start(t, sys, c)
			cases, err := casesOf(in, cat, sys)
			if err != nil {
				t.Fatal(err)
			}
			s.run(t, cases, func(t *testing.T, k catalog.Case, res harness.Result, dir string) {
				t.Helper()
				outcomes = append(outcomes, fmt.Sprintf("%s, %s: %s (%s), report %s", v, k.Name, res.Verdict, res.Reason, dir))
				if v == incident.After {
					classVerdict(t, k, res, dir)
					return
				}
				if ok, why := incident.Reproduced(*in.ExpectBefore, k, cat.Defaults, res); !ok {
					t.Errorf("before did not fail as the incident did (%s): %s\nreport: %s", in.ExpectBefore, why, dir)
				} else {
					t.Logf("before reproduced the incident: %s", why)
				}
			})
		})
		failed = failed || !ok
	}
	if failed {
		t.Errorf("incident %s: before must fail with %s and after get the class's verdict; got:\n  %s",
			in.Name, in.ExpectBefore, strings.Join(outcomes, "\n  "))
	}
}

// system compiles the stack files, with an overlay laid over them when
// given, to what runs and its inputs.
func (cfg Incidents) system(ctx context.Context, o *stackfile.Overlay) (system, error) {
	opts := cfg.Options
	if opts.FS == nil && opts.Env == nil && len(cfg.StackFiles) > 0 {
		env, err := stackfile.DotEnv(filepath.Dir(cfg.StackFiles[0]), stackfile.EnvMap(os.Environ()))
		if err != nil {
			return system{}, err
		}
		opts.Env = env
	}
	var overlays []stackfile.Overlay
	if o != nil {
		overlays = append(overlays, *o)
	}
	f, err := stackfile.LoadWith(ctx, cfg.StackFiles, overlays, opts)
	if err != nil {
		return system{}, err
	}
	var sys system
	if sys.def, err = f.Definition(); err != nil {
		return sys, err
	}
	if sys.shown, err = f.Rendering(); err != nil {
		return sys, err
	}
	if cfg.Adjust != nil {
		cfg.Adjust(&sys.def)
		cfg.Adjust(&sys.shown)
	}
	if sys.inputs, err = f.Inputs(); err != nil {
		return sys, err
	}
	return sys, nil
}

func (cfg Incidents) load() ([]*incident.Incident, error) {
	if cfg.Options.FS != nil {
		return incident.LoadFS(cfg.Options.FS, cfg.Dir)
	}
	return incident.LoadDir(cfg.Dir)
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

func skipReason(in *incident.Incident, dp string) string {
	for _, r := range in.Requires {
		if r != dp {
			return fmt.Sprintf("incident %s needs the %s data plane (this run uses %s)", in.Name, r, dp)
		}
	}
	return ""
}
