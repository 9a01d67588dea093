package scenarios

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// TestMain fails the run when a goroutine outlives the tests: whole
// catalogs run here on real stacks, and nothing of a case may survive it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stacktest.IdleClosed(m), stacktest.LeakOptions()...)
}
