package incidentrun

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/report"
	"github.com/okbreak/okbreak/harness/stack"
)

// Hooks are how a caller follows one incident's run and wraps its parts: a
// test runs each variant and case as a subtest, the command line prints
// progress around them. Every field may be nil.
type Hooks struct {
	// Logf receives progress lines: sweeping dead runs, the stack's
	// bring-up and teardown, warnings of the inputs, the report's folder,
	// and the runner's lines unless Runner changes its Logf.
	Logf func(format string, args ...any)
	// Runner adjusts each stack's runner before its cases run (its Logf,
	// OnProgress).
	Runner func(*harness.Runner)
	// Variant wraps the run of one variant (Alone for a case alone). It
	// must call run at most once; a variant not run fails the incident.
	Variant func(v incident.Variant, run func() VariantRun)
	// Case wraps the run of one case. It must call run at most once, and
	// may give it a narrower ctx; a case not run fails the incident.
	Case func(c CaseStart, run func(ctx context.Context) CaseOutcome)
}

// CaseStart says which case is about to run.
type CaseStart struct {
	Variant incident.Variant
	Case    catalog.Case
	// I counts the variant's cases from 1 to N.
	I, N int
	// Left is the estimated wall time of this case and the variant's
	// cases after it.
	Left time.Duration
}

func (h Hooks) logf(format string, args ...any) {
	if h.Logf != nil {
		h.Logf(format, args...)
	}
}

// Run runs one incident and judges it: a skip (Skip) runs nothing;
// otherwise each variant in turn brings its stack up, runs the cases on
// it and tears it down, whatever happens (ctx's end included). It stops
// before the next variant once ctx ends.
func (s *Suite) Run(ctx context.Context, in *incident.Incident, h Hooks) Outcome {
	if why := s.Skip(in); why != "" {
		return Skip(in, why)
	}
	var runs []VariantRun
	for _, v := range Variants(in) {
		if ctx.Err() != nil {
			break
		}
		run := func() VariantRun {
			r := s.runVariant(ctx, in, v, h)
			runs = append(runs, r)
			return r
		}
		if h.Variant != nil {
			h.Variant(v, run)
		} else {
			run()
		}
	}
	return Judge(in, runs)
}

// runVariant brings up the system under v, runs the incident's cases on
// it, judges each, and tears the stack down.
func (s *Suite) runVariant(ctx context.Context, in *incident.Incident, v incident.Variant, h Hooks) (vr VariantRun) {
	vr.Variant = v
	p, err := s.prepare(ctx, in, v)
	if err != nil {
		vr.Err = err
		return vr
	}
	for _, w := range p.warnings {
		h.logf("warning: %v", w)
	}
	if swept, err := stack.Sweep(ctx); err != nil {
		h.logf("sweep dead runs: %v", err)
	} else if len(swept.Runs) > 0 {
		h.logf("swept dead runs %v", swept.Runs)
	}
	opts := append([]stack.Option{stack.WithLogf(h.logf)}, s.cfg.StackOptions...)
	st, err := stack.Up(ctx, p.sys.def, opts...)
	// Up returns the stack on error too, torn down as far as it got: Down
	// is always safe, and runs on every way out, ctx's end included.
	defer func() {
		if st == nil {
			return
		}
		downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := st.Down(downCtx); err != nil {
			vr.Err = errors.Join(vr.Err, fmt.Errorf("teardown of run %s: %w", st.RunID, err))
		}
	}()
	if err != nil {
		vr.Err = wrap(in, v, fmt.Errorf("stack up: %w", err))
		return vr
	}
	vr.RunID = st.RunID
	if s.cfg.ReportDir != nil {
		vr.Report = s.cfg.ReportDir(in, v, st.RunID)
	}
	r := &harness.Runner{System: st, Defaults: p.cat.Defaults, Rules: p.rules, TimeScale: s.cfg.TimeScale, Logf: h.Logf}
	if s.cfg.RuleTestDir != "" {
		dir := filepath.Join(s.cfg.RuleTestDir, in.Name)
		if v != Alone {
			dir = filepath.Join(dir, string(v))
		}
		r.RuleTests = &harness.RuleTests{Dir: dir, Rules: p.sys.inputs.Rules}
	}
	if h.Runner != nil {
		h.Runner(r)
	}
	if err := s.runCases(ctx, in, v, p, r, &vr, h); err != nil {
		vr.Err = wrap(in, v, err)
	}
	return vr
}

// runCases runs p's cases on r's stack, each judged as it ends, and keeps
// the stack's report, rewritten after every case so that a run killed
// midway still leaves one.
func (s *Suite) runCases(ctx context.Context, in *incident.Incident, v incident.Variant, p prepared, r *harness.Runner, vr *VariantRun, h Hooks) error {
	started := time.Now()
	rep := &report.Report{Version: report.Version(), DataPlane: string(p.sys.def.DataPlane), TimeScale: s.cfg.TimeScale,
		Run: vr.RunID, Started: started, Cases: []harness.Result{}}
	var err error
	if rep.Inputs, err = report.RunInputs(p.sys.shown, p.sys.inputs); err != nil {
		return fmt.Errorf("inputs: %w", err)
	}
	write := func() {
		if vr.Report == "" {
			return
		}
		rep.ElapsedS = time.Since(started).Seconds()
		if err := report.Write(vr.Report, rep, true); err != nil {
			h.logf("write the report: %v", err)
		}
	}
	left := harness.EstimateLeft(p.cases, p.cat.Defaults, s.cfg.TimeScale)
	harness.RunCatalog(ctx, r, p.cases, func(i int, c catalog.Case, run func(context.Context) harness.Result) {
		judged := func(cctx context.Context) CaseOutcome {
			if s.cfg.CaseBudget > 0 {
				var cancel context.CancelFunc
				cctx, cancel = context.WithTimeout(cctx, s.cfg.CaseBudget)
				defer cancel()
			}
			res := run(cctx)
			rep.Cases = append(rep.Cases, res)
			write()
			co := JudgeCase(in, v, c, p.cat.Defaults, res, vr.Report)
			vr.Cases = append(vr.Cases, co)
			return co
		}
		cs := CaseStart{Variant: v, Case: c, I: i + 1, N: len(p.cases), Left: left[i]}
		if h.Case != nil {
			h.Case(cs, judged)
		} else {
			judged(ctx)
		}
	})
	vr.NotRun = notRun(p.cases, vr.Cases)
	write()
	if vr.Report != "" {
		h.logf("report: %s", vr.Report)
	}
	return nil
}
