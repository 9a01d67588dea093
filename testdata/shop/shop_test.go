package shop_test

import (
	"testing"

	"github.com/okbreak/okbreak/okbreaktest"
)

// TestCatalog is a team's whole use of okbreak: its own Compose file with
// an x-okbreak block, which names its catalog and rules; one call.
func TestCatalog(t *testing.T) {
	okbreaktest.Run(t, okbreaktest.Config{StackFile: "stack.yaml"})
}
