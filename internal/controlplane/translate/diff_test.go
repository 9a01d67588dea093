package translate

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/okbreak/okbreak/internal/registry"
)

func TestDiffNamesWhereResourcesDiffer(t *testing.T) {
	base, err := Envoy(defaultRegistry(), envoyOpts)
	require.NoError(t, err)
	same, err := Envoy(defaultRegistry(), envoyOpts)
	require.NoError(t, err)
	d, err := Diff(base, same)
	require.NoError(t, err)
	require.Empty(t, d)

	reg := withHealthCheck(defaultRegistry(), everySecond)
	r := reg.Routes[registry.BackendRoute]
	r.Retry.NumRetries = 3
	r.Timeout = 0
	reg.Routes[registry.BackendRoute] = r
	reg.Routes["admin"] = registry.Route{Name: "admin", Service: "other"}
	reg.Endpoints["backend"] = reg.Endpoints["backend"][:2]
	reg.Endpoints["other"][0].Port = 1
	o := reg.Services["other"]
	o.ConnectTimeout = registry.Duration(2 * time.Second)
	reg.Services["other"] = o
	other, err := Envoy(reg, EnvoyOptions{UpstreamProtocol: UpstreamHTTP2, Addresses: envoyOpts.Addresses})
	require.NoError(t, err)
	d, err = Diff(base, other)
	require.NoError(t, err)
	require.Equal(t, []string{
		`cluster backend: health_checks`, // set on one side: named whole
		`cluster backend: typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options`,
		`cluster backend: typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http_protocol_options`,
		`cluster other: connect_timeout`, // a Duration is one value, as in protojson
		`cluster other: typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options`,
		`cluster other: typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http_protocol_options`,
		`endpoint backend: endpoints[0].lb_endpoints`, // a list of another length: named whole
		`endpoint backend: endpoints[0].load_balancing_weight`,
		`endpoint other: endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value`,
		`route ingress_routes: virtual_hosts`,
	}, d)

	// Item by item when the lists are as long; a resource one side lacks is
	// named alone; an Any holding another type is one difference.
	reg = defaultRegistry()
	r = reg.Routes[registry.BackendRoute]
	r.Retry.NumRetries = 3
	r.Timeout = 0
	reg.Routes[registry.BackendRoute] = r
	reg.Services["third"] = registry.Service{Name: "third"}
	changed, err := Envoy(reg, envoyOpts)
	require.NoError(t, err)
	be := byName[*clusterv3.Cluster](t, changed[resource.ClusterType], "backend")
	be.TypedExtensionProtocolOptions[httpProtocolOptionsKey], err = anypb.New(be.GetOutlierDetection())
	require.NoError(t, err)
	d, err = Diff(base, changed)
	require.NoError(t, err)
	require.Equal(t, []string{
		`cluster backend: typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`,
		`cluster third`,
		`endpoint third`,
		`route ingress_routes: virtual_hosts[0].routes[0].route.retry_policy.num_retries`,
		`route ingress_routes: virtual_hosts[0].routes[0].route.timeout`,
	}, d)

	// An Any that cannot be opened is an error, not a silent "same".
	bad, err := Envoy(defaultRegistry(), envoyOpts)
	require.NoError(t, err)
	bad2, err := Envoy(defaultRegistry(), envoyOpts)
	require.NoError(t, err)
	for _, res := range []Resources{bad, bad2} {
		c := byName[*clusterv3.Cluster](t, res[resource.ClusterType], "backend")
		c.TypedExtensionProtocolOptions[httpProtocolOptionsKey] = &anypb.Any{TypeUrl: "type.googleapis.com/not.a.Type"}
	}
	_, err = Diff(bad, bad2)
	require.ErrorContains(t, err, "not.a.Type")
}
