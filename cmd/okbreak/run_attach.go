package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/gameday"
	"github.com/okbreak/okbreak/harness/report"
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
	rep, failed, err := rf.runCases(ctx, s, cr)
	if err != nil {
		return err
	}
	rep.ElapsedS = time.Since(started).Seconds()
	if entries, err := j.Entries(); err == nil {
		rep.GameDay = gameday.Log(entries)
	}
	if rf.asJSON {
		if err := report.JSON(os.Stdout, rep); err != nil {
			return err
		}
	}
	dir := rf.reportDir
	if dir == "" {
		dir = filepath.Join(envOr("OKBREAK_REPORT_DIR", "okbreak-reports"), rec.Run+"-"+started.UTC().Format("20060102T150405"))
	}
	if err := report.Write(dir, rep, true); err != nil {
		return err
	}
	logf("report: %s", dir)
	if ctx.Err() != nil {
		return fmt.Errorf("run interrupted after %d of %d cases: %w", len(rep.Cases), len(cr.cases), ctx.Err())
	}
	return runOutcome(rep, failed)
}
