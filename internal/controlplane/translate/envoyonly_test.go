package translate

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/internal/envoyconfig"
	"github.com/okbreak/okbreak/internal/registry"
)

func withHealthCheck(reg registry.Registry, hc *registry.HealthCheck) registry.Registry {
	s := reg.Services[registry.BackendService]
	s.HealthCheck = hc
	reg.Services[registry.BackendService] = s
	return reg
}

var everySecond = &registry.HealthCheck{
	Path: "/healthz", Interval: registry.Duration(time.Second), Timeout: registry.Duration(time.Second),
	UnhealthyThreshold: 2, HealthyThreshold: 2,
}

// A service's health check becomes Envoy's cluster health_checks, and
// nothing of it reaches gRPC, whose xDS client does no active checks.
func TestHealthCheckIsEnvoyOnly(t *testing.T) {
	reg := withHealthCheck(defaultRegistry(), everySecond)
	res, err := Envoy(reg, envoyOpts)
	require.NoError(t, err)
	require.NoError(t, Check(res))
	validateEnvoy(t, res)
	be := byName[*clusterv3.Cluster](t, res[resource.ClusterType], "backend")
	require.Len(t, be.GetHealthChecks(), 1)
	hc := be.GetHealthChecks()[0]
	require.Equal(t, "/healthz", hc.GetHttpHealthCheck().GetPath())
	require.Equal(t, time.Second, hc.GetInterval().AsDuration())
	require.Equal(t, time.Second, hc.GetTimeout().AsDuration())
	require.Equal(t, uint32(2), hc.GetUnhealthyThreshold().GetValue())
	require.Equal(t, uint32(2), hc.GetHealthyThreshold().GetValue())
	require.Nil(t, hc.GetIntervalJitter(), "no jitter unless the registry sets one")
	require.Nil(t, hc.GetNoTrafficInterval(), "Envoy's default unless the registry sets one")
	require.Empty(t, byName[*clusterv3.Cluster](t, res[resource.ClusterType], "other").GetHealthChecks())

	g, err := GRPC(reg, []string{"backend"})
	require.NoError(t, err)
	require.Empty(t, only[*clusterv3.Cluster](t, g, resource.ClusterType).GetHealthChecks())
	plain, err := GRPC(defaultRegistry(), []string{"backend"})
	require.NoError(t, err)
	gv, err := g.Versions()
	require.NoError(t, err)
	pv, err := plain.Versions()
	require.NoError(t, err)
	require.Equal(t, pv, gv, "a health check changes nothing a gRPC node is sent")

	relaxed := *everySecond
	relaxed.Interval = registry.Duration(30 * time.Second)
	relaxed.NoTrafficInterval = registry.Duration(5 * time.Minute)
	relaxed.IntervalJitter = registry.Duration(5 * time.Second)
	res, err = Envoy(withHealthCheck(defaultRegistry(), &relaxed), envoyOpts)
	require.NoError(t, err)
	validateEnvoy(t, res)
	hc = byName[*clusterv3.Cluster](t, res[resource.ClusterType], "backend").GetHealthChecks()[0]
	require.Equal(t, 5*time.Minute, hc.GetNoTrafficInterval().AsDuration())
	require.Equal(t, 5*time.Second, hc.GetIntervalJitter().AsDuration())
}

// A health check without interval or path is passed on as written, and
// Envoy's validation refuses it: the control plane does not invent values.
func TestHealthCheckIsLiteral(t *testing.T) {
	broken := *everySecond
	broken.Interval = 0
	broken.Path = ""
	res, err := Envoy(withHealthCheck(defaultRegistry(), &broken), envoyOpts)
	require.NoError(t, err)
	be := byName[*clusterv3.Cluster](t, res[resource.ClusterType], "backend")
	err = envoyconfig.ValidateMessage(be)
	require.ErrorContains(t, err, "Interval")
	require.ErrorContains(t, err, "Path")
}

func envoyHCM(t *testing.T, res Resources) (*listenerv3.Listener, *routerv3.Router) {
	t.Helper()
	lis := only[*listenerv3.Listener](t, res, resource.ListenerType)
	hcm := unpackHCM(t, lis.GetFilterChains()[0].GetFilters()[0].GetTypedConfig())
	rt := &routerv3.Router{}
	require.NoError(t, hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(rt))
	return lis, rt
}

// The ingress settings reach Envoy's HTTP connection manager and router;
// without them the listener is Envoy's default, byte for byte what it was
// before the settings existed; gRPC's listeners never carry them.
func TestIngressIsEnvoyOnly(t *testing.T) {
	plain, err := Envoy(defaultRegistry(), envoyOpts)
	require.NoError(t, err)
	lis, rt := envoyHCM(t, plain)
	hcm := unpackHCM(t, lis.GetFilterChains()[0].GetFilters()[0].GetTypedConfig())
	require.Nil(t, hcm.GetUseRemoteAddress(), "Envoy's default: judge by X-Forwarded-For")
	require.Nil(t, hcm.GetInternalAddressConfig(), "Envoy's default: no address internal")
	require.False(t, rt.GetRespectExpectedRqTimeout())

	reg := defaultRegistry()
	reg.Ingress = &registry.Ingress{UseRemoteAddress: true, InternalCIDRs: []string{"172.16.0.0/12", "fd00::/8"}, RespectExpectedRqTimeout: true}
	res, err := Envoy(reg, envoyOpts)
	require.NoError(t, err)
	require.NoError(t, Check(res))
	validateEnvoy(t, res)
	lis, rt = envoyHCM(t, res)
	hcm = unpackHCM(t, lis.GetFilterChains()[0].GetFilters()[0].GetTypedConfig())
	require.True(t, hcm.GetUseRemoteAddress().GetValue())
	cidrs := hcm.GetInternalAddressConfig().GetCidrRanges()
	require.Len(t, cidrs, 2)
	require.Equal(t, "172.16.0.0", cidrs[0].GetAddressPrefix())
	require.Equal(t, uint32(12), cidrs[0].GetPrefixLen().GetValue())
	require.Equal(t, "fd00::", cidrs[1].GetAddressPrefix())
	require.Equal(t, uint32(8), cidrs[1].GetPrefixLen().GetValue())
	require.True(t, rt.GetRespectExpectedRqTimeout())

	diff, err := Diff(plain, res)
	require.NoError(t, err)
	require.Equal(t, []string{
		"listener ingress_http: filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.respect_expected_rq_timeout",
		"listener ingress_http: filter_chains[0].filters[0].typed_config.internal_address_config",
		"listener ingress_http: filter_chains[0].filters[0].typed_config.use_remote_address",
	}, diff)

	g, err := GRPC(reg, nil)
	require.NoError(t, err)
	gplain, err := GRPC(defaultRegistry(), nil)
	require.NoError(t, err)
	diff, err = Diff(gplain, g)
	require.NoError(t, err)
	require.Empty(t, diff, "gRPC nodes get nothing of the ingress")

	// Decode refuses a range that does not parse; a registry built in code
	// is refused by the translation instead of sent half-written.
	reg.Ingress = &registry.Ingress{InternalCIDRs: []string{"172.16.0.0"}}
	_, err = Envoy(reg, envoyOpts)
	require.ErrorContains(t, err, "internal_cidrs")
}
