package harness

import (
	"context"

	"github.com/okbreak/okbreak/harness/catalog"
)

// CaseFunc wraps the run of one case: a test runs it as a subtest, the CLI
// prints progress around it. It must call run at most once, and may give it
// a narrower ctx (a per-case budget); a case whose run is not called is
// left out of the results.
type CaseFunc func(i int, c catalog.Case, run func(ctx context.Context) Result)

// RunCatalog runs cases one at a time against r's system, each wrapped by
// wrap (nil: run as is), and returns the results of the cases that ran, in
// order. It stops before the next case once ctx ends, or after a case a
// halt condition stopped. The CLI and okbreaktest.Run share it; the system
// must be up and stays up. It is RunLanes with one lane.
func RunCatalog(ctx context.Context, r *Runner, cases []catalog.Case, wrap CaseFunc) []Result {
	all := make([]int, len(cases))
	for i := range all {
		all[i] = i
	}
	return RunLanes(ctx, []Lane{{Runner: r, Cases: all}}, cases, wrap)
}
