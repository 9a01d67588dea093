// Package harness runs fault-injection cases against a stack. This file
// holds recovery: bringing the system back to its steady state after a run
// was killed with faults in force.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// Repair is one thing Recover did, found, or could not do.
type Repair struct {
	Run  string
	What string
	Err  error
}

// String is the repair as one line: "run <id>: <what>[: <error>]".
func (r Repair) String() string {
	s := fmt.Sprintf("run %s: %s", r.Run, r.What)
	if r.Err != nil {
		s += ": " + r.Err.Error()
	}
	return s
}

// Recovery says what Recover repaired, what it left alone and why, and what
// it could not repair.
type Recovery struct {
	Repaired []Repair
	Skipped  []Repair
	Failed   []Repair
}

// Nothing tells whether there was nothing to repair (and nothing failed).
func (r Recovery) Nothing() bool { return len(r.Repaired)+len(r.Failed) == 0 }

// String lists the repairs, skips and failures, one a line, as `okbreak
// recover` prints them.
func (r Recovery) String() string {
	var b strings.Builder
	for _, x := range r.Repaired {
		fmt.Fprintf(&b, "repaired: %s\n", x)
	}
	for _, x := range r.Skipped {
		fmt.Fprintf(&b, "skipped:  %s\n", x)
	}
	for _, x := range r.Failed {
		fmt.Fprintf(&b, "FAILED:   %s\n", x)
	}
	if r.Nothing() && len(r.Skipped) == 0 {
		b.WriteString("nothing to repair\n")
	}
	return b.String()
}

type recoverOptions struct {
	run   string
	force bool
	logf  func(format string, args ...any)
}

// RecoverOption configures Recover.
type RecoverOption func(*recoverOptions)

// RecoverRun limits recovery to one run (default: every run on this host's
// engine and in the state folder).
func RecoverRun(runID string) RecoverOption { return func(o *recoverOptions) { o.run = runID } }

// RecoverForce also repairs runs whose faults a live process holds: its
// faults are reverted under it.
func RecoverForce() RecoverOption { return func(o *recoverOptions) { o.force = true } }

// RecoverLogf sends progress lines to logf.
func RecoverLogf(logf func(format string, args ...any)) RecoverOption {
	return func(o *recoverOptions) { o.logf = logf }
}

// Recover brings okbreak's stacks back to their steady state after a run
// was killed with faults in force. For each run in scope it
//
//   - reverts every injection its journal holds open (toxics removed, proxies
//     re-enabled, components started, unpaused or recreated from the spec
//     the journal kept, etcd keys restored by compare-and-swap),
//   - starts or unpauses components that should run (restart policy always
//     or unless-stopped) and removes containers faults left beside them,
//   - resets the run's Toxiproxy (no toxic, every proxy enabled),
//
// and then it sweeps the containers and networks of runs whose owning
// process is dead. A run whose open faults belong to a live process is
// left alone (Skipped) unless RecoverForce. Recover keeps going past errors:
// they are in Failed, and joined in the error.
func Recover(ctx context.Context, opts ...RecoverOption) (Recovery, error) {
	o := recoverOptions{logf: func(string, ...any) {}}
	for _, opt := range opts {
		opt(&o)
	}
	var rec Recovery
	runs := []string{o.run}
	if o.run == "" {
		var err error
		if runs, err = allRuns(ctx); err != nil {
			return rec, err
		}
	}
	var orphaned []string
	for _, run := range runs {
		if dead := recoverRun(ctx, run, o, &rec); dead {
			orphaned = append(orphaned, run)
		}
	}
	swept, err := stack.Sweep(ctx)
	if err != nil {
		rec.Failed = append(rec.Failed, Repair{Run: "*", What: "sweep dead runs", Err: err})
	}
	if len(swept.Containers)+len(swept.Networks) > 0 {
		rec.Repaired = append(rec.Repaired, Repair{Run: strings.Join(swept.Runs, ","), What: fmt.Sprintf(
			"swept what dead processes left: %d container(s) (%s), %d network(s)",
			len(swept.Containers), strings.Join(swept.Containers, ", "), len(swept.Networks))})
	}
	for _, run := range orphaned {
		closeJournal(run, "its owner is dead and its containers were swept", &rec)
	}
	var errs []error
	for _, f := range rec.Failed {
		errs = append(errs, errors.New(f.String()))
	}
	return rec, errors.Join(errs...)
}

// allRuns is every run with containers on the engine or a journal here.
func allRuns(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	live, err := stack.Runs(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range live {
		seen[r] = true
	}
	dirs, err := os.ReadDir(filepath.Join(stack.StateRoot(), "runs"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list run state: %w", err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			seen[d.Name()] = true
		}
	}
	var out []string
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

// recoverRun repairs one run. It reports whether the run's owner is dead
// (the sweep removes it, and its journal is closed after).
func recoverRun(ctx context.Context, run string, o recoverOptions, rec *Recovery) (ownerDead bool) {
	j := fault.OpenJournal(stack.RunStateDir(run))
	entries, err := j.Entries()
	if err != nil {
		rec.Failed = append(rec.Failed, Repair{Run: run, What: "read journal " + j.Path(), Err: err})
		return false
	}
	open := fault.OpenInjections(entries)
	ctrs, err := stack.RunContainers(ctx, run)
	if err != nil {
		rec.Failed = append(rec.Failed, Repair{Run: run, What: "list containers", Err: err})
		return false
	}
	if len(ctrs) == 0 {
		closeJournal(run, "the run no longer exists", rec)
		return false
	}
	owner := false
	for _, c := range ctrs {
		if c.Component() != "" && c.FaultID() == "" && stack.OwnerAlive(c.Labels) {
			owner = true
		}
	}
	if !owner && !stack.LongLived(run) {
		return true
	}
	if !o.force {
		for _, e := range open {
			if e.By.Alive() {
				rec.Skipped = append(rec.Skipped, Repair{Run: run, What: fmt.Sprintf(
					"%d fault(s) in force held by live process %d (e.g. %s): left alone (force to take over)", len(open), e.By.PID, e.Fault)})
				return false
			}
		}
	}
	note := fmt.Sprintf("okbreak recover (pid %d)", os.Getpid())
	reverted := map[string]bool{}
	for _, e := range fault.RevertOrder(open) {
		o.logf("run %s: reverting %s", run, e.Fault)
		what := "reverted " + e.Fault
		if e.Fault != e.Type+" "+e.Target {
			what += fmt.Sprintf(" (%s on %s)", e.Type, e.Target)
		}
		what += fmt.Sprintf(", injected by pid %d at %s", e.By.PID, e.Time.Format(time.RFC3339))
		if err := fault.RevertEntry(ctx, j, e, note); err != nil {
			rec.Failed = append(rec.Failed, Repair{Run: run, What: what, Err: err})
			continue
		}
		reverted[e.ID] = true
		rec.Repaired = append(rec.Repaired, Repair{Run: run, What: what})
	}
	repairContainers(ctx, run, open, reverted, rec)
	resetToxiproxy(ctx, run, rec)
	return false
}

// repairContainers starts or unpauses the run's components that should run,
// and removes containers faults left beside them.
func repairContainers(ctx context.Context, run string, open []fault.Entry, reverted map[string]bool, rec *Recovery) {
	cli, err := stack.Docker(ctx)
	if err != nil {
		rec.Failed = append(rec.Failed, Repair{Run: run, What: "repair containers", Err: err})
		return
	}
	// Look again: reverting may have recreated or removed containers.
	ctrs, err := stack.RunContainers(ctx, run)
	if err != nil {
		rec.Failed = append(rec.Failed, Repair{Run: run, What: "list containers", Err: err})
		return
	}
	stillOpen := map[string]bool{}
	for _, e := range open {
		if !reverted[e.ID] {
			stillOpen[e.ID] = true
		}
	}
	for _, c := range ctrs {
		comp := c.Component()
		if comp == "" {
			continue
		}
		if id := c.FaultID(); id != "" {
			if stillOpen[id] {
				continue // its revert failed and is reported
			}
			if c.Name == stack.ContainerName(run, comp) {
				rec.Failed = append(rec.Failed, Repair{Run: run, What: fmt.Sprintf("%s is a fault's replacement of %s and no journal holds the original", c.Name, comp),
					Err: errors.New("recreate it with `okbreak up` (tear the run down first)")})
				continue
			}
			if err := stack.RemoveContainer(ctx, c.ID); err != nil {
				rec.Failed = append(rec.Failed, Repair{Run: run, What: "remove " + c.Name, Err: err})
			} else {
				rec.Repaired = append(rec.Repaired, Repair{Run: run, What: fmt.Sprintf("removed %s, a second instance of %s left by fault %s", c.Name, comp, id)})
			}
			continue
		}
		ins, err := stack.Inspect(ctx, c.ID)
		if err != nil {
			rec.Failed = append(rec.Failed, Repair{Run: run, What: "inspect " + c.Name, Err: err})
			continue
		}
		st := ins.State
		if st == nil || st.Running && !st.Paused {
			continue
		}
		if st.Paused {
			if _, err := cli.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{}); err != nil {
				rec.Failed = append(rec.Failed, Repair{Run: run, What: "unpause " + comp, Err: err})
			} else {
				rec.Repaired = append(rec.Repaired, Repair{Run: run, What: "unpaused " + comp})
			}
			continue
		}
		policy := ""
		if ins.HostConfig != nil {
			policy = string(ins.HostConfig.RestartPolicy.Name)
		}
		if policy != string(stack.RestartUnlessStopped) && policy != "always" {
			continue // a one-shot container (a seed job) is meant to end
		}
		if st.Restarting {
			continue // its restart policy is at it
		}
		if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			rec.Failed = append(rec.Failed, Repair{Run: run, What: "start " + comp, Err: err})
			continue
		}
		if err := stack.WaitReady(ctx, c.ID, nil, fault.ReadyTimeout); err != nil {
			rec.Failed = append(rec.Failed, Repair{Run: run, What: "start " + comp, Err: err})
			continue
		}
		rec.Repaired = append(rec.Repaired, Repair{Run: run, What: fmt.Sprintf("started %s (was %s, exit code %d)", comp, st.Status, st.ExitCode)})
	}
}

// resetToxiproxy clears every toxic and disabled proxy of each Toxiproxy of
// the run, found by its label (a system may have one per callee).
func resetToxiproxy(ctx context.Context, run string, rec *Recovery) {
	ctrs, err := stack.RunContainers(ctx, run)
	if err != nil {
		rec.Failed = append(rec.Failed, Repair{Run: run, What: "list toxiproxies", Err: err})
		return
	}
	legacy := stack.ContainerName(run, stack.Toxiproxy)
	labelled := slices.ContainsFunc(ctrs, func(c stack.ContainerInfo) bool { return c.Labels[stack.LabelToxiproxyAPI] != "" })
	for _, c := range ctrs {
		port, err := strconv.Atoi(c.Labels[stack.LabelToxiproxyAPI])
		if !labelled && c.Name == legacy {
			// A run started before Toxiproxies carried the label: its one
			// Toxiproxy has the sample's name and API port.
			port, err = stack.PortToxiproxy, nil
		}
		if err != nil {
			continue // not a Toxiproxy that carries links
		}
		name := c.Component()
		addr, err := stack.PublishedAddr(ctx, c.Name, port)
		if err != nil {
			rec.Failed = append(rec.Failed, Repair{Run: run, What: "reach " + name, Err: err})
			continue
		}
		st, err := fault.ResetToxiproxy(ctx, "http://"+addr)
		if err != nil {
			rec.Failed = append(rec.Failed, Repair{Run: run, What: "reset " + name, Err: err})
			continue
		}
		if !st.Clean() {
			rec.Repaired = append(rec.Repaired, Repair{Run: run, What: "reset " + name + " (found: " + st.String() + ")"})
		}
	}
}

// closeJournal closes the open injections of a run that is gone.
func closeJournal(run, why string, rec *Recovery) {
	j := fault.OpenJournal(stack.RunStateDir(run))
	entries, err := j.Entries()
	if err != nil {
		rec.Failed = append(rec.Failed, Repair{Run: run, What: "read journal " + j.Path(), Err: err})
		return
	}
	for _, e := range fault.OpenInjections(entries) {
		if err := fault.Abandon(j, e, why); err != nil {
			rec.Failed = append(rec.Failed, Repair{Run: run, What: "close journal entry of " + e.Fault, Err: err})
			continue
		}
		rec.Repaired = append(rec.Repaired, Repair{Run: run, What: fmt.Sprintf("closed journal entry of %s (%s): %s", e.Fault, e.Type, why)})
	}
}
