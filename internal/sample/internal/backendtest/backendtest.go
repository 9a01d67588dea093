// Package backendtest serves sample backends on loopback for the sample
// service's tests: one helper instead of a copy in each test file.
package backendtest

import (
	"context"
	"net"

	"github.com/okbreak/okbreak/internal/sample/backend"
)

// T is what Serve needs of a test.
type T interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
}

// Serve serves b on ln until the test ends; an error Serve returns then
// fails the test.
func Serve(t T, b *backend.Backend, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("backend %s: serve: %v", ln.Addr(), err)
		}
	})
}
