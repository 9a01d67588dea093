package translate

import (
	"sort"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/okbreak/okbreak/internal/registry"
)

// GRPC translates the registry for a gRPC proxyless node that asked for the
// given listeners (the targets it dials: xds:///backend asks for listener
// "backend"). An empty list means every route (a wildcard subscription).
//
// For each requested route that exists: a Listener named like the route whose
// ApiListener holds an HTTP connection manager (RDS over ADS, router filter),
// and a RouteConfiguration of the same name. Then exactly the clusters those
// routes send traffic to, and their load assignments (an explicit empty one
// when a service has no endpoints).
//
// The registry's Envoy-only settings are left out: a service's health
// check (gRPC's xDS client does no active health checks) and the ingress
// (an API listener has no remote address and no x-envoy-* headers).
//
// Exactness matters twice: go-control-plane's ADS cache does not answer a
// named subscription while the snapshot holds a resource of that type the
// client did not name, and gRPC subscribes to clusters and endpoints by name.
// A name the registry does not have is left out; the client then sees it as
// not existing.
func GRPC(reg registry.Registry, listeners []string) (Resources, error) {
	want := map[string]bool{}
	for _, l := range listeners {
		want[l] = true
	}
	var lis, rcs, clusters, clas []types.Resource
	services := map[string]bool{}
	for _, r := range sortedRoutes(reg) {
		if len(want) > 0 && !want[r.Name] {
			continue
		}
		// A plain router: registry.Ingress is Envoy's, gRPC's client has
		// no x-envoy-* headers to honour.
		hcm, err := httpConnectionManager(r.Name, r.Name, &routerv3.Router{})
		if err != nil {
			return nil, err
		}
		hcmAny, err := pack(hcm)
		if err != nil {
			return nil, err
		}
		lis = append(lis, &listenerv3.Listener{
			Name:        r.Name,
			ApiListener: &listenerv3.ApiListener{ApiListener: hcmAny},
		})
		rcs = append(rcs, routeConfiguration(r.Name, []registry.Route{r}, grpcFlavor))
		if _, ok := reg.Services[r.Service]; ok {
			services[r.Service] = true
		}
	}
	names := make([]string, 0, len(services))
	for s := range services {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		clusters = append(clusters, cluster(reg.Services[s]))
		clas = append(clas, loadAssignment(s, reg.Endpoints[s], func(h string) string { return h }))
	}
	return Resources{
		resource.ListenerType: lis,
		resource.RouteType:    rcs,
		resource.ClusterType:  clusters,
		resource.EndpointType: clas,
	}, nil
}
