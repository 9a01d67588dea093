package gameday

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/probe"
)

// Keeper watches over a long-lived stack until its ctx ends. It is the
// process that makes a game day safe to leave: a fault's deadline is kept
// even when the injector's terminal is gone, and a halt condition reverts
// every manual fault. A Keeper runs once; it is not safe for concurrent use.
type Keeper struct {
	// System is the running stack.
	System harness.System
	// Rules are the alert rules as written; Scale compresses them (>= 1).
	Rules []alert.RuleFile
	Scale float64
	// ProbeRate is the background probe's rate per second (default
	// probe.DefaultRate).
	ProbeRate int
	// Halt is when manual faults must all be reverted at once.
	Halt harness.Halt
	// Grace is how long past a deadline a live injector is left to revert
	// its own fault before the keeper does (default 30 s): two reverters at
	// once could both recreate a container.
	Grace time.Duration
	// Logger receives what the keeper does (nil: discard).
	Logger *slog.Logger

	journal *fault.Journal
	run     string
	w       *watch
	halted  string
}

// Interval is how often the keeper looks at the journal: the resolution of
// deadline enforcement.
const Interval = 250 * time.Millisecond

// StatusWindow is the window `okbreak status` reports the probe over.
const StatusWindow = time.Minute

// Run keeps the stack until ctx ends. Faults still in force then are left
// to the caller (okbreak up reverts them before tearing down).
func (k *Keeper) Run(ctx context.Context) error {
	if k.Logger == nil {
		k.Logger = slog.New(slog.DiscardHandler)
	}
	if k.Grace <= 0 {
		k.Grace = 30 * time.Second
	}
	k.run = k.System.Run()
	k.journal = fault.OpenJournal(k.System.StateDir())
	k.w = &watch{k: k}
	defer k.w.stop()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	var lastStatus time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			entries, err := k.journal.Entries()
			if err != nil {
				k.Logger.Error("read journal", "err", err)
				continue
			}
			k.enforceDeadlines(ctx, entries, now)
			holder, held := Held(k.run)
			k.w.follow(ctx, held, holder)
			if !held {
				k.checkHalt(ctx, entries, now)
			}
			if now.Sub(lastStatus) >= time.Second {
				lastStatus = now
				k.writeStatus(now, holder, held)
			}
		}
	}
}

// enforceDeadlines reverts, from the journal, each injection past its
// deadline whose injector is gone, or still there after Grace.
func (k *Keeper) enforceDeadlines(ctx context.Context, entries []fault.Entry, now time.Time) {
	for _, e := range fault.OpenInjections(entries) {
		if e.Until.IsZero() || now.Before(e.Until) {
			continue
		}
		if e.By.Alive() && now.Before(e.Until.Add(k.Grace)) {
			continue
		}
		note := fmt.Sprintf("deadline %s kept by okbreak up (pid %d)", e.Until.Local().Format(time.TimeOnly), os.Getpid())
		if err := fault.RevertEntryAs(ctx, k.journal, e, "okbreak up", note); err != nil {
			k.Logger.Error("revert at deadline", "fault", e.Fault, "id", e.ID, "err", err)
			continue
		}
		k.Logger.Info("reverted at deadline", "fault", e.Fault, "id", e.ID, "injector_pid", e.By.PID, "late", now.Sub(e.Until).Round(time.Millisecond))
	}
}

// checkHalt reverts every manual fault when a halt condition holds while
// one is in force, and journals the halt first, so that the injectors can
// say why their fault ended.
func (k *Keeper) checkHalt(ctx context.Context, entries []fault.Entry, now time.Time) {
	open := fault.OpenInjections(entries)
	if len(open) == 0 || k.Halt.IsZero() || !k.w.running() {
		return
	}
	why := k.Halt.Check(k.w.pr.Samples(), harness.Firing(k.w.sess), now, harness.Exemption{})
	if why == "" {
		return
	}
	k.halted = why
	k.Logger.Warn("halt: reverting every fault in force", "why", why, "faults", len(open))
	_ = k.journal.Append(fault.Entry{Op: fault.OpHalt, Run: k.run, By: fault.Self(), Who: "okbreak up", Note: why})
	for _, e := range fault.RevertOrder(open) {
		if err := fault.RevertEntryAs(ctx, k.journal, e, "okbreak up", "halted: "+why); err != nil {
			k.Logger.Error("revert on halt", "fault", e.Fault, "id", e.ID, "err", err)
		}
	}
}

func (k *Keeper) writeStatus(now time.Time, holder Holder, held bool) {
	st := Status{Run: k.run, Updated: now.UTC(), Halt: k.Halt.String(), Halted: k.halted, Pending: []string{}, Firing: []string{}}
	if held {
		st.Paused = holder.String()
	}
	if k.w.running() {
		s := probe.Compute(k.w.pr.Samples(), now.Add(-StatusWindow), now)
		st.Probe = ProbeStatus{Window: StatusWindow, Requests: s.Count, Success: s.SuccessRatio, P99: s.P99}
		for _, a := range k.w.sess.Active("") {
			n := a.Alert
			if a.State == alert.StateFiring {
				st.Firing = appendNew(st.Firing, n)
			} else {
				st.Pending = appendNew(st.Pending, n)
			}
		}
		k.w.pr.Forget(now.Add(-2 * StatusWindow))
	}
	if err := st.Write(); err != nil {
		k.Logger.Error("write status", "err", err)
	}
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// watch is the keeper's probe and rule engine, stopped while a catalog run
// holds the stack.
type watch struct {
	k    *Keeper
	sess *alert.Session
	pr   *probe.Probe
}

func (w *watch) running() bool { return w.pr != nil }

// follow stops the watch while the stack is held and starts it again after.
func (w *watch) follow(ctx context.Context, held bool, h Holder) {
	switch {
	case held && w.running():
		w.k.Logger.Info("paused: the stack is held", "by", h.String())
		w.stop()
	case !held && !w.running():
		if err := w.start(ctx); err != nil {
			w.k.Logger.Error("start probe and rules", "err", err)
			w.stop()
		}
	}
}

func (w *watch) start(ctx context.Context) error {
	k := w.k
	sess, err := alert.NewSession(alert.Config{Rules: k.Rules, Targets: harness.Targets(k.System), Factor: max(k.Scale, 1)})
	if err != nil {
		return err
	}
	if err := sess.Start(ctx); err != nil {
		return err
	}
	w.sess = sess
	entry, err := k.System.EntryURL(ctx)
	if err != nil {
		return err
	}
	e := k.System.Definition().Entry
	pr, err := probe.New(probe.Config{URL: entry, Host: e.Host, Path: e.Path, Check: e.Check, Header: e.Header, Rate: k.ProbeRate})
	if err != nil {
		return err
	}
	if err := pr.Start(ctx); err != nil {
		return err
	}
	w.pr = pr
	k.Logger.Info("watching: probe and alert rules running", "scale", max(k.Scale, 1))
	return nil
}

func (w *watch) stop() {
	if w.pr != nil {
		w.pr.Stop()
		w.pr = nil
	}
	if w.sess != nil {
		_ = w.sess.Stop()
		w.sess = nil
	}
}
