package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/report"
	"github.com/okbreak/okbreak/harness/stack"
)

func newRunCmd() *cobra.Command {
	var only, dataPlane, reportDir, ruleTests string
	var inputs inputFlags
	var scale float64
	var asJSON bool
	var incidents incidentFlags
	cmd := &cobra.Command{
		Use: "run [--incidents [DIR]]",
		Example: `  okbreak run                                   # the whole catalog, a live line per case
  okbreak run --only '^one-backend-' --time-scale 60
  okbreak run --json > run.json                 # one JSON document on stdout, progress on stderr
  okbreak run --report out/                     # report.json, junit.xml, report.md, report.html in out/
  okbreak run --rule-tests rule-tests/          # a promtool rule test per case: promtool test rules rule-tests/*.yml
  okbreak run --catalog my-catalog.yaml --alerts my-rules/ --alerts extra.yml
  (from any folder: the sample system's catalog and rules are embedded)
  okbreak run --incidents                       # every incident of the binary's fixtures/incidents
  okbreak run --incidents --incident etcd-away-for-hours --data-plane grpc
  okbreak run --incidents incidents/ --stack stack.yaml   # a team's incidents on its own stack file`,
		Short: "Bring the default stack up and run the catalog: every case survived or alerted",
		Long: `run brings the default stack up, then runs every case of the catalog one at a
time on it: steady state, fault (always reverted), recovery, and a verdict from
the probe's windows and the alert rules evaluated on the components' metrics.

It prints one line per case as it finishes (--json: one document at the end).
Exit codes: 0 every case survived, alerted or skipped; 1 a case failed or was
invalid; 2 bad input (catalog, rules, flags); 3 no Docker engine.

--rule-tests DIR writes, for each case that gets its class's verdict, a
promtool rule test (DIR/<case>.rules_test.yml): the series the rules read,
stretched back to world time, and the alerts the case needed (not-ok) or the
page alerts expected absent (ok-to-break), naming the rule files as written
(README: Rule tests without Docker). With --incidents, in DIR/<incident> or
DIR/<incident>/<variant>.

--incidents runs incident files instead of the catalog (README: Incidents),
with the verdicts of go test ./scenarios -run TestIncidents: each incident on
a stack of its own (torn down after it, Ctrl-C included); one that is a case
alone must get its class's verdict; one with before and after runs twice,
before must fail as its expect_before says and after get the class's
verdict. Identical before and after are skipped as to do, an incident for
another data plane is skipped with the reason. DIR defaults to the incidents
embedded in the binary (fixtures/incidents), laid over the default stack for
--data-plane; with --stack, over that stack file. --incident selects by name
(a regular expression). Each stack writes its report folder under --report
(default $OKBREAK_REPORT_DIR, else okbreak-reports, /incidents-<time>): in
<incident>/ for a case alone, <incident>/before and <incident>/after.
Exit codes: 0 every incident reproduced and fixed, passed or skipped; 1 one
failed; 2 bad input (an incident file's error names its file and line); 3 no
Docker engine.`,
		Args: incidents.args,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if incidents.on {
				return incidents.run(ctx, args, runFlags{inputs: inputs, only: only, dataPlane: dataPlane,
					reportDir: reportDir, scale: scale, asJSON: asJSON, ruleTests: ruleTests})
			}
			started := time.Now()
			if scale < 1 {
				return badInput("--time-scale %v: want a number >= 1 (1 = real time)", scale)
			}
			var sel *regexp.Regexp
			if only != "" {
				var err error
				if sel, err = regexp.Compile(only); err != nil {
					return badInput("--only %q: %w", only, err)
				}
			}
			if dataPlane != "auto" {
				if _, err := stack.ParseDataPlane(dataPlane); err != nil {
					return badInput("--data-plane: %w", err)
				}
			}
			// Check the catalog before touching Docker: bad input must not
			// cost a stack.
			probeDP := stack.GRPC
			if dataPlane == string(stack.Envoy) {
				probeDP = stack.Envoy
			}
			t, in, err := inputs.system(probeDP)
			if err != nil {
				return err
			}
			if _, _, _, err := in.Load(t.def); err != nil {
				return badInput("%w", err)
			}
			if err := checkDocker(ctx); err != nil {
				return err
			}
			if t.file == nil {
				// The sample's data plane is chosen now that Docker can say
				// whether the Envoy image can be had.
				dp, err := chooseDataPlane(ctx, dataPlane)
				if err != nil {
					return err
				}
				if t, in, err = inputs.system(dp); err != nil {
					return err
				}
			}
			def := t.def
			cat, rules, _, err := in.Load(def)
			if err != nil {
				return badInput("%w", err)
			}
			var cases []catalog.Case
			for _, c := range cat.Cases {
				if sel == nil || sel.MatchString(c.Name) {
					cases = append(cases, c)
				}
			}
			if len(cases) == 0 {
				return badInput("--only %q matches no case; cases: %v", only, cat.Names())
			}

			// Ctrl-C and SIGTERM end the run; faults are reverted and the
			// stack torn down on the way out.
			ctx, stop := fault.SignalContext(ctx)
			defer stop()
			sweepDead(ctx)
			s, err := stack.Up(ctx, def, stack.WithLogf(logf))
			defer func() {
				if s == nil {
					return
				}
				downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if err := s.Down(downCtx); err != nil {
					logf("teardown: %v", err)
				}
			}()
			if err != nil {
				return err
			}
			live := liveOutput(asJSON)
			out := io.Writer(os.Stdout)
			if asJSON {
				out = os.Stderr // stdout holds the one JSON document
			}
			view := newProgressView(live, out)
			r := &harness.Runner{System: s, Defaults: cat.Defaults, Rules: rules, TimeScale: scale, OnProgress: view.update}
			if !live && !asJSON {
				r.Logf = logf
			}
			if ruleTests != "" {
				r.RuleTests = &harness.RuleTests{Dir: ruleTests, Rules: in.Rules}
			}
			rep := &report.Report{
				Version: report.Version(), DataPlane: string(def.DataPlane), TimeScale: scale, Run: s.RunID,
				Started: time.Now(), Cases: []harness.Result{},
			}
			if rep.Inputs, err = report.RunInputs(t.shown, in); err != nil {
				return badInput("%w", err)
			}
			left := harness.EstimateLeft(cases, cat.Defaults, scale)
			failed := 0
			harness.RunCatalog(ctx, r, cases, func(i int, c catalog.Case, run func(context.Context) harness.Result) {
				view.started(i+1, len(cases), c.Name, left[i])
				res := run(ctx)
				rep.Cases = append(rep.Cases, res)
				if !res.Verdict.Passed() {
					failed++
				}
				view.done(fmt.Sprintf("%-24s %-11s %-9s %6.1fs  scale %-6.4g %s", c.Name, c.Class, res.Verdict, res.Elapsed, res.EffectiveScale, res.Reason))
			})
			view.close()
			rep.ElapsedS = time.Since(started).Seconds()
			if asJSON {
				if err := report.JSON(os.Stdout, rep); err != nil {
					return err
				}
			}
			dir := reportDir
			if dir == "" {
				dir = filepath.Join(envOr("OKBREAK_REPORT_DIR", "okbreak-reports"), s.RunID)
			}
			if err := report.Write(dir, rep, true); err != nil {
				return err
			}
			logf("report: %s", dir)
			if ctx.Err() != nil {
				return fmt.Errorf("run interrupted after %d of %d cases: %w", len(rep.Cases), len(cases), ctx.Err())
			}
			if failed > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d cases failed or were invalid", failed, len(rep.Cases))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	inputs.register(f)
	f.StringVar(&only, "only", "", "run only the cases whose name matches this regular expression")
	f.StringVar(&dataPlane, "data-plane", envOr("OKBREAK_DATA_PLANE", "auto"), "data plane: envoy, grpc or auto")
	f.Float64Var(&scale, "time-scale", 240, "compress long windows by this factor (capped per case)")
	f.BoolVar(&asJSON, "json", false, "print one JSON document instead of a line per case")
	incidents.register(f)
	f.StringVar(&ruleTests, "rule-tests", "", "write a promtool rule test per case with its class's verdict into this folder")
	f.StringVar(&reportDir, "report", "", "write report.json, junit.xml, report.md and report.html here (default $OKBREAK_REPORT_DIR/<run>, else okbreak-reports/<run>)")
	return cmd
}

// load reads the inputs for def's data plane and validates them; every
// problem is bad input (exit 2).
func load(f inputFlags, dp stack.DataPlane) (*catalog.Catalog, []alert.RuleFile, error) {
	t, in, err := f.system(dp)
	if err != nil {
		return nil, nil, err
	}
	cat, rules, _, err := in.Load(t.def)
	if err != nil {
		return nil, nil, badInput("%w", err)
	}
	return cat, rules, nil
}
