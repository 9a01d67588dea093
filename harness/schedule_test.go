package harness

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
)

// recFault records when it was put in force and taken out; a unit-test
// double for the schedule's logic, not for any scenario.
type recFault struct {
	name     string
	mu       sync.Mutex
	injected time.Time
	reverted time.Time
	outcome  error
	asked    bool
}

func (f *recFault) Name() string { return f.name }

// in says whether the fault has been injected yet.
func (f *recFault) in() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.injected.IsZero()
}
func (f *recFault) Inject(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected = time.Now()
	return nil
}
func (f *recFault) Revert(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.injected.IsZero() && f.reverted.IsZero() {
		f.reverted = time.Now()
	}
	return nil
}

type outcomeFault struct{ *recFault }

func (f outcomeFault) Outcome(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = true
	if !f.reverted.IsZero() {
		return errors.New("asked after revert")
	}
	return f.outcome
}

func TestScheduleRunsFaultsAtTheirOwnTimes(t *testing.T) {
	a, b := &recFault{name: "a"}, &recFault{name: "b"}
	plan := catalog.Plan{Schedule: []catalog.Slot{{At: 0}, {At: 200 * time.Millisecond, For: 300 * time.Millisecond}}}
	s := newSchedule([]fault.Fault{a, b}, plan)
	ctx := context.Background()
	start := time.Now()
	require.NoError(t, s.begin(ctx, start))
	assert.True(t, a.in(), "a starts at 0")
	assert.False(t, b.in(), "b waits for its at")

	end, err := s.hold(ctx, start.Add(800*time.Millisecond), nil, nil)
	require.NoError(t, err)
	assert.WithinDuration(t, start.Add(800*time.Millisecond), end, 100*time.Millisecond, "a fills the window, so the hold lasts it")
	assert.WithinDuration(t, start.Add(200*time.Millisecond), b.injected, 60*time.Millisecond)
	assert.WithinDuration(t, start.Add(500*time.Millisecond), b.reverted, 60*time.Millisecond, "b is reverted at its own end")
	assert.True(t, a.reverted.IsZero(), "a stays until the window's end")

	last, err := s.revertAll(ctx)
	require.NoError(t, err)
	assert.False(t, a.reverted.IsZero())
	assert.WithinDuration(t, a.reverted, last, 20*time.Millisecond, "time to recover counts from the last revert")
	sp := s.spans()
	require.Len(t, sp, 2)
	assert.InDelta(t, 0.2, sp[1].StartS, 0.06)
	require.NotNil(t, sp[1].EndS)
	assert.InDelta(t, 0.5, *sp[1].EndS, 0.06)
}

func TestScheduleEndsWhenEveryFaultHasRunItsCourse(t *testing.T) {
	a, b := &recFault{name: "a"}, &recFault{name: "b"}
	plan := catalog.Plan{Schedule: []catalog.Slot{{At: 0, For: 100 * time.Millisecond}, {At: 100 * time.Millisecond, For: 100 * time.Millisecond}}}
	s := newSchedule([]fault.Fault{a, b}, plan)
	start := time.Now()
	require.NoError(t, s.begin(context.Background(), start))
	end, err := s.hold(context.Background(), start.Add(5*time.Second), nil, nil)
	require.NoError(t, err)
	assert.Less(t, end.Sub(start), time.Second, "nothing left in force: the window is over")
	assert.False(t, a.reverted.After(b.injected), "in sequence: a is out before b is in")
	last, err := s.revertAll(context.Background())
	require.NoError(t, err)
	assert.WithinDuration(t, b.reverted, last, 20*time.Millisecond)
}

func TestScheduleRevertsEverythingWhenCancelled(t *testing.T) {
	a, b := &recFault{name: "a"}, &recFault{name: "b"}
	plan := catalog.Plan{Schedule: []catalog.Slot{{At: 0}, {At: 50 * time.Millisecond}}}
	s := newSchedule([]fault.Fault{a, b}, plan)
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	require.NoError(t, s.begin(ctx, start))
	go func() { time.Sleep(150 * time.Millisecond); cancel() }()
	_, err := s.hold(ctx, start.Add(10*time.Second), nil, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.revertAll(ctx)
	require.NoError(t, err, "reverts run on a context of their own")
	assert.False(t, a.reverted.IsZero())
	assert.False(t, b.reverted.IsZero())
}

func TestScheduleAsksAnOutcomerBeforeItsOwnRevert(t *testing.T) {
	o := outcomeFault{&recFault{name: "bad-config", outcome: errors.New("still running after 10s")}}
	plan := catalog.Plan{Schedule: []catalog.Slot{{At: 0, For: 50 * time.Millisecond}}}
	s := newSchedule([]fault.Fault{o}, plan)
	start := time.Now()
	require.NoError(t, s.begin(context.Background(), start))
	_, err := s.hold(context.Background(), start.Add(time.Second), nil, nil)
	require.NoError(t, err)
	assert.True(t, o.asked)
	assert.Equal(t, []string{"still running after 10s"}, s.outcomesSeen())
}

// slowFault takes a while to inject, as a stop waiting for its container.
type slowFault struct {
	*recFault
	delay time.Duration
}

func (f slowFault) Inject(ctx context.Context) error {
	time.Sleep(f.delay)
	return f.recFault.Inject(ctx)
}

func TestScheduleKeepsTimeWhenAnInjectIsSlow(t *testing.T) {
	slow := slowFault{&recFault{name: "slow"}, 400 * time.Millisecond}
	a, b := &recFault{name: "a"}, &recFault{name: "b"}
	plan := catalog.Plan{Schedule: []catalog.Slot{{At: 0}, {At: 100 * time.Millisecond}, {At: 150 * time.Millisecond, For: 100 * time.Millisecond}}}
	s := newSchedule([]fault.Fault{a, slow, b}, plan)
	start := time.Now()
	require.NoError(t, s.begin(context.Background(), start))
	_, err := s.hold(context.Background(), start.Add(700*time.Millisecond), nil, nil)
	require.NoError(t, err)
	assert.WithinDuration(t, start.Add(150*time.Millisecond), b.injected, 60*time.Millisecond, "b starts on time while slow is still injecting")
	assert.WithinDuration(t, start.Add(250*time.Millisecond), b.reverted, 60*time.Millisecond)
	_, err = s.revertAll(context.Background())
	require.NoError(t, err)
	assert.False(t, slow.reverted.IsZero())
}

func TestScheduleEndsOnAFailedLaterInject(t *testing.T) {
	a := &recFault{name: "a"}
	bad := failingFault{&recFault{name: "bad"}}
	plan := catalog.Plan{Schedule: []catalog.Slot{{At: 0}, {At: 50 * time.Millisecond}}}
	s := newSchedule([]fault.Fault{a, bad}, plan)
	start := time.Now()
	require.NoError(t, s.begin(context.Background(), start))
	end, err := s.hold(context.Background(), start.Add(5*time.Second), nil, nil)
	require.ErrorContains(t, err, "inject bad: no such target")
	assert.Less(t, end.Sub(start), time.Second)
	_, err = s.revertAll(context.Background())
	require.NoError(t, err)
	assert.False(t, a.reverted.IsZero())
}

type failingFault struct{ *recFault }

func (f failingFault) Inject(context.Context) error { return errors.New("no such target") }
