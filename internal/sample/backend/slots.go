package backend

import (
	"context"
	"sync"
	"time"
)

// slots is the backend's concurrency limit: a counting semaphore whose size
// is read at each call (the knob can change at runtime) and whose waiters
// are served first come first served, so that a request that waited longest
// is the next one served, as in a server's accept queue.
//
// It counts the requests in service even without a limit, for the in-flight
// gauge.
type slots struct {
	mu      sync.Mutex
	inUse   int
	waiters []*waiter
}

type waiter struct {
	ready   chan struct{}
	granted bool // under slots.mu
}

// acquire takes a slot under limit (0 is no limit). When none is free it
// waits up to wait for one, then returns errOverloaded; it returns ctx's
// error when ctx ends first.
func (s *slots) acquire(ctx context.Context, limit int, wait time.Duration) error {
	s.mu.Lock()
	// A free slot goes to a newcomer only when nobody waits: otherwise the
	// newcomer would overtake the queue.
	if limit <= 0 || (s.inUse < limit && len(s.waiters) == 0) {
		s.inUse++
		s.mu.Unlock()
		return nil
	}
	if wait <= 0 {
		s.mu.Unlock()
		return errOverloaded
	}
	w := &waiter{ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-t.C:
		err = errOverloaded
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		// The slot came as the wait ended; it is this request's now, and
		// serving it wastes less than handing the slot on.
		return nil
	}
	for i, o := range s.waiters {
		if o == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			break
		}
	}
	return err
}

// release gives a slot back and hands free slots under limit to the
// waiters.
func (s *slots) release(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse--
	s.grantLocked(limit)
}

// grant hands free slots under limit to the waiters, for a limit raised at
// runtime.
func (s *slots) grant(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grantLocked(limit)
}

func (s *slots) grantLocked(limit int) {
	for len(s.waiters) > 0 && (limit <= 0 || s.inUse < limit) {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		w.granted = true
		s.inUse++
		close(w.ready)
	}
}

// state returns the requests in service and the requests waiting.
func (s *slots) state() (inUse, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inUse, len(s.waiters)
}
