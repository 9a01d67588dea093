package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/envfile"
	"github.com/okbreak/okbreak/harness/envtarget"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/gameday"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// envRun is a catalog run against a running environment: everything
// checked against the file (the allow-list) before the first fault.
type envRun struct {
	env   *envfile.Env
	in    harness.Inputs
	cat   *catalog.Catalog
	cases []catalog.Case
	halt  harness.Halt
	// alerts is the environment's Prometheus or Alertmanager (nil: the
	// embedded rule engine).
	alerts func(scale float64) (harness.AlertSource, error)
}

// planEnv reads the environment file, the catalog and the rules, picks the
// cases, and refuses anything the file does not allow: an undeclared link
// or container, a fault over the limits, an unreachable Toxiproxy.
func (rf runFlags) planEnv(ctx context.Context) (envRun, error) {
	var er envRun
	env, err := envfile.Load(rf.env)
	if err != nil {
		return er, badInput("%w", err)
	}
	er.env = env
	useEngine(env)
	if er.alerts, err = envtarget.AlertSource(env); err != nil {
		return er, badInput("%w", err)
	}
	if er.in, err = envInputs(env, rf.inputs.catalog); err != nil {
		return er, err
	}
	def := envtarget.Definition(env)
	if er.cat, _, _, err = er.in.Load(def); err != nil {
		return er, badInput("%w\n(the catalog is checked against %s: every link and component a case names must be declared there, and every alert a case expects must be in alerts.rules)", err, env.Path)
	}
	if len(env.Alerts.Page) > 0 {
		er.cat.Defaults.PageLabels = env.Alerts.Page
	}
	if er.cases, err = selectCases(er.cat, rf.only); err != nil {
		return er, err
	}
	if err := checkEnvCases(env, er.cat, er.cases); err != nil {
		return er, err
	}
	er.halt = harness.Halt(env.Halt)
	if !rf.halt.IsZero() {
		er.halt = rf.halt
	}
	return er, checkToxiproxies(ctx, env)
}

// envInputs are the environment's rule files and the catalog (--catalog,
// else the sample's).
func envInputs(env *envfile.Env, catalogPath string) (harness.Inputs, error) {
	in, err := sample.Inputs(stack.GRPC)
	if err != nil {
		return in, err
	}
	if catalogPath != "" {
		b, err := os.ReadFile(catalogPath)
		if err != nil {
			return in, badInput("catalog: %w", err)
		}
		in.Catalog = harness.Source{Name: catalogPath, Data: b}
	}
	if in.Rules, err = harness.ReadRules(env.Alerts.RuleFiles...); err != nil {
		return in, badInput("%s: alerts.rules: %w", env.Path, err)
	}
	return in, nil
}

// selectCases are the catalog's cases --only matches.
func selectCases(cat *catalog.Catalog, only string) ([]catalog.Case, error) {
	var sel *regexp.Regexp
	if only != "" {
		var err error
		if sel, err = regexp.Compile(only); err != nil {
			return nil, badInput("--only %q: %w", only, err)
		}
	}
	var out []catalog.Case
	for _, c := range cat.Cases {
		if sel == nil || sel.MatchString(c.Name) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, badInput("--only %q matches no case; cases: %v", only, cat.Names())
	}
	return out, nil
}

// checkEnvCases refuses, before anything changes, a case the environment
// does not allow: a fault that lasts longer (at the environment's time
// scale) or hits more targets than the file allows, or one only the
// environment can refuse (a crash on another host's engine, say), found by
// building every fault against it (building changes nothing).
func checkEnvCases(env *envfile.Env, cat *catalog.Catalog, cases []catalog.Case) error {
	sys := envtarget.New(env, "plan")
	var errs []error
	for _, c := range cases {
		p, err := c.Plan(env.Scale, cat.Defaults)
		if err != nil {
			errs = append(errs, fmt.Errorf("case %s: %w", c.Name, err))
			continue
		}
		for _, cf := range c.Faults {
			spec := fault.Spec{Type: cf.Type, Target: strings.Join(cf.TargetNames(), ","), Params: cf.Params, Name: c.Name}
			targets, err := fault.Targets(spec, sys.Definition())
			if err != nil {
				errs = append(errs, fmt.Errorf("case %s: %w", c.Name, err))
				continue
			}
			if err := env.CheckLimits(p.Fault, len(targets)); err != nil {
				errs = append(errs, fmt.Errorf("case %s (%s on %s, %s at scale %g): %w", c.Name, cf.Type, strings.Join(targets, ","), p.Fault, p.Scale, err))
				continue
			}
			if _, err := fault.New(spec, sys); err != nil {
				errs = append(errs, fmt.Errorf("case %s: %w", c.Name, err))
			}
		}
	}
	if len(errs) > 0 {
		return badInput("refused before the first fault:\n%w", errors.Join(errs...))
	}
	return nil
}

// useEngine points this process's Docker client at the engine the file
// names for its containers (before anything uses Docker).
func useEngine(env *envfile.Env) {
	if env.Docker != nil && !env.LocalEngine() {
		_ = os.Setenv("DOCKER_HOST", env.Docker.Engine)
	}
}

// checkToxiproxies asks each declared Toxiproxy for its proxies (a read):
// one that does not answer is a missing environment (exit 3), a declared
// proxy it does not have is bad input (exit 2).
func checkToxiproxies(ctx context.Context, env *envfile.Env) error {
	for _, tp := range env.Toxiproxies {
		st, err := fault.ListProxies(ctx, tp.API)
		if err != nil {
			return noEnv(fmt.Errorf("Toxiproxy %s at %s does not answer: %w\n  is it running, and is api: in %s right?", tp.Name, tp.API, err, env.Path))
		}
		for _, l := range env.Proxies {
			if l.Toxiproxy == tp.Name && !slices.Contains(st, l.Proxy) {
				return badInput("%s: link %s: Toxiproxy %s has no proxy %q (it has: %s)", env.Path, l.Name, tp.Name, l.Proxy, strings.Join(st, ", "))
			}
		}
	}
	return nil
}

// printEnvPlan prints what a run against the environment would do.
func printEnvPlan(er envRun) {
	env := er.env
	header := fmt.Sprintf("dry run against %s (%s), time scale %g, alerts from %s; halt: %s; limits: %s, %d targets",
		env.Name, env.Path, env.Scale, alertsFrom(env), er.halt, env.Limits.MaxFaultDuration, env.Limits.MaxTargets)
	printPlan(header, er.cases, er.cat.Defaults, env.Scale, func(ts []string) string { return describeTargets(env, ts) })
}

// printPlan prints each case, the verdict it expects, its faults and their
// targets, and the time it will take; it changes nothing.
func printPlan(header string, cases []catalog.Case, d catalog.Defaults, scale float64, targets func([]string) string) {
	fmt.Println(header)
	var total time.Duration
	for _, c := range cases {
		p, err := c.Plan(scale, d)
		if err != nil {
			fmt.Printf("%-28s cannot run at scale %g: %v\n", c.Name, scale, err)
			continue
		}
		wall := harness.EstimateWall(c.Class, p)
		total += wall
		fmt.Printf("%-28s %-11s expects %-9s fault %-8s wall ~%s\n", c.Name, c.Class, harness.Expected(c.Class), p.Fault, wall.Round(time.Second))
		for _, cf := range c.Faults {
			fmt.Printf("    %-14s on %s%s\n", cf.Type, targets(cf.TargetNames()), paramsText(cf.Params))
		}
	}
	fmt.Printf("%d cases, ~%s in all; dry run: nothing was changed\n", len(cases), total.Round(time.Second))
}

func describeTargets(env *envfile.Env, targets []string) string {
	var out []string
	for _, t := range targets {
		if api, proxy, ok := env.ProxyOf(t); ok {
			out = append(out, fmt.Sprintf("%s (proxy %s at %s)", t, proxy, api))
		} else if c, ok := env.ContainerOf(t); ok {
			out = append(out, fmt.Sprintf("%s (container %s)", t, c))
		} else {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

func paramsText(p map[string]any) string {
	if len(p) == 0 {
		return ""
	}
	var kv []string
	for k, v := range p {
		kv = append(kv, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(kv)
	return " (" + strings.Join(kv, ", ") + ")"
}

// runEnv runs the selected cases against the environment, or prints the
// plan with --dry-run.
func (rf runFlags) runEnv(ctx context.Context) error {
	started := time.Now()
	er, err := rf.planEnv(ctx)
	if err != nil {
		return err
	}
	if rf.dryRun {
		printEnvPlan(er)
		return nil
	}
	ctx, stop := fault.SignalContext(ctx)
	defer stop()
	run := stack.NewRunID()
	logf("run %s against %s (%s): %d cases, alerts from %s", run, er.env.Name, er.env.Path, len(er.cases), alertsFrom(er.env))
	sys := envtarget.New(er.env, run)
	cr := catalogRun{t: target{def: sys.Definition(), shown: sys.Definition()}, in: er.in, cat: er.cat, cases: er.cases, alertSource: er.alerts}
	if _, cr.rules, _, err = er.in.Load(sys.Definition()); err != nil {
		return badInput("%w", err)
	}
	rf.scale, rf.halt = er.env.Scale, er.halt
	rep, failed, err := rf.runCases(ctx, []harness.System{sys}, harness.Lanes(cr.cases, cr.cat.Defaults, rf.scale, 1), cr)
	if err != nil {
		return err
	}
	if entries, err := fault.OpenJournal(sys.StateDir()).Entries(); err == nil {
		rep.GameDay = gameday.Log(entries)
	}
	return rf.finish(ctx, rep, started, er.env.Name+"-"+run, failed, len(cr.cases))
}

func alertsFrom(env *envfile.Env) string {
	switch env.Alerts.Source {
	case envfile.SourcePrometheus:
		return "the Prometheus at " + env.Alerts.Prometheus
	case envfile.SourceAlertmanager:
		return "the Alertmanager at " + env.Alerts.Alertmanager
	}
	return "okbreak's rule engine on the scrape targets"
}
