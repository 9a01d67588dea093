package okbreaktest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/incidentrun"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
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
	// RuleTestDir, when set, gets a promtool rule test for each case that
	// gives its class's verdict (harness.RuleTests), in RuleTestDir/NAME
	// or RuleTestDir/NAME/VARIANT.
	RuleTestDir string
	// Parallel runs the incidents as parallel subtests, as many at once as
	// go test's -parallel allows, each on its own stack, except those
	// named in Alone: they run first, one at a time, with no other
	// incident beside them. An incident that measures capacity (backends
	// near their limit) cannot share the machine's cores with a second
	// stack and keep its verdict. A name in Alone that is no incident
	// fails the test.
	Parallel bool
	Alone    []string
}

// RunIncidents runs every incident of cfg.Dir as subtests of t, named
// after the incident (package incidentrun decides and judges; this maps
// its outcomes to subtests, skips and errors):
//   - an incident that is a case alone (by name or written out) runs on a
//     stack of its own, and must get its class's verdict;
//   - an incident with before and after runs twice, each on a stack of its
//     own (the stack files with that configuration laid over them):
//     before must fail exactly as expect_before says, after must get the
//     class's verdict; both results are in the message when either is
//     wrong;
//   - an incident whose before and after are identical is skipped as to
//     do; one that needs another data plane is skipped with the reason.
//
// Each incident's stack comes up inside its subtest: `-run
// TestIncidents/NAME` brings up only NAME's.
func RunIncidents(t *testing.T, cfg Incidents) {
	t.Helper()
	c := common{TimeScale: cfg.TimeScale, ReportDir: cfg.ReportDir, CaseBudget: cfg.CaseBudget, StackOptions: cfg.StackOptions}
	c.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rc, err := cfg.runConfig(c)
	if err != nil {
		t.Fatalf("okbreak stack file: %v", err)
	}
	suite, err := incidentrun.Load(ctx, rc)
	if err != nil {
		t.Fatalf("okbreak %v", err) // "okbreak incidents: ...", "okbreak stack file: ..."
	}
	for _, name := range cfg.Alone {
		if !slices.Contains(suite.Names(), name) {
			t.Fatalf("okbreaktest.Incidents.Alone: %q is not an incident of %s (have %s)", name, cfg.Dir, strings.Join(suite.Names(), ", "))
		}
	}
	for _, in := range suite.Incidents {
		t.Run(in.Name, func(t *testing.T) {
			// A parallel subtest waits until this loop has returned, so
			// the Alone ones, run inline, have the package to themselves.
			if cfg.Parallel && !slices.Contains(cfg.Alone, in.Name) {
				t.Parallel()
			}
			if why := suite.Skip(in); why != "" {
				t.Skip(why)
			}
			stacktest.RequireDocker(t)
			runIncident(t, ctx, suite, in, c.CaseBudget)
		})
	}
}

// runConfig is cfg as package incidentrun takes it: the process
// environment and a .env beside the first stack file for ${VAR}s unless
// Options say otherwise, a report folder per stack under ReportDir.
func (cfg Incidents) runConfig(c common) (incidentrun.Config, error) {
	rc := incidentrun.Config{Dir: cfg.Dir, FS: cfg.Options.FS, StackFiles: cfg.StackFiles, Options: cfg.Options,
		Adjust: cfg.Adjust, DataPlane: cfg.DataPlane, TimeScale: c.TimeScale, CaseBudget: c.CaseBudget, StackOptions: c.StackOptions,
		RuleTestDir: cfg.RuleTestDir,
		ReportDir: func(_ *incident.Incident, _ incident.Variant, runID string) string {
			return filepath.Join(c.ReportDir, runID)
		}}
	if rc.Options.FS == nil && rc.Options.Env == nil && len(cfg.StackFiles) > 0 {
		env, err := stackfile.DotEnv(filepath.Dir(cfg.StackFiles[0]), stackfile.EnvMap(os.Environ()))
		if err != nil {
			return rc, err
		}
		rc.Options.Env = env
	}
	return rc, nil
}

// runIncident runs one incident under t: each variant as a subtest (a case
// alone in t itself), each case as a subtest of its variant; when a
// variant failed, the incident's message gives every result under both.
func runIncident(t *testing.T, ctx context.Context, suite *incidentrun.Suite, in *incident.Incident, budget time.Duration) {
	t.Helper()
	// cur is the test the running variant reports to, so that its lines
	// and its cases' subtests sit under it.
	cur, failed := t, false
	deadline, hasDeadline := t.Deadline()
	out := suite.Run(ctx, in, incidentrun.Hooks{
		Logf: func(format string, args ...any) { cur.Logf(format, args...) },
		Variant: func(v incident.Variant, run func() incidentrun.VariantRun) {
			if v == incidentrun.Alone {
				if r := run(); r.Err != nil {
					t.Fatal(r.Err)
				}
				return
			}
			failed = !t.Run(string(v), func(vt *testing.T) {
				cur = vt
				defer func() { cur = t }()
				if r := run(); r.Err != nil {
					vt.Fatal(r.Err)
				}
			}) || failed
		},
		Case: func(cs incidentrun.CaseStart, run func(context.Context) incidentrun.CaseOutcome) {
			cur.Run(cs.Case.Name, func(t *testing.T) {
				if hasDeadline && time.Until(deadline) < budget+teardownMargin {
					t.Fatalf("not run: less than %s left before the test deadline (raise -timeout)", budget+teardownMargin)
				}
				co := run(ctx)
				res := co.Result
				t.Logf("%s: %s (%s) in %.1fs at scale %.4g", cs.Case.Name, res.Verdict, res.Reason, res.Elapsed, res.EffectiveScale)
				caseVerdict(t, co)
			})
		},
	})
	// The judgement decides, not only the subtests: an incident judged
	// failed some other way must not stay green.
	if failed || (out.Status == incidentrun.Failed && !t.Failed()) {
		t.Error(out.Why)
	}
}

// caseVerdict maps a case's judgement to t: a skip, an error, or a line
// saying how before reproduced the incident.
func caseVerdict(t *testing.T, co incidentrun.CaseOutcome) {
	t.Helper()
	switch msg := co.Message(); {
	case co.Status == incidentrun.Skipped:
		t.Skip(msg)
	case co.Status == incidentrun.Failed:
		t.Error(msg)
	case msg != "":
		t.Log(msg)
	}
}
