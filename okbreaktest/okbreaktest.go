// Package okbreaktest runs a catalog as subtests of a team's own `go test`:
// one call brings the system up in containers (torn down when the test
// ends), runs every case, fails each case whose verdict is not its class's
// (with the evidence in the message), and keeps the run's reports.
//
//	func TestCatalog(t *testing.T) {
//		okbreaktest.Run(t, okbreaktest.Config{StackFile: "stack.yaml"})
//	}
//
// The stack file is the team's Compose file with an x-okbreak block (see
// package stackfile); a system built in Go is given as Definition and
// Inputs instead.
//
// testcontainers-go reads its settings once per process: run the tests with
// TESTCONTAINERS_RYUK_DISABLED=true (and, inside a container,
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1); Run fails with that fix when
// they are missing.
package okbreaktest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/report"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/harness/stackfile"
)

// Config is what Run needs.
type Config struct {
	// StackFile is a stack file describing the system under test; its
	// ${VAR}s see the process environment and a .env beside it. Its
	// catalog and rules are the Inputs, unless Inputs has a catalog.
	StackFile string
	// Definition is the system under test, brought up by Run (when there
	// is no StackFile).
	Definition stack.Definition
	// Inputs are the catalog and the alert rules (harness.ReadInputs).
	Inputs harness.Inputs
	// TimeScale compresses long windows (default 240; each case caps it).
	TimeScale float64
	// ReportDir gets the run's reports in a folder named after the run
	// (default: okbreak-reports in the system's temp folder).
	ReportDir string
	// CaseBudget bounds one case (default 4 minutes); a case that could not
	// finish, with teardownMargin to spare, before the test's deadline fails
	// unrun, so that teardown and the report always have time.
	CaseBudget time.Duration
	// StackOptions are passed to stack.Up.
	StackOptions []stack.Option
	// Parallel is how many stacks of the system run the cases side by
	// side (default 1): the cases are split between them in catalog order
	// by estimated time (harness.Lanes), each stack running its own one at
	// a time. Subtests of cases on different stacks overlap.
	Parallel int
}

// teardownMargin is what bringing the system down and writing the report
// may take after the last case.
const teardownMargin = 90 * time.Second

// Run runs cfg's catalog against cfg's system as subtests of t, one per
// case, and returns the report it wrote. A survived ok-to-break case and an
// alerted not-ok case pass; a skipped case is skipped with its reason;
// anything else fails with the verdict's reason and the result as JSON
// (evidence included). On Linux, t also fails when the cases together left
// file descriptors open, each named by what it points at.
func Run(t *testing.T, cfg Config) *report.Report {
	t.Helper()
	c := common{TimeScale: cfg.TimeScale, ReportDir: cfg.ReportDir, CaseBudget: cfg.CaseBudget, StackOptions: cfg.StackOptions}
	c.setDefaults()
	if cfg.Parallel < 0 {
		t.Fatalf("okbreaktest: Parallel %d: want a number of stacks >= 1 (0 means 1)", cfg.Parallel)
	}
	// shown is what the report fingerprints: a stack file as written, no
	// value from the environment.
	shown := cfg.Definition
	if cfg.StackFile != "" {
		var err error
		if shown, err = cfg.fromStackFile(); err != nil {
			t.Fatalf("okbreak stack file: %v", err)
		}
	}
	sys := system{def: cfg.Definition, shown: shown, inputs: cfg.Inputs}
	cat, s := start(t, sys, c, cfg.Parallel)
	s.run(t, cat.Cases, classVerdict)
	return s.rep
}

// common are the settings every run takes.
type common struct {
	TimeScale    float64
	ReportDir    string
	CaseBudget   time.Duration
	StackOptions []stack.Option
}

func (c *common) setDefaults() {
	if c.TimeScale == 0 {
		c.TimeScale = 240
	}
	if c.CaseBudget == 0 {
		c.CaseBudget = 4 * time.Minute
	}
	if c.ReportDir == "" {
		c.ReportDir = filepath.Join(os.TempDir(), "okbreak-reports")
	}
}

// system is what one stack runs: the definition, the same as written for
// the report, and the catalog and rules.
type system struct {
	def, shown stack.Definition
	inputs     harness.Inputs
}

// session is the stacks brought up for a test (one per lane), their
// runners and the run's report.
type session struct {
	common
	lanes   []harness.Lane
	rep     *report.Report
	dir     string
	started time.Time
	ctx     context.Context
	mu      sync.Mutex // guards rep while lanes run
}

// start loads sys's inputs, brings up one stack per lane (torn down when t
// ends) and registers the writing of its report. It fails t on bad inputs
// or a stack that does not start.
func start(t *testing.T, sys system, c common, parallel int) (*catalog.Catalog, *session) {
	t.Helper()
	cat, rules, warnings, err := sys.inputs.Load(sys.def)
	for _, w := range warnings {
		t.Logf("warning: %v", w)
	}
	if err != nil {
		t.Fatalf("okbreak inputs: %v", err)
	}
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &session{common: c, ctx: ctx, started: time.Now()}
	lanes := harness.Lanes(cat.Cases, cat.Defaults, c.TimeScale, parallel)
	stacks := stacktest.UpDefs(t, ctx, sys.def, len(lanes), c.StackOptions...)
	runs := make([]string, len(stacks))
	for i, st := range stacks {
		r := &harness.Runner{System: st, Defaults: cat.Defaults, Rules: rules, TimeScale: c.TimeScale, Logf: t.Logf}
		s.lanes = append(s.lanes, harness.Lane{Runner: r, Cases: lanes[i]})
		runs[i] = st.RunID
	}
	if len(stacks) > 1 {
		t.Logf("%d stacks side by side: %s", len(stacks), strings.Join(runs, ", "))
	}
	s.rep = &report.Report{Version: report.Version(), DataPlane: string(stacks[0].Def.DataPlane), TimeScale: c.TimeScale,
		Run: strings.Join(runs, ","), Started: s.started, Cases: []harness.Result{}}
	if s.rep.Inputs, err = report.RunInputs(sys.shown, sys.inputs); err != nil {
		t.Fatalf("okbreak inputs: %v", err)
	}
	s.dir = filepath.Join(c.ReportDir, stacks[0].RunID)
	t.Cleanup(func() {
		s.rep.ElapsedS = time.Since(s.started).Seconds()
		if err := report.Write(s.dir, s.rep, true); err != nil {
			t.Errorf("write the report: %v", err)
			return
		}
		t.Logf("report: %s", s.dir)
	})
	return cat, s
}

// run runs cases on the session's stacks, a subtest each, and hands each
// result to judge. It fails t when the cases left file descriptors open:
// they are counted just before the first case and just after the last, the
// stacks up both times, so that only the cases' own are compared (a test
// running others in parallel in the same process would be counted too).
func (s *session) run(t *testing.T, cases []catalog.Case, judge func(*testing.T, catalog.Case, harness.Result, string)) {
	t.Helper()
	deadline, hasDeadline := t.Deadline()
	fds := stacktest.CountFDs(t)
	s.rep.Cases = harness.RunLanes(s.ctx, s.lanes, cases, func(_ int, c catalog.Case, run func(context.Context) harness.Result) {
		t.Run(c.Name, func(t *testing.T) {
			if hasDeadline && time.Until(deadline) < s.CaseBudget+teardownMargin {
				t.Fatalf("not run: less than %s left before the test deadline (raise -timeout)", s.CaseBudget+teardownMargin)
			}
			cctx, ccancel := context.WithTimeout(s.ctx, s.CaseBudget)
			defer ccancel()
			res := run(cctx)
			s.keep(t, res)
			t.Logf("%s: %s (%s) in %.1fs at scale %.4g", c.Name, res.Verdict, res.Reason, res.Elapsed, res.EffectiveScale)
			// judge decides what a skipped case means: fine for a catalog,
			// not for an incident's before, which must fail.
			judge(t, c, res, s.dir)
		})
	})
	fds.Check(t)
}

// keep writes the report with res in it after every case: a test binary
// killed by its -timeout runs no cleanup. Lanes call it side by side.
func (s *session) keep(t *testing.T, res harness.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rep.Cases = append(s.rep.Cases, res)
	s.rep.ElapsedS = time.Since(s.started).Seconds()
	if err := report.Write(s.dir, s.rep, true); err != nil {
		t.Logf("write the report: %v", err)
	}
}

// classVerdict fails a case whose verdict is not its class's, and skips one
// that was skipped, with its reason.
func classVerdict(t *testing.T, c catalog.Case, res harness.Result, dir string) {
	t.Helper()
	if res.Verdict == harness.Skipped {
		t.Skip(res.Reason)
	}
	if want := harness.Expected(c.Class); res.Verdict != want {
		b, _ := json.MarshalIndent(res, "", "  ")
		t.Errorf("%s %s: want %s, got %s: %s\nreport (at the end of the run): %s\n%s", c.Class, c.Name, want, res.Verdict, res.Reason, dir, b)
	}
}

// fromStackFile sets Definition, and Inputs unless given, from StackFile,
// and returns the definition as the file wrote it, for the report.
func (cfg *Config) fromStackFile() (stack.Definition, error) {
	f, err := stackfile.Open(context.Background(), cfg.StackFile, os.Environ())
	if err != nil {
		return stack.Definition{}, err
	}
	if cfg.Definition, err = f.Definition(); err != nil {
		return stack.Definition{}, err
	}
	if cfg.Inputs.Catalog.Name == "" {
		if cfg.Inputs, err = f.Inputs(); err != nil {
			return stack.Definition{}, err
		}
	}
	return f.Rendering()
}
