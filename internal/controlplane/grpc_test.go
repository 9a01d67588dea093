package controlplane

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"github.com/okbreak/okbreak/internal/registry"
)

// healthBackend is a gRPC server on loopback whose health service answers
// SERVING for one service name only: asking the "other" server about
// "backend" gives NotFound, so a misrouted RPC is visible.
func healthBackend(t *testing.T, service string) uint32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	return uint32(l.Addr().(*net.TCPAddr).Port)
}

// checkBackend makes one fail-fast RPC through the xDS channel and returns
// its status code.
func checkBackend(client healthpb.HealthClient) codes.Code {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: registry.BackendService})
	if err != nil {
		return status.Code(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return codes.Unknown
	}
	return codes.OK
}

// xdsHealthClient is a health client on a real gRPC xDS channel to
// xds:///backend, with its own bootstrap pointing at the control plane.
func xdsHealthClient(t *testing.T, adsAddr, node string) healthpb.HealthClient {
	t.Helper()
	bootstrap := fmt.Sprintf(`{
		"xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
		"node": {"id": %q}
	}`, adsAddr, node)
	rb, err := xds.NewXDSResolverWithConfigForTesting([]byte(bootstrap))
	require.NoError(t, err)
	conn, err := grpc.NewClient("xds:///"+registry.BackendRoute,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(rb))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// TestGRPCProxylessClient runs gRPC-Go's real xDS client against the control
// plane: the default registry routes RPCs to the backend, and the three bad
// variants of the fault catalog do what they are meant to, straight from
// registry data.
func TestGRPCProxylessClient(t *testing.T) {
	const node = "grpc-test"
	backendPort := healthBackend(t, registry.BackendService)
	otherPort := healthBackend(t, registry.OtherService)

	te := newTestEtcd(t)
	te.start(t)
	cli := te.client(t)
	reg := registry.Default(
		[]registry.Endpoint{{Instance: "backend-1", Address: "127.0.0.1", Port: backendPort}},
		[]registry.Endpoint{{Instance: "other-1", Address: "127.0.0.1", Port: otherPort}},
	)
	seed(t, cli, reg)
	cp := startCP(t, te.endpoint())
	admin := cp.AdminAddr()

	client := xdsHealthClient(t, cp.ADSAddr(), node)

	eventually := func(want codes.Code, what string) {
		t.Helper()
		var got codes.Code
		require.Eventually(t, func() bool {
			got = checkBackend(client)
			return got == want
		}, 15*time.Second, 50*time.Millisecond, "%s: RPC status %v, want %v", what, got, want)
	}
	eventually(codes.OK, "default registry")

	route := func(service string, backoffBase string) string {
		backoff := ""
		if backoffBase != "" {
			backoff = fmt.Sprintf(`,"backoff_base":%q`, backoffBase)
		}
		return fmt.Sprintf(`{"name":"backend","service":%q,"timeout":"3s","retry":{"on":["unavailable"],"num_retries":2%s}}`,
			service, backoff)
	}

	// (b) The backend route sent to "other": RPCs reach the wrong service.
	put(t, cli, registry.RouteKey(registry.BackendRoute), route(registry.OtherService, ""))
	eventually(codes.NotFound, "route to other")
	put(t, cli, registry.RouteKey(registry.BackendRoute), route(registry.BackendService, ""))
	eventually(codes.OK, "route back to backend")

	// (a) Every backend endpoint deleted: an explicit empty endpoint set,
	// which the client must apply (not keep the old endpoints).
	del(t, cli, registry.EndpointsPrefix(registry.BackendService), clientv3.WithPrefix())
	eventually(codes.Unavailable, "empty endpoint set")
	put(t, cli, registry.EndpointKey(registry.BackendService, "backend-1"),
		fmt.Sprintf(`{"instance":"backend-1","address":"127.0.0.1","port":%d}`, backendPort))
	eventually(codes.OK, "endpoint back")

	// (c) A retry backoff base of 0s: gRPC rejects the route configuration
	// (NACK), keeps the previous one, and RPCs keep working.
	put(t, cli, registry.RouteKey(registry.BackendRoute), route(registry.BackendService, "0s"))
	requireMetric(t, admin, "okbreak_controlplane_nacks_total", map[string]string{"node": node, "type": "route"}, 1)
	for range 10 {
		require.Equal(t, codes.OK, checkBackend(client), "the NACKed config must not be applied")
	}
	require.Never(t, func() bool {
		v, _ := metricValue(t, admin, "okbreak_controlplane_nacks_total", map[string]string{"node": node, "type": "route"})
		return v != 1
	}, 300*time.Millisecond, 20*time.Millisecond, "the rejected config must not be resent in a loop")
	put(t, cli, registry.RouteKey(registry.BackendRoute), route(registry.BackendService, "25ms"))
	eventually(codes.OK, "valid backoff")

	// Everything else the control plane produced, gRPC accepted.
	for _, typ := range []string{"listener", "cluster", "endpoint"} {
		_, nacked := metricValue(t, admin, "okbreak_controlplane_nacks_total", map[string]string{"node": node, "type": typ})
		require.False(t, nacked, "gRPC rejected a %s resource", typ)
	}
}
