package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/gameday"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
)

func newRevertCmd() *cobra.Command {
	var run, who string
	var all bool
	cmd := &cobra.Command{
		Use: "revert [ID...] [--all]",
		Example: `  okbreak revert --all            # end every fault in force on the stack
  okbreak revert 3f9a2c1b         # one injection, by the ID okbreak inject and status print`,
		Short: "End faults in force on a stack of okbreak up now",
		Long: `revert ends injections in force on the stack of okbreak up (--run ID, or the
only one up) before their deadline, from the journal: the injector need not
be alive. An injector still waiting (okbreak inject) sees its fault ended
and exits. IDs are the ones ` + "`okbreak status`" + ` lists (a unique prefix is enough).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return badInput("give the IDs of the faults to end, or --all")
			}
			rec, err := selectStack(run)
			if err != nil {
				return err
			}
			return revertFaults(cmd.Context(), rec, args, gameday.Who(who))
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "the stack's run ID (default: the only stack up)")
	cmd.Flags().BoolVar(&all, "all", false, "end every fault in force")
	cmd.Flags().StringVar(&who, "who", "", "who reverts, for the game-day log (default user@host)")
	return cmd
}

func revertFaults(ctx context.Context, rec gameday.Record, ids []string, who string) error {
	j := fault.OpenJournal(stack.RunStateDir(rec.Run))
	entries, err := j.Entries()
	if err != nil {
		return err
	}
	open := fault.OpenInjections(entries)
	chosen := open
	if len(ids) > 0 {
		picked := map[string]bool{}
		for _, id := range ids {
			var match []fault.Entry
			for _, e := range open {
				if strings.HasPrefix(e.ID, id) {
					match = append(match, e)
				}
			}
			if len(match) != 1 {
				return badInput("%q matches %d faults in force on run %s: give a unique ID from `okbreak status`", id, len(match), rec.Run)
			}
			picked[match[0].ID] = true
		}
		// In the journal's order whatever the order of the IDs given, for
		// RevertOrder.
		chosen = slices.DeleteFunc(slices.Clone(open), func(e fault.Entry) bool { return !picked[e.ID] })
	}
	if len(chosen) == 0 {
		fmt.Printf("run %s: no fault in force\n", rec.Run)
		return nil
	}
	if err := checkDocker(ctx); err != nil {
		return err
	}
	failed := 0
	for _, e := range fault.RevertOrder(chosen) {
		note := "ended early by okbreak revert"
		if err := fault.RevertEntryAs(ctx, j, e, who, note); err != nil {
			failed++
			fmt.Printf("FAILED %s [%s]: %v\n", e.Fault, e.ID, err)
			continue
		}
		fmt.Printf("reverted %s [%s], injected by %s (pid %d)\n", e.Fault, e.ID, e.Who, e.By.PID)
	}
	if failed > 0 {
		return fmt.Errorf("%d revert(s) failed: `okbreak recover --run %s --force` tries again", failed, rec.Run)
	}
	return nil
}

func newStatusCmd() *cobra.Command {
	var run string
	var showLog, asJSON bool
	cmd := &cobra.Command{
		Use: "status",
		Example: `  okbreak status                  # the stack, faults in force, probe, alerts
  okbreak status --log            # and the game-day log: every injection, revert and halt
  okbreak status --run 28b91400 --json`,
		Short: "Show a stack of okbreak up: faults in force, the probe, alerts, the game-day log",
		Long: `status shows the stack of okbreak up (--run ID, or the only one up): its
containers, each fault in force with who injected it and its time left, the
alerts pending and firing, and the probe's success ratio and p99 over the
last minute, as the stack's keeper last saw them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, err := selectStack(run)
			if err != nil {
				return err
			}
			return showStatus(cmd.Context(), rec, showLog, asJSON)
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "the stack's run ID (default: the only stack up)")
	cmd.Flags().BoolVar(&showLog, "log", false, "also print the game-day log")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON document")
	return cmd
}

// statusView is what okbreak status shows, as one document.
type statusView struct {
	Record     gameday.Record    `json:"stack"`
	KeeperUp   bool              `json:"keeper_alive"`
	Containers map[string]string `json:"containers"`
	InForce    []inForceView     `json:"in_force"`
	Keeper     *gameday.Status   `json:"keeper,omitempty"`
	Log        []gameday.LogLine `json:"log,omitempty"`
}

type inForceView struct {
	ID     string  `json:"id"`
	Fault  string  `json:"fault"`
	Type   string  `json:"type"`
	Target string  `json:"target"`
	Who    string  `json:"who"`
	PID    int     `json:"pid"`
	LeftS  float64 `json:"left_s,omitempty"`
}

func showStatus(ctx context.Context, rec gameday.Record, showLog, asJSON bool) error {
	v := statusView{Record: rec, KeeperUp: rec.KeeperAlive(), Containers: map[string]string{}, InForce: []inForceView{}}
	v.Record.Endpoints = ""
	if err := checkDocker(ctx); err != nil {
		return err
	}
	ctrs, err := stack.RunContainers(ctx, rec.Run)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		name := c.Component()
		if c.FaultID() != "" {
			name += " (fault " + c.FaultID() + ")"
		}
		v.Containers[name] = c.State
	}
	entries, err := fault.OpenJournal(stack.RunStateDir(rec.Run)).Entries()
	if err != nil {
		return err
	}
	for _, f := range gameday.Open(entries, time.Now()) {
		v.InForce = append(v.InForce, inForceView{ID: f.ID, Fault: f.Fault, Type: f.Type, Target: f.Target, Who: f.Who, PID: f.By.PID, LeftS: f.Left.Seconds()})
	}
	if st, ok, err := gameday.ReadStatus(rec.Run); err == nil && ok {
		v.Keeper = &st
	}
	if showLog {
		v.Log = gameday.Log(entries)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	printStatus(v)
	return nil
}

func printStatus(v statusView) {
	r := v.Record
	keeper := fmt.Sprintf("keeper pid %d", r.Owner.PID)
	if !v.KeeperUp {
		keeper += " (NOT RUNNING: deadlines and halts are not kept; `okbreak down` or start again)"
	}
	fmt.Printf("run %s  %s  up since %s by %s  time scale %g  %s\n", r.Run, systemName(r), r.Started.Local().Format(time.DateTime), r.Who, r.TimeScale, keeper)
	var parts []string
	for name, st := range v.Containers {
		parts = append(parts, name+" "+st)
	}
	fmt.Printf("containers: %s\n", strings.Join(sortedStrings(parts), ", "))
	if len(v.InForce) == 0 {
		fmt.Println("faults in force: none")
	} else {
		fmt.Println("faults in force:")
		tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tFAULT\tTYPE\tTARGET\tWHO\tPID\tLEFT")
		for _, f := range v.InForce {
			left := "-"
			if f.LeftS != 0 {
				left = (time.Duration(f.LeftS * float64(time.Second))).Round(time.Second).String()
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\n", f.ID, f.Fault, f.Type, f.Target, f.Who, f.PID, left)
		}
		tw.Flush()
	}
	if k := v.Keeper; k != nil {
		age := time.Since(k.Updated).Round(time.Second)
		fmt.Printf("probe: %s (seen %s ago)\n", k.Probe, age)
		fmt.Printf("alerts firing: %s; pending: %s\n", orNone(k.Firing), orNone(k.Pending))
		fmt.Printf("halt: %s", k.Halt)
		if k.Halted != "" {
			fmt.Printf(" (last halt: %s)", k.Halted)
		}
		fmt.Println()
		if k.Paused != "" {
			fmt.Printf("paused: held by %s\n", k.Paused)
		}
	}
	if len(v.Log) > 0 {
		fmt.Println("game-day log:")
		for _, l := range v.Log {
			fmt.Println("  " + l.String())
		}
	}
}

func systemName(r gameday.Record) string {
	if r.Stack != "" {
		return "stack file " + r.Stack
	}
	return "sample system (" + r.DataPlane + ")"
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func newDownCmd() *cobra.Command {
	var run string
	cmd := &cobra.Command{
		Use: "down",
		Example: `  okbreak down                    # the only stack up
  okbreak down --run 28b91400`,
		Short: "Tear a stack of okbreak up down: its keeper stops, faults end, nothing is left",
		Long: `down stops the keeper of the stack of okbreak up (--run ID, or the only one
up), which closes the faults in force and removes every container and the
network. A stack whose keeper is gone (killed) is removed directly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rec, err := selectStack(run)
			if err != nil {
				return err
			}
			return down(cmd.Context(), rec)
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "the stack's run ID (default: the only stack up)")
	return cmd
}

func down(ctx context.Context, rec gameday.Record) error {
	if err := checkDocker(ctx); err != nil {
		return err
	}
	if rec.KeeperAlive() {
		logf("run %s: stopping its keeper (pid %d)", rec.Run, rec.Owner.PID)
		if err := syscall.Kill(rec.Owner.PID, syscall.SIGTERM); err != nil {
			return fmt.Errorf("run %s: signal keeper pid %d: %w", rec.Run, rec.Owner.PID, err)
		}
		err := retry.Until(ctx, "the keeper to tear the stack down", 2*time.Minute, 200*time.Millisecond, func(context.Context) error {
			if rec.KeeperAlive() {
				return fmt.Errorf("keeper pid %d still running", rec.Owner.PID)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Whatever the keeper could not remove (or a keeper that was killed
	// left), and the journal's open faults: the stack goes with them.
	abandonOpen(rec.Run, "the stack was torn down by okbreak down")
	if err := stack.RemoveRun(ctx, rec.Run); err != nil {
		return err
	}
	_ = gameday.Remove(rec.Run)
	if err := stack.UnmarkLongLived(rec.Run); err != nil {
		return err
	}
	fmt.Printf("run %s is down: nothing of it is left\n", rec.Run)
	return nil
}
