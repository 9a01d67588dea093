package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/envfile"
	"github.com/okbreak/okbreak/harness/envtarget"
	"github.com/okbreak/okbreak/harness/stack"
)

func newRecoverCmd() *cobra.Command {
	var run, envFile string
	var force bool
	cmd := &cobra.Command{
		Use: "recover",
		Example: `  okbreak recover                 # every run whose owner is dead
  okbreak recover --run 28b91400  # one run, by its ID
  okbreak recover --env staging.yaml   # what runs left in a running environment, from any machine`,
		Short: "Revert every fault a killed run left in force, and sweep dead runs",
		Long: `recover brings okbreak's stacks back to their steady state after a run was
killed with faults in force. From each run's journal (in $OKBREAK_STATE_DIR,
else $XDG_STATE_HOME/okbreak, else ~/.local/state/okbreak) it reverts every
fault still open: toxics removed, proxies re-enabled, components started,
unpaused or recreated, etcd keys restored by compare-and-swap. It starts or
unpauses components that should run, removes containers faults left beside
them, resets each run's Toxiproxy, and removes the containers and networks of
runs whose owning process is dead. It says what it repaired.

A run whose faults are held by a live process (a run in progress) is left
alone unless --force.

With --env FILE it repairs a running environment instead (okbreak run
--env): the open injections of this machine's journals on the file's
Toxiproxies are reverted, then every toxic on a declared proxy that okbreak
named for this environment (okbreak.<env>.<run>.<fault>; of --run only,
when given) is removed, from any machine. A toxic okbreak did not make, or
on a proxy the file does not declare, survives.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if envFile != "" {
				return recoverEnv(ctx, envFile, run)
			}
			if err := checkDocker(ctx); err != nil {
				return err
			}
			opts := []harness.RecoverOption{harness.RecoverLogf(logf)}
			if run != "" {
				opts = append(opts, harness.RecoverRun(run))
			}
			if force {
				opts = append(opts, harness.RecoverForce())
			}
			logf("state folder: %s", stack.StateRoot())
			rec, err := harness.Recover(ctx, opts...)
			fmt.Print(rec.String())
			if err != nil {
				return fmt.Errorf("recovery incomplete: %d repair(s) failed", len(rec.Failed))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "recover this run only (default: every run)")
	cmd.Flags().BoolVar(&force, "force", false, "also revert faults that a live process holds")
	cmd.Flags().StringVar(&envFile, "env", "", "repair the running environment this file describes")
	return cmd
}

func recoverEnv(ctx context.Context, path, run string) error {
	env, err := envfile.Load(path)
	if err != nil {
		return badInput("%w", err)
	}
	useEngine(env)
	rec, err := envtarget.Recover(ctx, env, run, logf)
	fmt.Print(rec.String())
	if err != nil {
		return fmt.Errorf("recovery incomplete: %d repair(s) failed", len(rec.Failed))
	}
	return nil
}
