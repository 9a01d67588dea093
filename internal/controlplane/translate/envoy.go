package translate

import (
	"fmt"
	"net"
	"net/netip"
	"sort"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

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
// routes over RDS and treats clients as the registry's Ingress says; one
// route configuration (EnvoyRouteConfigName) with a virtual host per
// registry route; an EDS cluster (with the service's active health check,
// if any) and a load assignment (possibly empty) for every service in the
// registry.
//
// Envoy subscribes to listeners and clusters as a wildcard and to routes and
// endpoints by name, which is exactly what these resources refer to.
func Envoy(reg registry.Registry, opts EnvoyOptions) (Resources, error) {
	upstream, err := ParseUpstreamProtocol(string(opts.UpstreamProtocol))
	if err != nil {
		return nil, err
	}
	hcm, err := envoyConnectionManager(reg.Ingress)
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
		c.HealthChecks = healthChecks(reg.Services[name].HealthCheck)
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

// envoyConnectionManager is the listener's HTTP connection manager with the
// registry's ingress settings. Without them it is Envoy's default: every
// client external (its x-envoy-* request headers stripped) and
// x-envoy-expected-rq-timeout-ms ignored. Each setting is written only when
// the registry sets it, so that a registry without an ingress gives exactly
// the resources it gave before ingress settings existed.
func envoyConnectionManager(in *registry.Ingress) (*hcmv3.HttpConnectionManager, error) {
	if in == nil {
		in = &registry.Ingress{}
	}
	hcm, err := httpConnectionManager(EnvoyStatPrefix, EnvoyRouteConfigName, &routerv3.Router{
		RespectExpectedRqTimeout: in.RespectExpectedRqTimeout,
	})
	if err != nil {
		return nil, err
	}
	if in.UseRemoteAddress {
		hcm.UseRemoteAddress = wrapperspb.Bool(true)
	}
	if len(in.InternalCIDRs) > 0 {
		iac := &hcmv3.HttpConnectionManager_InternalAddressConfig{}
		for _, c := range in.InternalCIDRs {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				// registry.Decode refuses such a key; a registry built in
				// code can still hold one.
				return nil, fmt.Errorf("ingress internal_cidrs: %w", err)
			}
			iac.CidrRanges = append(iac.CidrRanges, &corev3.CidrRange{
				AddressPrefix: p.Addr().String(),
				PrefixLen:     wrapperspb.UInt32(uint32(p.Bits())),
			})
		}
		hcm.InternalAddressConfig = iac
	}
	return hcm, nil
}

// healthChecks is a service's active HTTP health check as Envoy's cluster
// health_checks, nil when the registry sets none. Path, interval, timeout
// and thresholds are written as they are, zero included, so that a registry
// missing them gets the NACK it deserves rather than a made-up default;
// the optional intervals only when set.
func healthChecks(h *registry.HealthCheck) []*corev3.HealthCheck {
	if h == nil {
		return nil
	}
	hc := &corev3.HealthCheck{
		Timeout:            durationpb.New(h.Timeout.D()),
		Interval:           durationpb.New(h.Interval.D()),
		UnhealthyThreshold: wrapperspb.UInt32(h.UnhealthyThreshold),
		HealthyThreshold:   wrapperspb.UInt32(h.HealthyThreshold),
		HealthChecker: &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: &corev3.HealthCheck_HttpHealthCheck{
			Path: h.Path,
		}},
	}
	if h.NoTrafficInterval > 0 {
		hc.NoTrafficInterval = durationpb.New(h.NoTrafficInterval.D())
	}
	if h.IntervalJitter > 0 {
		hc.IntervalJitter = durationpb.New(h.IntervalJitter.D())
	}
	return []*corev3.HealthCheck{hc}
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
