package harness_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// TestMain fails the package's tests (package harness's and harness_test's
// alike: they are one binary) when a goroutine outlives them: the runner's
// probe, alert session, schedule, tracker, halt and link watches must all
// end with their case.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stacktest.IdleClosed(m), stacktest.LeakOptions()...)
}
