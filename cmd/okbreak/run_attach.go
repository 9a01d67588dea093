package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/gameday"
	"github.com/okbreak/okbreak/harness/stack"
)

// runAttached runs the catalog on the stack of okbreak up: held for the
// run (the keeper pauses, inject refuses), never torn down.
func (rf runFlags) runAttached(ctx context.Context) error {
	started := time.Now()
	rec, err := selectStack(rf.run)
	if err != nil {
		return err
	}
	if rf.inputs.stack != "" {
		return badInput("--attach runs on the stack of okbreak up (run %s); leave --stack out", rec.Run)
	}
	rf.inputs.stack, rf.dataPlane = rec.Stack, rec.DataPlane
	cr, err := rf.planCatalog(ctx)
	if err != nil {
		return err
	}
	j := fault.OpenJournal(stack.RunStateDir(rec.Run))
	entries, err := j.Entries()
	if err != nil {
		return err
	}
	if open := gameday.Open(entries, time.Now()); len(open) > 0 {
		var names []string
		for _, f := range open {
			names = append(names, fmt.Sprintf("%s [%s] by %s", f.Fault, f.ID, f.Who))
		}
		return noEnv(fmt.Errorf("run %s has faults in force: %s; end them with `okbreak revert --all` first", rec.Run, strings.Join(names, ", ")))
	}
	release, err := gameday.Hold(rec.Run, gameday.Who(""), "okbreak run --attach")
	if err != nil {
		return noEnv(err)
	}
	defer release()
	ctx, stop := fault.SignalContext(ctx)
	defer stop()
	s, _, err := attachStack(ctx, rec)
	if err != nil {
		return err
	}
	rep, failed, err := rf.runCases(ctx, []harness.System{s}, harness.Lanes(cr.cases, cr.cat.Defaults, rf.scale, 1), cr)
	if err != nil {
		return err
	}
	if entries, err := j.Entries(); err == nil {
		rep.GameDay = gameday.Log(entries)
	}
	return rf.finish(ctx, rep, started, rec.Run+"-"+started.UTC().Format("20060102T150405"), failed, len(cr.cases))
}
