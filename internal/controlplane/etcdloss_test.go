package controlplane

import (
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/okbreak/okbreak/internal/controlplane/translate"
	"github.com/okbreak/okbreak/internal/registry"
)

func withOnEtcdLoss(p EtcdLossPolicy) func(*Server) {
	return func(s *Server) { s.cfg.OnEtcdLoss = p }
}

func listenerNames(t *testing.T, r *discoveryv3.DiscoveryResponse) []string {
	t.Helper()
	var names []string
	for _, a := range r.GetResources() {
		l := &listenerv3.Listener{}
		require.NoError(t, a.UnmarshalTo(l))
		names = append(names, l.GetName())
	}
	return names
}

// expectAck waits for the next response of a type, ACKs it, and returns it.
func (c *adsClient) expectAck(typeURL string) *discoveryv3.DiscoveryResponse {
	c.t.Helper()
	r := c.expect(typeURL)
	c.ack(r)
	return r
}

// TestOnEtcdLossClearServesNothing drives the test switch with raw ADS
// streams: once etcd is unreachable, an Envoy node and a gRPC node are both
// sent empty resource sets under content-hash versions (pushed to open
// streams, and handed to a new stream); once etcd is back, the registry is
// served again under its old versions.
func TestOnEtcdLossClearServesNothing(t *testing.T) {
	te := newTestEtcd(t)
	te.start(t)
	seed(t, te.client(t), loopbackRegistry())
	cp := startCP(t, te.endpoint(), withOnEtcdLoss(EtcdLossClear))
	admin := cp.AdminAddr()

	envoy := dialADS(t, cp.ADSAddr(), "envoy-clear")
	v1, _ := envoyFetch(t, envoy)
	g := dialADS(t, cp.ADSAddr(), "grpc-clear")
	g.subscribe(resource.ListenerType, registry.BackendRoute)
	glds := g.expectAck(resource.ListenerType)
	require.Equal(t, []string{registry.BackendRoute}, listenerNames(t, glds))
	g.subscribe(resource.RouteType, registry.BackendRoute)
	g.expectAck(resource.RouteType)
	requireMetric(t, admin, "okbreak_controlplane_serving_empty", nil, 0)

	emptyVersion, err := translate.Version(nil)
	require.NoError(t, err)
	for _, v := range v1 {
		require.NotEqual(t, emptyVersion, v)
	}

	te.stop()
	empty := map[string]string{}
	for _, typ := range translate.Types {
		r := envoy.expectAck(typ)
		require.Empty(t, r.GetResources(), "%s resources while etcd is unreachable", translate.ShortType(typ))
		empty[typ] = r.GetVersionInfo()
		require.Equal(t, emptyVersion, r.GetVersionInfo(), "the version of an empty %s set", translate.ShortType(typ))
	}
	r := g.expectAck(resource.ListenerType)
	require.Empty(t, r.GetResources(), "the gRPC node's listener must be deleted")
	require.NotEqual(t, glds.GetVersionInfo(), r.GetVersionInfo())
	requireMetric(t, admin, "okbreak_controlplane_etcd_reachable", nil, 0)
	requireMetric(t, admin, "okbreak_controlplane_serving_empty", nil, 1)
	requireMetric(t, admin, "okbreak_controlplane_snapshot_info",
		map[string]string{"node": "envoy-clear", "type": "listener", "version": emptyVersion}, 1)

	// A data plane that connects during the outage gets nothing either.
	late := dialADS(t, cp.ADSAddr(), "envoy-late")
	got, resps := envoyFetch(t, late)
	require.Equal(t, empty, got)
	for typ, r := range resps {
		require.Empty(t, r.GetResources(), "%s resources for a node that connected during the outage", translate.ShortType(typ))
	}

	// etcd back: the registry is read again and served as before.
	te.start(t)
	for _, typ := range translate.Types {
		r := envoy.expectAck(typ)
		require.NotEmpty(t, r.GetResources(), "%s resources once etcd is back", translate.ShortType(typ))
		require.Equal(t, v1[typ], r.GetVersionInfo(), "the registry's %s version once etcd is back", translate.ShortType(typ))
	}
	r = g.expectAck(resource.ListenerType)
	require.Equal(t, []string{registry.BackendRoute}, listenerNames(t, r))
	require.Equal(t, glds.GetVersionInfo(), r.GetVersionInfo())
	requireMetric(t, admin, "okbreak_controlplane_serving_empty", nil, 0)
	requireMetric(t, admin, "okbreak_controlplane_etcd_reachable", nil, 1)
}

// TestGRPCClientOnEtcdLoss is the regression okbreak's "etcd-down-10m" case
// must catch, with gRPC-Go's real xDS client: with keep (the default) RPCs
// go on succeeding while etcd is down; with clear the listener is deleted
// and RPCs fail until etcd is back.
func TestGRPCClientOnEtcdLoss(t *testing.T) {
	for _, policy := range []EtcdLossPolicy{"", EtcdLossClear} {
		name := string(policy)
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			backendPort := healthBackend(t, registry.BackendService)
			te := newTestEtcd(t)
			te.start(t)
			seed(t, te.client(t), registry.Default(
				[]registry.Endpoint{{Instance: "backend-1", Address: "127.0.0.1", Port: backendPort}}, nil))
			var modify []func(*Server)
			if policy != "" { // else DefaultConfig's, the real default
				modify = append(modify, withOnEtcdLoss(policy))
			}
			cp := startCP(t, te.endpoint(), modify...)
			admin := cp.AdminAddr()
			client := xdsHealthClient(t, cp.ADSAddr(), "grpc-"+name)

			eventually := func(ok bool, what string) {
				t.Helper()
				var got codes.Code
				require.Eventually(t, func() bool {
					got = checkBackend(client)
					return (got == codes.OK) == ok
				}, 15*time.Second, 50*time.Millisecond, "%s: RPC status %v", what, got)
			}
			eventually(true, "etcd up")

			te.stop()
			requireMetric(t, admin, "okbreak_controlplane_etcd_reachable", nil, 0)
			if policy == EtcdLossClear {
				requireMetric(t, admin, "okbreak_controlplane_serving_empty", nil, 1)
				eventually(false, "etcd down, on-etcd-loss=clear")
				require.Equal(t, codes.Unavailable, checkBackend(client))
			} else {
				for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
					require.Equal(t, codes.OK, checkBackend(client), "etcd down, cache kept: RPCs must go on")
				}
				requireMetric(t, admin, "okbreak_controlplane_serving_empty", nil, 0)
			}

			te.start(t)
			requireMetric(t, admin, "okbreak_controlplane_etcd_reachable", nil, 1)
			eventually(true, "etcd back")
			requireMetric(t, admin, "okbreak_controlplane_serving_empty", nil, 0)
		})
	}
}

// A Config that does not name a policy (built by hand, not from
// DefaultConfig) keeps the cache.
func TestOnEtcdLossDefaultsToKeep(t *testing.T) {
	require.Equal(t, EtcdLossKeep, DefaultConfig().OnEtcdLoss)
	cfg := DefaultConfig()
	cfg.OnEtcdLoss = ""
	require.NoError(t, cfg.Validate())
	s, err := New(cfg)
	require.NoError(t, err)
	require.Equal(t, EtcdLossKeep, s.cfg.OnEtcdLoss)
}
