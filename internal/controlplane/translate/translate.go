// Package translate turns the service registry (internal/registry) into xDS
// resources for the two data planes: Envoy (a listener on :8080 with routes,
// EDS clusters and endpoints) and gRPC proxyless clients (an API listener per
// route, and exactly the clusters and endpoints those routes use).
//
// It is pure: no I/O, no clocks, the same registry always gives the same
// resources, so resource versions can be content hashes (Version) and a
// restarted control plane hands out the very same versions.
//
// The translation is literal on purpose. Registry data that a data plane
// will reject (a retry backoff of 0s, an empty endpoint set, a route to the
// wrong service) comes out as exactly that, because the fault catalog makes
// those faults by writing such data to etcd.
package translate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/okbreak/okbreak/internal/registry"
)

const (
	// Region is the locality region of every endpoint. gRPC rejects an
	// endpoint set whose locality has no ID, so region and zone are always
	// set.
	Region = "okbreak"
	// DefaultZone is the locality zone of endpoints whose registry entry
	// names none.
	DefaultZone = "default"
	// DefaultRetryBackoffBase is the base retry interval used when a route
	// sets only a maximum backoff. It is the default of Envoy and gRPC alike;
	// both require a base once a retry_back_off is present.
	DefaultRetryBackoffBase = 25 * time.Millisecond
)

// Types lists the resource types this package produces, in the order a
// client needs them (a listener refers to routes, routes to clusters,
// clusters to endpoints).
var Types = []resource.Type{resource.ListenerType, resource.RouteType, resource.ClusterType, resource.EndpointType}

// ShortType names a resource type for logs and metric labels: "listener",
// "route", "cluster", "endpoint", or the type URL itself for any other type.
func ShortType(typeURL string) string {
	switch typeURL {
	case resource.ListenerType:
		return "listener"
	case resource.RouteType:
		return "route"
	case resource.ClusterType:
		return "cluster"
	case resource.EndpointType:
		return "endpoint"
	}
	return typeURL
}

// Resources is one data plane's xDS resources, by type URL. Within a type,
// resources are sorted by name.
type Resources map[resource.Type][]types.Resource

// Names returns the sorted names of the resources of one type.
func (r Resources) Names(typeURL resource.Type) []string {
	var names []string
	for _, res := range r[typeURL] {
		names = append(names, cache.GetResourceName(res))
	}
	sort.Strings(names)
	return names
}

// Versions returns a content version for each type in Types. The endpoint
// version also covers the clusters: Envoy rebuilds (warms) a cluster whose
// definition changed and waits for its ClusterLoadAssignment, which the ADS
// cache resends only when the endpoint version differs.
func (r Resources) Versions() (map[resource.Type]string, error) {
	out := make(map[resource.Type]string, len(Types))
	for _, typ := range Types {
		items := r[typ]
		if typ == resource.EndpointType {
			items = append(append([]types.Resource(nil), r[resource.ClusterType]...), items...)
		}
		v, err := Version(items)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", ShortType(typ), err)
		}
		out[typ] = v
	}
	return out, nil
}

// Version is a content hash of resources: the SHA-256 of each resource's
// type, name and deterministic protobuf encoding, in name order, shortened
// to 16 hex digits. Equal content gives an equal version in any process, so
// a restarted control plane does not make data planes reload anything.
func Version(items []types.Resource) (string, error) {
	type entry struct {
		key string
		b   []byte
	}
	entries := make([]entry, 0, len(items))
	for _, res := range items {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(res)
		if err != nil {
			return "", fmt.Errorf("marshal %s: %w", cache.GetResourceName(res), err)
		}
		key := string(res.ProtoReflect().Descriptor().FullName()) + "/" + cache.GetResourceName(res)
		entries = append(entries, entry{key: key, b: b})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	h := sha256.New()
	var n [8]byte
	for _, e := range entries {
		for _, part := range [][]byte{[]byte(e.key), e.b} {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			h.Write(n[:])
			h.Write(part)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// adsSource is the config source "over the same ADS stream, v3".
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// pack wraps m in an Any with a deterministic encoding, so that the
// enclosing resource's content hash does not vary between runs.
func pack(m proto.Message) (*anypb.Any, error) {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		return nil, fmt.Errorf("pack %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return a, nil
}

func socketAddress(host string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Protocol:      corev3.SocketAddress_TCP,
		Address:       host,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// httpConnectionManager is the HCM both data planes use: routes by RDS over
// ADS, then the router filter, configured as given (Envoy's may respect
// the expected timeout, see registry.Ingress).
func httpConnectionManager(statPrefix, routeConfig string, rt *routerv3.Router) (*hcmv3.HttpConnectionManager, error) {
	router, err := pack(rt)
	if err != nil {
		return nil, err
	}
	return &hcmv3.HttpConnectionManager{
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		StatPrefix: statPrefix,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: routeConfig,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       wellknown.Router,
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}},
	}, nil
}

// routeFlavor says which data plane a route action is for: Envoy bounds a
// request with the route timeout, gRPC with max_stream_duration.
type routeFlavor int

const (
	envoyFlavor routeFlavor = iota
	grpcFlavor
)

// virtualHost is the virtual host of one registry route. The backend route
// also takes every other Host ("*"), so that a probe that sends no
// meaningful Host still reaches the backend.
func virtualHost(r registry.Route, flavor routeFlavor) *routev3.VirtualHost {
	domains := []string{r.Name, r.Name + ":*"}
	if r.Name == registry.BackendRoute {
		domains = append(domains, "*")
	}
	action := &routev3.RouteAction{
		ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: r.Service},
		RetryPolicy:      retryPolicy(r.Retry),
	}
	if r.Timeout > 0 {
		switch flavor {
		case envoyFlavor:
			action.Timeout = durationpb.New(r.Timeout.D())
		case grpcFlavor:
			action.MaxStreamDuration = &routev3.RouteAction_MaxStreamDuration{
				MaxStreamDuration: durationpb.New(r.Timeout.D()),
			}
		}
	}
	return &routev3.VirtualHost{
		Name:    r.Name,
		Domains: domains,
		Routes: []*routev3.Route{{
			Name:   r.Name,
			Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
			Action: &routev3.Route_Route{Route: action},
		}},
	}
}

// retryPolicy translates a registry retry policy literally: the retry_on
// names joined (each data plane ignores the ones it does not know), the
// number of retries as written (gRPC rejects 0), and a backoff only when the
// registry sets one (both data planes reject a base of 0).
func retryPolicy(p *registry.RetryPolicy) *routev3.RetryPolicy {
	if p == nil {
		return nil
	}
	rp := &routev3.RetryPolicy{
		RetryOn:    strings.Join(p.On, ","),
		NumRetries: wrapperspb.UInt32(p.NumRetries),
	}
	if p.PerTryTimeout > 0 {
		rp.PerTryTimeout = durationpb.New(p.PerTryTimeout.D())
	}
	if p.BackoffBase != nil || p.BackoffMax != nil {
		base := DefaultRetryBackoffBase
		if p.BackoffBase != nil {
			base = p.BackoffBase.D()
		}
		rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(base)}
		if p.BackoffMax != nil {
			rp.RetryBackOff.MaxInterval = durationpb.New(p.BackoffMax.D())
		}
	}
	return rp
}

// routeConfiguration holds one virtual host per route, in name order.
func routeConfiguration(name string, routes []registry.Route, flavor routeFlavor) *routev3.RouteConfiguration {
	rc := &routev3.RouteConfiguration{Name: name}
	for _, r := range routes {
		rc.VirtualHosts = append(rc.VirtualHosts, virtualHost(r, flavor))
	}
	return rc
}

// cluster is the EDS cluster of one service.
func cluster(s registry.Service) *clusterv3.Cluster {
	c := &clusterv3.Cluster{
		Name:                 s.Name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
			EdsConfig:   adsSource(),
			ServiceName: s.Name,
		},
		LbPolicy:         clusterv3.Cluster_ROUND_ROBIN,
		OutlierDetection: outlierDetection(s.OutlierDetection),
	}
	if s.ConnectTimeout > 0 {
		c.ConnectTimeout = durationpb.New(s.ConnectTimeout.D())
	}
	return c
}

// outlierDetection maps the registry's outlier detection onto Envoy's
// message. A zero registry value means "unset" (the data plane's default),
// since the registry cannot tell an explicit 0 from an omitted field. A
// consecutive gateway failure threshold is enforced at 100%: Envoy ignores
// it otherwise (its enforcement defaults to 0), and a registry that sets the
// threshold means it.
func outlierDetection(o *registry.OutlierDetection) *clusterv3.OutlierDetection {
	if o == nil {
		return nil
	}
	u32 := func(v uint32) *wrapperspb.UInt32Value {
		if v == 0 {
			return nil
		}
		return wrapperspb.UInt32(v)
	}
	dur := func(d registry.Duration) *durationpb.Duration {
		if d <= 0 {
			return nil
		}
		return durationpb.New(d.D())
	}
	od := &clusterv3.OutlierDetection{
		Interval:                       dur(o.Interval),
		BaseEjectionTime:               dur(o.BaseEjectionTime),
		MaxEjectionTime:                dur(o.MaxEjectionTime),
		MaxEjectionPercent:             u32(o.MaxEjectionPercent),
		Consecutive_5Xx:                u32(o.Consecutive5xx),
		ConsecutiveGatewayFailure:      u32(o.ConsecutiveGatewayFailure),
		FailurePercentageThreshold:     u32(o.FailurePercentageThreshold),
		EnforcingFailurePercentage:     u32(o.EnforcingFailurePercentage),
		FailurePercentageMinimumHosts:  u32(o.FailurePercentageMinimumHosts),
		FailurePercentageRequestVolume: u32(o.FailurePercentageRequestVolume),
	}
	if o.ConsecutiveGatewayFailure > 0 {
		od.EnforcingConsecutiveGatewayFailure = wrapperspb.UInt32(100)
	}
	return od
}

// loadAssignment is the endpoint set of one service: one locality per zone
// (region Region), weighted by its number of endpoints, each endpoint named
// after its instance. No endpoints give an explicit empty assignment, which
// is what makes a data plane drop the endpoints it had.
func loadAssignment(service string, eps []registry.Endpoint, address func(string) string) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: service}
	byZone := map[string][]registry.Endpoint{}
	for _, e := range eps {
		zone := e.Zone
		if zone == "" {
			zone = DefaultZone
		}
		byZone[zone] = append(byZone[zone], e)
	}
	zones := make([]string, 0, len(byZone))
	for z := range byZone {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		group := byZone[z]
		sort.Slice(group, func(i, j int) bool { return group[i].Instance < group[j].Instance })
		lle := &endpointv3.LocalityLbEndpoints{
			Locality:            &corev3.Locality{Region: Region, Zone: z},
			LoadBalancingWeight: wrapperspb.UInt32(uint32(len(group))),
		}
		for _, e := range group {
			lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address:  socketAddress(address(e.Address), e.Port),
					Hostname: e.Instance,
				}},
				LoadBalancingWeight: wrapperspb.UInt32(1),
			})
		}
		cla.Endpoints = append(cla.Endpoints, lle)
	}
	return cla
}

// sortedRoutes returns the registry's routes in name order.
func sortedRoutes(reg registry.Registry) []registry.Route {
	names := make([]string, 0, len(reg.Routes))
	for n := range reg.Routes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]registry.Route, 0, len(names))
	for _, n := range names {
		out = append(out, reg.Routes[n])
	}
	return out
}

// MissingServices lists, in order, the services that routes send traffic to
// but that the registry does not define. Such a route still translates (the
// data plane then fails those requests: Envoy with "no cluster", gRPC with
// the cluster not found), and the control plane logs it.
func MissingServices(reg registry.Registry) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range sortedRoutes(reg) {
		if _, ok := reg.Services[r.Service]; !ok && !seen[r.Service] {
			seen[r.Service] = true
			out = append(out, r.Service)
		}
	}
	return out
}
