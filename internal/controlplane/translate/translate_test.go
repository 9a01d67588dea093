package translate

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/okbreak/okbreak/internal/envoyconfig"
	"github.com/okbreak/okbreak/internal/registry"
)

// defaultRegistry is the registry of the default stack, with endpoints on
// Toxiproxy as the harness writes them.
func defaultRegistry() registry.Registry {
	return registry.Default(
		[]registry.Endpoint{
			{Instance: "backend-1", Address: "toxiproxy", Port: 10011},
			{Instance: "backend-2", Address: "toxiproxy", Port: 10012},
			{Instance: "backend-3", Address: "toxiproxy", Port: 10013},
		},
		[]registry.Endpoint{{Instance: "other-1", Address: "toxiproxy", Port: 10021}},
	)
}

var envoyOpts = EnvoyOptions{Addresses: map[string]string{"toxiproxy": "172.18.0.5"}}

// validateEnvoy runs Envoy's validation rules over every resource, inside
// Anys too, the closest thing to Envoy accepting them that runs here.
func validateEnvoy(t *testing.T, res Resources) {
	t.Helper()
	for _, typ := range Types {
		for _, r := range res[typ] {
			require.NoError(t, envoyconfig.ValidateMessage(r), "%s %s", ShortType(typ), cache.GetResourceName(r))
		}
	}
}

func only[T any](t *testing.T, res Resources, typ resource.Type) T {
	t.Helper()
	require.Len(t, res[typ], 1, "want exactly one %s", ShortType(typ))
	v, ok := res[typ][0].(T)
	require.True(t, ok, "%s is a %T", ShortType(typ), res[typ][0])
	return v
}

func unpackHCM(t *testing.T, a *anypb.Any) *hcmv3.HttpConnectionManager {
	t.Helper()
	h := &hcmv3.HttpConnectionManager{}
	require.NoError(t, a.UnmarshalTo(h))
	return h
}

func byName[T interface{ GetName() string }](t *testing.T, items []types.Resource, name string) T {
	t.Helper()
	for _, r := range items {
		if v, ok := r.(T); ok && v.GetName() == name {
			return v
		}
	}
	t.Fatalf("no resource named %q", name)
	var zero T
	return zero
}

func claByName(t *testing.T, res Resources, name string) *endpointv3.ClusterLoadAssignment {
	t.Helper()
	for _, r := range res[resource.EndpointType] {
		if c := r.(*endpointv3.ClusterLoadAssignment); c.GetClusterName() == name {
			return c
		}
	}
	t.Fatalf("no load assignment for %q", name)
	return nil
}

func TestEnvoyDefaultRegistry(t *testing.T) {
	res, err := Envoy(defaultRegistry(), envoyOpts)
	require.NoError(t, err)
	require.NoError(t, Check(res))
	validateEnvoy(t, res)

	snap, err := cache.NewSnapshot("v", res)
	require.NoError(t, err)
	require.NoError(t, snap.Consistent(), "Envoy snapshots use no ApiListener, so go-control-plane's check applies too")

	// Listener: 0.0.0.0:8080, HCM with RDS over ADS and the router.
	lis := only[*listenerv3.Listener](t, res, resource.ListenerType)
	require.Equal(t, EnvoyListenerName, lis.GetName())
	sa := lis.GetAddress().GetSocketAddress()
	require.Equal(t, "0.0.0.0", sa.GetAddress())
	require.Equal(t, uint32(8080), sa.GetPortValue())
	require.Len(t, lis.GetFilterChains(), 1)
	hcm := unpackHCM(t, lis.GetFilterChains()[0].GetFilters()[0].GetTypedConfig())
	require.Equal(t, EnvoyStatPrefix, hcm.GetStatPrefix())
	require.Equal(t, EnvoyRouteConfigName, hcm.GetRds().GetRouteConfigName())
	require.NotNil(t, hcm.GetRds().GetConfigSource().GetAds())
	require.Len(t, hcm.GetHttpFilters(), 1)
	require.True(t, hcm.GetHttpFilters()[0].GetTypedConfig().MessageIs(&routerv3.Router{}))

	// Routes: the backend virtual host takes every Host, with timeout and retries.
	rc := only[*routev3.RouteConfiguration](t, res, resource.RouteType)
	require.Equal(t, EnvoyRouteConfigName, rc.GetName())
	require.Len(t, rc.GetVirtualHosts(), 1)
	vh := rc.GetVirtualHosts()[0]
	require.Equal(t, []string{"backend", "backend:*", "*"}, vh.GetDomains())
	action := vh.GetRoutes()[0].GetRoute()
	require.Equal(t, "/", vh.GetRoutes()[0].GetMatch().GetPrefix())
	require.Equal(t, "backend", action.GetCluster())
	require.Equal(t, 3*time.Second, action.GetTimeout().AsDuration())
	require.Nil(t, action.GetMaxStreamDuration(), "Envoy bounds requests with the route timeout")
	rp := action.GetRetryPolicy()
	require.Equal(t, "connect-failure,reset,5xx,unavailable", rp.GetRetryOn())
	require.Equal(t, uint32(2), rp.GetNumRetries().GetValue())
	require.Equal(t, 300*time.Millisecond, rp.GetPerTryTimeout().AsDuration())
	require.Nil(t, rp.GetRetryBackOff(), "no backoff in the registry: the data plane's default")

	// Clusters: every service, EDS over ADS, round robin, HTTP/1.1 upstream.
	require.Equal(t, []string{"backend", "other"}, res.Names(resource.ClusterType))
	be := byName[*clusterv3.Cluster](t, res[resource.ClusterType], "backend")
	require.Equal(t, clusterv3.Cluster_EDS, be.GetType())
	require.NotNil(t, be.GetEdsClusterConfig().GetEdsConfig().GetAds())
	require.Equal(t, "backend", be.GetEdsClusterConfig().GetServiceName())
	require.Equal(t, clusterv3.Cluster_ROUND_ROBIN, be.GetLbPolicy())
	require.Equal(t, time.Second, be.GetConnectTimeout().AsDuration())
	od := be.GetOutlierDetection()
	require.Equal(t, time.Second, od.GetInterval().AsDuration())
	require.Equal(t, 10*time.Second, od.GetBaseEjectionTime().AsDuration())
	require.Equal(t, 10*time.Second, od.GetMaxEjectionTime().AsDuration())
	require.Equal(t, uint32(50), od.GetMaxEjectionPercent().GetValue())
	require.Equal(t, uint32(5), od.GetConsecutive_5Xx().GetValue())
	require.Equal(t, uint32(5), od.GetConsecutiveGatewayFailure().GetValue())
	require.Equal(t, uint32(100), od.GetEnforcingConsecutiveGatewayFailure().GetValue())
	require.Equal(t, uint32(50), od.GetFailurePercentageThreshold().GetValue())
	require.Equal(t, uint32(100), od.GetEnforcingFailurePercentage().GetValue())
	require.Equal(t, uint32(3), od.GetFailurePercentageMinimumHosts().GetValue())
	require.Equal(t, uint32(10), od.GetFailurePercentageRequestVolume().GetValue())
	po := &httpv3.HttpProtocolOptions{}
	require.NoError(t, be.GetTypedExtensionProtocolOptions()[httpProtocolOptionsKey].UnmarshalTo(po))
	require.NotNil(t, po.GetExplicitHttpConfig().GetHttpProtocolOptions(), "HTTP/1.1 by default")
	require.Nil(t, byName[*clusterv3.Cluster](t, res[resource.ClusterType], "other").GetOutlierDetection())

	// Endpoints: host names resolved to IPs, instance names kept, a locality with an ID and a weight.
	require.Equal(t, []string{"backend", "other"}, res.Names(resource.EndpointType))
	cla := claByName(t, res, "backend")
	require.Len(t, cla.GetEndpoints(), 1)
	loc := cla.GetEndpoints()[0]
	require.Equal(t, Region, loc.GetLocality().GetRegion())
	require.Equal(t, DefaultZone, loc.GetLocality().GetZone())
	require.Equal(t, uint32(3), loc.GetLoadBalancingWeight().GetValue())
	require.Len(t, loc.GetLbEndpoints(), 3)
	for i, lbe := range loc.GetLbEndpoints() {
		ep := lbe.GetEndpoint()
		require.Equal(t, "172.18.0.5", ep.GetAddress().GetSocketAddress().GetAddress())
		require.Equal(t, uint32(10011+i), ep.GetAddress().GetSocketAddress().GetPortValue())
		require.Equal(t, []string{"backend-1", "backend-2", "backend-3"}[i], ep.GetHostname())
	}
}

func TestEnvoyUpstreamH2(t *testing.T) {
	res, err := Envoy(defaultRegistry(), EnvoyOptions{UpstreamProtocol: UpstreamHTTP2, Addresses: envoyOpts.Addresses})
	require.NoError(t, err)
	validateEnvoy(t, res)
	be := byName[*clusterv3.Cluster](t, res[resource.ClusterType], "backend")
	po := &httpv3.HttpProtocolOptions{}
	require.NoError(t, be.GetTypedExtensionProtocolOptions()[httpProtocolOptionsKey].UnmarshalTo(po))
	require.NotNil(t, po.GetExplicitHttpConfig().GetHttp2ProtocolOptions())

	_, err = Envoy(defaultRegistry(), EnvoyOptions{UpstreamProtocol: "spdy"})
	require.ErrorContains(t, err, "spdy")
}

// Envoy takes only IP literals in EDS; a name the control plane could not
// resolve is passed through so that the rejection is visible (a NACK),
// not silently papered over.
func TestEnvoyUnresolvedHostIsPassedThrough(t *testing.T) {
	res, err := Envoy(defaultRegistry(), EnvoyOptions{})
	require.NoError(t, err)
	ep := claByName(t, res, "backend").GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint()
	require.Equal(t, "toxiproxy", ep.GetAddress().GetSocketAddress().GetAddress())
	require.Equal(t, []string{"toxiproxy"}, EndpointHosts(defaultRegistry()))

	reg := defaultRegistry()
	reg.Endpoints["backend"] = []registry.Endpoint{{Instance: "b", Address: "10.0.0.1", Port: 1}}
	require.Equal(t, []string{"toxiproxy"}, EndpointHosts(reg), "IP literals need no resolving")
}

func TestEnvoyCatchAllOnlyOnBackend(t *testing.T) {
	reg := defaultRegistry()
	reg.Routes["admin"] = registry.Route{Name: "admin", Service: "other"}
	res, err := Envoy(reg, envoyOpts)
	require.NoError(t, err)
	validateEnvoy(t, res)
	rc := only[*routev3.RouteConfiguration](t, res, resource.RouteType)
	require.Len(t, rc.GetVirtualHosts(), 2)
	require.Equal(t, "admin", rc.GetVirtualHosts()[0].GetName())
	require.Equal(t, []string{"admin", "admin:*"}, rc.GetVirtualHosts()[0].GetDomains())
	require.Nil(t, rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetTimeout(), "no timeout in the registry: Envoy's default")
	require.Nil(t, rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetRetryPolicy())
	require.Contains(t, rc.GetVirtualHosts()[1].GetDomains(), "*")
}

func TestGRPCDefaultRegistry(t *testing.T) {
	res, err := GRPC(defaultRegistry(), []string{"backend"})
	require.NoError(t, err)
	require.NoError(t, Check(res))

	snap, err := cache.NewSnapshot("v", res)
	require.NoError(t, err)
	require.Error(t, snap.Consistent(),
		"go-control-plane's Consistent does not follow ApiListener; if this passes now, Check may no longer be needed")

	lis := only[*listenerv3.Listener](t, res, resource.ListenerType)
	require.Equal(t, "backend", lis.GetName())
	require.Nil(t, lis.GetAddress(), "an API listener has no socket")
	hcm := unpackHCM(t, lis.GetApiListener().GetApiListener())
	require.Equal(t, "backend", hcm.GetRds().GetRouteConfigName())
	require.NotNil(t, hcm.GetRds().GetConfigSource().GetAds(), "gRPC accepts only ADS or self as RDS source")
	require.Len(t, hcm.GetHttpFilters(), 1)
	require.True(t, hcm.GetHttpFilters()[0].GetTypedConfig().MessageIs(&routerv3.Router{}))

	rc := only[*routev3.RouteConfiguration](t, res, resource.RouteType)
	require.Equal(t, "backend", rc.GetName())
	action := rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute()
	require.Equal(t, "backend", action.GetCluster())
	require.Equal(t, 3*time.Second, action.GetMaxStreamDuration().GetMaxStreamDuration().AsDuration(),
		"gRPC takes its deadline from max_stream_duration")
	require.Nil(t, action.GetTimeout())
	require.Equal(t, uint32(2), action.GetRetryPolicy().GetNumRetries().GetValue())
	require.Contains(t, action.GetRetryPolicy().GetRetryOn(), "unavailable")

	// Only the cluster the route uses: "other" would block the ADS answer.
	c := only[*clusterv3.Cluster](t, res, resource.ClusterType)
	require.Equal(t, "backend", c.GetName())
	require.Equal(t, clusterv3.Cluster_EDS, c.GetType())
	require.NotNil(t, c.GetEdsClusterConfig().GetEdsConfig().GetAds())
	require.Nil(t, c.GetTypedExtensionProtocolOptions())
	require.Equal(t, uint32(50), c.GetOutlierDetection().GetFailurePercentageThreshold().GetValue())

	cla := only[*endpointv3.ClusterLoadAssignment](t, res, resource.EndpointType)
	require.Equal(t, "backend", cla.GetClusterName())
	loc := cla.GetEndpoints()[0]
	require.NotEmpty(t, loc.GetLocality().GetRegion(), "gRPC NACKs a locality without ID")
	require.NotEmpty(t, loc.GetLocality().GetZone())
	require.Equal(t, uint32(3), loc.GetLoadBalancingWeight().GetValue(), "gRPC needs a locality weight")
	require.Equal(t, "toxiproxy", loc.GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetAddress(),
		"gRPC resolves host names itself")
}

func TestGRPCGivesExactlyWhatWasAskedFor(t *testing.T) {
	reg := defaultRegistry()
	reg.Routes["admin"] = registry.Route{Name: "admin", Service: "other"}

	all, err := GRPC(reg, nil)
	require.NoError(t, err)
	require.NoError(t, Check(all))
	require.Equal(t, []string{"admin", "backend"}, all.Names(resource.ListenerType))
	require.Equal(t, []string{"admin", "backend"}, all.Names(resource.RouteType))
	require.Equal(t, []string{"backend", "other"}, all.Names(resource.ClusterType))

	one, err := GRPC(reg, []string{"admin", "not-a-route"})
	require.NoError(t, err)
	require.NoError(t, Check(one))
	require.Equal(t, []string{"admin"}, one.Names(resource.ListenerType))
	require.Equal(t, []string{"other"}, one.Names(resource.ClusterType))
	require.Equal(t, []string{"other"}, one.Names(resource.EndpointType))

	none, err := GRPC(reg, []string{"not-a-route"})
	require.NoError(t, err)
	for _, typ := range Types {
		require.Empty(t, none[typ], ShortType(typ))
	}
}

// Bad variant (a): every endpoint key of the backend deleted. Both data
// planes must get an explicit empty load assignment: leaving it out makes
// gRPC keep the old endpoints.
func TestBadVariantEmptyEndpointSet(t *testing.T) {
	reg := defaultRegistry()
	delete(reg.Endpoints, registry.BackendService) // what Decode gives when no endpoint key is left

	for name, translate := range map[string]func() (Resources, error){
		"envoy": func() (Resources, error) { return Envoy(reg, envoyOpts) },
		"grpc":  func() (Resources, error) { return GRPC(reg, []string{"backend"}) },
	} {
		t.Run(name, func(t *testing.T) {
			res, err := translate()
			require.NoError(t, err)
			require.NoError(t, Check(res))
			cla := claByName(t, res, "backend")
			require.Empty(t, cla.GetEndpoints())
			if name == "envoy" {
				validateEnvoy(t, res)
			}
		})
	}
}

// Bad variant (b): the backend route's service set to "other". The gRPC
// node then gets the other cluster instead of the backend one.
func TestBadVariantRouteToOtherService(t *testing.T) {
	reg := defaultRegistry()
	r := reg.Routes[registry.BackendRoute]
	r.Service = registry.OtherService
	reg.Routes[registry.BackendRoute] = r

	g, err := GRPC(reg, []string{"backend"})
	require.NoError(t, err)
	require.NoError(t, Check(g))
	rc := only[*routev3.RouteConfiguration](t, g, resource.RouteType)
	require.Equal(t, "other", rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetCluster())
	require.Equal(t, []string{"other"}, g.Names(resource.ClusterType))
	require.Equal(t, []string{"other"}, g.Names(resource.EndpointType))
	require.Equal(t, uint32(10021), claByName(t, g, "other").GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue())

	e, err := Envoy(reg, envoyOpts)
	require.NoError(t, err)
	validateEnvoy(t, e)
	erc := only[*routev3.RouteConfiguration](t, e, resource.RouteType)
	require.Equal(t, "other", erc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetCluster())
	require.Equal(t, []string{"backend", "other"}, e.Names(resource.ClusterType))
}

// Bad variant (c): a retry backoff base of 0s. The translation passes it on
// literally; Envoy's validation rules reject it (base_interval must be > 0),
// and so does gRPC (unmarshal_rds.go: "retry_policy.base_interval = 0s; must
// be > 0"; shown end to end with a real gRPC client in the controlplane
// tests).
func TestBadVariantZeroRetryBackoff(t *testing.T) {
	reg := defaultRegistry()
	r := reg.Routes[registry.BackendRoute]
	zero := registry.Duration(0)
	r.Retry.BackoffBase = &zero
	reg.Routes[registry.BackendRoute] = r

	e, err := Envoy(reg, envoyOpts)
	require.NoError(t, err)
	require.NoError(t, Check(e), "it is consistent; it is the data plane that refuses it")
	rc := only[*routev3.RouteConfiguration](t, e, resource.RouteType)
	bo := rc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetRetryPolicy().GetRetryBackOff()
	require.NotNil(t, bo)
	require.NotNil(t, bo.GetBaseInterval(), "explicit 0s, not absent")
	require.Zero(t, bo.GetBaseInterval().AsDuration())
	err = envoyconfig.ValidateMessage(rc)
	require.Error(t, err)
	require.Contains(t, err.Error(), "BaseInterval")
	require.Contains(t, err.Error(), "greater than 0s")
	for _, other := range []resource.Type{resource.ListenerType, resource.ClusterType, resource.EndpointType} {
		for _, res := range e[other] {
			require.NoError(t, envoyconfig.ValidateMessage(res), "only the route configuration is bad")
		}
	}

	g, err := GRPC(reg, []string{"backend"})
	require.NoError(t, err)
	grc := only[*routev3.RouteConfiguration](t, g, resource.RouteType)
	gbo := grc.GetVirtualHosts()[0].GetRoutes()[0].GetRoute().GetRetryPolicy().GetRetryBackOff()
	require.NotNil(t, gbo.GetBaseInterval())
	require.Zero(t, gbo.GetBaseInterval().AsDuration())
}

func TestRetryBackoff(t *testing.T) {
	base, max := registry.Duration(50*time.Millisecond), registry.Duration(time.Second)
	rp := retryPolicy(&registry.RetryPolicy{On: []string{"5xx"}, NumRetries: 1, BackoffBase: &base, BackoffMax: &max})
	require.Equal(t, 50*time.Millisecond, rp.GetRetryBackOff().GetBaseInterval().AsDuration())
	require.Equal(t, time.Second, rp.GetRetryBackOff().GetMaxInterval().AsDuration())
	require.Nil(t, rp.GetPerTryTimeout())

	onlyMax := retryPolicy(&registry.RetryPolicy{On: []string{"5xx"}, NumRetries: 1, BackoffMax: &max})
	require.Equal(t, DefaultRetryBackoffBase, onlyMax.GetRetryBackOff().GetBaseInterval().AsDuration(),
		"a backoff needs a base; both data planes default to 25ms")
	require.NoError(t, envoyconfig.ValidateMessage(onlyMax))
	require.Nil(t, retryPolicy(nil))
}

func TestZonesBecomeLocalities(t *testing.T) {
	reg := defaultRegistry()
	reg.Endpoints["backend"] = []registry.Endpoint{
		{Instance: "b3", Address: "10.0.0.3", Port: 8080, Zone: "b"},
		{Instance: "b1", Address: "10.0.0.1", Port: 8080, Zone: "a"},
		{Instance: "b2", Address: "10.0.0.2", Port: 8080, Zone: "a"},
	}
	res, err := GRPC(reg, []string{"backend"})
	require.NoError(t, err)
	cla := claByName(t, res, "backend")
	require.Len(t, cla.GetEndpoints(), 2)
	require.Equal(t, "a", cla.GetEndpoints()[0].GetLocality().GetZone())
	require.Equal(t, uint32(2), cla.GetEndpoints()[0].GetLoadBalancingWeight().GetValue())
	require.Equal(t, "b1", cla.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetHostname())
	require.Equal(t, "b", cla.GetEndpoints()[1].GetLocality().GetZone())
	require.Equal(t, uint32(1), cla.GetEndpoints()[1].GetLoadBalancingWeight().GetValue())
}

func TestVersionsFollowContent(t *testing.T) {
	v1 := versions(t, defaultRegistry())
	// Map iteration order differs between calls; versions must not.
	for range 5 {
		require.Equal(t, v1, versions(t, defaultRegistry()))
	}
	for _, typ := range Types {
		require.Len(t, v1[typ], 16)
	}

	moved := defaultRegistry()
	moved.Endpoints["backend"] = moved.Endpoints["backend"][:2]
	v2 := versions(t, moved)
	require.NotEqual(t, v1[resource.EndpointType], v2[resource.EndpointType])
	require.Equal(t, v1[resource.ListenerType], v2[resource.ListenerType])
	require.Equal(t, v1[resource.RouteType], v2[resource.RouteType])
	require.Equal(t, v1[resource.ClusterType], v2[resource.ClusterType])

	slower := defaultRegistry()
	s := slower.Services["backend"]
	s.ConnectTimeout = registry.Duration(2 * time.Second)
	slower.Services["backend"] = s
	v3 := versions(t, slower)
	require.NotEqual(t, v1[resource.ClusterType], v3[resource.ClusterType])
	require.NotEqual(t, v1[resource.EndpointType], v3[resource.EndpointType],
		"a changed cluster resends its endpoints: Envoy waits for them to warm the cluster")
	require.Equal(t, v1[resource.RouteType], v3[resource.RouteType])

	empty, err := Version(nil)
	require.NoError(t, err)
	require.Len(t, empty, 16)
}

func versions(t *testing.T, reg registry.Registry) map[resource.Type]string {
	t.Helper()
	res, err := Envoy(reg, envoyOpts)
	require.NoError(t, err)
	v, err := res.Versions()
	require.NoError(t, err)
	return v
}

func TestCheckFindsInconsistencies(t *testing.T) {
	res, err := GRPC(defaultRegistry(), []string{"backend"})
	require.NoError(t, err)

	noRoutes := Resources{resource.ListenerType: res[resource.ListenerType], resource.ClusterType: res[resource.ClusterType], resource.EndpointType: res[resource.EndpointType]}
	require.ErrorContains(t, Check(noRoutes), "route configurations")

	noCLA := Resources{resource.ListenerType: res[resource.ListenerType], resource.RouteType: res[resource.RouteType], resource.ClusterType: res[resource.ClusterType]}
	require.ErrorContains(t, Check(noCLA), "load assignments")

	dup := Resources{
		resource.ListenerType: res[resource.ListenerType], resource.RouteType: res[resource.RouteType],
		resource.ClusterType:  append(res[resource.ClusterType], res[resource.ClusterType]...),
		resource.EndpointType: res[resource.EndpointType],
	}
	require.ErrorContains(t, Check(dup), "two cluster resources")

	require.Equal(t, []string{"backend"}, RouteClusterRefs(res))
}

func TestMissingServices(t *testing.T) {
	reg := defaultRegistry()
	require.Empty(t, MissingServices(reg))
	r := reg.Routes[registry.BackendRoute]
	r.Service = "ghost"
	reg.Routes[registry.BackendRoute] = r
	require.Equal(t, []string{"ghost"}, MissingServices(reg))

	g, err := GRPC(reg, []string{"backend"})
	require.NoError(t, err)
	require.NoError(t, Check(g))
	require.Empty(t, g[resource.ClusterType], "no cluster is made up for an unknown service")
}

func TestShortType(t *testing.T) {
	require.Equal(t, "listener", ShortType(resource.ListenerType))
	require.Equal(t, "route", ShortType(resource.RouteType))
	require.Equal(t, "cluster", ShortType(resource.ClusterType))
	require.Equal(t, "endpoint", ShortType(resource.EndpointType))
	require.Equal(t, resource.SecretType, ShortType(resource.SecretType))
}
