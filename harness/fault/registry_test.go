package fault_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// catalogFaults are the single-fault cases of the catalog, as fixtures/catalog.yaml
// writes them, by case name.
var catalogFaults = map[string]fault.Spec{
	"control-plane-down-5m": {Type: "down", Target: "edge->xds"},
	"control-plane-restart": {Type: "crash", Target: "control-plane"},
	"control-plane-slow":    {Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": "2s"}},
	"etcd-down-10m":         {Type: "stop", Target: "etcd"},
	"bad-config-at-start":   {Type: "bad_config_at_start", Target: "edge"},
	"xds-rejected-push":     {Type: "rejected_resource", Target: "backend"},
	"one-backend-slow":      {Type: "latency", Target: "edge->backend-2", Params: map[string]any{"latency": "2s"}},
	"one-backend-resets":    {Type: "reset_peer", Target: "edge->backend-2"},
	"one-backend-killed":    {Type: "crash", Target: "backend-2"},
	"data-plane-crash":      {Type: "crash", Target: "edge"},
	"xds-incomplete-data":   {Type: "empty_endpoints", Target: "backend"},
	"xds-incorrect-data":    {Type: "route_to_other", Target: "backend"},
	"etcd-down-2h":          {Type: "stop", Target: "etcd"},
	"all-backends-slow":     {Type: "latency", Target: "edge->backend-*", Params: map[string]any{"latency": "2s"}},
	"backend-crash-loop":    {Type: "crash_loop", Target: "backend-2"},
	"backend-terminated":    {Type: "terminate", Target: "backend-2"},
}

func defs() map[stack.DataPlane]stack.Definition {
	return map[stack.DataPlane]stack.Definition{
		stack.GRPC:  sample.Definition(stack.GRPC),
		stack.Envoy: sample.Definition(stack.Envoy),
	}
}

func TestEveryCatalogFaultValidatesOnBothDataPlanes(t *testing.T) {
	require.Len(t, catalogFaults, 16, "the catalog has 16 single-fault cases")
	for dp, def := range defs() {
		for name, spec := range catalogFaults {
			require.NoError(t, fault.Validate(spec, def), "%s on %s", name, dp)
		}
	}
}

func TestTypesCoverTheIssue(t *testing.T) {
	var names []string
	for _, ty := range fault.Types() {
		names = append(names, ty.Name)
		require.NotEmpty(t, ty.Doc, ty.Name)
		require.NotNil(t, ty.Targets, ty.Name)
	}
	require.Equal(t, []string{
		"bad_config_at_start", "bandwidth", "crash", "crash_loop", "down", "empty_endpoints", "etcd_delete", "etcd_put", "latency", "limit_data",
		"pause", "rejected_resource", "reset_peer", "restart", "route_to_other", "slicer", "slow_close", "stop",
		"terminate", "timeout",
	}, names)
}

func TestCheckerAnswersTheCatalogValidator(t *testing.T) {
	c := fault.Checker{Def: defs()[stack.GRPC]}
	require.Contains(t, c.Types(), "latency")
	require.Equal(t, c.Def.LinkNames(), c.Targets("latency"))
	require.Equal(t, []string{"backend", "other"}, c.Targets("empty_endpoints"))
	require.Equal(t, []string{"backend"}, c.Targets("route_to_other"))
	require.Equal(t, []string{"backend-1", "backend-2", "backend-3", "edge", "other-1"}, c.Targets("crash_loop"),
		"crash loops need the sample service: on grpc the edge is one")
	require.Nil(t, c.Targets("no-such-type"))
	require.NoError(t, c.Check("latency", "edge->xds", map[string]any{"latency": "2s", "jitter": "100ms"}))
	require.ErrorContains(t, c.Check("latency", "edge->xds", map[string]any{"latancy": "2s"}), "unknown params latancy")

	envoy := fault.Checker{Def: defs()[stack.Envoy]}
	require.NotContains(t, envoy.Targets("crash_loop"), "edge", "Envoy has no --exit-at-start")
	require.Contains(t, envoy.Targets("bad_config_at_start"), "edge")
}

func TestBadSpecsSayWhatIsValid(t *testing.T) {
	def := defs()[stack.GRPC]
	for _, tc := range []struct {
		spec fault.Spec
		want []string
	}{
		{fault.Spec{Type: "lag", Target: "edge->xds"}, []string{`unknown fault type "lag"`, "bad_config_at_start", "latency", "timeout"}},
		{fault.Spec{Type: "latency", Target: "edge->nowhere", Params: map[string]any{"latency": "1s"}},
			[]string{`unknown link "edge->nowhere"`, "client->edge", "edge->backend-1", "xds->etcd"}},
		{fault.Spec{Type: "latency", Target: "", Params: map[string]any{"latency": "1s"}}, []string{"no target", "edge->xds"}},
		{fault.Spec{Type: "latency", Target: "edge->xds"}, []string{"param latency is required"}},
		{fault.Spec{Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": 2}}, []string{"not a duration", `"2s"`}},
		{fault.Spec{Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": "1.5ms"}}, []string{"whole number of milliseconds"}},
		{fault.Spec{Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": "-1s"}}, []string{"negative"}},
		{fault.Spec{Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": "1s", "direction": "sideways"}},
			[]string{`"sideways"`, "upstream, downstream, both"}},
		{fault.Spec{Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": "1s", "toxicity": 1.5}}, []string{"not between 0 and 1"}},
		{fault.Spec{Type: "bandwidth", Target: "edge->xds", Params: map[string]any{"rate": 2.5}}, []string{"not a whole number"}},
		{fault.Spec{Type: "slicer", Target: "edge->xds", Params: map[string]any{"average_size": 10, "size_variation": 10}}, []string{"smaller than average_size"}},
		{fault.Spec{Type: "down", Target: "edge->xds", Params: map[string]any{"toxicity": 0.5}}, []string{"down takes every connection down"}},
		{fault.Spec{Type: "down", Target: "edge->xds", Params: map[string]any{"direction": "upstream"}}, []string{"whole link down"}},
		{fault.Spec{Type: "stop", Target: "edgy"}, []string{`unknown component "edgy"`, "backend-1", "control-plane", "etcd", "toxiproxy"}},
		{fault.Spec{Type: "crash_loop", Target: "etcd"}, []string{`component "etcd" cannot take this fault`, "--exit-at-start", "backend-1"}},
		{fault.Spec{Type: "bad_config_at_start", Target: "toxiproxy"}, []string{"cannot take this fault", "edge"}},
		{fault.Spec{Type: "bad_config_at_start", Target: "backend-1", Params: map[string]any{"content": "x"}}, []string{"no config file"}},
		{fault.Spec{Type: "crash", Target: "edge", Params: map[string]any{"signal": "SEGV"}}, []string{`"SEGV"`, "KILL, ABRT"}},
		{fault.Spec{Type: "empty_endpoints", Target: "frontend"}, []string{`unknown service "frontend"`, "backend, other"}},
		{fault.Spec{Type: "route_to_other", Target: "backend", Params: map[string]any{"service": "backend"}}, []string{"already sends to backend"}},
		{fault.Spec{Type: "route_to_other", Target: "backend", Params: map[string]any{"service": "nope"}}, []string{`unknown service (param service) "nope"`}},
		{fault.Spec{Type: "rejected_resource", Target: "other"}, []string{`unknown route "other"`, "want one of backend"}},
		{fault.Spec{Type: "pause", Target: "etcd", Params: map[string]any{"for": "1s"}}, []string{"unknown params for", "valid params are none"}},
	} {
		err := fault.Validate(tc.spec, def)
		require.Error(t, err, "%+v", tc.spec)
		for _, w := range tc.want {
			require.Contains(t, err.Error(), w, "%+v", tc.spec)
		}
	}
}

func TestParamsAcceptWhatYAMLAndGoGive(t *testing.T) {
	def := defs()[stack.GRPC]
	for _, p := range []map[string]any{
		{"latency": "2s"},
		{"latency": 2 * time.Second},
		{"latency": "250ms", "jitter": "10ms", "direction": "both", "toxicity": 0.5},
		{"latency": "1s", "toxicity": 1},
	} {
		require.NoError(t, fault.Validate(fault.Spec{Type: "latency", Target: "edge->xds", Params: p}, def), "%v", p)
	}
	require.NoError(t, fault.Validate(fault.Spec{Type: "bandwidth", Target: "client->edge", Params: map[string]any{"rate": float64(10)}}, def))
	require.NoError(t, fault.Validate(fault.Spec{Type: "limit_data", Target: "client->edge", Params: map[string]any{"bytes": 100}}, def))
	require.NoError(t, fault.Validate(fault.Spec{Type: "slicer", Target: "client->edge", Params: map[string]any{"average_size": 10, "size_variation": 5, "delay": "100us"}}, def))
}

func TestTargetsExpandGlobsAndLists(t *testing.T) {
	def := defs()[stack.GRPC]
	env := &unitEnv{def: def, dir: t.TempDir()}
	f, err := fault.New(fault.Spec{Type: "latency", Target: "edge->backend-*", Params: map[string]any{"latency": "2s"}}, env)
	require.NoError(t, err)
	d := f.(fault.Describer).Describe()
	require.Contains(t, d, "edge->backend-1,edge->backend-2,edge->backend-3")
	require.Equal(t, "latency edge->backend-*", f.Name())

	f, err = fault.New(fault.Spec{Name: "two", Type: "down", Target: "edge->xds, xds->etcd"}, env)
	require.NoError(t, err)
	require.Equal(t, "two", f.Name())
	require.True(t, strings.HasSuffix(f.(fault.Describer).Describe(), "edge->xds,xds->etcd disabled"), f.(fault.Describer).Describe())
}

func TestSeveralTargetsMakeOneFault(t *testing.T) {
	def := defs()[stack.GRPC]
	env := &unitEnv{def: def, dir: t.TempDir()}
	f, err := fault.New(fault.Spec{Type: "crash", Target: "backend-*"}, env)
	require.NoError(t, err)
	require.Equal(t, "crash backend-*", f.Name())
	d := f.(fault.Describer).Describe()
	for _, b := range []string{"backend-1", "backend-2", "backend-3"} {
		require.Contains(t, d, "crash "+b)
	}
	require.NotContains(t, d, "other-1")
	_, ok := f.(fault.Observer)
	require.True(t, ok)

	f, err = fault.New(fault.Spec{Type: "stop", Target: "etcd, control-plane"}, env)
	require.NoError(t, err)
	require.Contains(t, f.(fault.Describer).Describe(), "stop etcd")
	require.Contains(t, f.(fault.Describer).Describe(), "stop control-plane")

	require.ErrorContains(t, fault.Validate(fault.Spec{Type: "crash_loop", Target: "etcd*"}, def), `target pattern "etcd*" matches nothing`)
	require.ErrorContains(t, fault.Validate(fault.Spec{Type: "stop", Target: "etcd,nope"}, def), `unknown component "nope"`)
	require.NoError(t, fault.Validate(fault.Spec{Type: "empty_endpoints", Target: "*"}, def))
}

// bareEnv is a system with none of the capabilities: no Toxiproxy, no
// containers it started, no etcd.
type bareEnv struct{ def stack.Definition }

func (e bareEnv) Definition() stack.Definition { return e.def }
func (e bareEnv) Run() string                  { return "bare" }
func (e bareEnv) StateDir() string             { return os.TempDir() }

// etcdOnly is a system whose only capability is an etcd.
type etcdOnly struct{ bareEnv }

func (etcdOnly) Etcd(context.Context) (*clientv3.Client, error) { return nil, errors.New("unused") }
func (etcdOnly) ContainerName(c string) (string, error)         { return "theirs-" + c, nil }

func TestEachFaultAsksOnlyForWhatItUses(t *testing.T) {
	def := defs()[stack.GRPC]
	for _, c := range []struct {
		spec fault.Spec
		want string
	}{
		{fault.Spec{Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": "1s"}}, "needs Toxiproxy"},
		{fault.Spec{Type: "down", Target: "edge->xds"}, "needs Toxiproxy"},
		{fault.Spec{Type: "pause", Target: "edge"}, "needs containers it started"},
		{fault.Spec{Type: "etcd_put", Target: "/k", Params: map[string]any{"value": "v"}}, "needs an etcd"},
		{fault.Spec{Type: "route_to_other", Target: "backend"}, "needs an etcd"},
	} {
		_, err := fault.New(c.spec, bareEnv{def})
		require.ErrorContains(t, err, c.want, c.spec.Type)
	}
	// A system with an etcd and nothing else takes config faults, and only
	// those.
	_, err := fault.New(fault.Spec{Type: "etcd_delete", Target: "/k"}, etcdOnly{bareEnv{def}})
	require.NoError(t, err)
	_, err = fault.New(fault.Spec{Type: "stop", Target: "edge"}, etcdOnly{bareEnv{def}})
	require.ErrorContains(t, err, "needs containers it started")
}

func TestEtcdFaultParams(t *testing.T) {
	def := defs()[stack.GRPC]
	for _, c := range []struct {
		spec fault.Spec
		want string
	}{
		{fault.Spec{Type: "etcd_put", Target: "/k"}, "param value is required"},
		{fault.Spec{Type: "etcd_put", Target: "/k", Params: map[string]any{"value": 3}}, "is not a string"},
		{fault.Spec{Type: "etcd_put", Target: "/p", Params: map[string]any{"value": "v", "prefix": true}}, "a prefix must end with /"},
		{fault.Spec{Type: "etcd_delete", Target: "/k", Params: map[string]any{"prefix": "yes"}}, "is not true or false"},
		{fault.Spec{Type: "etcd_delete", Target: "/k", Params: map[string]any{"vaule": "x"}}, "unknown params vaule"},
		{fault.Spec{Type: "etcd_delete", Target: ""}, "no target"},
	} {
		require.ErrorContains(t, fault.Validate(c.spec, def), c.want, "%+v", c.spec)
	}
	require.NoError(t, fault.Validate(fault.Spec{Type: "etcd_delete", Target: "/registry/", Params: map[string]any{"prefix": true}}, def))
}

// TestConfigFaultsNeedAnEtcd: a system without the etcd a config fault
// writes is refused before any target is read, naming the role to declare.
func TestConfigFaultsNeedAnEtcd(t *testing.T) {
	def := defs()[stack.GRPC]
	def.EtcdName = "registry-etcd"
	for _, typ := range []string{"etcd_put", "etcd_delete"} {
		err := fault.Validate(fault.Spec{Type: typ, Target: "/registry/", Params: map[string]any{"prefix": true, "value": "v"}}, def)
		require.ErrorContains(t, err, "roles.etcd", typ)
	}
	require.NoError(t, fault.Validate(fault.Spec{Type: "latency", Target: "edge->xds", Params: map[string]any{"latency": "1s"}}, def), "network faults need no etcd")
}

// TestJournalOfOneToxiproxyStillReads: an entry journalled before systems
// could have one Toxiproxy per callee names its one Toxiproxy under
// "toxiproxy"; recover must still find it to revert the entry.
func TestJournalOfOneToxiproxyStillReads(t *testing.T) {
	var e fault.Entry
	require.NoError(t, json.Unmarshal([]byte(`{"op":"injected","id":"x","fault":"down edge->xds","access":{"toxiproxy":{"container":"okbreak-r-toxiproxy","port":8474}},"undo":[{"action":"set_proxy","proxy":"edge->xds"}]}`), &e))
	require.NotNil(t, e.Access.Toxiproxy)
	require.Equal(t, "okbreak-r-toxiproxy", e.Access.Toxiproxy.Container)
}
