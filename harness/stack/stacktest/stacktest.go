// Package stacktest brings a stack up for a test and guarantees its teardown.
package stacktest

import (
	"context"
	"time"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/stack"
)

// T is the part of testing.TB that Up needs.
type T interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Up sweeps what dead runs left, brings the default stack for dp up, and
// registers its teardown before checking the error, so that a failed start
// leaves nothing behind either. It fails the test when the stack cannot
// start.
func Up(t T, ctx context.Context, dp stack.DataPlane, opts ...stack.Option) *stack.Stack {
	t.Helper()
	if swept, err := stack.Sweep(ctx); err != nil {
		t.Logf("sweep dead runs: %v", err)
	} else if len(swept.Runs) > 0 {
		t.Logf("swept dead runs %v", swept.Runs)
	}
	opts = append([]stack.Option{stack.WithLogf(t.Logf)}, opts...)
	s, err := stack.Up(ctx, stack.Default(dp, fixtures.EnvoyBootstrap()), opts...)
	t.Cleanup(func() {
		if s == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Down(ctx); err != nil {
			t.Errorf("teardown of run %s: %v", s.RunID, err)
		}
	})
	if err != nil {
		t.Fatalf("stack up: %v", err)
	}
	return s
}
