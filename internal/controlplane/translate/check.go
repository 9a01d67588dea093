package translate

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Check verifies that a set of resources is consistent the way an ADS
// client needs it: the route configurations are exactly the ones the
// listeners ask for over RDS (in filter chains or in an ApiListener), the
// load assignments exactly the ones the EDS clusters ask for, and no two
// resources of a type share a name.
//
// go-control-plane's Snapshot.Consistent does not look inside ApiListener,
// so it reports gRPC proxyless snapshots as inconsistent; this check does.
func Check(res Resources) error {
	var errs []error
	for _, typ := range Types {
		names := res.Names(typ)
		for i := 1; i < len(names); i++ {
			if names[i] == names[i-1] {
				errs = append(errs, fmt.Errorf("two %s resources named %q", ShortType(typ), names[i]))
			}
		}
	}

	routeRefs, err := ListenerRouteRefs(res)
	if err != nil {
		errs = append(errs, err)
	}
	if got := res.Names(resource.RouteType); !slices.Equal(routeRefs, got) {
		errs = append(errs, fmt.Errorf("listeners ask for route configurations %v, snapshot has %v", routeRefs, got))
	}

	var edsRefs []string
	for _, r := range res[resource.ClusterType] {
		c, ok := r.(*clusterv3.Cluster)
		if !ok {
			errs = append(errs, fmt.Errorf("cluster resource %q is a %T", cache.GetResourceName(r), r))
			continue
		}
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		name := c.GetEdsClusterConfig().GetServiceName()
		if name == "" {
			name = c.GetName()
		}
		edsRefs = append(edsRefs, name)
	}
	sort.Strings(edsRefs)
	edsRefs = slices.Compact(edsRefs)
	if got := res.Names(resource.EndpointType); !slices.Equal(edsRefs, got) {
		errs = append(errs, fmt.Errorf("clusters ask for load assignments %v, snapshot has %v", edsRefs, got))
	}
	return errors.Join(errs...)
}

// ListenerRouteRefs returns the sorted, distinct route configuration names
// the listeners in res ask for over RDS, from network filters and from
// ApiListeners alike.
func ListenerRouteRefs(res Resources) ([]string, error) {
	var refs []string
	var errs []error
	add := func(lisName string, a *anypb.Any) {
		if !a.MessageIs(&hcmv3.HttpConnectionManager{}) {
			return
		}
		hcm := &hcmv3.HttpConnectionManager{}
		if err := a.UnmarshalTo(hcm); err != nil {
			errs = append(errs, fmt.Errorf("listener %q: unpack %s: %w", lisName, a.GetTypeUrl(), err))
			return
		}
		if rds := hcm.GetRds(); rds != nil {
			refs = append(refs, rds.GetRouteConfigName())
		}
	}
	for _, r := range res[resource.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			errs = append(errs, fmt.Errorf("listener resource %q is a %T", cache.GetResourceName(r), r))
			continue
		}
		if api := l.GetApiListener().GetApiListener(); api != nil {
			add(l.GetName(), api)
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if tc := f.GetTypedConfig(); tc != nil {
					add(l.GetName(), tc)
				}
			}
		}
	}
	sort.Strings(refs)
	return slices.Compact(refs), errors.Join(errs...)
}

// RouteClusterRefs returns the sorted, distinct cluster names the route
// configurations in res send traffic to.
func RouteClusterRefs(res Resources) []string {
	var refs []string
	for _, r := range res[resource.RouteType] {
		rc, ok := r.(*routev3.RouteConfiguration)
		if !ok {
			continue
		}
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if c := rt.GetRoute().GetCluster(); c != "" {
					refs = append(refs, c)
				}
			}
		}
	}
	sort.Strings(refs)
	return slices.Compact(refs)
}
