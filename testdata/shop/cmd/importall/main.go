// Command importall, from a module of its own, imports every library
// package of okbreak and prints the testcontainers-go settings it finds
// afterwards: importing okbreak must change nothing global (harness:
// TestImportingChangesNothingGlobal).
package main

import (
	"fmt"
	"os"

	_ "github.com/okbreak/okbreak/fixtures"
	_ "github.com/okbreak/okbreak/fixtures/alerts"
	_ "github.com/okbreak/okbreak/harness"
	_ "github.com/okbreak/okbreak/harness/alert"
	_ "github.com/okbreak/okbreak/harness/alertsource"
	_ "github.com/okbreak/okbreak/harness/catalog"
	_ "github.com/okbreak/okbreak/harness/envfile"
	_ "github.com/okbreak/okbreak/harness/envtarget"
	_ "github.com/okbreak/okbreak/harness/fault"
	_ "github.com/okbreak/okbreak/harness/gameday"
	_ "github.com/okbreak/okbreak/harness/image"
	_ "github.com/okbreak/okbreak/harness/incident"
	_ "github.com/okbreak/okbreak/harness/incidentrun"
	_ "github.com/okbreak/okbreak/harness/probe"
	_ "github.com/okbreak/okbreak/harness/report"
	_ "github.com/okbreak/okbreak/harness/retry"
	_ "github.com/okbreak/okbreak/harness/ruletest"
	_ "github.com/okbreak/okbreak/harness/stack"
	_ "github.com/okbreak/okbreak/harness/stack/stacktest"
	_ "github.com/okbreak/okbreak/harness/stackfile"
	_ "github.com/okbreak/okbreak/okbreaktest"
	_ "github.com/okbreak/okbreak/sample"
)

func main() {
	for _, k := range []string{"TESTCONTAINERS_HOST_OVERRIDE", "TESTCONTAINERS_RYUK_DISABLED"} {
		if v, ok := os.LookupEnv(k); ok {
			fmt.Printf("%s=%s\n", k, v)
		}
	}
}
