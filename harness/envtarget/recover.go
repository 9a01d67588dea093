package envtarget

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/envfile"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// Recover takes out what okbreak runs left in force in an environment,
// and nothing else. First the journals on this machine: every open
// injection whose Toxiproxies the file declares is reverted from its
// journal (disabled proxies included), unless a live process holds it.
// Then, from any machine, by name: every toxic on a declared proxy that
// ToxicName made in this environment (for run, or for any run when run is
// "") is removed. Toxics people made, toxics of another environment, and
// anything on a proxy the file does not declare survive.
func Recover(ctx context.Context, env *envfile.Env, run string, logf func(string, ...any)) (harness.Recovery, error) {
	var rec harness.Recovery
	recoverJournals(ctx, env, run, &rec, logf)
	sweepToxics(ctx, env, run, &rec)
	var errs []error
	for _, f := range rec.Failed {
		errs = append(errs, errors.New(f.String()))
	}
	return rec, errors.Join(errs...)
}

// recoverJournals reverts the open injections of this machine's journals
// that act on the environment.
func recoverJournals(ctx context.Context, env *envfile.Env, run string, rec *harness.Recovery, logf func(string, ...any)) {
	dirs, _ := os.ReadDir(filepath.Join(stack.StateRoot(), "runs"))
	for _, d := range dirs {
		if !d.IsDir() || (run != "" && d.Name() != run) {
			continue
		}
		j := fault.OpenJournal(stack.RunStateDir(d.Name()))
		entries, err := j.Entries()
		if err != nil {
			rec.Failed = append(rec.Failed, harness.Repair{Run: d.Name(), What: "read journal", Err: err})
			continue
		}
		for _, e := range fault.OpenInjections(entries) {
			if !ofEnv(env, e) {
				continue
			}
			if e.By.Alive() {
				rec.Skipped = append(rec.Skipped, harness.Repair{Run: e.Run, What: fmt.Sprintf("%s is held by live process %d: left alone", e.Fault, e.By.PID)})
				continue
			}
			logf("run %s: reverting %s", e.Run, e.Fault)
			if err := fault.RevertEntryAs(ctx, j, e, "okbreak recover --env", "recovered from the journal"); err != nil {
				rec.Failed = append(rec.Failed, harness.Repair{Run: e.Run, What: "revert " + e.Fault, Err: err})
				continue
			}
			rec.Repaired = append(rec.Repaired, harness.Repair{Run: e.Run, What: fmt.Sprintf("reverted %s (%s on %s), injected by pid %d", e.Fault, e.Type, e.Target, e.By.PID)})
		}
	}
}

// ofEnv tells whether every Toxiproxy an injection touched is one the file
// declares, on a declared proxy: only then may recovery act on it.
func ofEnv(env *envfile.Env, e fault.Entry) bool {
	if len(e.Access.Toxiproxies) == 0 {
		return false
	}
	for _, ep := range e.Access.Toxiproxies {
		if ep == nil || ep.URL == "" || env.AllowURL(ep.URL) != nil || env.AllowProxy(ep.URL, ep.Proxy) != nil {
			return false
		}
	}
	return true
}

// sweepToxics removes the toxics named as this environment's (of run, or
// of any run) from the declared proxies.
func sweepToxics(ctx context.Context, env *envfile.Env, run string, rec *harness.Recovery) {
	for _, tp := range env.Toxiproxies {
		st, err := fault.InspectToxiproxy(ctx, tp.API)
		if err != nil {
			rec.Failed = append(rec.Failed, harness.Repair{Run: "*", What: "inspect Toxiproxy " + tp.Name + " at " + tp.API, Err: err})
			continue
		}
		declared := (&System{env: env}).DeclaredProxies(tp.Name)
		for proxy, toxics := range st.Toxics {
			if !slices.Contains(declared, proxy) {
				continue
			}
			for _, name := range toxics {
				owner, ok := env.ToxicRun(name)
				if !ok || (run != "" && !env.OwnToxic(name, run)) {
					continue
				}
				if err := fault.RemoveToxic(ctx, tp.API, proxy, name); err != nil {
					rec.Failed = append(rec.Failed, harness.Repair{Run: owner, What: "remove toxic " + name + " from " + proxy, Err: err})
					continue
				}
				rec.Repaired = append(rec.Repaired, harness.Repair{Run: owner, What: fmt.Sprintf("removed toxic %s from %s of %s", name, proxy, tp.Name)})
			}
		}
	}
}
