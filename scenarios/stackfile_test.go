package scenarios

import (
	"testing"

	"github.com/okbreak/okbreak/okbreaktest"
)

// shopStack is a second system shipped with okbreak, written as a team
// would write its Compose file: its own names, two instances, configs that
// name callees by service name only, its own check, rules and catalog.
const shopStack = "../fixtures/stacks/shop/stack.yaml"

// TestShopStackFile runs the shop's catalog on the system its stack file
// describes, with a Toxiproxy put in front of every declared callee.
func TestShopStackFile(t *testing.T) {
	okbreaktest.Run(t, okbreaktest.Config{StackFile: shopStack, TimeScale: timeScale(t), ReportDir: reportRoot(), CaseBudget: caseBudget, Parallel: catalogStacks})
}
