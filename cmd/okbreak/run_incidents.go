package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/incidentrun"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/sample"
)

// incidentFlags are run's --incidents and --incident.
type incidentFlags struct {
	on    bool
	match string
}

func (f *incidentFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.on, "incidents", false, "run incident files instead of the catalog: those of the folder given after it, else those embedded in the binary (fixtures/incidents)")
	fs.StringVar(&f.match, "incident", "", "with --incidents: run only the incidents whose name matches this regular expression")
}

// args checks run's arguments: a folder of incidents, after --incidents
// only.
func (f *incidentFlags) args(_ *cobra.Command, args []string) error {
	switch {
	case !f.on && len(args) > 0:
		return badInput("run takes no arguments, got %q (a folder of incidents goes after --incidents)", args)
	case !f.on && f.match != "":
		return badInput("--incident %q selects incidents: add --incidents", f.match)
	case len(args) > 1:
		return badInput("run --incidents takes one folder at most, got %q", args)
	}
	return nil
}

// runFlags are run's other flags, as --incidents reads them.
type runFlags struct {
	inputs          inputFlags
	only, dataPlane string
	reportDir       string
	scale           float64
	asJSON          bool
	ruleTests       string
	halt            harness.Halt
	// attach runs on the stack of okbreak up (run: its ID, "" the only one).
	attach bool
	run    string
	// env is an environment file to run against (--env); dryRun prints
	// the plan instead.
	env    string
	dryRun bool
	// parallel is how many stacks run the catalog side by side (--parallel).
	parallel int
}

// incidentRun is one `okbreak run --incidents`.
type incidentRun struct {
	dir       string // "": the incidents embedded in the binary
	sel       *regexp.Regexp
	stackFile string
	dataPlane string // envoy, grpc or auto
	scale     float64
	reports   string // the folder of every stack's report folder
	ruleTests string // --rule-tests
	out       io.Writer
}

// run runs the incidents: everything is checked before Docker is touched
// (bad input costs no stack), then each incident runs in turn, its stacks
// torn down whatever happens, Ctrl-C included.
func (f *incidentFlags) run(ctx context.Context, args []string, rf runFlags) error {
	r, err := f.plan(args, rf)
	if err != nil {
		return err
	}
	dp := stack.GRPC
	if r.dataPlane == string(stack.Envoy) {
		dp = stack.Envoy
	}
	suite, ins, err := r.load(ctx, dp)
	if err != nil {
		return err
	}
	if err := checkDocker(ctx); err != nil {
		return err
	}
	if r.stackFile == "" {
		// The sample's data plane is chosen now that Docker can say
		// whether the Envoy image can be had.
		chosen, err := chooseDataPlane(ctx, r.dataPlane)
		if err != nil {
			return err
		}
		if chosen != dp {
			if suite, ins, err = r.load(ctx, chosen); err != nil {
				return err
			}
		}
	}
	// Ctrl-C and SIGTERM end the run; faults are reverted and the stack
	// torn down on the way out.
	ctx, stop := fault.SignalContext(ctx)
	defer stop()
	return r.runAll(ctx, suite, ins)
}

// plan checks the flags that --incidents takes and refuses those of the
// catalog's run.
func (f *incidentFlags) plan(args []string, rf runFlags) (incidentRun, error) {
	r := incidentRun{stackFile: rf.inputs.stack, dataPlane: rf.dataPlane, scale: rf.scale, ruleTests: rf.ruleTests, out: os.Stdout}
	if len(args) == 1 {
		r.dir = args[0]
	}
	switch {
	case rf.scale < 1:
		return r, badInput("--time-scale %v: want a number >= 1 (1 = real time)", rf.scale)
	case rf.only != "":
		return r, badInput("--only selects catalog cases; with --incidents, select with --incident")
	case rf.inputs.catalog != "" || len(rf.inputs.alerts) > 0:
		return r, badInput("--catalog and --alerts do not go with --incidents: an incident's catalog and rules are its stack file's (--stack)")
	case rf.asJSON:
		return r, badInput("--json does not go with --incidents: each stack writes its report.json under --report")
	}
	if r.dataPlane != "auto" {
		if _, err := stack.ParseDataPlane(r.dataPlane); err != nil {
			return r, badInput("--data-plane: %w", err)
		}
	}
	if f.match != "" {
		var err error
		if r.sel, err = regexp.Compile(f.match); err != nil {
			return r, badInput("--incident %q: %w", f.match, err)
		}
	}
	r.reports = rf.reportDir
	if r.reports == "" {
		r.reports = filepath.Join(envOr("OKBREAK_REPORT_DIR", "okbreak-reports"), "incidents-"+time.Now().Format("20060102-150405"))
	}
	return r, nil
}

// load reads the incidents and the stack files for dp, selects the
// incidents and checks each one to run, every configuration of it;
// every problem is bad input.
func (r incidentRun) load(ctx context.Context, dp stack.DataPlane) (*incidentrun.Suite, []*incident.Incident, error) {
	cfg, err := r.config(dp)
	if err != nil {
		return nil, nil, err
	}
	suite, err := incidentrun.Load(ctx, cfg)
	if err != nil {
		return nil, nil, badInput("%w", err)
	}
	if len(suite.Incidents) == 0 {
		return nil, nil, badInput("no incident files (*.yaml) in %s", cfg.Dir)
	}
	var ins []*incident.Incident
	for _, in := range suite.Incidents {
		if r.sel == nil || r.sel.MatchString(in.Name) {
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		return nil, nil, badInput("--incident %q matches no incident; incidents: %s", r.sel, strings.Join(suite.Names(), ", "))
	}
	for _, in := range ins {
		if err := suite.Check(ctx, in); err != nil {
			return nil, nil, badInput("%w", err)
		}
	}
	return suite, ins, nil
}

// config is what incidentrun needs: the incidents of DIR or the binary's,
// laid over --stack or the sample's stack file for dp.
func (r incidentRun) config(dp stack.DataPlane) (incidentrun.Config, error) {
	cfg := incidentrun.Config{Dir: fixtures.IncidentsDir, FS: fixtures.FS(), TimeScale: r.scale, RuleTestDir: r.ruleTests,
		ReportDir: func(in *incident.Incident, v incident.Variant, _ string) string {
			return filepath.Join(r.reports, in.Name, string(v))
		}}
	if r.dir != "" {
		cfg.Dir, cfg.FS = r.dir, nil
	}
	if r.stackFile != "" {
		env, err := stackfile.DotEnv(filepath.Dir(r.stackFile), stackfile.EnvMap(os.Environ()))
		if err != nil {
			return cfg, badInput("%w", err)
		}
		cfg.StackFiles, cfg.Options = []string{r.stackFile}, stackfile.Options{Env: env}
		return cfg, nil
	}
	files, err := sample.StackFiles(dp)
	if err != nil {
		return cfg, badInput("%w", err)
	}
	cfg.StackFiles, cfg.Options = files, stackfile.Options{FS: fixtures.FS()}
	if r.dir != "" {
		// The embedded stack with incidents from disk: one FS holds both,
		// for the files an incident's overlay names beside it.
		if st, err := os.Stat(r.dir); err != nil || !st.IsDir() {
			return cfg, badInput("incidents folder %s: not a folder (%v)", r.dir, err)
		}
		cfg.FS, cfg.Dir = mountIncidents(fixtures.FS(), r.dir, fixtures.IncidentsDir), fixtures.IncidentsDir
		cfg.Options.FS = cfg.FS
	}
	cfg.Adjust, cfg.DataPlane = sample.AddAnswerCheck, string(dp)
	return cfg, nil
}

// runAll runs the incidents one after the other, a summary line after
// each and a count at the end.
func (r incidentRun) runAll(ctx context.Context, suite *incidentrun.Suite, ins []*incident.Incident) error {
	live := liveOutput(false)
	count := map[incidentrun.Status]int{}
	ran := 0
	for i, in := range ins {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(r.out, "incident %d/%d: %s: %s (%s)\n", i+1, len(ins), in.Name, in.Title, incidentPlan(in))
		out := suite.Run(ctx, in, r.hooks(ctx, live))
		ran++
		count[out.Status]++
		fmt.Fprintln(r.out, out.Summary())
	}
	fmt.Fprintf(r.out, "incidents: %d passed, %d skipped, %d failed (of %d); reports in %s\n",
		count[incidentrun.Passed], count[incidentrun.Skipped], count[incidentrun.Failed], len(ins), r.reports)
	if ctx.Err() != nil {
		return fmt.Errorf("run interrupted during incident %d of %d: %w", ran, len(ins), ctx.Err())
	}
	if n := count[incidentrun.Failed]; n > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d incidents failed", n, len(ins))}
	}
	return nil
}

// incidentPlan says what an incident runs.
func incidentPlan(in *incident.Incident) string {
	what := "case " + in.Case
	if in.Case == "" {
		var names []string
		for _, c := range in.Cases {
			names = append(names, c.Name)
		}
		what = "cases " + strings.Join(names, ", ")
	}
	if in.HasVariants() {
		what += fmt.Sprintf(" under before, then after; before must show: %s", in.ExpectBefore)
	}
	return what
}

// hooks print an incident's progress: a line per variant, the live view
// (or a line per phase) while a case runs, and a line per case with its
// judgement.
func (r incidentRun) hooks(ctx context.Context, live bool) incidentrun.Hooks {
	var view progressView
	return incidentrun.Hooks{
		Logf: logf,
		Runner: func(run *harness.Runner) {
			// The runner of a variant is made after its view: it reports
			// to that one.
			v := view
			run.Logf, run.OnProgress = nil, v.update
			if !live {
				run.Logf = logf
			}
		},
		Variant: func(v incident.Variant, run func() incidentrun.VariantRun) {
			view = newProgressView(live, r.out)
			if v != incidentrun.Alone {
				view.done("  " + string(v) + ":")
			}
			run()
			view.close()
		},
		Case: func(cs incidentrun.CaseStart, run func(context.Context) incidentrun.CaseOutcome) {
			view.started(cs.I, cs.N, cs.Case.Name, cs.Left)
			co := run(ctx)
			view.done(caseLine(co))
		},
	}
}

// caseLine is a case's result and, unless it simply passed, its
// judgement.
func caseLine(co incidentrun.CaseOutcome) string {
	c, res := co.Case, co.Result
	line := fmt.Sprintf("  %-30s %-11s %-9s %6.1fs  scale %-6.4g %s", c.Name, c.Class, res.Verdict, res.Elapsed, res.EffectiveScale, res.Reason)
	switch {
	case co.Variant == incident.Before && co.Status == incidentrun.Passed:
		line += "\n    reproduces the incident: " + co.Why
	case co.Variant == incident.Before:
		line += "\n    does not reproduce the incident: " + co.Why
	case co.Status == incidentrun.Failed:
		line += "\n    " + co.Why
	}
	return line
}
