package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
)

// FaultSpan is when one fault of a case was actually in force, in seconds
// after the case's injection (its first fault's start).
type FaultSpan struct {
	Fault  string  `json:"fault"`
	StartS float64 `json:"start_s"`
	// EndS is when its revert finished; absent when it never started.
	EndS *float64 `json:"end_s,omitempty"`
}

// slotState is where one scheduled fault is in its life.
type slotState int

const (
	slotPending slotState = iota
	slotInForce
	slotDone
)

// scheduled is one fault of a case with its real offsets.
type scheduled struct {
	f     fault.Fault
	desc  string
	at    time.Duration
	dur   time.Duration // zero: to the end of the window
	state slotState
	start time.Time
	end   time.Time
}

// schedule puts a case's faults in force and takes them out at their own
// times, through one Guard: whatever is still in force when the case ends
// (success, failure, panic, timeout, Ctrl-C) is reverted by RevertAll, and
// every fault is journalled before it acts, so that a killed run is
// repaired by okbreak recover. A case with one fault is a schedule of one
// slot at 0 that lasts the whole window. Not safe for concurrent use.
type schedule struct {
	guard    *fault.Guard
	slots    []*scheduled
	inject   time.Time
	outcomes []string
}

func newSchedule(faults []fault.Fault, plan catalog.Plan) *schedule {
	s := &schedule{guard: fault.NewGuard()}
	for i, f := range faults {
		sl := &scheduled{f: f, desc: describe([]fault.Fault{f})}
		if i < len(plan.Schedule) {
			sl.at, sl.dur = plan.Schedule[i].At, plan.Schedule[i].For
		}
		s.slots = append(s.slots, sl)
	}
	return s
}

// begin starts the window at t and puts in force every fault due at 0.
func (s *schedule) begin(ctx context.Context, t time.Time) error {
	s.inject = t
	return s.step(ctx, t)
}

// step starts the faults due by now and reverts those whose own time is
// over; a fault's Outcome is taken just before its revert.
func (s *schedule) step(ctx context.Context, now time.Time) error {
	for _, sl := range s.slots {
		if sl.state == slotInForce && sl.dur > 0 && !now.Before(s.inject.Add(sl.at+sl.dur)) {
			if err := s.revert(ctx, sl); err != nil {
				return err
			}
		}
	}
	for _, sl := range s.slots {
		if sl.state == slotPending && !now.Before(s.inject.Add(sl.at)) {
			sl.state, sl.start = slotInForce, time.Now()
			if err := s.guard.Inject(ctx, sl.f); err != nil {
				return fmt.Errorf("inject %s: %w", sl.desc, err)
			}
		}
	}
	return nil
}

func (s *schedule) revert(ctx context.Context, sl *scheduled) error {
	s.outcome(ctx, sl)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fault.RevertTimeout)
	defer cancel()
	if err := s.guard.Revert(rctx, sl.f); err != nil {
		return fmt.Errorf("revert %s: %w", sl.desc, err)
	}
	sl.state, sl.end = slotDone, time.Now()
	return nil
}

// outcome asks a fault that checks a reaction of its own (an Outcomer)
// whether it happened, and keeps what went otherwise.
func (s *schedule) outcome(ctx context.Context, sl *scheduled) {
	if o, ok := sl.f.(fault.Outcomer); ok {
		if err := o.Outcome(ctx); err != nil {
			s.outcomes = append(s.outcomes, err.Error())
		}
	}
}

// next is the time of the schedule's next start or end, and false when
// nothing is left to start or end before the window's end.
func (s *schedule) next() (time.Time, bool) {
	var t time.Time
	for _, sl := range s.slots {
		var at time.Time
		switch {
		case sl.state == slotPending:
			at = s.inject.Add(sl.at)
		case sl.state == slotInForce && sl.dur > 0:
			at = s.inject.Add(sl.at + sl.dur)
		default:
			continue
		}
		if t.IsZero() || at.Before(t) {
			t = at
		}
	}
	return t, !t.IsZero()
}

// idle reports whether every fault has run its course: nothing pending,
// nothing in force.
func (s *schedule) idle() bool {
	for _, sl := range s.slots {
		if sl.state != slotDone {
			return false
		}
	}
	return true
}

// hold runs the schedule until end, or until stop (checked on every alert
// evaluation, when sess is set) says the window is over. It returns when
// the window ended.
func (s *schedule) hold(ctx context.Context, end time.Time, sess *alert.Session, stop func() bool) (time.Time, error) {
	for {
		until := end
		if t, ok := s.next(); ok && t.Before(end) {
			until = t
		}
		if sess != nil && stop != nil {
			wctx, cancel := context.WithDeadline(ctx, until)
			_ = sess.WaitUntil(wctx, stop)
			cancel()
			if stop() {
				return time.Now(), nil
			}
		} else if err := sleep(ctx, time.Until(until)); err != nil {
			return time.Now(), err
		}
		if err := ctx.Err(); err != nil {
			return time.Now(), err
		}
		now := time.Now()
		if !now.Before(end) {
			return now, nil
		}
		if err := s.step(ctx, now); err != nil {
			return now, err
		}
		if s.idle() {
			return now, nil
		}
	}
}

// revertAll takes out everything still in force (Outcomes first) and
// returns when the last fault's revert finished.
func (s *schedule) revertAll(ctx context.Context) (time.Time, error) {
	var errs []error
	for i := len(s.slots) - 1; i >= 0; i-- {
		sl := s.slots[i]
		if sl.state == slotInForce {
			if err := s.revert(ctx, sl); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// A fault whose Inject failed part-way is still in the guard.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fault.RevertTimeout)
	defer cancel()
	if err := s.guard.RevertAll(rctx); err != nil {
		errs = append(errs, err)
	}
	return s.lastEnd(), errors.Join(errs...)
}

// lastEnd is when the last revert finished (now when none did).
func (s *schedule) lastEnd() time.Time {
	var t time.Time
	for _, sl := range s.slots {
		if sl.end.After(t) {
			t = sl.end
		}
	}
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// spans are the faults' actual times, relative to the window's start.
func (s *schedule) spans() []FaultSpan {
	out := make([]FaultSpan, 0, len(s.slots))
	for _, sl := range s.slots {
		sp := FaultSpan{Fault: sl.desc}
		if !sl.start.IsZero() {
			sp.StartS = sl.start.Sub(s.inject).Seconds()
		}
		if !sl.end.IsZero() {
			e := sl.end.Sub(s.inject).Seconds()
			sp.EndS = &e
		}
		out = append(out, sp)
	}
	return out
}

func (s *schedule) faults() []fault.Fault {
	out := make([]fault.Fault, len(s.slots))
	for i, sl := range s.slots {
		out[i] = sl.f
	}
	return out
}

// buildFaults makes the case's faults. The faults of a compound case are
// named after the case and their place in it, so that the journal and
// okbreak recover tell them apart.
func (r *Runner) buildFaults(c catalog.Case) ([]fault.Fault, error) {
	var out []fault.Fault
	for i, cf := range c.Faults {
		name := c.Name
		if c.Compound() {
			name = fmt.Sprintf("%s#%d", c.Name, i+1)
		}
		spec := fault.Spec{Type: cf.Type, Target: strings.Join(cf.TargetNames(), ","), Params: cf.Params, Name: name}
		f, err := fault.New(spec, r.Stack)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
