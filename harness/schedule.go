package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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

// scheduled is one fault of a case with its real offsets. Its state and
// times are guarded by the schedule's mutex.
type scheduled struct {
	f     fault.Fault
	desc  string
	at    time.Duration
	dur   time.Duration // zero: to the end of the window
	state slotState
	start time.Time
	end   time.Time
	ended chan struct{} // closed once it is reverted
}

// schedule puts a case's faults in force and takes them out at their own
// times, through one Guard: whatever is still in force when the case ends
// (success, failure, panic, timeout, Ctrl-C) is reverted by revertAll, and
// every fault is journalled before it acts, so that a killed run is
// repaired by okbreak recover. A case with one fault is a schedule of one
// slot at 0 that lasts the whole window.
//
// The faults due at 0 are injected by begin, in order; every later start
// and every end of its own runs on a goroutine of its own, so that a slow
// inject (a stop waiting for its container) never delays another fault.
// begin, hold and revertAll are called in that order from one goroutine.
type schedule struct {
	guard  *fault.Guard
	slots  []*scheduled
	inject time.Time

	mu       sync.Mutex
	outcomes []string
	failed   error         // the first inject or revert error of a timed slot
	changed  chan struct{} // a slot ended or failed
	stop     chan struct{} // closed when the window is over
	wg       sync.WaitGroup
}

func newSchedule(faults []fault.Fault, plan catalog.Plan) *schedule {
	s := &schedule{guard: fault.NewGuard(), changed: make(chan struct{}, len(faults)), stop: make(chan struct{})}
	for i, f := range faults {
		sl := &scheduled{f: f, desc: describe([]fault.Fault{f}), ended: make(chan struct{})}
		if i < len(plan.Schedule) {
			sl.at, sl.dur = plan.Schedule[i].At, plan.Schedule[i].For
		}
		s.slots = append(s.slots, sl)
	}
	return s
}

// begin starts the window at t: it injects every fault due at 0, in order,
// and starts the timers of the rest. An inject error ends the case.
func (s *schedule) begin(ctx context.Context, t time.Time) error {
	s.inject = t
	for _, sl := range s.slots {
		if sl.at > 0 {
			continue
		}
		if err := s.start(ctx, sl); err != nil {
			return err
		}
	}
	for _, sl := range s.slots {
		if sl.at > 0 || sl.dur > 0 {
			s.wg.Add(1)
			go s.run(ctx, sl)
		}
	}
	return nil
}

func (s *schedule) start(ctx context.Context, sl *scheduled) error {
	s.mu.Lock()
	sl.state, sl.start = slotInForce, time.Now()
	s.mu.Unlock()
	if err := s.guard.Inject(ctx, sl.f); err != nil {
		return fmt.Errorf("inject %s: %w", sl.desc, err)
	}
	return nil
}

// run waits for a slot's start (when later than 0) and its own end (when
// it has one), unless the window ends first.
func (s *schedule) run(ctx context.Context, sl *scheduled) {
	defer s.wg.Done()
	if sl.at > 0 {
		if !s.wait(ctx, s.inject.Add(sl.at)) || !s.afterEarlierEnds(ctx, sl) {
			return
		}
		if err := s.start(ctx, sl); err != nil {
			s.fail(err)
			return
		}
	}
	if sl.dur <= 0 || !s.wait(ctx, s.inject.Add(sl.at+sl.dur)) {
		return
	}
	if err := s.revert(ctx, sl); err != nil {
		s.fail(err)
		return
	}
	s.changed <- struct{}{}
}

// afterEarlierEnds waits for every fault that ends by sl's start to be
// reverted, so that faults in sequence on one target never overlap; false
// when the window or ctx ended first.
func (s *schedule) afterEarlierEnds(ctx context.Context, sl *scheduled) bool {
	for _, o := range s.slots {
		if o == sl || o.dur <= 0 || o.at+o.dur > sl.at {
			continue
		}
		select {
		case <-o.ended:
		case <-s.stop:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// wait sleeps until t; false when the window or ctx ended first.
func (s *schedule) wait(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

func (s *schedule) fail(err error) {
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
	s.changed <- struct{}{}
}

// revert takes one fault out, its Outcome taken just before.
func (s *schedule) revert(ctx context.Context, sl *scheduled) error {
	if o, ok := sl.f.(fault.Outcomer); ok {
		if err := o.Outcome(ctx); err != nil {
			s.mu.Lock()
			s.outcomes = append(s.outcomes, err.Error())
			s.mu.Unlock()
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fault.RevertTimeout)
	defer cancel()
	if err := s.guard.Revert(rctx, sl.f); err != nil {
		return fmt.Errorf("revert %s: %w", sl.desc, err)
	}
	s.mu.Lock()
	if sl.state != slotDone {
		sl.state, sl.end = slotDone, time.Now()
		close(sl.ended)
	}
	s.mu.Unlock()
	return nil
}

// idle reports whether every fault has run its course.
func (s *schedule) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.slots {
		if sl.state != slotDone {
			return false
		}
	}
	return true
}

// hold waits until end, until stop (checked on every alert evaluation,
// when sess is set) says the window is over, until every fault has run
// its course, or until a timed fault failed; then it stops the timers and
// returns when the window ended. No fault starts after hold returns.
func (s *schedule) hold(ctx context.Context, end time.Time, sess AlertSource, stop func() bool) (time.Time, error) {
	defer s.halt()
	hctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	// Alerts are checked on each evaluation, in the background.
	alerted := make(chan struct{})
	if sess != nil && stop != nil {
		go func() {
			if sess.WaitUntil(hctx, stop) == nil {
				close(alerted)
			}
		}()
	}
	for {
		select {
		case <-alerted:
			return time.Now(), nil
		case <-hctx.Done():
			return time.Now(), ctx.Err() // nil when the window's end came
		case <-s.changed:
			s.mu.Lock()
			err := s.failed
			s.mu.Unlock()
			if err != nil {
				return time.Now(), err
			}
			if s.idle() {
				return time.Now(), nil
			}
		}
	}
}

// revertAll takes out everything still in force (Outcomes first) and
// returns when the last fault's revert finished. Call it after hold (or
// instead of it, on an early exit): no timer runs then.
func (s *schedule) revertAll(ctx context.Context) (time.Time, error) {
	s.halt()
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

// halt stops the timers and waits for them, once.
func (s *schedule) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

// lastEnd is when the last revert finished (now when none did).
func (s *schedule) lastEnd() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	s.mu.Lock()
	defer s.mu.Unlock()
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

// outcomesSeen are what faults that check a reaction of their own found
// otherwise than demanded.
func (s *schedule) outcomesSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.outcomes)
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
		f, err := fault.New(spec, r.System)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
