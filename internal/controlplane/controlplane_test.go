package controlplane

import (
	"net/http"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/okbreak/okbreak/internal/controlplane/translate"
	"github.com/okbreak/okbreak/internal/registry"
)

func loopbackRegistry() registry.Registry {
	return registry.Default(
		[]registry.Endpoint{
			{Instance: "backend-1", Address: "127.0.0.1", Port: 10011},
			{Instance: "backend-2", Address: "127.0.0.1", Port: 10012},
			{Instance: "backend-3", Address: "127.0.0.1", Port: 10013},
		},
		[]registry.Endpoint{{Instance: "other-1", Address: "127.0.0.1", Port: 10021}},
	)
}

// envoyFetch subscribes the way Envoy does (listeners and clusters as a
// wildcard, then routes and endpoints by name), ACKs everything, and
// returns the version of each type.
func envoyFetch(t *testing.T, c *adsClient) (map[string]string, map[string]*discoveryv3.DiscoveryResponse) {
	t.Helper()
	versions := map[string]string{}
	resps := map[string]*discoveryv3.DiscoveryResponse{}
	c.subscribe(resource.ListenerType)
	c.subscribe(resource.ClusterType)
	for _, typ := range []string{resource.ListenerType, resource.ClusterType} {
		r := c.expect(typ)
		c.ack(r)
		versions[typ], resps[typ] = r.GetVersionInfo(), r
	}
	c.subscribe(resource.RouteType, translate.EnvoyRouteConfigName)
	c.subscribe(resource.EndpointType, "backend", "other")
	for _, typ := range []string{resource.RouteType, resource.EndpointType} {
		r := c.expect(typ)
		c.ack(r)
		versions[typ], resps[typ] = r.GetVersionInfo(), r
	}
	return versions, resps
}

func backendEndpoints(t *testing.T, r *discoveryv3.DiscoveryResponse) int {
	t.Helper()
	for _, a := range r.GetResources() {
		cla := &endpointv3.ClusterLoadAssignment{}
		require.NoError(t, a.UnmarshalTo(cla))
		if cla.GetClusterName() == "backend" {
			n := 0
			for _, l := range cla.GetEndpoints() {
				n += len(l.GetLbEndpoints())
			}
			return n
		}
	}
	t.Fatal("no backend load assignment in the response")
	return 0
}

// TestControlPlaneLifecycle drives a control plane against an embedded etcd
// with a raw ADS stream: nothing before the first read, pushes on registry
// changes, content versions, bad keys, NACKs, etcd loss, and a restart.
func TestControlPlaneLifecycle(t *testing.T) {
	const node = "envoy-test"
	te := newTestEtcd(t)
	te.start(t)
	seed(t, te.client(t), loopbackRegistry())
	te.stop()

	// etcd is down: the control plane is healthy but serves nothing.
	cp := startCP(t, te.endpoint())
	admin := cp.AdminAddr()
	code, body := healthz(t, admin)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "registry synced: no")
	c := dialADS(t, cp.ADSAddr(), node)
	c.subscribe(resource.ListenerType)
	c.expectNone(resource.ListenerType, 700*time.Millisecond)
	requireMetric(t, admin, "okbreak_controlplane_etcd_reachable", nil, 0)
	requireMetric(t, admin, "okbreak_controlplane_synced", nil, 0)
	requireMetric(t, admin, "okbreak_controlplane_connected_streams", nil, 1)
	requireMetric(t, admin, "okbreak_controlplane_up", nil, 1)

	// etcd comes up: the waiting subscription is answered.
	te.start(t)
	lds := c.expect(resource.ListenerType)
	lis := &listenerv3.Listener{}
	require.NoError(t, lds.GetResources()[0].UnmarshalTo(lis))
	require.Equal(t, translate.EnvoyListenerName, lis.GetName())
	c.ack(lds)
	requireMetric(t, admin, "okbreak_controlplane_etcd_reachable", nil, 1)
	requireMetric(t, admin, "okbreak_controlplane_synced", nil, 1)
	_, body = healthz(t, admin)
	require.Contains(t, body, "registry synced: yes")
	lastSync, ok := metricValue(t, admin, "okbreak_controlplane_etcd_last_sync_timestamp_seconds", nil)
	require.True(t, ok)
	require.InDelta(t, float64(time.Now().Unix()), lastSync, 5)

	c.subscribe(resource.ClusterType)
	cds := c.expect(resource.ClusterType)
	c.ack(cds)
	c.subscribe(resource.RouteType, translate.EnvoyRouteConfigName)
	rds := c.expect(resource.RouteType)
	c.ack(rds)
	c.subscribe(resource.EndpointType, "backend", "other")
	eds := c.expect(resource.EndpointType)
	c.ack(eds)
	require.Equal(t, 3, backendEndpoints(t, eds))
	v1 := map[string]string{
		resource.ListenerType: lds.GetVersionInfo(), resource.ClusterType: cds.GetVersionInfo(),
		resource.RouteType: rds.GetVersionInfo(), resource.EndpointType: eds.GetVersionInfo(),
	}
	for typ, v := range v1 {
		requireMetric(t, admin, "okbreak_controlplane_snapshot_info",
			map[string]string{"node": node, "type": translate.ShortType(typ), "version": v}, 1)
	}
	requireMetric(t, admin, "okbreak_controlplane_snapshot_updates_total", map[string]string{"node": node}, 1)

	// A registry change pushes a new endpoint version, and only that.
	cli := te.client(t)
	del(t, cli, registry.EndpointKey("backend", "backend-3"))
	eds2 := c.expect(resource.EndpointType)
	require.NotEqual(t, v1[resource.EndpointType], eds2.GetVersionInfo())
	require.Equal(t, 2, backendEndpoints(t, eds2))
	c.ack(eds2)
	c.expectNone(resource.ListenerType, 300*time.Millisecond)
	c.expectNone(resource.ClusterType, 10*time.Millisecond)
	requireMetric(t, admin, "okbreak_controlplane_snapshot_updates_total", map[string]string{"node": node}, 2)

	// A bad key is counted and skipped; the rest is still served.
	put(t, cli, registry.RouteKey("broken"), `{"name":"broken","surprise":true}`)
	requireMetric(t, admin, "okbreak_controlplane_registry_errors_total", nil, 1)
	requireMetric(t, admin, "okbreak_controlplane_registry_invalid_keys", nil, 1)
	c.expectNone(resource.RouteType, 300*time.Millisecond)
	put(t, cli, registry.RouteKey("broken"), `{"name":"broken","surprise":false}`) // another bad value: counted again
	requireMetric(t, admin, "okbreak_controlplane_registry_errors_total", nil, 2)
	del(t, cli, registry.RouteKey("broken"))
	requireMetric(t, admin, "okbreak_controlplane_registry_invalid_keys", nil, 0)
	requireMetric(t, admin, "okbreak_controlplane_registry_errors_total", nil, 2)

	// A NACK is counted, and the rejected config is not resent in a loop.
	c.send(resource.EndpointType, []string{"backend", "other"}, eds.GetVersionInfo(), eds2.GetNonce(),
		&status.Status{Code: int32(codes.InvalidArgument), Message: "malformed IP address: nope"})
	requireMetric(t, admin, "okbreak_controlplane_nacks_total", map[string]string{"node": node, "type": "endpoint"}, 1)
	c.expectNone(resource.EndpointType, 500*time.Millisecond)
	// The next change is delivered; equal content gives the very first version.
	put(t, cli, registry.EndpointKey("backend", "backend-3"), `{"instance":"backend-3","address":"127.0.0.1","port":10013}`)
	eds3 := c.expect(resource.EndpointType)
	require.Equal(t, v1[resource.EndpointType], eds3.GetVersionInfo())
	require.Equal(t, 3, backendEndpoints(t, eds3))
	c.ack(eds3)

	// etcd stops: reachability drops, the last snapshot is still served
	// (on-etcd-loss=keep, the default): nothing is pushed to the open stream.
	te.stop()
	requireMetric(t, admin, "okbreak_controlplane_etcd_reachable", nil, 0)
	c.expectNone(resource.ListenerType, 500*time.Millisecond)
	c.expectNone(resource.EndpointType, 10*time.Millisecond)
	requireMetric(t, admin, "okbreak_controlplane_serving_empty", nil, 0)
	_, body = healthz(t, admin)
	require.Contains(t, body, "etcd reachable: no")
	require.Contains(t, body, "registry synced: yes")
	c2 := dialADS(t, cp.ADSAddr(), node)
	got, _ := envoyFetch(t, c2)
	require.Equal(t, v1, got)
	c2.cancel()

	// Restart with the same data: the same versions.
	require.NoError(t, cp.stop())
	te.start(t)
	cp2 := startCP(t, te.endpoint())
	c3 := dialADS(t, cp2.ADSAddr(), node)
	got, _ = envoyFetch(t, c3)
	require.Equal(t, v1, got, "a restarted control plane must hand out the same versions for the same data")
	_, counted := metricValue(t, cp2.AdminAddr(), "okbreak_controlplane_nacks_total", map[string]string{"node": node})
	require.False(t, counted, "no NACK since the restart")
}

// An empty registry at start is most likely an etcd not seeded yet: serving
// it would delete everything on the data planes, so nothing is served until
// the first key is written.
func TestEmptyRegistryIsNotServedAtStart(t *testing.T) {
	te := newTestEtcd(t)
	te.start(t)
	cp := startCP(t, te.endpoint())
	c := dialADS(t, cp.ADSAddr(), "envoy-early")
	c.subscribe(resource.ListenerType)
	requireMetric(t, cp.AdminAddr(), "okbreak_controlplane_etcd_reachable", nil, 1)
	c.expectNone(resource.ListenerType, 500*time.Millisecond)
	requireMetric(t, cp.AdminAddr(), "okbreak_controlplane_synced", nil, 0)

	seed(t, te.client(t), loopbackRegistry())
	c.expect(resource.ListenerType)
	requireMetric(t, cp.AdminAddr(), "okbreak_controlplane_synced", nil, 1)
}

func TestUnknownNodeIsRefused(t *testing.T) {
	te := newTestEtcd(t)
	te.start(t)
	seed(t, te.client(t), loopbackRegistry())
	cp := startCP(t, te.endpoint())
	requireMetric(t, cp.AdminAddr(), "okbreak_controlplane_synced", nil, 1)

	c := dialADS(t, cp.ADSAddr(), "mystery-node")
	c.subscribe(resource.ListenerType)
	select {
	case err := <-c.errc:
		require.Equal(t, codes.InvalidArgument, grpcstatus.Code(err))
		require.Contains(t, err.Error(), "mystery-node")
	case <-time.After(5 * time.Second):
		t.Fatal("a node of no known data plane was not refused")
	}
}

// A gRPC node gets exactly what it subscribes to; a change of route target
// swaps the cluster it is given.
func TestGRPCNodeSnapshotFollowsSubscription(t *testing.T) {
	te := newTestEtcd(t)
	te.start(t)
	cli := te.client(t)
	reg := loopbackRegistry()
	reg.Routes["admin"] = registry.Route{Name: "admin", Service: "other"}
	seed(t, cli, reg)
	cp := startCP(t, te.endpoint())

	c := dialADS(t, cp.ADSAddr(), "grpc-raw")
	c.subscribe(resource.ListenerType, "backend")
	lds := c.expect(resource.ListenerType)
	require.Len(t, lds.GetResources(), 1, "only the listener asked for, not admin")
	c.ack(lds)
	c.subscribe(resource.RouteType, "backend")
	c.ack(c.expect(resource.RouteType))
	c.subscribe(resource.ClusterType, "backend")
	cds := c.expect(resource.ClusterType)
	require.Len(t, cds.GetResources(), 1)
	c.ack(cds)
	c.subscribe(resource.EndpointType, "backend")
	c.ack(c.expect(resource.EndpointType))

	// Route the backend to other: the snapshot now holds the other cluster,
	// which the cache hands out once the client names it.
	put(t, cli, registry.RouteKey("backend"), `{"name":"backend","service":"other"}`)
	rds := c.expect(resource.RouteType)
	c.ack(rds)
	c.expectNone(resource.ClusterType, 300*time.Millisecond) // the snapshot's "other" was not asked for yet
	c.send(resource.ClusterType, []string{"backend", "other"}, cds.GetVersionInfo(), cds.GetNonce(), nil)
	cds2 := c.expect(resource.ClusterType)
	require.Len(t, cds2.GetResources(), 1)
	require.Contains(t, string(cds2.GetResources()[0].GetValue()), "other")
}

func TestClassify(t *testing.T) {
	for id, want := range map[string]DataPlane{"envoy-edge": DataPlaneEnvoy, "envoy": DataPlaneEnvoy, "grpc-edge": DataPlaneGRPC} {
		got, err := Classify(nodeWith(id, ""))
		require.NoError(t, err)
		require.Equal(t, want, got, id)
	}
	got, err := Classify(nodeWith("edge-7", "grpc"))
	require.NoError(t, err)
	require.Equal(t, DataPlaneGRPC, got)
	got, err = Classify(nodeWith("envoy-edge", "grpc"))
	require.NoError(t, err)
	require.Equal(t, DataPlaneGRPC, got, "metadata wins over the ID")
	_, err = Classify(nodeWith("edge-7", ""))
	require.ErrorContains(t, err, "edge-7")
	_, err = Classify(nodeWith("edge-7", "istio"))
	require.ErrorContains(t, err, NodeMetadataKey)
	_, err = Classify(nil)
	require.Error(t, err)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	bad := DefaultConfig()
	bad.ListenAddr = "nope"
	bad.EtcdEndpoints = nil
	bad.EtcdDialTimeout = 0
	bad.OnEtcdLoss = "forget"
	err := bad.Validate()
	require.ErrorContains(t, err, "listen address")
	require.ErrorContains(t, err, "etcd endpoints")
	require.ErrorContains(t, err, "etcd dial timeout")
	require.ErrorContains(t, err, `on etcd loss "forget"`)
	_, err = New(bad)
	require.Error(t, err)
}

func nodeWith(id, dataPlane string) *corev3.Node {
	n := &corev3.Node{Id: id}
	if dataPlane != "" {
		n.Metadata = &structpb.Struct{Fields: map[string]*structpb.Value{NodeMetadataKey: structpb.NewStringValue(dataPlane)}}
	}
	return n
}
