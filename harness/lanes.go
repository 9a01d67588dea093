package harness

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/okbreak/okbreak/harness/catalog"
)

// Lanes splits cases into at most n lanes, one per stack run side by side,
// as indexes into cases. Each case goes, in catalog order, to the lane
// whose estimated wall time (EstimateWall at the scale) is the least so far,
// so that a lane keeps the catalog's order: a case written last because it
// leaves its stack changed stays last on its own stack. Lanes are never
// empty; n below 1 counts as 1. It is a pure function.
func Lanes(cases []catalog.Case, d catalog.Defaults, scale float64, n int) [][]int {
	n = max(min(n, len(cases)), 1)
	lanes := make([][]int, n)
	load := make([]float64, n)
	for i, c := range cases {
		w := float64(caseOverhead)
		if p, err := c.Plan(max(scale, 1), d); err == nil {
			w = float64(EstimateWall(c.Class, p))
		}
		best := 0
		for l := range lanes {
			if load[l] < load[best] {
				best = l
			}
		}
		lanes[best] = append(lanes[best], i)
		load[best] += w
	}
	out := lanes[:0]
	for _, l := range lanes {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// LaneLeft is, for each case, the estimated wall time from its start to the
// end of its lane (EstimateLeft within each lane): a lane's first case holds
// the whole lane's estimate.
func LaneLeft(cases []catalog.Case, lanes [][]int, d catalog.Defaults, scale float64) []time.Duration {
	left := make([]time.Duration, len(cases))
	for _, lane := range lanes {
		cs := make([]catalog.Case, len(lane))
		for j, i := range lane {
			cs[j] = cases[i]
		}
		for j, l := range EstimateLeft(cs, d, scale) {
			left[lane[j]] = l
		}
	}
	return left
}

// Lane is one stack's share of a catalog run: its runner (whose System is
// that stack) and the indexes of its cases, in order.
type Lane struct {
	Runner *Runner
	Cases  []int
}

// RunLanes runs each lane's cases one at a time on its own runner, the
// lanes side by side, and returns the results of the cases that ran, in
// catalog order (the order of cases). wrap is called from every lane's
// goroutine at once and must be safe for that; i is the case's index in
// cases. A halt in any lane stops every lane before its next case, as
// RunCatalog stops after a halted case; ctx ending stops them too.
func RunLanes(ctx context.Context, lanes []Lane, cases []catalog.Case, wrap CaseFunc) []Result {
	results := make([]*Result, len(cases))
	var halted atomic.Bool
	if len(lanes) == 1 {
		// In the caller's goroutine: a panic reaches the caller's deferred
		// teardown as it always did.
		runLane(ctx, lanes[0], cases, wrap, results, &halted)
	} else {
		var wg sync.WaitGroup
		panics := make(chan any, len(lanes))
		for _, l := range lanes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// RunCase reverts its faults before it re-panics; the
				// panic is raised again in the caller, after every lane
				// stopped, so that the caller's teardown runs.
				defer func() {
					if p := recover(); p != nil {
						halted.Store(true)
						panics <- p
					}
				}()
				runLane(ctx, l, cases, wrap, results, &halted)
			}()
		}
		wg.Wait()
		close(panics)
		if p, ok := <-panics; ok {
			panic(p)
		}
	}
	out := make([]Result, 0, len(cases))
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// runLane runs one lane's cases in order until ctx ends or some lane
// halted; each result goes to its case's place in results.
func runLane(ctx context.Context, l Lane, cases []catalog.Case, wrap CaseFunc, results []*Result, halted *atomic.Bool) {
	for _, i := range l.Cases {
		if ctx.Err() != nil || halted.Load() {
			return
		}
		res, ran := runOne(ctx, l.Runner, i, cases[i], wrap)
		if !ran {
			continue
		}
		results[i] = &res
		if res.Halted != "" {
			halted.Store(true)
			return
		}
	}
}

// runOne runs case i through wrap (nil: as is); ran is false when wrap
// left it out.
func runOne(ctx context.Context, r *Runner, i int, c catalog.Case, wrap CaseFunc) (res Result, ran bool) {
	run := func(cctx context.Context) Result {
		if !ran {
			ran = true
			res = r.RunCase(cctx, c)
		}
		return res
	}
	if wrap == nil {
		run(ctx)
	} else {
		wrap(i, c, run)
	}
	return res, ran
}
