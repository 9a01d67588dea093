package fault_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

// typeCase is one fault type as BenchmarkFaultTypes injects it.
type typeCase struct {
	spec fault.Spec
	kind fault.Kind
	// waits says which part of Inject and Revert waits on Docker or on the
	// system rather than on okbreak's own work, for the table.
	waits string
}

// faultTypeCases are every registered fault type on the default stack, in
// the order a round runs them: network faults on benchLink with
// BenchmarkNetworkFaults' params, process faults on backend-2, the
// registry's faults on the backend service and route, etcd_put and
// etcd_delete on the backend route's key. The process faults run in an
// order that keeps Docker's restart backoff out of crash: terminate, just
// before it, ends with a manual start, which resets the backoff, and a
// whole round (well over Docker's 10 s) lies between two crashes.
//
// What waits on Docker or the system (the rest is the journal's write and
// fsync and one API call):
//
//   - network faults: the lookup of the Toxiproxy API's published port (a
//     Docker inspect, once per fault; a toxic's runs while the journal
//     syncs); down also reads the proxy before the journal (one more round
//     trip), whose entry holds whether it was enabled;
//   - stop: Inject waits for docker stop (SIGTERM, the process's exit);
//     Revert starts the container and waits until /healthz answers;
//   - pause: the cgroup freezer, both ways;
//   - restart: Inject waits for docker restart (stop, then start); Revert
//     only checks that the container runs and serves;
//   - terminate: Inject is docker kill; Revert starts the container and
//     waits until it serves;
//   - crash: Inject inspects the container and waits until the PID is gone;
//     Revert waits for the restart policy to start it again and for
//     /healthz;
//   - crash_loop: Inject removes the container and creates the looping one;
//     Revert removes that, creates the original and waits until it serves;
//   - bad_config_at_start: Inject creates and starts the second instance;
//     Revert removes it (its exit is awaited, untimed, between the two, as
//     a case's Outcome does);
//   - config faults: Inject reads the keys and writes them in one etcd
//     transaction, Revert restores them by compare-and-swap, key by key;
//     each opens its own etcd client (a Docker inspect for etcd's port, a
//     gRPC connection).
func faultTypeCases() []typeCase {
	var out []typeCase
	for _, c := range networkBenchCases(100) {
		waits := "inject: API port (docker inspect)"
		if c.typ == "down" {
			waits += ", GET proxy"
		}
		out = append(out, typeCase{fault.Spec{Type: c.typ, Target: benchLink, Params: c.params}, fault.Network, waits})
	}
	const backend = "backend-2"
	routeKey := registry.RouteKey(registry.BackendRoute)
	return append(out,
		typeCase{fault.Spec{Type: "stop", Target: backend}, fault.Process, "inject: docker stop; revert: docker start + ready"},
		typeCase{fault.Spec{Type: "pause", Target: backend}, fault.Process, "docker pause / unpause"},
		typeCase{fault.Spec{Type: "restart", Target: backend}, fault.Process, "inject: docker restart"},
		typeCase{fault.Spec{Type: "terminate", Target: backend}, fault.Process, "inject: docker kill; revert: docker start + ready"},
		typeCase{fault.Spec{Type: "crash", Target: backend}, fault.Process, "inject: PID gone; revert: restart policy + ready"},
		typeCase{fault.Spec{Type: "crash_loop", Target: backend}, fault.Process, "inject: remove + create; revert: remove + create + ready"},
		typeCase{fault.Spec{Type: "bad_config_at_start", Target: backend}, fault.Process, "inject: create + start; revert: remove"},
		typeCase{fault.Spec{Type: "empty_endpoints", Target: registry.BackendService}, fault.Config, "etcd client per call (docker inspect, dial)"},
		typeCase{fault.Spec{Type: "route_to_other", Target: registry.BackendRoute}, fault.Config, "etcd client per call (docker inspect, dial)"},
		typeCase{fault.Spec{Type: "rejected_resource", Target: registry.BackendRoute}, fault.Config, "etcd client per call (docker inspect, dial)"},
		typeCase{fault.Spec{Type: "etcd_put", Target: routeKey, Params: map[string]any{"value": `{"name":`}}, fault.Config, "etcd client per call (docker inspect, dial)"},
		typeCase{fault.Spec{Type: "etcd_delete", Target: routeKey}, fault.Config, "etcd client per call (docker inspect, dial)"},
	)
}

// defaultTypeRounds is the number of rounds without -benchtime Nx: one round
// takes far longer than any -benchtime duration one would give.
const defaultTypeRounds = 10

// BenchmarkFaultTypes measures, for every registered fault type, the wall
// time of the Inject call and of the Revert call themselves: what the
// journal (write and fsync) plus the action costs, including whatever the
// call waits for (see faultTypeCases). One default grpc stack is brought up
// once; each round injects and reverts every type once, in turn, on a fault
// built just before (untimed), as a run's case builds its faults: so
// Inject includes looking up the Toxiproxy API's published port and
// connecting to it. Between two faults the benchmark waits, untimed, until
// the stack is back to steady (no toxic, every container running, the
// registry as seeded, traffic reaching every backend), so that each starts
// clean.
//
// -benchtime Nx runs N rounds (N samples per type); otherwise 10. Reported
// per type: <type>-inject-ms-p50, -inject-ms-p99, -revert-ms-p50,
// -revert-ms-p99 (nearest rank: p99 of fewer than 100 samples is the
// largest); the log holds the same as a table. ns/op is one round's timed
// calls. Run:
//
//	go test ./harness/fault -run '^$' -bench BenchmarkFaultTypes -benchtime 10x -timeout 40m
func BenchmarkFaultTypes(b *testing.B) {
	cases := faultTypeCases()
	var names []string
	for _, c := range cases {
		names = append(names, c.spec.Type)
	}
	for _, t := range fault.Types() {
		if !slices.Contains(names, t.Name) {
			b.Fatalf("fault type %s has no case in faultTypeCases", t.Name)
		}
	}
	ctx, h := benchSUT(b)
	if err := h.settle(ctx); err != nil {
		b.Fatal(err)
	}

	rounds := 1
	if bt := flag.Lookup("test.benchtime"); bt == nil || !strings.HasSuffix(bt.Value.String(), "x") {
		rounds = defaultTypeRounds
	}
	ins := make([][]time.Duration, len(cases))
	outs := make([][]time.Duration, len(cases))
	for b.Loop() {
		for range rounds {
			for i, c := range cases {
				in, out, err := h.injectRevert(b, ctx, c.spec)
				if err != nil {
					b.Fatalf("%s: %v", c.spec.Type, err)
				}
				ins[i], outs[i] = append(ins[i], in), append(outs[i], out)
				b.StopTimer()
				if err := h.settle(ctx); err != nil {
					b.Fatalf("after %s: %v", c.spec.Type, err)
				}
				b.StartTimer()
			}
		}
	}

	var tbl strings.Builder
	fmt.Fprintf(&tbl, "%d samples per type (ms)\n%-20s %-8s %9s %9s %9s %9s  %s\n", len(ins[0]),
		"type", "kind", "inject50", "inject99", "revert50", "revert99", "waits on")
	for i, c := range cases {
		in50, in99 := quantile(ins[i], 0.5), quantile(ins[i], 0.99)
		out50, out99 := quantile(outs[i], 0.5), quantile(outs[i], 0.99)
		b.ReportMetric(ms(in50), c.spec.Type+"-inject-ms-p50")
		b.ReportMetric(ms(in99), c.spec.Type+"-inject-ms-p99")
		b.ReportMetric(ms(out50), c.spec.Type+"-revert-ms-p50")
		b.ReportMetric(ms(out99), c.spec.Type+"-revert-ms-p99")
		fmt.Fprintf(&tbl, "%-20s %-8s %9.1f %9.1f %9.1f %9.1f  %s\n", c.spec.Type, c.kind, ms(in50), ms(in99), ms(out50), ms(out99), c.waits)
	}
	// testing cuts a benchmark's log to 10 lines unless -v streams it:
	// without -v the table goes to stdout, which a b.Loop benchmark writes
	// before its result line.
	if testing.Verbose() {
		b.Logf("inject and revert calls, %s:\n%s", time.Now().Format(time.DateOnly), tbl.String())
	} else {
		fmt.Printf("BenchmarkFaultTypes: inject and revert calls, %s:\n%s", time.Now().Format(time.DateOnly), tbl.String())
	}
}

// injectRevert builds the fault of spec (untimed), then times its Inject
// and its Revert. Between the two it waits, untimed, for the outcome of a
// fault that has one (bad_config_at_start's second instance exiting).
func (h *sut) injectRevert(b *testing.B, ctx context.Context, spec fault.Spec) (in, out time.Duration, err error) {
	b.StopTimer()
	f, err := fault.New(spec, h.s)
	if err != nil {
		return 0, 0, err
	}
	b.StartTimer()
	t0 := time.Now()
	err = f.Inject(ctx)
	in = time.Since(t0)
	if err != nil {
		return 0, 0, errors.Join(err, f.Revert(ctx))
	}
	if o, ok := f.(fault.Outcomer); ok {
		b.StopTimer()
		octx, cancel := context.WithTimeout(ctx, time.Minute)
		err = o.Outcome(octx)
		cancel()
		b.StartTimer()
		if err != nil {
			return 0, 0, errors.Join(err, f.Revert(ctx))
		}
	}
	t0 = time.Now()
	err = f.Revert(ctx)
	out = time.Since(t0)
	return in, out, err
}

// settle waits until the stack is steady again (see steadyErr), then until
// traffic reaches every backend.
func (h *sut) settle(ctx context.Context) error {
	err := retry.Until(ctx, "the stack back to steady", 2*time.Minute, 20*time.Millisecond, h.steadyErr)
	if err != nil {
		return err
	}
	return h.s.WaitServing(ctx)
}

// steadyErr says what is not steady yet, as steady checks it: a toxic or a
// disabled proxy, a container not running or left by a fault, the registry
// other than seeded, an injection the journal holds open.
func (h *sut) steadyErr(ctx context.Context) error {
	for _, p := range h.s.Def.Proxies() {
		api, err := h.s.ToxiproxyAPI(ctx, p)
		if err != nil {
			return err
		}
		st, err := fault.InspectToxiproxy(ctx, api)
		if err != nil {
			return err
		}
		if !st.Clean() {
			return fmt.Errorf("toxiproxy %s: %s", p, st)
		}
	}
	ctrs, err := stack.RunContainers(ctx, h.s.RunID)
	if err != nil {
		return err
	}
	if len(ctrs) != len(h.s.Def.Components) {
		return fmt.Errorf("%d containers, want %d", len(ctrs), len(h.s.Def.Components))
	}
	for _, c := range ctrs {
		if c.FaultID() != "" {
			return fmt.Errorf("%s was left by fault %s", c.Name, c.FaultID())
		}
		if c.State != "running" {
			return fmt.Errorf("%s is %s", c.Name, c.State)
		}
	}
	cli, err := h.s.Etcd(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	seed := h.s.Def.SeedMap()
	res, err := cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, kv := range res.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	if !equalMaps(got, seed) {
		return fmt.Errorf("the registry differs from the seed: %v", got)
	}
	entries, err := fault.OpenJournal(h.s.StateDir()).Entries()
	if err != nil {
		return err
	}
	if open := fault.OpenInjections(entries); len(open) > 0 {
		return fmt.Errorf("%d injections open in the journal, e.g. %s", len(open), open[0].Fault)
	}
	return nil
}
