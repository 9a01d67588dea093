package harness

import (
	"context"
	"sync"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/probe"
)

// Phase is the stage a case is in.
type Phase string

// A case's stages, in order.
const (
	PhaseSteady Phase = "steady" // waiting for the steady state, then the before window
	PhaseInject Phase = "inject" // putting the fault in force
	PhaseHold   Phase = "hold"   // the fault in force
	PhaseRevert Phase = "revert" // taking the fault out
	PhaseSettle Phase = "settle" // SLO and components back, the after window
	PhaseJudge  Phase = "judge"  // the verdict, from what was recorded
)

// Progress is a snapshot of the running case, for a live display.
type Progress struct {
	Case  string
	Class catalog.Class
	Phase Phase
	// Elapsed is the case's wall time so far; Remaining the estimate of
	// what is left (EstimateWall minus Elapsed, never negative).
	Elapsed, Remaining time.Duration
	// Scale is the case's time scale in force.
	Scale float64
	// Requests and SuccessRatio are the probe's, since the case's probe
	// started.
	Requests     int
	SuccessRatio float64
	// Pending and Firing are the alerts in those states now.
	Pending, Firing []string
	// Done is set on the last snapshot of a case, with its verdict.
	Done    bool
	Verdict Verdict
}

// progressEvery is how often a running case reports its progress.
const progressEvery = 500 * time.Millisecond

// caseOverhead is a case's wall time beyond its windows: the steady-state
// checks, the fresh rule manager's first evaluations, the probe's last
// timeout.
const caseOverhead = 4 * time.Second

// EstimateWall estimates a case's wall time from its plan: the before
// window, the fault (for a not-ok case, its detection window at most), the
// grace period and the after window. It is an estimate for a progress
// display and `okbreak list`, not a bound.
func EstimateWall(class catalog.Class, p catalog.Plan) time.Duration {
	d := caseOverhead + p.Before + p.Before/20
	if class == catalog.NotOK {
		hold := p.Fault
		if p.Detection > 0 && p.Detection < hold {
			hold = p.Detection
		}
		return d + hold + p.Shortest
	}
	return d + p.Fault + p.Shortest/20 + p.Grace + p.Shortest + p.Shortest/20
}

// EstimateLeft returns, for each case, the estimated wall time from its
// start to the end of the last case (EstimateWall of it and every case
// after it), for "time left" in progress lines. A case whose plan cannot
// be made counts 0.
func EstimateLeft(cases []catalog.Case, d catalog.Defaults, scale float64) []time.Duration {
	out := make([]time.Duration, len(cases))
	var left time.Duration
	for i := len(cases) - 1; i >= 0; i-- {
		if p, err := cases[i].Plan(scale, d); err == nil {
			left += EstimateWall(cases[i].Class, p)
		}
		out[i] = left
	}
	return out
}

// tracker reports a running case's progress every progressEvery to the
// runner's OnProgress. Its methods are safe for concurrent use; with no
// OnProgress it does nothing.
type tracker struct {
	fn      func(Progress)
	mu      sync.Mutex
	snap    Progress
	started time.Time
	total   time.Duration
	pr      *probe.Probe
	sess    AlertSource
	stop    chan struct{}
	done    sync.WaitGroup
}

func (r *Runner) track(ctx context.Context, c catalog.Case) *tracker {
	t := &tracker{fn: r.OnProgress, started: time.Now(), stop: make(chan struct{}),
		snap: Progress{Case: c.Name, Class: c.Class, Phase: PhaseSteady}}
	if t.fn == nil {
		return t
	}
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.stop:
				return
			case <-tick.C:
				t.fn(t.snapshot())
			}
		}
	}()
	return t
}

func (t *tracker) planned(c catalog.Case, p catalog.Plan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total, t.snap.Scale = EstimateWall(c.Class, p), p.Scale
}

func (t *tracker) watch(pr *probe.Probe, sess AlertSource) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pr, t.sess = pr, sess
}

func (t *tracker) phase(p Phase) {
	t.mu.Lock()
	changed := t.snap.Phase != p
	t.snap.Phase = p
	t.mu.Unlock()
	if changed && t.fn != nil {
		t.fn(t.snapshot())
	}
}

func (t *tracker) snapshot() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.snap
	s.Elapsed = time.Since(t.started)
	s.Remaining = max(t.total-s.Elapsed, 0)
	if t.pr != nil {
		st := probe.Compute(t.pr.Samples(), time.Time{}, time.Time{})
		s.Requests, s.SuccessRatio = st.Count, st.SuccessRatio
	}
	if t.sess != nil {
		s.Pending, s.Firing = nil, nil
		for _, a := range t.sess.Active("") {
			if a.State == alert.StateFiring {
				s.Firing = append(s.Firing, a.Alert)
			} else {
				s.Pending = append(s.Pending, a.Alert)
			}
		}
	}
	return s
}

// finish stops the reports and sends the last one, with the verdict.
func (t *tracker) finish(v Verdict) {
	close(t.stop)
	t.done.Wait()
	if t.fn == nil {
		return
	}
	s := t.snapshot()
	s.Phase, s.Done, s.Verdict, s.Remaining = PhaseJudge, true, v, 0
	t.fn(s)
}
