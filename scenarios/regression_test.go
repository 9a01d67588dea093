package scenarios

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/internal/registry"
	"github.com/okbreak/okbreak/sample"
)

// A harness that cannot fail is worthless: these tests take out what makes
// a case pass and require the verdict to turn to failed.

// withoutRules returns the rule files without the named alerts.
func withoutRules(files []alert.RuleFile, names []string) []alert.RuleFile {
	out := make([]alert.RuleFile, 0, len(files))
	for _, f := range files {
		nf := alert.RuleFile{Name: f.Name}
		for _, g := range f.Groups {
			ng := g
			ng.Rules = nil
			for _, r := range g.Rules {
				if !slices.Contains(names, r.Alert) {
					ng.Rules = append(ng.Rules, r)
				}
			}
			if len(ng.Rules) > 0 {
				nf.Groups = append(nf.Groups, ng)
			}
		}
		if len(nf.Groups) == 0 {
			nf.Groups = []rulefmt.RuleGroup{}
		}
		out = append(out, nf)
	}
	return out
}

// TestNotOKCasesFailWithoutTheirAlertRule deletes each not-ok case's expected
// alert rules and requires the case to fail: the alert, not something else,
// is what the verdict rests on.
func TestNotOKCasesFailWithoutTheirAlertRule(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cat, base := setup(t, ctx, sample.Definition(dataPlane(t)))
	for _, c := range cat.Cases {
		if c.Class != catalog.NotOK {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			plan, err := c.Plan(base.TimeScale, cat.Defaults)
			require.NoError(t, err)
			if skip := longRegressionSkip(plan.Detection); skip != "" {
				t.Skip(skip)
			}
			stripped := withoutRules(base.Rules, c.Expect.Alerts.Names)
			for _, n := range c.Expect.Alerts.Names {
				require.NotContains(t, ruleNames(stripped), n)
			}
			r := *base
			r.Rules = stripped
			res := r.RunCase(ctx, c)
			t.Logf("%s without %v: %s (%s)", c.Name, c.Expect.Alerts.Names, res.Verdict, res.Reason)
			require.Equal(t, harness.Failed, res.Verdict, "with its alert rules deleted, %s must fail: %s", c.Name, res.Reason)
		})
	}
}

// ciDetectionLimit is the longest detection window whose rule-deletion run
// CI waits out: without its rule, a not-ok case waits its whole detection
// window, and etcd-down-2h's is 2 min even at the capped scale.
const ciDetectionLimit = 30 * time.Second

// longRegressionSkip says why a rule-deletion run is skipped: in CI
// (CI=true), a detection window over ciDetectionLimit, unless
// OKBREAK_REGRESSION=all asks for every run.
func longRegressionSkip(detection time.Duration) string {
	if os.Getenv("CI") != "true" || os.Getenv("OKBREAK_REGRESSION") == "all" || detection <= ciDetectionLimit {
		return ""
	}
	return fmt.Sprintf("CI time: without its rule this case waits out its whole %s detection window (over %s); "+
		"it runs outside CI, or with OKBREAK_REGRESSION=all", detection, ciDetectionLimit)
}

func ruleNames(files []alert.RuleFile) []string {
	var out []string
	for _, a := range alert.Alerts(files) {
		out = append(out, a.Name)
	}
	return out
}

// withoutRoutingAround is the default stack with the mechanisms that route
// around one bad backend taken out: the frontend's retries and per-attempt
// deadline to another host (one attempt, no per-attempt deadline), the
// route's retry policy, and outlier detection.
func withoutRoutingAround(dp stack.DataPlane) stack.Definition {
	def := sample.Definition(dp)
	if dp == stack.GRPC {
		def = withCommandFlags(dp, sample.Edge, "--attempts=1", "--attempt-timeout=0")
	}
	return editRegistry(def, func(reg *registry.Registry) {
		route := reg.Routes[registry.BackendRoute]
		route.Retry = nil
		reg.Routes[registry.BackendRoute] = route
		svc := reg.Services[registry.BackendService]
		svc.OutlierDetection = nil
		reg.Services[registry.BackendService] = svc
	})
}

// editRegistry changes the sample registry the definition seeds into etcd.
func editRegistry(def stack.Definition, edit func(*registry.Registry)) stack.Definition {
	kvs := make([]registry.KV, 0, len(def.Seed))
	for _, kv := range def.Seed {
		kvs = append(kvs, registry.KV{Key: kv.Key, Value: []byte(kv.Value)})
	}
	reg, errs := registry.Decode(kvs)
	if len(errs) > 0 {
		panic(fmt.Sprintf("the sample's own seed: %v", errs)) // a bug in package sample
	}
	edit(&reg)
	out, err := registry.Encode(reg)
	if err != nil {
		panic(fmt.Sprintf("encode the edited registry: %v", err))
	}
	def.Seed = nil
	for _, kv := range out {
		def.Seed = append(def.Seed, stack.KV{Key: kv.Key, Value: string(kv.Value)})
	}
	return def
}

// roundRobinDropsClosedConnections is why two one-backend cases survive on
// the grpc data plane even without retries and outlier detection (measured:
// 100% success in both): gRPC-Go's round robin picks READY subchannels
// only, and a reset or a killed backend closes the connection, so the
// subchannel leaves rotation before any RPC is sent to it; the few RPCs in
// flight at that moment fall inside the grace period. gRPC-Go has no switch
// to take that out. On Envoy, without a retry_policy, the same faults fail
// requests (the "no retry on connection failure by default" incident).
const roundRobinDropsClosedConnections = "grpc data plane: round robin drops the closed connection's subchannel before any RPC reaches it, " +
	"so retries and ejection are not what saves this case here, and gRPC-Go cannot switch that off (runs on envoy)"

// TestOkToBreakCasesFailWithoutTheirMechanism runs the one-backend cases and
// the compound two-backends-slow on a stack without retries, per-attempt
// deadlines and outlier detection, and requires each to fail: those
// mechanisms, not luck, are what make them survivable.
func TestOkToBreakCasesFailWithoutTheirMechanism(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dp := dataPlane(t)
	cat, r := setup(t, ctx, withoutRoutingAround(dp))
	for _, tc := range []struct {
		name string
		// grpcSkip, when set, says why taking out retries and ejection
		// does not take out what saves the case on the grpc data plane.
		grpcSkip string
	}{
		{name: "one-backend-slow"},
		{name: "one-backend-resets", grpcSkip: roundRobinDropsClosedConnections},
		{name: "one-backend-killed", grpcSkip: roundRobinDropsClosedConnections},
		{name: "two-backends-slow"},
	} {
		name := tc.name
		t.Run(name, func(t *testing.T) {
			if dp == stack.GRPC && tc.grpcSkip != "" {
				t.Skip(tc.grpcSkip)
			}
			c, ok := cat.Case(name)
			require.True(t, ok, "case %s is in the catalog", name)
			res := r.RunCase(ctx, c)
			t.Logf("%s without retries and outlier detection: %s (%s)", name, res.Verdict, res.Reason)
			require.Equal(t, harness.Failed, res.Verdict, "without the mechanism that routes around a bad backend, %s must fail", name)
		})
	}
}

// withCommandFlags is the default stack with extra flags on one component.
func withCommandFlags(dp stack.DataPlane, component string, flags ...string) stack.Definition {
	def := sample.Definition(dp)
	for i, c := range def.Components {
		if c.Name == component {
			def.Components[i].Cmd = append(slices.Clone(c.Cmd), flags...)
		}
	}
	return def
}

// TestEtcdOutageFailsWithoutTheControlPlaneCache runs etcd-down-10m against a
// control plane that serves what it can read (nothing) while etcd is away:
// the control plane's cache, not luck, is what makes the case survivable.
func TestEtcdOutageFailsWithoutTheControlPlaneCache(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cat, r := setup(t, ctx, withCommandFlags(dataPlane(t), sample.ControlPlane, "--on-etcd-loss=clear"))
	c, ok := cat.Case("etcd-down-10m")
	require.True(t, ok)
	res := r.RunCase(ctx, c)
	t.Logf("etcd-down-10m without the control plane's cache: %s (%s)", res.Verdict, res.Reason)
	require.Equal(t, harness.Failed, res.Verdict, "without the control plane's cache, etcd-down-10m must fail")
}

// TestControlPlaneOutagesFailWithoutStaticStability runs the control-plane
// cases against a data plane that refuses traffic while its xDS stream is
// down: the data plane's cached config, not luck, is what makes a control
// plane outage survivable.
func TestControlPlaneOutagesFailWithoutStaticStability(t *testing.T) {
	t.Parallel()
	dp := dataPlane(t)
	if dp != stack.GRPC {
		t.Skip("the switch that takes static stability out (--require-xds-connected) exists in the grpc frontend only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cat, r := setup(t, ctx, withCommandFlags(dp, sample.Edge, "--require-xds-connected"))
	for _, name := range []string{"control-plane-down-5m", "control-plane-restart"} {
		t.Run(name, func(t *testing.T) {
			c, ok := cat.Case(name)
			require.True(t, ok)
			res := r.RunCase(ctx, c)
			t.Logf("%s without static stability: %s (%s)", name, res.Verdict, res.Reason)
			require.Equal(t, harness.Failed, res.Verdict, "without the data plane's cached config, %s must fail", name)
		})
	}
}

// TestFrontendCasesFailWithoutTheirMechanism runs three ok-to-break cases,
// each against a gRPC frontend with one test switch that takes out what
// makes the case survivable, and requires each to fail:
//   - control-plane-slow: traffic that waits on the control plane (every
//     request first makes a round trip to the xDS server);
//   - xds-rejected-push: a data plane that drops its config on a NACK
//     instead of keeping the last good one;
//   - bad-config-at-start: a new instance that keeps running on a bootstrap
//     it cannot load instead of exiting non-zero at once.
//
// Each runs on a stack of its own, so that one switch cannot mask another.
func TestFrontendCasesFailWithoutTheirMechanism(t *testing.T) {
	t.Parallel()
	dp := dataPlane(t)
	if dp != stack.GRPC {
		t.Skip("the switches that take these mechanisms out exist in the grpc frontend only")
	}
	for _, tc := range []struct{ name, flag, without string }{
		{"control-plane-slow", "--wait-on-control-plane", "traffic that never waits on the control plane"},
		{"xds-rejected-push", "--drop-config-on-nack", "keeping the last good config on a NACK"},
		{"bad-config-at-start", "--keep-running-on-bad-bootstrap", "failing fast on a bootstrap it cannot load"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // a stack each
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cat, r := setup(t, ctx, withCommandFlags(dp, sample.Edge, tc.flag))
			c, ok := cat.Case(tc.name)
			require.True(t, ok, "case %s is in the catalog", tc.name)
			res := r.RunCase(ctx, c)
			t.Logf("%s with %s: %s (%s)", tc.name, tc.flag, res.Verdict, res.Reason)
			require.Equal(t, harness.Failed, res.Verdict, "without %s, %s must fail", tc.without, tc.name)
		})
	}
}

// idleLinkCatalog puts latency on edge->other-1, a link nothing is routed
// to: once as if it carried traffic, once declared idle.
const idleLinkCatalog = `version: 1
cases:
  - name: other-link-slow
    class: ok-to-break
    why: a fault on a link without traffic proves nothing
    fault: {type: latency, target: edge->other-1, params: {latency: 1s}}
    duration: 2m
  - name: other-link-slow-declared-idle
    class: ok-to-break
    why: nothing is routed to other-1, by design
    fault: {type: latency, target: edge->other-1, params: {latency: 1s}}
    duration: 2m
    idle_link: true
`

// TestFaultOnAnIdleLinkIsInvalid: a network fault on a link that carried no
// traffic before the fault is invalid, not survived, unless the case says
// the link is idle by design.
func TestFaultOnAnIdleLinkIsInvalid(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	def := sample.Definition(dataPlane(t))
	in := inputs(t, def.DataPlane)
	in.Catalog = harness.Source{Name: "idle-link.yaml", Data: []byte(idleLinkCatalog)}
	cat, rules, _, err := in.Load(def)
	require.NoError(t, err)
	stacktest.RequireDocker(t)
	s := stacktest.UpDef(t, ctx, def)
	r := &harness.Runner{System: s, Defaults: cat.Defaults, Rules: rules, TimeScale: timeScale(t), Logf: t.Logf}

	res := r.RunCase(ctx, cat.Cases[0])
	require.Equal(t, harness.Invalid, res.Verdict, res.Reason)
	require.Contains(t, res.Reason, "edge->other-1 carried no traffic in the before window")

	res = r.RunCase(ctx, cat.Cases[1])
	require.Equal(t, harness.Survived, res.Verdict, "declared idle, the case runs: %s", res.Reason)
}
