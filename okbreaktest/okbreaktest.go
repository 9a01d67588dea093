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
}

// teardownMargin is what bringing the system down and writing the report
// may take after the last case.
const teardownMargin = 90 * time.Second

// Run runs cfg's catalog against cfg's system as subtests of t, one per
// case, and returns the report it wrote. A survived ok-to-break case and an
// alerted not-ok case pass; a skipped case is skipped with its reason;
// anything else fails with the verdict's reason and the result as JSON
// (evidence included).
func Run(t *testing.T, cfg Config) *report.Report {
	t.Helper()
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 240
	}
	if cfg.CaseBudget == 0 {
		cfg.CaseBudget = 4 * time.Minute
	}
	if cfg.ReportDir == "" {
		cfg.ReportDir = filepath.Join(os.TempDir(), "okbreak-reports")
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
	cat, rules, warnings, err := cfg.Inputs.Load(cfg.Definition)
	for _, w := range warnings {
		t.Logf("warning: %v", w)
	}
	if err != nil {
		t.Fatalf("okbreak inputs: %v", err)
	}
	stacktest.RequireDocker(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := stacktest.UpDef(t, ctx, cfg.Definition, cfg.StackOptions...)
	r := &harness.Runner{System: s, Defaults: cat.Defaults, Rules: rules, TimeScale: cfg.TimeScale, Logf: t.Logf}

	started := time.Now()
	rep := &report.Report{Version: report.Version(), DataPlane: string(s.Def.DataPlane), TimeScale: cfg.TimeScale,
		Run: s.RunID, Started: started, Cases: []harness.Result{}}
	if rep.Inputs, err = report.RunInputs(shown, cfg.Inputs); err != nil {
		t.Fatalf("okbreak inputs: %v", err)
	}
	dir := filepath.Join(cfg.ReportDir, s.RunID)
	t.Cleanup(func() {
		rep.ElapsedS = time.Since(started).Seconds()
		if err := report.Write(dir, rep, true); err != nil {
			t.Errorf("write the report: %v", err)
			return
		}
		t.Logf("report: %s", dir)
	})
	deadline, hasDeadline := t.Deadline()
	harness.RunCatalog(ctx, r, cat.Cases, func(_ int, c catalog.Case, run func(context.Context) harness.Result) {
		t.Run(c.Name, func(t *testing.T) {
			if hasDeadline && time.Until(deadline) < cfg.CaseBudget+teardownMargin {
				t.Fatalf("not run: less than %s left before the test deadline (raise -timeout)", cfg.CaseBudget+teardownMargin)
			}
			cctx, ccancel := context.WithTimeout(ctx, cfg.CaseBudget)
			defer ccancel()
			res := run(cctx)
			rep.Cases = append(rep.Cases, res)
			// Kept after every case too: a test binary killed by its
			// -timeout runs no cleanup.
			rep.ElapsedS = time.Since(started).Seconds()
			if err := report.Write(dir, rep, true); err != nil {
				t.Logf("write the report: %v", err)
			}
			t.Logf("%s: %s (%s) in %.1fs at scale %.4g", c.Name, res.Verdict, res.Reason, res.Elapsed, res.EffectiveScale)
			if res.Verdict == harness.Skipped {
				t.Skip(res.Reason)
			}
			if want := harness.Expected(c.Class); res.Verdict != want {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Errorf("%s %s: want %s, got %s: %s\nreport (at the end of the run): %s\n%s", c.Class, c.Name, want, res.Verdict, res.Reason, dir, b)
			}
		})
	})
	return rep
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
