package controlplane

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/internal/registry"
)

// fakeDNS answers lookups from a map that the test can change.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   int
}

func (f *fakeDNS) set(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[host] = addrs
}

func (f *fakeDNS) lookup(_ context.Context, host string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	a, ok := f.answers[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	return a, nil
}

func TestResolverPicksOneStableAddressAndKeepsIt(t *testing.T) {
	dns := &fakeDNS{answers: map[string][]string{}}
	r := newResolver(time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.lookup = dns.lookup
	ctx := context.Background()

	dns.set("toxiproxy", "fd00::5", "10.0.0.9", "10.0.0.2")
	require.True(t, r.resolve(ctx, []string{"toxiproxy"}, true))
	require.Equal(t, map[string]string{"toxiproxy": "10.0.0.2"}, r.addresses(), "lowest IPv4 first")
	require.False(t, r.resolve(ctx, []string{"toxiproxy"}, false), "same answer: no change")

	calls := dns.calls
	require.False(t, r.resolve(ctx, []string{"toxiproxy"}, true))
	require.Equal(t, calls, dns.calls, "onlyNew skips hosts already tried")

	dns.set("toxiproxy") // resolves to nothing
	require.False(t, r.resolve(ctx, []string{"toxiproxy"}, false))
	require.Equal(t, "10.0.0.2", r.addresses()["toxiproxy"], "a failed lookup keeps the last address")

	dns.set("toxiproxy", "fd00::5")
	require.True(t, r.resolve(ctx, []string{"toxiproxy"}, false))
	require.Equal(t, "fd00::5", r.addresses()["toxiproxy"])

	require.False(t, r.resolve(ctx, []string{"nowhere"}, true))
	require.NotContains(t, r.addresses(), "nowhere")
}

// Envoy gets IP addresses for registry host names, and a new snapshot when
// a host's address changes.
func TestEnvoyEndpointsAreResolved(t *testing.T) {
	dns := &fakeDNS{answers: map[string][]string{"toxiproxy": {"10.1.2.3"}}}
	te := newTestEtcd(t)
	te.start(t)
	seed(t, te.client(t), registry.Default(
		[]registry.Endpoint{{Instance: "backend-1", Address: "toxiproxy", Port: 10011}},
		[]registry.Endpoint{{Instance: "other-1", Address: "toxiproxy", Port: 10021}},
	))
	cp := startCP(t, te.endpoint(), func(s *Server) {
		s.resolver.lookup = dns.lookup
		s.cfg.ResolveInterval = 100 * time.Millisecond
	})

	c := dialADS(t, cp.ADSAddr(), "envoy-dns")
	c.subscribe(resource.EndpointType, "backend", "other")
	eds := c.expect(resource.EndpointType)
	require.Equal(t, "10.1.2.3", backendAddress(t, eds))
	c.ack(eds)

	dns.set("toxiproxy", "10.1.2.4")
	eds2 := c.expect(resource.EndpointType)
	require.Equal(t, "10.1.2.4", backendAddress(t, eds2))
	require.NotEqual(t, eds.GetVersionInfo(), eds2.GetVersionInfo())
}

func backendAddress(t *testing.T, r *discoveryv3.DiscoveryResponse) string {
	t.Helper()
	for _, a := range r.GetResources() {
		cla := &endpointv3.ClusterLoadAssignment{}
		require.NoError(t, a.UnmarshalTo(cla))
		if cla.GetClusterName() == registry.BackendService {
			ep := cla.GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint()
			require.Equal(t, "backend-1", ep.GetHostname())
			return ep.GetAddress().GetSocketAddress().GetAddress()
		}
	}
	t.Fatal("no backend load assignment")
	return ""
}
