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

// TestIncidents runs the team's own incidents (incidents/) on the same
// stack file, through the same kind of one call: before must fail as it
// did on the day, after must pass.
func TestIncidents(t *testing.T) {
	okbreaktest.RunIncidents(t, okbreaktest.Incidents{Dir: "incidents", StackFiles: []string{"stack.yaml"}})
}
