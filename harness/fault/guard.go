package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// RevertTimeout bounds reverting the faults of a Guard once the caller's
// context is done (a recreated container may take a while to serve).
var RevertTimeout = 2 * time.Minute

// Guard keeps the faults in force and reverts them all, whatever happens.
// A fault is registered for revert before its Inject starts, so a fault
// that fails half-way is reverted too. Create one, defer RevertAll at once,
// then Inject through it. A Guard is safe for concurrent use.
type Guard struct {
	mu     sync.Mutex
	active []Fault
}

// NewGuard returns an empty Guard.
func NewGuard() *Guard { return &Guard{} }

// Inject registers f for revert, then injects it. On error f stays
// registered: RevertAll takes back whatever part of it is in force.
func (g *Guard) Inject(ctx context.Context, f Fault) error {
	g.mu.Lock()
	g.active = append(g.active, f)
	g.mu.Unlock()
	return f.Inject(ctx)
}

// Revert reverts one fault of the guard now and forgets it once reverted.
func (g *Guard) Revert(ctx context.Context, f Fault) error {
	rctx, cancel := revertContext(ctx)
	defer cancel()
	if err := f.Revert(rctx); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, a := range g.active {
		if a == f {
			g.active = append(g.active[:i], g.active[i+1:]...)
			break
		}
	}
	return nil
}

// RevertAll reverts every fault still registered, newest first, past
// errors. It uses a context of its own when ctx is done (a timeout or a
// signal must not stop the revert), bounded by RevertTimeout. Faults that
// fail to revert stay registered, so a later call tries them again.
func (g *Guard) RevertAll(ctx context.Context) error {
	g.mu.Lock()
	active := g.active
	g.active = nil
	g.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RevertTimeout)
	defer cancel()
	var errs []error
	var failed []Fault
	for i := len(active) - 1; i >= 0; i-- {
		if err := active[i].Revert(rctx); err != nil {
			errs = append(errs, err)
			failed = append([]Fault{active[i]}, failed...)
		}
	}
	if len(failed) > 0 {
		g.mu.Lock()
		g.active = append(failed, g.active...)
		g.mu.Unlock()
	}
	return errors.Join(errs...)
}

// revertContext is ctx while it lives, else a fresh one bounded by
// RevertTimeout.
func revertContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), RevertTimeout)
}

// Apply injects f, runs during while it is in force, and reverts f however
// during ends: returning, failing, panicking (f is reverted, then the panic
// goes on), or ctx ending (a timeout, or a signal through SignalContext).
// An Inject error is returned after the revert. The revert's error is
// joined to during's.
func Apply(ctx context.Context, f Fault, during func(ctx context.Context) error) (err error) {
	g := NewGuard()
	defer func() {
		r := recover()
		rerr := g.RevertAll(ctx)
		if r != nil {
			if rerr != nil {
				panic(fmt.Sprintf("%v (and reverting %s: %v)", r, f.Name(), rerr))
			}
			panic(r)
		}
		err = errors.Join(err, rerr)
	}()
	if err := g.Inject(ctx, f); err != nil {
		return err
	}
	return during(ctx)
}

// SignalContext returns a context that is cancelled on SIGINT or SIGTERM,
// so that Apply and Guard users revert instead of dying. Until stop is
// called, further signals are caught too: a second Ctrl-C cannot interrupt
// the revert.
func SignalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
