package translate

import (
	"fmt"
	"net"
	"sort"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/okbreak/okbreak/internal/registry"
)

const (
	// EnvoyListenerName names Envoy's one listener.
	EnvoyListenerName = "ingress_http"
	// EnvoyListenerPort is the port Envoy serves user traffic on.
	EnvoyListenerPort = 8080
	// EnvoyRouteConfigName names the route configuration Envoy's listener
	// asks for over RDS.
	EnvoyRouteConfigName = "ingress_routes"
	// EnvoyStatPrefix prefixes the listener's HTTP statistics
	// (http.ingress_http.*).
	EnvoyStatPrefix = "ingress_http"
	// httpProtocolOptionsKey is where Envoy looks for upstream HTTP options.
	httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)

// UpstreamProtocol is the protocol Envoy speaks to backends.
type UpstreamProtocol string

// The upstream protocols Envoy can use towards the sample backends, which
// serve both on one port.
const (
	UpstreamHTTP1 UpstreamProtocol = "http1"
	UpstreamHTTP2 UpstreamProtocol = "h2"
)

// ParseUpstreamProtocol reads "http1" or "h2"; the empty string is http1.
func ParseUpstreamProtocol(s string) (UpstreamProtocol, error) {
	switch UpstreamProtocol(s) {
	case "", UpstreamHTTP1:
		return UpstreamHTTP1, nil
	case UpstreamHTTP2:
		return UpstreamHTTP2, nil
	}
	return "", fmt.Errorf("upstream protocol %q: want %q or %q", s, UpstreamHTTP1, UpstreamHTTP2)
}

// EnvoyOptions are the parts of Envoy's configuration that do not come from
// the registry.
type EnvoyOptions struct {
	// UpstreamProtocol is what Envoy speaks to backends; empty is http1.
	UpstreamProtocol UpstreamProtocol
	// Addresses maps endpoint host names to IP addresses. Envoy takes only
	// IP literals in EDS endpoints ("malformed IP address" otherwise), so
	// the control plane resolves the registry's host names (e.g. toxiproxy)
	// and passes the result here. A host name missing from the map is sent
	// as written, and Envoy will reject that endpoint set.
	Addresses map[string]string
}

// Envoy translates the registry for an Envoy data plane: one listener
// (EnvoyListenerName, 0.0.0.0:8080) whose HTTP connection manager takes its
// routes over RDS; one route configuration (EnvoyRouteConfigName) with a
// virtual host per registry route; an EDS cluster and a load assignment
// (possibly empty) for every service in the registry.
//
// Envoy subscribes to listeners and clusters as a wildcard and to routes and
// endpoints by name, which is exactly what these resources refer to.
func Envoy(reg registry.Registry, opts EnvoyOptions) (Resources, error) {
	upstream, err := ParseUpstreamProtocol(string(opts.UpstreamProtocol))
	if err != nil {
		return nil, err
	}
	hcm, err := httpConnectionManager(EnvoyStatPrefix, EnvoyRouteConfigName)
	if err != nil {
		return nil, err
	}
	hcmAny, err := pack(hcm)
	if err != nil {
		return nil, err
	}
	lis := &listenerv3.Listener{
		Name:    EnvoyListenerName,
		Address: socketAddress("0.0.0.0", EnvoyListenerPort),
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       wellknown.HTTPConnectionManager,
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcmAny},
		}}}},
	}
	rc := routeConfiguration(EnvoyRouteConfigName, sortedRoutes(reg), envoyFlavor)

	protoOpts, err := upstreamProtocolOptions(upstream)
	if err != nil {
		return nil, err
	}
	address := func(host string) string {
		if ip, ok := opts.Addresses[host]; ok && ip != "" {
			return ip
		}
		return host
	}
	services := make([]string, 0, len(reg.Services))
	for name := range reg.Services {
		services = append(services, name)
	}
	sort.Strings(services)
	var clusters, clas []types.Resource
	for _, name := range services {
		c := cluster(reg.Services[name])
		c.TypedExtensionProtocolOptions = map[string]*anypb.Any{httpProtocolOptionsKey: protoOpts}
		clusters = append(clusters, c)
		clas = append(clas, loadAssignment(name, reg.Endpoints[name], address))
	}
	return Resources{
		resource.ListenerType: {lis},
		resource.RouteType:    {rc},
		resource.ClusterType:  clusters,
		resource.EndpointType: clas,
	}, nil
}

// upstreamProtocolOptions says explicitly which protocol Envoy uses towards
// a cluster's hosts, so that /config_dump shows it.
func upstreamProtocolOptions(p UpstreamProtocol) (*anypb.Any, error) {
	explicit := &httpv3.HttpProtocolOptions_ExplicitHttpConfig{}
	switch p {
	case UpstreamHTTP2:
		explicit.ProtocolConfig = &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{
			Http2ProtocolOptions: &corev3.Http2ProtocolOptions{},
		}
	default:
		explicit.ProtocolConfig = &httpv3.HttpProtocolOptions_ExplicitHttpConfig_HttpProtocolOptions{
			HttpProtocolOptions: &corev3.Http1ProtocolOptions{},
		}
	}
	return pack(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: explicit},
	})
}

// EndpointHosts returns the sorted, distinct endpoint addresses in reg that
// are host names rather than IP literals: the names a control plane serving
// Envoy must resolve (see EnvoyOptions.Addresses).
func EndpointHosts(reg registry.Registry) []string {
	seen := map[string]bool{}
	var out []string
	for _, eps := range reg.Endpoints {
		for _, e := range eps {
			if net.ParseIP(e.Address) != nil || seen[e.Address] {
				continue
			}
			seen[e.Address] = true
			out = append(out, e.Address)
		}
	}
	sort.Strings(out)
	return out
}
