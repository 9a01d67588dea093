package okbreaktest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stacktest.IdleClosed(m), stacktest.LeakOptions()...)
}
