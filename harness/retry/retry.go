// Package retry is okbreak's one helper for "eventually": every wait for a
// condition in the harness and its tests goes through Until, so that timeouts,
// polling intervals and the last error seen are reported the same way.
package retry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotYet may be returned by a condition to say "not done, keep polling"
// without recording a more specific error.
var ErrNotYet = errors.New("not yet")

// Until calls cond every interval until it returns nil, ctx is done, or
// timeout passes (timeout <= 0 means only ctx bounds it). The first call is
// immediate. On failure the error says how long it waited and wraps the last
// error cond returned, so a caller sees why the condition never held.
//
// Until is safe for concurrent use; cond is never called concurrently with
// itself.
func Until(ctx context.Context, what string, timeout, interval time.Duration, cond func(ctx context.Context) error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		last = cond(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: gave up after %s: %w (last: %w)", what, time.Since(start).Round(time.Millisecond), ctx.Err(), last)
		case <-t.C:
		}
	}
}
