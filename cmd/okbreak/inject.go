package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/gameday"
	"github.com/okbreak/okbreak/harness/stack"
)

// exitHalted is the exit code of a run or injection a halt condition
// stopped.
const exitHalted = 4

type injectFlags struct {
	run, who, caseName string
	catalog            string
	links, components  []string
	keys               []string
	params             []string
	dur                time.Duration
	dryRun             bool
}

func newInjectCmd() *cobra.Command {
	var f injectFlags
	cmd := &cobra.Command{
		Use: "inject TYPE (--link L | --component C | --key K)... --for D [--param k=v]... | inject --case NAME",
		Example: `  okbreak inject latency --link 'edge->backend-1' --param latency=500ms --for 2m
  okbreak inject crash --component backend-2 --for 30s --run 28b91400
  okbreak inject --case one-backend-down          # a catalog case's faults, for its fault window
  okbreak inject latency --link 'edge->backend-*' --param latency=1s --for 1m --dry-run`,
		Short: "Put a fault in force on a stack of okbreak up until its deadline, Ctrl-C or okbreak revert",
		Long: `inject puts a fault in force on the stack that ` + "`okbreak up`" + ` keeps (--run ID,
or the only one up), journals it with who injected it and its deadline, and
waits. The fault ends at the deadline (--for), on Ctrl-C, or when
` + "`okbreak revert`" + ` ends it; the stack's keeper ends it at its deadline even when
this command or its terminal is gone.

The fault is a TYPE (README: The catalog lists the types and their params)
on links (--link), components (--component) or registry entries (--key),
with its parameters (--param name=value, values in YAML: 500ms, 0.5, 3);
or the faults of a catalog case (--case, for the case's fault window at the
stack's time scale unless --for). Over the stack's limits (okbreak up
--max-fault-duration, --max-targets) a fault is refused, never truncated.
--dry-run prints the plan and changes nothing.

Exit codes: 0 the fault ran its course or was ended; 1 it could not be
injected or reverted; 2 bad input (an unknown link, a duration over the
limit); 3 no stack is up or a catalog run holds it; 4 a halt condition
ended it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return f.inject(cmd.Context(), args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.run, "run", "", "the stack's run ID (default: the only stack up)")
	fl.StringArrayVar(&f.links, "link", nil, "a link the fault acts on, caller->callee (globs allowed; repeat for more)")
	fl.StringArrayVar(&f.components, "component", nil, "a component the fault acts on (repeat for more)")
	fl.StringArrayVar(&f.keys, "key", nil, "a registry service or route the fault acts on (repeat for more)")
	fl.StringArrayVar(&f.params, "param", nil, "a fault parameter, name=value (repeat for more)")
	fl.DurationVar(&f.dur, "for", 0, "how long the fault stays in force (required with TYPE)")
	fl.StringVar(&f.caseName, "case", "", "inject the faults of this catalog case")
	fl.StringVar(&f.catalog, "catalog", "", "the catalog of --case (default: the stack's own)")
	fl.StringVar(&f.who, "who", "", "who injects, for the game-day log (default user@host)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be injected, where and until when; change nothing")
	return cmd
}

// planned is one fault of an injection, as data.
type planned struct {
	spec    fault.Spec
	targets []string
}

func (f injectFlags) inject(ctx context.Context, args []string) error {
	rec, err := selectStack(f.run)
	if err != nil {
		return err
	}
	t, err := inputFlags{stack: rec.Stack}.target(stack.DataPlane(rec.DataPlane))
	if err != nil {
		return err
	}
	plan, dur, err := f.plan(args, rec, t.def)
	if err != nil {
		return err
	}
	until := time.Now().Add(dur)
	printInjection(os.Stdout, rec, plan, dur, until)
	if f.dryRun {
		fmt.Println("dry run: nothing was changed")
		return nil
	}
	if h, held := gameday.Held(rec.Run); held {
		return noEnv(fmt.Errorf("run %s is held by %s: a second injector during a case is refused; wait for it or stop it", rec.Run, h))
	}
	s, _, err := attachStack(ctx, rec)
	if err != nil {
		return err
	}
	env := attributed{Stack: s, at: fault.Attribution{Who: gameday.Who(f.who), Until: until}}
	var faults []fault.Fault
	for _, p := range plan {
		ft, err := fault.New(p.spec, env)
		if err != nil {
			return badInput("%w", err)
		}
		faults = append(faults, ft)
	}
	return holdFaults(ctx, rec, faults, until)
}

// plan turns the flags into faults, checked against the stack's
// definition and limits: bad input is refused before anything changes.
func (f injectFlags) plan(args []string, rec gameday.Record, def stack.Definition) ([]planned, time.Duration, error) {
	var specs []fault.Spec
	dur := f.dur
	switch {
	case f.caseName != "" && len(args) > 0:
		return nil, 0, badInput("give a fault TYPE or --case, not both")
	case f.caseName != "":
		c, d, err := f.caseFaults(rec, def)
		if err != nil {
			return nil, 0, err
		}
		specs = c
		if dur == 0 {
			dur = d
		}
	case len(args) == 1:
		s, err := f.spec(args[0])
		if err != nil {
			return nil, 0, err
		}
		specs = []fault.Spec{s}
	default:
		return nil, 0, badInput("give a fault TYPE (e.g. `okbreak inject latency --link 'edge->backend-1' --param latency=500ms --for 1m`) or --case NAME")
	}
	if dur <= 0 {
		return nil, 0, badInput("--for: how long the fault stays in force is required (e.g. --for 2m)")
	}
	var out []planned
	for _, s := range specs {
		if err := fault.Validate(s, def); err != nil {
			return nil, 0, badInput("%w", err)
		}
		targets, err := fault.Targets(s, def)
		if err != nil {
			return nil, 0, badInput("%w", err)
		}
		if err := rec.Limits.Check(dur, len(targets), "the limits of run "+rec.Run+": okbreak up --max-fault-duration, --max-targets"); err != nil {
			return nil, 0, badInput("fault %s refused: %w", s.Type, err)
		}
		out = append(out, planned{spec: s, targets: targets})
	}
	return out, dur, nil
}

// spec is the fault of TYPE and the target and param flags.
func (f injectFlags) spec(typ string) (fault.Spec, error) {
	var targets []string
	kinds := 0
	for _, ts := range [][]string{f.links, f.components, f.keys} {
		if len(ts) > 0 {
			kinds++
			targets = append(targets, ts...)
		}
	}
	if kinds != 1 {
		return fault.Spec{}, badInput("give the fault's targets with one of --link, --component or --key")
	}
	params := map[string]any{}
	for _, p := range f.params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return fault.Spec{}, badInput("--param %q: want name=value (e.g. latency=500ms)", p)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return fault.Spec{}, badInput("--param %s: %q is not a value: %v", k, v, err)
		}
		params[k] = val
	}
	return fault.Spec{Type: typ, Target: strings.Join(targets, ","), Params: params,
		Name: fmt.Sprintf("%s %s (manual)", typ, strings.Join(targets, ","))}, nil
}

// caseFaults are a catalog case's faults and its fault window at the
// stack's time scale.
func (f injectFlags) caseFaults(rec gameday.Record, def stack.Definition) ([]fault.Spec, time.Duration, error) {
	in := inputFlags{stack: rec.Stack, catalog: f.catalog}
	cat, _, err := load(in, stack.DataPlane(rec.DataPlane))
	if err != nil {
		return nil, 0, err
	}
	i := slices.IndexFunc(cat.Cases, func(c catalog.Case) bool { return c.Name == f.caseName })
	if i < 0 {
		return nil, 0, badInput("--case %q: no such case; cases: %s", f.caseName, strings.Join(cat.Names(), ", "))
	}
	c := cat.Cases[i]
	if c.Compound() {
		return nil, 0, badInput("--case %s has faults on a schedule of their own: run it with `okbreak run --attach --only '^%s$'`", c.Name, c.Name)
	}
	p, err := c.Plan(rec.TimeScale, cat.Defaults)
	if err != nil {
		return nil, 0, badInput("--case %s: %w", c.Name, err)
	}
	var specs []fault.Spec
	for _, cf := range c.Faults {
		specs = append(specs, fault.Spec{Type: cf.Type, Target: strings.Join(cf.TargetNames(), ","), Params: cf.Params, Name: c.Name + " (manual)"})
	}
	return specs, p.Fault, nil
}

func printInjection(w *os.File, rec gameday.Record, plan []planned, dur time.Duration, until time.Time) {
	fmt.Fprintf(w, "run %s: inject for %s (until %s)\n", rec.Run, dur, until.Format(time.TimeOnly))
	for _, p := range plan {
		fmt.Fprintf(w, "  %-14s on %s%s\n", p.spec.Type, strings.Join(p.targets, ", "), paramsText(p.spec.Params))
	}
}

// attributed is a stack whose injections carry who made them and their
// deadline into the journal.
type attributed struct {
	*stack.Stack
	at fault.Attribution
}

func (a attributed) Attribution() fault.Attribution { return a.at }

// holdFaults injects the faults and keeps them until the deadline, Ctrl-C,
// or another process closing them in the journal (okbreak revert, a halt,
// the keeper). Every exit path reverts what this process still holds.
func holdFaults(ctx context.Context, rec gameday.Record, faults []fault.Fault, until time.Time) (err error) {
	ctx, stop := fault.SignalContext(ctx)
	defer stop()
	j := fault.OpenJournal(stack.RunStateDir(rec.Run))
	started := time.Now()
	var injected []fault.Fault
	revert := func(why string) error {
		var errs []error
		for i := len(injected) - 1; i >= 0; i-- {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fault.RevertTimeout)
			if err := injected[i].Revert(rctx); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		injected = nil
		if len(errs) == 0 {
			fmt.Printf("reverted (%s) after %s\n", why, time.Since(started).Round(time.Millisecond))
			return nil
		}
		return fmt.Errorf("revert: %v", errs)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = revert("panic")
			panic(p)
		}
		if len(injected) > 0 {
			err = joinErr(err, revert("exit"))
		}
	}()
	for _, f := range faults {
		injected = append(injected, f)
		if err := f.Inject(ctx); err != nil {
			return err
		}
	}
	ids := myOpenIDs(j, started)
	fmt.Printf("injected %s [%s] until %s: Ctrl-C or `okbreak revert` ends it now\n", names(faults), strings.Join(ids, " "), until.Format(time.TimeOnly))
	return waitFault(ctx, j, ids, until, func(why string) error { return revert(why) }, func() { injected = nil })
}

// waitFault waits for the deadline, ctx's end, or the journal closing the
// injections: then a halt is exit 4, another's revert success.
func waitFault(ctx context.Context, j *fault.Journal, ids []string, until time.Time, revert func(string) error, forget func()) error {
	deadline := time.NewTimer(time.Until(until))
	defer deadline.Stop()
	tick := time.NewTicker(gameday.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return revert("interrupted")
		case <-deadline.C:
			return revert("deadline")
		case <-tick.C:
			entries, err := j.Entries()
			if err != nil {
				continue
			}
			closedBy, ok := closedElsewhere(entries, ids)
			if !ok {
				continue
			}
			forget()
			if strings.HasPrefix(closedBy.Note, "halted: ") {
				return &exitError{code: exitHalted, err: fmt.Errorf("the fault was reverted by a halt: %s", strings.TrimPrefix(closedBy.Note, "halted: "))}
			}
			who := closedBy.Who
			if who == "" {
				who = fmt.Sprintf("pid %d", closedBy.By.PID)
			}
			fmt.Printf("reverted by %s: %s\n", who, closedBy.Note)
			return nil
		}
	}
}

// closedElsewhere tells whether every one of ids is closed in the journal,
// with the last closing entry.
func closedElsewhere(entries []fault.Entry, ids []string) (fault.Entry, bool) {
	open := map[string]bool{}
	for _, e := range fault.OpenInjections(entries) {
		open[e.ID] = true
	}
	var last fault.Entry
	for _, id := range ids {
		if open[id] {
			return last, false
		}
	}
	for _, e := range entries {
		if slices.Contains(ids, e.ID) && (e.Op == fault.OpReverted || e.Op == fault.OpAbandoned) {
			last = e
		}
	}
	return last, len(ids) > 0
}

// myOpenIDs are the injections this process opened since t.
func myOpenIDs(j *fault.Journal, t time.Time) []string {
	entries, _ := j.Entries()
	self := fault.Self()
	var ids []string
	for _, e := range fault.OpenInjections(entries) {
		if e.By.PID == self.PID && e.By.Start == self.Start && !e.Time.Before(t.Add(-time.Second)) {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

func names(fs []fault.Fault) string {
	var n []string
	for _, f := range fs {
		n = append(n, f.Name())
	}
	return strings.Join(n, ", ")
}

func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return fmt.Errorf("%w (and %v)", a, b)
}
