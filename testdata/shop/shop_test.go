package shop_test

import (
	"testing"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/okbreaktest"

	"example.com/shop"
)

// TestCatalog is a team's whole use of okbreak: its system, its catalog,
// its rules, one call.
func TestCatalog(t *testing.T) {
	in, err := harness.ReadInputs("catalog.yaml", "rules/")
	if err != nil {
		t.Fatal(err)
	}
	okbreaktest.Run(t, okbreaktest.Config{Definition: shop.System(), Inputs: in})
}
