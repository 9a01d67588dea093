// Package xdsfixture is a small go-control-plane ADS server for the sample
// service's tests: it serves one snapshot per node with exactly what a gRPC
// proxyless client subscribes to for xds:///<route>. It is a test fixture,
// not the project's control plane (internal/controlplane), and must not grow
// into one.
package xdsfixture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Locality is one locality of the cluster's endpoints.
type Locality struct {
	// Region and Zone form the locality ID. Both empty leaves the locality
	// without an ID, which gRPC rejects (NACKs): use that to provoke a NACK.
	Region, Zone string
	// Weight is the locality's load-balancing weight; 0 means 1.
	Weight uint32
	// Endpoints are "host:port" addresses.
	Endpoints []string
}

// Config is what one node is served: a route name (the listener a gRPC
// client asks for with xds:///<Route>) sending everything to one EDS cluster.
type Config struct {
	Route      string
	Cluster    string
	Localities []Locality
}

// Resources builds the LDS/RDS/CDS/EDS resources for cfg: a Listener named
// Route with an ApiListener holding an HttpConnectionManager (RDS over ADS,
// router filter), a RouteConfiguration, an EDS Cluster with round robin, and
// its ClusterLoadAssignment.
func Resources(cfg Config) (map[resourcev3.Type][]types.Resource, error) {
	if cfg.Route == "" || cfg.Cluster == "" {
		return nil, errors.New("xdsfixture: route and cluster are required")
	}
	routeName := cfg.Route + "-route"
	ads := &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		return nil, fmt.Errorf("xdsfixture: router filter: %w", err)
	}
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource:    ads,
			RouteConfigName: routeName,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("xdsfixture: http connection manager: %w", err)
	}
	lis := &listenerv3.Listener{
		Name:        cfg.Route,
		ApiListener: &listenerv3.ApiListener{ApiListener: hcm},
	}
	rc := &routev3.RouteConfiguration{
		Name: routeName,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    cfg.Route,
			Domains: []string{"*"},
			Routes: []*routev3.Route{{
				Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: ""}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{
					ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cfg.Cluster},
				}},
			}},
		}},
	}
	cl := &clusterv3.Cluster{
		Name:                 cfg.Cluster,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: ads, ServiceName: cfg.Cluster},
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
	}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: cfg.Cluster}
	for _, l := range cfg.Localities {
		weight := l.Weight
		if weight == 0 {
			weight = 1
		}
		lle := &endpointv3.LocalityLbEndpoints{LoadBalancingWeight: wrapperspb.UInt32(weight)}
		if l.Region != "" || l.Zone != "" {
			lle.Locality = &corev3.Locality{Region: l.Region, Zone: l.Zone}
		}
		for _, addr := range l.Endpoints {
			host, portStr, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("xdsfixture: endpoint %q: %w", addr, err)
			}
			port, err := strconv.ParseUint(portStr, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("xdsfixture: endpoint %q: bad port: %w", addr, err)
			}
			lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address:       host,
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
					}}},
				}},
			})
		}
		cla.Endpoints = append(cla.Endpoints, lle)
	}
	return map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType: {lis},
		resourcev3.RouteType:    {rc},
		resourcev3.ClusterType:  {cl},
		resourcev3.EndpointType: {cla},
	}, nil
}

// Server is a running ADS server. It is safe for concurrent use.
type Server struct {
	cache cachev3.SnapshotCache
	grpc  *grpc.Server
	addr  string
	done  chan error

	mu    sync.Mutex
	nacks map[string]int
}

// Start serves ADS on ln until Stop. It takes ownership of ln.
func Start(ctx context.Context, ln net.Listener) *Server {
	s := &Server{
		cache: cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil),
		grpc:  grpc.NewServer(),
		addr:  ln.Addr().String(),
		done:  make(chan error, 1),
		nacks: map[string]int{},
	}
	cb := serverv3.CallbackFuncs{
		StreamRequestFunc: func(_ int64, req *discoveryv3.DiscoveryRequest) error {
			if req.GetErrorDetail() != nil {
				s.mu.Lock()
				s.nacks[req.GetTypeUrl()]++
				s.mu.Unlock()
			}
			return nil
		},
	}
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s.grpc, serverv3.NewServer(ctx, s.cache, cb))
	go func() { s.done <- s.grpc.Serve(ln) }()
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// Set serves cfg to node under version.
func (s *Server) Set(ctx context.Context, node, version string, cfg Config) error {
	res, err := Resources(cfg)
	if err != nil {
		return err
	}
	snap, err := cachev3.NewSnapshot(version, res)
	if err != nil {
		return fmt.Errorf("xdsfixture: snapshot %s: %w", version, err)
	}
	if err := s.cache.SetSnapshot(ctx, node, snap); err != nil {
		return fmt.Errorf("xdsfixture: set snapshot %s for %s: %w", version, node, err)
	}
	return nil
}

// NACKs returns how many NACKs the server received for a type URL.
func (s *Server) NACKs(typeURL string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nacks[typeURL]
}

// Stop stops serving at once.
func (s *Server) Stop() {
	s.grpc.Stop()
	<-s.done
}

// Bootstrap returns a gRPC xDS bootstrap pointing at addr for node.
func Bootstrap(addr, node string) []byte {
	return fmt.Appendf(nil, `{
  "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
  "node": {"id": %q, "locality": {"zone": "test"}}
}`, addr, node)
}
