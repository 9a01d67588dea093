package backend

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlotsServeWaitersInOrder(t *testing.T) {
	var s slots
	require.NoError(t, s.acquire(t.Context(), 1, 0))
	assert.ErrorIs(t, s.acquire(t.Context(), 1, 0), errOverloaded, "no wait: refused at once")

	// Three waiters, queued one after the other.
	order := make(chan int, 3)
	for i := range 3 {
		go func() {
			if s.acquire(t.Context(), 1, time.Minute) == nil {
				order <- i
			}
		}()
		require.Eventually(t, func() bool { _, w := s.state(); return w == i+1 }, 5*time.Second, time.Millisecond)
	}
	for want := range 3 {
		s.release(1)
		assert.Equal(t, want, <-order, "the longest waiting goes first")
	}
	inUse, waiting := s.state()
	assert.Equal(t, 1, inUse)
	assert.Equal(t, 0, waiting)
}

func TestSlotsNewcomerDoesNotOvertakeTheQueue(t *testing.T) {
	var s slots
	require.NoError(t, s.acquire(t.Context(), 2, 0))
	require.NoError(t, s.acquire(t.Context(), 2, 0))
	got := make(chan error, 1)
	go func() { got <- s.acquire(t.Context(), 2, time.Minute) }()
	require.Eventually(t, func() bool { _, w := s.state(); return w == 1 }, 5*time.Second, time.Millisecond)
	// The limit shrinks to 1 and one slot is given back: 1 in use, no room.
	s.release(1)
	assert.ErrorIs(t, s.acquire(t.Context(), 2, 0), errOverloaded, "a newcomer does not take the slot the waiter is owed")
	s.grant(2)
	require.NoError(t, <-got)
}

func TestSlotsWaitEndsWithOverloadOrTheCallersContext(t *testing.T) {
	var s slots
	require.NoError(t, s.acquire(t.Context(), 1, 0))
	begin := time.Now()
	assert.ErrorIs(t, s.acquire(t.Context(), 1, 50*time.Millisecond), errOverloaded)
	assert.GreaterOrEqual(t, time.Since(begin), 50*time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.acquire(ctx, 1, time.Minute)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
	inUse, waiting := s.state()
	assert.Equal(t, 1, inUse)
	assert.Equal(t, 0, waiting, "a waiter that gave up leaves the queue")

	// Without a limit every request gets a slot, and is counted.
	var free slots
	for range 10 {
		require.NoError(t, free.acquire(t.Context(), 0, 0))
	}
	inUse, _ = free.state()
	assert.Equal(t, 10, inUse)
}

func TestWorkJitterStaysWithinItsBounds(t *testing.T) {
	k := Knobs{Work: 100 * time.Millisecond, WorkJitter: 40 * time.Millisecond}
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := k.work()
		require.GreaterOrEqual(t, d, 60*time.Millisecond)
		require.LessOrEqual(t, d, 140*time.Millisecond)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 100, "spread, not a few values")
	assert.Equal(t, 100*time.Millisecond, Knobs{Work: 100 * time.Millisecond}.work())
}
