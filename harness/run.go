// Package harness runs catalog cases against a running stack and gives each
// one a verdict with evidence: steady state first, then the fault (always
// reverted), then recovery, judged from the probe's windows and the team's
// own alert rules evaluated on the components' real metrics.
package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/probe"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
)

// Runner runs the cases of a catalog against one stack, one case at a time.
// It is not safe for concurrent use: cases share the stack.
type Runner struct {
	// System is the system under test, already running.
	System System
	// Defaults are the catalog's defaults.
	Defaults catalog.Defaults
	// Rules are the alert rule files for the stack's data plane, as
	// written (production durations); each case scales them.
	Rules []alert.RuleFile
	// TimeScale is the requested time scale (>= 1); each case caps it.
	TimeScale float64
	// Logf receives progress lines (nil: none).
	Logf func(format string, args ...any)
	// OnProgress, when set, receives a snapshot of the running case every
	// half second and at each change of phase, from another goroutine;
	// the last one of a case has Done set. It must return quickly.
	OnProgress func(Progress)
	// SteadyTimeout bounds the wait for the stack's steady state before a
	// case (default 90 s).
	SteadyTimeout time.Duration
	// AlertSource, when set, makes each case's alert source at the case's
	// time scale (a running environment's Prometheus or Alertmanager);
	// nil: the embedded rule engine over Rules and the system's metrics.
	AlertSource func(scale float64) (AlertSource, error)
	// RuleTests, when set, writes a promtool rule test for each case that
	// gets its class's verdict.
	RuleTests *RuleTests
	// Halt, when set, stops a case at once (reverting its faults) when a
	// halt condition holds, and RunCatalog runs no case after it. Not-ok
	// cases are exempt from the success floor and from their own expected
	// alerts, never from the other abort alerts.
	Halt Halt
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

// stateSource adapts the system's container states to the alert package's,
// with each component's Kubernetes names from its static labels. Two
// targets read it (okbreak's names and kube-state-metrics's) at about the
// same moment: one engine call serves both within stateTTL.
func stateSource(s ContainerStater, def stack.Definition) alert.StateSource {
	var (
		mu   sync.Mutex
		at   time.Time
		last []alert.ContainerState
		// exits remembers each component's last exit as seen while it
		// was down: Docker resets ExitCode (not FinishedAt) when the
		// restart policy starts the container again.
		exits = map[string]alert.ContainerState{}
	)
	return alert.StateSourceFunc(func(ctx context.Context) ([]alert.ContainerState, error) {
		mu.Lock()
		defer mu.Unlock()
		if last != nil && time.Since(at) < stateTTL {
			return last, nil
		}
		states, err := s.ContainerStates(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]alert.ContainerState, 0, len(states))
		for _, st := range states {
			c, _ := def.Component(st.Component)
			cs := alert.ContainerState{
				Component: st.Component, Running: st.Running, Paused: st.Paused,
				Namespace: c.Labels["namespace"], Pod: c.Labels["pod"], Container: c.Labels["container"],
				Restarting: st.Restarting, Restarts: st.RestartCount, ExitCode: st.ExitCode,
				OOMKilled: st.OOMKilled, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
			}
			if seen, ok := exits[cs.Component]; ok && cs.Running && seen.FinishedAt.Equal(cs.FinishedAt) {
				cs.ExitCode, cs.OOMKilled = seen.ExitCode, seen.OOMKilled
			}
			if (!cs.Running || cs.Restarting) && !cs.FinishedAt.IsZero() {
				exits[cs.Component] = cs
			}
			out = append(out, cs)
		}
		last, at = out, time.Now()
		return out, nil
	})
}

// stateTTL is how long one read of container state serves both of its
// targets: well under the shortest scrape interval (250 ms).
const stateTTL = 100 * time.Millisecond

func (r *Runner) targets() []alert.Target { return Targets(r.System) }

// Targets are every component's metrics endpoint plus container state,
// for an alert session on sys. The URL is looked up before each scrape: a
// restarted container's published port can change.
func Targets(sys System) []alert.Target {
	var ts []alert.Target
	scraped := func(string) bool { return true }
	if ml, ok := sys.(MetricsLister); ok {
		names := ml.MetricsComponents()
		scraped = func(c string) bool { return slices.Contains(names, c) }
	}
	for _, c := range sys.Definition().Components {
		if !scraped(c.Name) {
			continue
		}
		name := c.Name
		ts = append(ts, alert.Target{
			Job: c.JobOf(), Instance: name, Labels: c.Labels,
			Resolve: func(ctx context.Context) (string, error) { return sys.MetricsURL(ctx, name) },
		})
	}
	if cs, ok := sys.(ContainerStater); ok {
		src := stateSource(cs, sys.Definition())
		ts = append(ts, alert.ContainerTarget(src), alert.KubeStateTarget(src))
	}
	return ts
}

// RunCase runs one case and returns its verdict. It never leaves a fault
// in force: the revert runs whatever happens, ctx's end and a panic
// included. The case runs in stages (steady, inject, hold, revert, settle,
// judge); each stage that cannot go on sets the verdict and ends the case.
func (r *Runner) RunCase(ctx context.Context, c catalog.Case) (res Result) {
	res = Result{Name: c.Name, Class: c.Class, Why: c.Why, Started: time.Now(), AlertsFired: []AlertFired{}}
	k := &caseRun{r: r, c: c, res: &res, tr: r.track(ctx, c)}
	defer func() {
		res.Elapsed = time.Since(res.Started).Seconds()
		k.tr.finish(res.Verdict)
	}()
	if !k.prepare() {
		return res
	}
	defer k.stopWatching()
	if !k.steady(ctx) {
		return res
	}
	ctx, stopHalt := k.watchHalt(ctx)
	defer func() {
		if why := stopHalt(); why != "" {
			res.Verdict, res.Reason, res.Halted = Failed, "halted: "+why, why
		}
	}()
	// Inject; the schedule reverts every fault however this function ends.
	k.sched = newSchedule(k.faults, k.plan)
	defer func() {
		if p := recover(); p != nil {
			_, _ = k.revertFaults(ctx)
			panic(p)
		}
		if _, err := k.revertFaults(ctx); err != nil {
			res.Verdict, res.Reason = Failed, "revert: "+err.Error()
		}
	}()
	if k.injectAndHold(ctx) && k.revert(ctx) && k.settle(ctx) {
		k.judge(ctx)
		k.writeRuleTest(ctx)
	}
	return res
}

// caseRun is one case in flight: what its stages share. It belongs to the
// goroutine running RunCase.
type caseRun struct {
	r   *Runner
	c   catalog.Case
	res *Result
	tr  *tracker

	plan   catalog.Plan
	slo    probe.SLO
	faults []fault.Fault
	sess   AlertSource
	pr     *probe.Probe
	sched  *schedule

	reverted                               bool
	start, inject, faultEnd, revertAt, end time.Time
	before                                 probe.Stats
	recovered                              recovery
}

// conclude ends the case early with a verdict; it returns false, for the
// stage to return.
func (k *caseRun) conclude(v Verdict, reason string) bool {
	k.res.Verdict, k.res.Reason = v, reason
	return false
}

// concludeWithEvidence also keeps the components' logs, Toxiproxy's state
// and the data plane's config.
func (k *caseRun) concludeWithEvidence(ctx context.Context, v Verdict, reason string) bool {
	k.res.Evidence = k.r.evidence(ctx, k.sess)
	return k.conclude(v, reason)
}

// prepare checks the case can run here and builds its plan and faults.
func (k *caseRun) prepare() bool {
	if why := k.c.SkipReason(string(k.r.System.Definition().DataPlane)); why != "" {
		return k.conclude(Skipped, why)
	}
	plan, err := k.c.Plan(max(k.r.TimeScale, 1), k.r.Defaults)
	if err != nil {
		return k.conclude(Invalid, fmt.Sprintf("time scale: %v", err))
	}
	k.plan, k.slo = plan, toProbeSLO(k.c.EffectiveSLO(k.r.Defaults))
	k.res.Plan, k.res.EffectiveScale = &k.plan, plan.Scale
	k.tr.planned(k.c, plan)
	k.r.logf("%s: %s", k.c.Name, plan)
	if k.faults, err = k.r.buildFaults(k.c); err != nil {
		return k.conclude(Invalid, err.Error())
	}
	k.res.Fault = describe(k.faults)
	return true
}

// steady waits for the steady state, starts a fresh rule manager and the
// probe, and measures the before window; the case is invalid without it.
func (k *caseRun) steady(ctx context.Context) bool {
	const notSteady = "no steady state before the fault: "
	r := k.r
	if err := r.WaitSteady(ctx); err != nil {
		return k.concludeWithEvidence(ctx, Invalid, notSteady+err.Error())
	}
	sess, err := r.alertSource(k.plan.Scale)
	if err != nil {
		return k.conclude(Invalid, err.Error())
	}
	if err := sess.Start(ctx); err != nil {
		return k.conclude(Invalid, err.Error())
	}
	k.sess = sess
	entry, err := r.System.EntryURL(ctx)
	if err != nil {
		return k.conclude(Invalid, err.Error())
	}
	e := r.System.Definition().Entry
	_, remote := r.System.(RemoteEntry)
	pr, err := probe.New(probe.Config{URL: entry, Host: e.Host, Path: e.Path, Check: e.Check, Header: e.Header, Rate: int(r.Defaults.ProbeRate), AllowRemote: remote})
	if err != nil {
		return k.conclude(Invalid, err.Error())
	}
	if err := pr.Start(ctx); err != nil {
		return k.conclude(Invalid, err.Error())
	}
	k.pr = pr
	k.tr.watch(pr, sess)

	// The stack is only in its steady state once this case's own rule
	// manager sees no alert pending or firing: a previous case's
	// consequences (a control plane still reconnecting to etcd) must not
	// leak into this one.
	if err := r.waitNoAlerts(ctx, sess); err != nil {
		k.res.Timeline = sess.Timeline()
		return k.concludeWithEvidence(ctx, Invalid, notSteady+err.Error())
	}
	k.start = time.Now()
	traffic := k.watchLinks(ctx)
	// A little over the shortest window, so that the before window holds
	// its minimum number of samples even with one in flight at injection.
	if err := sleep(ctx, k.plan.Before+k.plan.Before/20); err != nil {
		return k.conclude(Invalid, err.Error())
	}
	k.inject = time.Now()
	if why := traffic(ctx); why != "" {
		return k.concludeWithEvidence(ctx, Invalid, why)
	}
	k.before = probe.Compute(pr.Samples(), k.start, k.inject)
	if ok, why := k.before.Meets(k.slo, r.Defaults.MinSamples); !ok {
		k.res.Windows = &Windows{Before: k.before}
		return k.concludeWithEvidence(ctx, Invalid, notSteady+why.Error())
	}
	if down := downTargets(sess.Targets()); len(down) > 0 {
		return k.concludeWithEvidence(ctx, Invalid, "scrape targets down before the fault: "+strings.Join(down, ", "))
	}
	if firing := sess.Timeline().FiringAt(k.inject); len(firing) > 0 {
		return k.concludeWithEvidence(ctx, Invalid, "alerts firing before the fault: "+strings.Join(firing, ", "))
	}
	return true
}

// watchLinks looks at the links the case's network faults act on; the
// function it returns looks again and says why the case is invalid when a
// link carried nothing meanwhile: a fault on a link without traffic proves
// nothing (and traffic that bypasses Toxiproxy looks just like that). A
// link is in use when a connection was open through it at either look, or
// its byte counters moved (connections that closed). A case that declares
// idle_link, a system that cannot say, and a case without network faults
// pass.
func (k *caseRun) watchLinks(ctx context.Context) func(context.Context) string {
	pass := func(context.Context) string { return "" }
	te, ok := k.r.System.(fault.ToxiproxyEnv)
	lw, canSee := k.r.System.(LinkWatcher)
	if k.c.IdleLink || !ok || !canSee {
		return pass
	}
	links, err := k.r.caseLinks(k.c)
	if err != nil {
		k.r.logf("%s: cannot tell which links its faults act on: %v", k.c.Name, err)
		return pass
	}
	if len(links) == 0 {
		return pass
	}
	look := func(ctx context.Context) (linkUse, error) {
		b := map[string]float64{}
		for _, p := range te.Definition().Proxies() {
			api, err := te.ToxiproxyAPI(ctx, p)
			if err != nil {
				return linkUse{}, err
			}
			pb, err := linkBytes(ctx, api)
			if err != nil {
				return linkUse{}, err
			}
			maps.Copy(b, pb)
		}
		c, err := lw.LinkConnections(ctx)
		return linkUse{bytes: b, conns: c}, err
	}
	before, err := look(ctx)
	if err != nil {
		k.r.logf("%s: cannot tell whether %s carry traffic: %v", k.c.Name, strings.Join(links, ", "), err)
		return pass
	}
	return func(ctx context.Context) string {
		after, err := look(ctx)
		if err != nil {
			k.r.logf("%s: cannot tell whether %s carry traffic: %v", k.c.Name, strings.Join(links, ", "), err)
			return ""
		}
		if idle := idleLinks(links, before, after); len(idle) > 0 {
			return fmt.Sprintf("%s carried no traffic in the before window (no connection through Toxiproxy, no bytes): a network fault there proves nothing; "+
				"if the link is idle by design, say so with idle_link: true in the case", strings.Join(idle, ", "))
		}
		return ""
	}
}

// watchHalt checks the halt conditions every quarter second until the
// function it returns is called, which says the condition that held, if
// one did. When one holds, the ctx it returns ends: the stages stop and
// the faults are reverted on the way out.
func (k *caseRun) watchHalt(ctx context.Context) (context.Context, func() string) {
	if k.r.Halt.IsZero() {
		return ctx, func() string { return "" }
	}
	ex := Exemption{}
	if k.c.Class == catalog.NotOK {
		ex = Exemption{NoFloor: true, Alerts: k.c.Expect.Alerts.Names}
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var why string
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case now := <-tick.C:
				if w := k.r.Halt.Check(k.pr.Samples(), Firing(k.sess), now, ex); w != "" {
					why = w
					k.r.logf("%s: HALT: %s", k.c.Name, w)
					cancel()
					return
				}
			}
		}
	}()
	return hctx, func() string {
		cancel()
		<-done
		return why
	}
}

// stopWatching stops the probe and the rule manager, whichever started.
func (k *caseRun) stopWatching() {
	if k.pr != nil {
		k.pr.Stop()
	}
	if k.sess != nil {
		if err := k.sess.Stop(); err != nil {
			k.r.logf("%s: stop alert session: %v", k.c.Name, err)
		}
	}
}

// injectAndHold puts the faults in force and holds them: ok-to-break cases
// for their whole window; not-ok cases until every expected alert fires
// (the detection window is an upper bound, not a wait). A compound case's
// faults start and end on their own schedule meanwhile.
func (k *caseRun) injectAndHold(ctx context.Context) bool {
	k.pr.Mark(probe.MarkInject, k.inject)
	k.tr.phase(PhaseInject)
	if err := k.sched.begin(ctx, k.inject); err != nil {
		return k.concludeWithEvidence(ctx, Invalid, err.Error())
	}
	k.r.logf("%s: injected %s", k.c.Name, k.res.Fault)
	k.tr.phase(PhaseHold)

	// A little over the planned duration, so that the judged window holds
	// its minimum number of samples: longer is stricter, never looser.
	windowEnd := k.inject.Add(k.plan.Fault + k.plan.Shortest/20)
	var fired func() bool
	if k.c.Class == catalog.NotOK {
		windowEnd = k.inject.Add(k.plan.Detection)
		fired = func() bool {
			return k.c.Expect.Alerts.Satisfied(func(name string) bool {
				_, ok := k.sess.Timeline().FirstFiredAfter(name, k.inject)
				return ok
			})
		}
	}
	var err error
	k.faultEnd, err = k.sched.hold(ctx, windowEnd, k.sess, fired)
	if err != nil {
		k.res.FaultSpans = k.sched.spans()
		return k.conclude(Failed, err.Error())
	}
	k.res.Facts = facts(k.faults)
	return true
}

// revertFaults takes out every fault still in force, once; later calls
// return the first call's time.
func (k *caseRun) revertFaults(ctx context.Context) (time.Time, error) {
	if k.reverted {
		return k.sched.lastEnd(), nil
	}
	k.reverted = true
	return k.sched.revertAll(ctx)
}

// revert ends the fault window.
func (k *caseRun) revert(ctx context.Context) bool {
	k.tr.phase(PhaseRevert)
	at, err := k.revertFaults(ctx)
	k.res.FaultSpans = k.sched.spans()
	if err != nil {
		return k.concludeWithEvidence(ctx, Failed, "revert: "+err.Error())
	}
	k.revertAt = at
	k.pr.Mark(probe.MarkRevert, at)
	k.r.logf("%s: reverted after %s", k.c.Name, at.Sub(k.inject).Round(time.Millisecond))
	return true
}

// settle waits for recovery (the probe meets the SLO again, every
// component healthy, every backend answering), then an after window of the
// shortest length for ok-to-break cases (not-ok cases only wait for
// recovery, which the next case's steady-state gate needs), and records
// what the judge reads.
func (k *caseRun) settle(ctx context.Context) bool {
	k.tr.phase(PhaseSettle)
	k.recovered = k.r.waitRecovered(ctx, k.pr, k.revertAt, k.slo, k.plan)
	afterEnd := time.Now()
	if k.c.Class == catalog.OkToBreak {
		afterEnd = k.revertAt.Add(k.plan.Grace + k.plan.Shortest + k.plan.Shortest/20)
	}
	if err := sleep(ctx, time.Until(afterEnd)+k.r.probeTimeout()); err != nil {
		return k.conclude(Failed, err.Error())
	}
	k.end = time.Now().Add(-k.r.probeTimeout())
	k.pr.Stop()
	samples := k.pr.Samples()
	res := k.res
	w := probe.Split(samples, k.start, k.inject, k.revertAt, k.end, k.plan.Grace)
	res.Windows = &Windows{Before: k.before, During: w.During, After: w.After}
	if k.recovered.ok {
		res.TimeToRecoverS = seconds(k.recovered.at.Sub(k.revertAt))
	}
	res.Timeline = k.sess.Timeline()
	res.AlertsFired = alertsFired(res.Timeline, k.inject)
	res.Series = series(samples, k.start, k.end, k.inject)
	res.Marks = &Marks{
		Injected: k.inject, StartS: k.start.Sub(k.inject).Seconds(), RevertS: k.revertAt.Sub(k.inject).Seconds(),
		EndS: k.end.Sub(k.inject).Seconds(), GraceS: k.plan.Grace.Seconds(), RecoveryS: k.plan.Recovery.Seconds(),
	}
	res.LeftActive = activeNames(k.sess)
	return true
}

// judge gives the verdict from what was recorded (Judge), and keeps the
// evidence when it is not the class's.
func (k *caseRun) judge(ctx context.Context) {
	k.tr.phase(PhaseJudge)
	j := Judge(k.c, k.r.Defaults, Record{
		Inject: k.inject, FaultEnd: k.faultEnd, End: k.end, Windows: *k.res.Windows, Timeline: k.res.Timeline,
		Recovered: k.recovered.ok, RecoveryWhy: k.recovered.why, Recovery: k.plan.Recovery, Outcomes: k.sched.outcomesSeen(),
	})
	k.res.Verdict, k.res.Reason = j.Verdict, j.Reason
	if j.TimeToDetect != nil {
		k.res.TimeToDetectS = seconds(*j.TimeToDetect)
	}
	if k.res.Verdict != Expected(k.c.Class) {
		k.res.Evidence = k.r.evidence(ctx, k.sess)
	}
}

func (r *Runner) probeTimeout() time.Duration { return probe.DefaultTimeout }

// recoveryProbeWindow is the sliding window that finds the time to recover.
const recoveryProbeWindow = time.Second

func describe(fs []fault.Fault) string {
	var out []string
	for _, f := range fs {
		if d, ok := f.(fault.Describer); ok {
			out = append(out, d.Describe())
		} else {
			out = append(out, f.Name())
		}
	}
	return strings.Join(out, "; ")
}

// facts gathers what the faults observed; a compound case's facts are
// keyed by the fault's place in the case ("2.exit_code"), so that two
// faults' observations never overwrite each other.
func facts(fs []fault.Fault) map[string]any {
	out := map[string]any{}
	for i, f := range fs {
		if o, ok := f.(fault.Observer); ok {
			for k, v := range o.Facts() {
				if len(fs) > 1 {
					k = fmt.Sprintf("%d.%s", i+1, k)
				}
				out[k] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

type recovery struct {
	ok  bool
	at  time.Time
	why string
}

// waitRecovered waits, up to the recovery window, until the probe has met
// the SLO over a full shortest window after revert, every component runs,
// and every backend answers.
func (r *Runner) waitRecovered(ctx context.Context, pr *probe.Probe, revertAt time.Time, slo probe.SLO, plan catalog.Plan) recovery {
	deadline := revertAt.Add(plan.Recovery)
	var rec recovery
	err := retry.Until(ctx, "recovery", time.Until(deadline), 250*time.Millisecond, func(ctx context.Context) error {
		if err := r.componentsHealthy(ctx); err != nil {
			// A check cut off by the deadline says nothing about the
			// stack: keep the reason the last completed check gave.
			if ctx.Err() == nil || rec.why == "" {
				rec.why = err.Error()
			}
			return err
		}
		// Time to recover is found with a one-second sliding window; the
		// SLO itself is judged on the full after window.
		at, _, ok := pr.Recovered(revertAt, slo, recoveryProbeWindow, int(r.Defaults.ProbeRate*recoveryProbeWindow.Seconds()*0.9))
		if !ok {
			rec.why = "the probe has not met the SLO over a full window since revert"
			return errors.New(rec.why)
		}
		if err := r.everyInstanceAnswers(pr, at); err != nil {
			rec.why = err.Error()
			return err
		}
		rec.ok, rec.at = true, at
		return nil
	})
	if err != nil && rec.why == "" {
		rec.why = err.Error()
	}
	return rec
}

// everyInstanceAnswers checks that each instance the entry names answered
// the probe since t.
func (r *Runner) everyInstanceAnswers(pr *probe.Probe, t time.Time) error {
	st := probe.Compute(pr.Samples(), t, time.Now())
	var missing []string
	for _, b := range r.System.Definition().Entry.Instances {
		if st.ByInstance[b] == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not answering since %s: %s", t.Format(time.TimeOnly), strings.Join(missing, ", "))
	}
	return nil
}

// componentsHealthy checks that every component's container runs, unpaused
// (on a system that can say).
func (r *Runner) componentsHealthy(ctx context.Context) error {
	cs, ok := r.System.(ContainerStater)
	if !ok {
		return nil
	}
	states, err := cs.ContainerStates(ctx)
	if err != nil {
		return err
	}
	var bad []string
	for _, st := range states {
		if !st.Running || st.Paused || st.Restarting {
			bad = append(bad, fmt.Sprintf("%s %s", st.Component, st.Status))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("components not running: %s", strings.Join(bad, ", "))
	}
	return nil
}

// steadyTimeout bounds every wait for the steady state (default 90 s).
func (r *Runner) steadyTimeout() time.Duration {
	if r.SteadyTimeout > 0 {
		return r.SteadyTimeout
	}
	return 90 * time.Second
}

// WaitSteady waits until the stack is in its steady state: every component
// running, Toxiproxy clean, and traffic through client->edge answered by
// every backend, none of it refused. Alerts are checked by each case's
// own fresh rule manager before injection.
func (r *Runner) WaitSteady(ctx context.Context) error {
	return retry.Until(ctx, "steady state", r.steadyTimeout(), 250*time.Millisecond, func(ctx context.Context) error {
		if err := r.componentsHealthy(ctx); err != nil {
			return err
		}
		if te, ok := r.System.(fault.ToxiproxyEnv); ok {
			if err := toxiproxiesClean(ctx, te); err != nil {
				return err
			}
		}
		return r.System.WaitServing(ctx)
	})
}

// toxiproxiesClean says which of the system's Toxiproxies holds a toxic
// or a disabled proxy.
func toxiproxiesClean(ctx context.Context, te fault.ToxiproxyEnv) error {
	for _, p := range te.Definition().Proxies() {
		api, err := te.ToxiproxyAPI(ctx, p)
		if err != nil {
			return err
		}
		st, err := fault.InspectToxiproxy(ctx, api)
		if err != nil {
			return err
		}
		if sc, ok := te.(ProxyScoper); ok {
			st = st.Only(sc.DeclaredProxies(p))
		}
		if !st.Clean() {
			return fmt.Errorf("%s not clean: %+v", p, st)
		}
	}
	return nil
}

// waitNoAlerts waits until the session has evaluated its rules and no alert
// is pending or firing, up to the steady-state timeout.
func (r *Runner) waitNoAlerts(ctx context.Context, sess AlertSource) error {
	timeout := r.steadyTimeout()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	quiet := func() bool { return sess.Evaluations() >= 2 && len(sess.Active("")) == 0 }
	if err := sess.WaitUntil(wctx, quiet); err != nil {
		return fmt.Errorf("alerts still active after %s: %s", timeout, strings.Join(activeNames(sess), ", "))
	}
	return nil
}

func alertsFired(tl alert.Timeline, inject time.Time) []AlertFired {
	first := map[string]AlertFired{}
	for _, t := range tl {
		if t.To != alert.StateFiring {
			continue
		}
		if _, ok := first[t.Alert]; !ok {
			first[t.Alert] = AlertFired{Name: t.Alert, Severity: t.Severity, FirstFiredS: t.At.Sub(inject).Seconds()}
		}
	}
	out := make([]AlertFired, 0, len(first))
	for _, a := range first {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FirstFiredS < out[j].FirstFiredS })
	return out
}

// activeNames lists the alerts pending or firing now, once each, e.g.
// "ControlPlaneDisconnected (pending)".
func activeNames(sess AlertSource) []string {
	var out []string
	for _, a := range sess.Active("") {
		n := fmt.Sprintf("%s (%s)", a.Alert, a.State)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func downTargets(ts []alert.TargetHealth) []string {
	var down []string
	for _, t := range ts {
		if !t.Up {
			down = append(down, fmt.Sprintf("%s/%s (%s)", t.Job, t.Instance, t.LastError))
		}
	}
	return down
}

func toProbeSLO(s catalog.SLO) probe.SLO { return probe.SLO{Success: s.Success, P99: s.P99} }

func firedNames(names []string, fired func(string) bool) []string {
	var out []string
	for _, n := range names {
		if fired(n) {
			out = append(out, n)
		}
	}
	return out
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
