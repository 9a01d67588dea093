package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/gameday"
	"github.com/okbreak/okbreak/harness/stack"
)

// upFlags are okbreak up's flags.
type upFlags struct {
	dataPlane    string
	inputs       inputFlags
	readyTimeout time.Duration
	detach       bool
	scale        float64
	rate         int
	who          string
	halt         haltFlags
	limits       limitFlags
	child        string
}

// haltFlags are the --halt-* flags.
type haltFlags struct {
	success float64
	after   time.Duration
	alerts  []string
}

func (h *haltFlags) register(fs *pflag.FlagSet) {
	fs.Float64Var(&h.success, "halt-success", 0, "halt when the probe's success ratio stays under this floor (0..1) for --halt-for")
	fs.DurationVar(&h.after, "halt-for", 30*time.Second, "how long the success may stay under --halt-success")
	fs.StringArrayVar(&h.alerts, "halt-alert", nil, "halt when this alert fires (repeat for more)")
}

func (h haltFlags) halt() (harness.Halt, error) {
	if h.success < 0 || h.success > 1 {
		return harness.Halt{}, badInput("--halt-success %v: want a ratio between 0 and 1", h.success)
	}
	if h.success > 0 && h.after <= 0 {
		return harness.Halt{}, badInput("--halt-for %s: want a positive duration", h.after)
	}
	return harness.Halt{MinSuccess: h.success, For: h.after, Alerts: h.alerts}, nil
}

// limitFlags are the blast-radius limits of a stack's game day.
type limitFlags struct {
	maxDuration time.Duration
	maxTargets  int
}

func (l *limitFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&l.maxDuration, "max-fault-duration", gameday.DefaultLimits.MaxDuration, "refuse a fault longer than this")
	fs.IntVar(&l.maxTargets, "max-targets", gameday.DefaultLimits.MaxTargets, "refuse a fault on more targets than this")
}

func (l limitFlags) limits() (gameday.Limits, error) {
	if l.maxDuration <= 0 || l.maxTargets <= 0 {
		return gameday.Limits{}, badInput("--max-fault-duration and --max-targets must be positive (got %s, %d)", l.maxDuration, l.maxTargets)
	}
	return gameday.Limits{MaxDuration: l.maxDuration, MaxTargets: l.maxTargets}, nil
}

// up checks everything it can before Docker, then either starts a
// detached keeper or keeps the stack itself.
func (f upFlags) up(ctx context.Context) error {
	if f.dataPlane != "auto" {
		if _, err := stack.ParseDataPlane(f.dataPlane); err != nil {
			return badInput("--data-plane: %w", err)
		}
	}
	if f.scale < 1 {
		return badInput("--time-scale %v: want a number >= 1 (1 = real time)", f.scale)
	}
	halt, err := f.halt.halt()
	if err != nil {
		return err
	}
	limits, err := f.limits.limits()
	if err != nil {
		return err
	}
	// A bad stack file is bad input before Docker is asked anything.
	if _, _, err := load(f.inputs, stack.GRPC); err != nil {
		return err
	}
	if err := checkDocker(ctx); err != nil {
		return err
	}
	if f.detach && f.child == "" {
		return f.startDetached(ctx)
	}
	return f.keep(ctx, halt, limits)
}

// keep brings the stack up, announces it, and keeps it until ctx ends.
func (f upFlags) keep(ctx context.Context, halt harness.Halt, limits gameday.Limits) error {
	dp, err := f.chooseDataPlane(ctx)
	if err != nil {
		return err
	}
	t, err := f.inputs.target(dp)
	if err != nil {
		return err
	}
	_, rules, err := load(f.inputs, dp)
	if err != nil {
		return err
	}
	run := f.child
	if run == "" {
		run = stack.NewRunID()
	}
	rec := gameday.Record{Run: run, Owner: fault.Self(), Who: gameday.Who(f.who), Started: time.Now().UTC(),
		DataPlane: string(dp), TimeScale: f.scale, Detached: f.child != "", Limits: limits}
	if f.inputs.stack != "" {
		if rec.Stack, err = filepath.Abs(f.inputs.stack); err != nil {
			return badInput("--stack: %w", err)
		}
	}
	if rec.Detached {
		rec.Log = detachedLog(run)
		if err := stack.MarkLongLived(run); err != nil {
			return err
		}
	}
	sweepDead(ctx)
	if err := rec.Save(); err != nil {
		return err
	}
	s, err := stack.Up(ctx, t.def, stack.WithRunID(run), stack.WithLogf(logf), stack.WithReadyTimeout(f.readyTimeout))
	defer tearDown(ctx, s, run)
	if err != nil {
		return err
	}
	rec.Ready, rec.Endpoints = true, s.Describe(ctx)
	if err := rec.Save(); err != nil {
		return err
	}
	fmt.Print(rec.Endpoints)
	fmt.Printf("run %s is up (time scale %g; halt: %s)\n", run, f.scale, halt)
	fmt.Println("inject with `okbreak inject`, watch with `okbreak status`; Ctrl-C or `okbreak down` tears the stack down")
	k := &gameday.Keeper{System: s, Rules: rules, Scale: f.scale, ProbeRate: f.rate, Halt: halt,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	return k.Run(ctx)
}

func (f upFlags) chooseDataPlane(ctx context.Context) (stack.DataPlane, error) {
	if f.inputs.stack != "" {
		return stack.GRPC, nil // a stack file says its own data plane
	}
	return chooseDataPlane(ctx, f.dataPlane)
}

// tearDown closes the journal's open faults (the stack they were in goes
// with them) and removes the stack and its record.
func tearDown(ctx context.Context, s *stack.Stack, run string) {
	downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	defer func() {
		_ = gameday.Remove(run)
		_ = stack.UnmarkLongLived(run)
	}()
	if s == nil {
		return
	}
	abandonOpen(run, "the stack was torn down")
	logf("tearing down run %s", run)
	if err := s.Down(downCtx); err != nil {
		logf("teardown: %v", err)
		return
	}
	logf("torn down: nothing of run %s is left", run)
}

// abandonOpen closes the journal's open injections of a run whose stack is
// being removed: nothing is left to revert, and waiting injectors see their
// fault ended.
func abandonOpen(run, why string) {
	j := fault.OpenJournal(stack.RunStateDir(run))
	if entries, err := j.Entries(); err == nil {
		for _, e := range fault.OpenInjections(entries) {
			_ = fault.Abandon(j, e, why)
		}
	}
}

// detachedLog is where a detached keeper writes its output.
func detachedLog(run string) string { return filepath.Join(stack.RunStateDir(run), "up.log") }

// startDetached starts this command again as a keeper in its own session,
// its output in the run's log, and returns once the stack serves (or says
// why it did not). Ctrl-C meanwhile stops the keeper, which tears down.
func (f upFlags) startDetached(ctx context.Context) error {
	run := stack.NewRunID()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	logPath := detachedLog(run)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	out, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	defer out.Close()
	args := append(append([]string{}, os.Args[1:]...), "--detached-run", run)
	child := exec.Command(exe, args...)
	child.Stdout, child.Stderr = out, out
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return fmt.Errorf("detach: start the keeper: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	logf("run %s: starting in the background (log: %s)", run, logPath)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = child.Process.Signal(syscall.SIGTERM)
			<-exited
			return ctx.Err()
		case err := <-exited:
			tail, _ := os.ReadFile(logPath)
			return fmt.Errorf("run %s: the keeper ended before the stack served (%v); its log:\n%s", run, err, tail)
		case <-tick.C:
			rec, err := gameday.Load(run)
			if err != nil || !rec.Ready {
				continue
			}
			fmt.Print(rec.Endpoints)
			fmt.Printf("run %s is up in the background (keeper pid %d, log %s)\n", run, rec.Owner.PID, logPath)
			fmt.Println("inject with `okbreak inject`, watch with `okbreak status`, tear down with `okbreak down`")
			return nil
		}
	}
}

// selectStack picks the stack of --run, or the only one up; none up is a
// missing environment (exit 3), several without --run bad input (exit 2).
func selectStack(run string) (gameday.Record, error) {
	rec, err := gameday.Select(run)
	switch {
	case errors.Is(err, gameday.ErrNoStack):
		return rec, noEnv(err)
	case err != nil:
		return rec, badInput("%w", err)
	}
	return rec, nil
}

// attachStack rebuilds a handle on a recorded stack.
func attachStack(ctx context.Context, rec gameday.Record) (*stack.Stack, target, error) {
	t, err := inputFlags{stack: rec.Stack}.target(stack.DataPlane(rec.DataPlane))
	if err != nil {
		return nil, t, err
	}
	if err := checkDocker(ctx); err != nil {
		return nil, t, err
	}
	s, err := stack.Attach(ctx, rec.Run, t.def, stack.WithLogf(logf))
	if err != nil {
		return nil, t, noEnv(fmt.Errorf("run %s: %w (is it still up? `okbreak status`)", rec.Run, err))
	}
	return s, t, nil
}
