package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
	var halt haltFlags
	var attach, dryRun bool
	var runID, envFile string
	var parallel int
	cmd := &cobra.Command{
		Use: "run [--incidents [DIR]]",
		Example: `  okbreak run                                   # the whole catalog, a live line per case
  okbreak run --only '^one-backend-' --time-scale 60
  okbreak run --parallel 2                      # two stacks, the cases split between them
  okbreak run --json > run.json                 # one JSON document on stdout, progress on stderr
  okbreak run --report out/                     # report.json, junit.xml, report.md, report.html in out/
  okbreak run --rule-tests rule-tests/          # a promtool rule test per case: promtool test rules rule-tests/*.yml
  okbreak run --catalog my-catalog.yaml --alerts my-rules/ --alerts extra.yml
  (from any folder: the sample system's catalog and rules are embedded)
  okbreak run --incidents                       # every incident of the binary's fixtures/incidents
  okbreak run --incidents --incident etcd-away-for-hours --data-plane grpc
  okbreak run --incidents incidents/ --stack stack.yaml   # a team's incidents on its own stack file
  okbreak run --attach --only '^one-backend-'   # on the stack of okbreak up (a game day)
  okbreak run --halt-success 0.5 --halt-for 30s --halt-alert EdgeDown
  okbreak run --env staging.yaml --catalog staging-catalog.yaml --dry-run   # the plan, no change
  okbreak run --env staging.yaml --catalog staging-catalog.yaml            # a game day on staging`,
		Short: "Bring the default stack up and run the catalog: every case survived or alerted",
		Long: `run brings the default stack up, then runs every case of the catalog one at a
time on it: steady state, fault (always reverted), recovery, and a verdict from
the probe's windows and the alert rules evaluated on the components' metrics.

--parallel N brings N stacks up and splits the cases between them, in
catalog order, by estimated time: each stack runs its cases one at a time,
the stacks side by side (a case written last stays last on its stack).

It prints one line per case as it finishes (--json: one document at the end).
Exit codes: 0 every case survived, alerted or skipped; 1 a case failed or was
invalid; 2 bad input (catalog, rules, flags); 3 no Docker engine (or, with
--attach, no stack up, or faults in force on it); 4 a halt condition stopped
the run.

--attach runs the catalog on the stack that okbreak up keeps (--run ID, or
the only one up) instead of a stack of its own: its keeper pauses its probe
meanwhile, okbreak inject is refused, and a fault in force is refused
before the first case. The report includes the game-day log.

--env FILE runs against a running environment instead of a stack of its
own: the file names its Toxiproxies and which proxy is which link, the
probe's URL, the metrics to scrape and the rules, the containers process
faults may touch, limits and halt conditions. okbreak touches nothing else:
a case on an undeclared link or container, or over the limits, is refused
before the first fault (exit 2), an unreachable Toxiproxy exits 3. Toxics
are named okbreak.<env>.<run>.<fault>, so that ` + "`okbreak recover --env FILE`" + `
removes exactly them from any machine. --dry-run prints the plan.

Halt conditions (--halt-*) stop the run at once, reverting the faults of
the case in force, when the probe's success stays under a floor for longer
than a bound (ok-to-break cases), or an abort alert fires (any case, unless
a not-ok case expects that alert).

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
			rf := runFlags{inputs: inputs, only: only, dataPlane: dataPlane,
				reportDir: reportDir, scale: scale, asJSON: asJSON, ruleTests: ruleTests, attach: attach, run: runID,
				env: envFile, dryRun: dryRun, parallel: parallel}
			var err error
			if rf.halt, err = halt.halt(); err != nil {
				return err
			}
			if attach && incidents.on {
				return badInput("--attach runs the catalog; incidents run on stacks of their own")
			}
			if envFile != "" && (attach || incidents.on || inputs.stack != "") {
				return badInput("--env runs the catalog against a running environment: leave --attach, --incidents and --stack out")
			}
			if parallel < 1 {
				return badInput("--parallel %d: want a number of stacks >= 1 (e.g. --parallel 2)", parallel)
			}
			if parallel > 1 && (attach || incidents.on || envFile != "") {
				return badInput("--parallel brings stacks of its own up: leave --attach, --incidents and --env out")
			}
			if envFile != "" {
				return rf.runEnv(cmd.Context())
			}
			if dryRun {
				return rf.dryRunCatalog()
			}
			if attach {
				return rf.runAttached(cmd.Context())
			}
			if incidents.on {
				return incidents.run(cmd.Context(), args, rf)
			}
			return rf.runCatalog(cmd.Context())
		},
	}
	f := cmd.Flags()
	inputs.register(f)
	f.StringVar(&only, "only", "", "run only the cases whose name matches this regular expression")
	f.StringVar(&dataPlane, "data-plane", envOr("OKBREAK_DATA_PLANE", "auto"), "data plane: envoy, grpc or auto")
	f.Float64Var(&scale, "time-scale", 240, "compress long windows by this factor (capped per case)")
	f.IntVar(&parallel, "parallel", 1, "bring this many stacks up and split the cases between them (side by side)")
	f.BoolVar(&asJSON, "json", false, "print one JSON document instead of a line per case")
	incidents.register(f)
	f.StringVar(&ruleTests, "rule-tests", "", "write a promtool rule test per case with its class's verdict into this folder")
	f.BoolVar(&attach, "attach", false, "run on the stack of okbreak up instead of a stack of its own")
	f.StringVar(&runID, "run", "", "with --attach: the stack's run ID (default: the only stack up)")
	halt.register(f)
	f.StringVar(&envFile, "env", "", "run against a running environment this file describes (README: Game day)")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan (each case, its faults and targets, the verdict it expects, the time) and change nothing")
	f.StringVar(&reportDir, "report", "", "write report.json, junit.xml, report.md and report.html here (default $OKBREAK_REPORT_DIR/<run>, else okbreak-reports/<run>)")
	return cmd
}

// catalogRun is what a catalog run was planned into before any stack
// comes up: the system, its inputs, and the cases selected.
type catalogRun struct {
	t     target
	in    harness.Inputs
	cat   *catalog.Catalog
	rules []alert.RuleFile
	cases []catalog.Case
	// alertSource, when set, is where the cases' alerts come from instead
	// of the embedded rule engine (a running environment's).
	alertSource func(scale float64) (harness.AlertSource, error)
}

// runCatalog checks everything it can before touching Docker (bad input
// must not cost a stack), then runs the selected cases on one stack and
// writes the report.
func (rf runFlags) runCatalog(ctx context.Context) error {
	started := time.Now()
	cr, err := rf.planCatalog(ctx)
	if err != nil {
		return err
	}
	// Ctrl-C and SIGTERM end the run; faults are reverted and the stacks
	// torn down on the way out.
	ctx, stop := fault.SignalContext(ctx)
	defer stop()
	sweepDead(ctx)
	lanes := harness.Lanes(cr.cases, cr.cat.Defaults, rf.scale, rf.parallel)
	stacks, err := stack.UpMany(ctx, cr.t.def, len(lanes), stack.WithLogf(logf))
	defer downStacks(ctx, stacks)
	if err != nil {
		return err
	}
	systems := make([]harness.System, len(stacks))
	for i, s := range stacks {
		systems[i] = s
	}
	rep, failed, err := rf.runCases(ctx, systems, lanes, cr)
	if err != nil {
		return err
	}
	return rf.finish(ctx, rep, started, stacks[0].RunID, failed, len(cr.cases))
}

// downStacks tears the stacks down side by side, with a minute each even
// when ctx ended (Ctrl-C).
func downStacks(ctx context.Context, stacks []*stack.Stack) {
	var wg sync.WaitGroup
	for _, s := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := s.Down(downCtx); err != nil {
				logf("teardown %s: %v", s.RunID, err)
			}
		}()
	}
	wg.Wait()
}

// finish writes a catalog run's report (on stdout too with --json) into
// --report, else $OKBREAK_REPORT_DIR/<name>, and gives the run's exit: an
// interruption, a halt (4), a failed case (1).
func (rf runFlags) finish(ctx context.Context, rep *report.Report, started time.Time, name string, failed, planned int) error {
	rep.ElapsedS = time.Since(started).Seconds()
	if rf.asJSON {
		if err := report.JSON(os.Stdout, rep); err != nil {
			return err
		}
	}
	dir := rf.reportDir
	if dir == "" {
		dir = filepath.Join(envOr("OKBREAK_REPORT_DIR", "okbreak-reports"), name)
	}
	if err := report.Write(dir, rep, true); err != nil {
		return err
	}
	logf("report: %s", dir)
	if ctx.Err() != nil {
		return fmt.Errorf("run interrupted after %d of %d cases: %w", len(rep.Cases), planned, ctx.Err())
	}
	return runOutcome(rep, failed)
}

// runOutcome is a run's exit: a halt (4) before a failure (1).
func runOutcome(rep *report.Report, failed int) error {
	for _, c := range rep.Cases {
		if c.Halted != "" {
			return &exitError{code: exitHalted, err: fmt.Errorf("halted during %s: %s", c.Name, c.Halted)}
		}
	}
	if failed > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d cases failed or were invalid", failed, len(rep.Cases))}
	}
	return nil
}

// planCatalog checks the flags and inputs, then Docker, and picks the
// data plane and the cases.
func (rf runFlags) planCatalog(ctx context.Context) (catalogRun, error) {
	var cr catalogRun
	if rf.scale < 1 {
		return cr, badInput("--time-scale %v: want a number >= 1 (1 = real time)", rf.scale)
	}
	var sel *regexp.Regexp
	if rf.only != "" {
		var err error
		if sel, err = regexp.Compile(rf.only); err != nil {
			return cr, badInput("--only %q: %w", rf.only, err)
		}
	}
	if rf.dataPlane != "auto" {
		if _, err := stack.ParseDataPlane(rf.dataPlane); err != nil {
			return cr, badInput("--data-plane: %w", err)
		}
	}
	probeDP := stack.GRPC
	if rf.dataPlane == string(stack.Envoy) {
		probeDP = stack.Envoy
	}
	t, in, err := rf.inputs.system(probeDP)
	if err != nil {
		return cr, err
	}
	if _, _, _, err := in.Load(t.def); err != nil {
		return cr, badInput("%w", err)
	}
	if err := checkDocker(ctx); err != nil {
		return cr, err
	}
	if t.file == nil {
		// The sample's data plane is chosen now that Docker can say
		// whether the Envoy image can be had.
		dp, err := chooseDataPlane(ctx, rf.dataPlane)
		if err != nil {
			return cr, err
		}
		if t, in, err = rf.inputs.system(dp); err != nil {
			return cr, err
		}
	}
	cr.t, cr.in = t, in
	if cr.cat, cr.rules, _, err = in.Load(t.def); err != nil {
		return cr, badInput("%w", err)
	}
	for _, c := range cr.cat.Cases {
		if sel == nil || sel.MatchString(c.Name) {
			cr.cases = append(cr.cases, c)
		}
	}
	if len(cr.cases) == 0 {
		return cr, badInput("--only %q matches no case; cases: %v", rf.only, cr.cat.Names())
	}
	return cr, nil
}

// runCases runs the cases on the systems, lanes[i] on systems[i] (the
// lanes side by side), a line each (or the live view with one lane), and
// returns the report and how many failed.
func (rf runFlags) runCases(ctx context.Context, systems []harness.System, lanes [][]int, cr catalogRun) (*report.Report, int, error) {
	live := liveOutput(rf.asJSON) && len(lanes) == 1 // the live view draws one running case
	out := io.Writer(os.Stdout)
	if rf.asJSON {
		out = os.Stderr // stdout holds the one JSON document
	}
	view := newProgressView(live, out)
	runs := make([]string, len(systems))
	ls := make([]harness.Lane, len(lanes))
	for i, sys := range systems {
		r := &harness.Runner{System: sys, Defaults: cr.cat.Defaults, Rules: cr.rules, TimeScale: rf.scale, OnProgress: view.update}
		if !live && !rf.asJSON {
			r.Logf = logf
		}
		r.Halt, r.AlertSource = rf.halt, cr.alertSource
		if rf.ruleTests != "" {
			r.RuleTests = &harness.RuleTests{Dir: rf.ruleTests, Rules: cr.in.Rules}
		}
		ls[i], runs[i] = harness.Lane{Runner: r, Cases: lanes[i]}, sys.Run()
	}
	if len(ls) > 1 {
		logf("%d stacks side by side: %s", len(ls), strings.Join(runs, ", "))
	}
	rep := &report.Report{
		Version: report.Version(), DataPlane: string(cr.t.def.DataPlane), TimeScale: rf.scale, Run: strings.Join(runs, ","),
		Started: time.Now(), Cases: []harness.Result{},
	}
	var err error
	if rep.Inputs, err = report.RunInputs(cr.t.shown, cr.in); err != nil {
		return nil, 0, badInput("%w", err)
	}
	left := harness.LaneLeft(cr.cases, lanes, cr.cat.Defaults, rf.scale)
	rep.Cases = harness.RunLanes(ctx, ls, cr.cases, func(i int, c catalog.Case, run func(context.Context) harness.Result) {
		view.started(i+1, len(cr.cases), c.Name, left[i])
		res := run(ctx)
		view.done(fmt.Sprintf("%-24s %-11s %-9s %6.1fs  scale %-6.4g %s", c.Name, c.Class, res.Verdict, res.Elapsed, res.EffectiveScale, res.Reason))
	})
	view.close()
	failed := 0
	for _, res := range rep.Cases {
		if !res.Verdict.Passed() {
			failed++
		}
	}
	return rep, failed, nil
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

// dryRunCatalog prints the plan of a run on a stack of its own, without
// Docker: nothing is started or changed.
func (rf runFlags) dryRunCatalog() error {
	where := "on a stack of its own"
	if rf.attach {
		rec, err := selectStack(rf.run)
		if err != nil {
			return err
		}
		rf.inputs.stack, rf.dataPlane, where = rec.Stack, rec.DataPlane, "on the stack of okbreak up, run "+rec.Run
	}
	dp := stack.GRPC
	if rf.dataPlane == string(stack.Envoy) {
		dp = stack.Envoy
	}
	t, in, err := rf.inputs.system(dp)
	if err != nil {
		return err
	}
	cat, _, _, err := in.Load(t.def)
	if err != nil {
		return badInput("%w", err)
	}
	cases, err := selectCases(cat, rf.only)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("dry run of %s %s (%s data plane), time scale %g", rf.inputs.describe(), where, dp, rf.scale)
	printPlan(header, cases, cat.Defaults, rf.scale, func(ts []string) string { return strings.Join(ts, ", ") })
	return nil
}
