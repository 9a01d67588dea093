package main

import (
	"io"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness"
)

// TestLiveViewUpdatesDoNotFreeze hammers the live view with progress
// updates while mpb renders: an update that held the decorators' lock
// across a bar call waited for the render goroutine, which waited for that
// lock, and the run froze with it.
func TestLiveViewUpdatesDoNotFreeze(t *testing.T) {
	v := newLiveView(struct{ io.Writer }{io.Discard}) // not io.Discard itself: mpb renders nothing to it
	v.started(1, 1, "c", time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		end := time.Now().Add(3 * time.Second)
		for i := 0; time.Now().Before(end); i++ {
			v.update(harness.Progress{Case: "c", Phase: harness.PhaseHold, Elapsed: time.Duration(i) * time.Millisecond, Remaining: time.Minute})
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the live view froze: update did not return")
	}
	v.done("c done")
	v.close()
}
