package envoyconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "stacks", "default", name))
	require.NoError(t, err)
	return b
}

func TestGoodBootstrapValidates(t *testing.T) {
	b := fixture(t, "envoy-bootstrap.yaml")
	require.NoError(t, Validate(b))

	bs, err := Parse(b)
	require.NoError(t, err)
	require.Equal(t, "envoy-edge", bs.GetNode().GetId())
	require.Equal(t, "okbreak", bs.GetNode().GetCluster())
	require.Equal(t, uint32(9901), bs.GetAdmin().GetAddress().GetSocketAddress().GetPortValue())
	require.NotNil(t, bs.GetDynamicResources().GetLdsConfig().GetAds())
	require.NotNil(t, bs.GetDynamicResources().GetCdsConfig().GetAds())
	require.Equal(t, corev3.ApiVersion_V3, bs.GetDynamicResources().GetAdsConfig().GetTransportApiVersion())
	xds := bs.GetStaticResources().GetClusters()[0]
	require.Equal(t, "xds_cluster", xds.GetName())
	sa := xds.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress()
	// The control plane by its service name: okbreak's Toxiproxy holds it.
	require.Equal(t, "control-plane", sa.GetAddress())
	require.Equal(t, uint32(18000), sa.GetPortValue())
	require.Contains(t, xds.GetTypedExtensionProtocolOptions(), "envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
}

func TestBrokenBootstrapFailsWithTheReason(t *testing.T) {
	err := Validate(fixture(t, "envoy-bootstrap-broken.yaml"))
	t.Logf("the broken bootstrap reads: %v", err)
	require.Error(t, err)
	require.Contains(t, err.Error(), "ConnectTimeout")
	require.Contains(t, err.Error(), "greater than 0s")
}

// The broken fixture must differ from the good one only in what it is meant
// to break, so that a fault using it tests exactly one thing.
func TestBrokenBootstrapDiffersOnlyInConnectTimeout(t *testing.T) {
	good, err := Parse(fixture(t, "envoy-bootstrap.yaml"))
	require.NoError(t, err)
	broken, err := Parse(fixture(t, "envoy-bootstrap-broken.yaml"))
	require.NoError(t, err)
	broken.GetStaticResources().GetClusters()[0].ConnectTimeout = good.GetStaticResources().GetClusters()[0].GetConnectTimeout()
	require.True(t, protoEqual(good, broken), "envoy-bootstrap-broken.yaml differs from envoy-bootstrap.yaml in more than connect_timeout")
}

func TestTypoInTypedConfigFails(t *testing.T) {
	b := string(fixture(t, "envoy-bootstrap.yaml"))
	typo := strings.Replace(b, "http2_protocol_options:", "http2_protocol_option:", 1)
	require.NotEqual(t, b, typo)
	err := Validate([]byte(typo))
	require.Error(t, err)
	require.Contains(t, err.Error(), "http2_protocol_option")
}

func TestTypoInTopLevelFieldFails(t *testing.T) {
	b := string(fixture(t, "envoy-bootstrap.yaml"))
	typo := strings.Replace(b, "dynamic_resources:", "dynamic_resource:", 1)
	err := Validate([]byte(typo))
	require.Error(t, err)
	require.Contains(t, err.Error(), "dynamic_resource")
}

func TestUnknownAnyTypeFails(t *testing.T) {
	b := string(fixture(t, "envoy-bootstrap.yaml"))
	bad := strings.Replace(b, "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
		"type.googleapis.com/envoy.extensions.upstreams.http.v3.NoSuchOptions", 1)
	require.Error(t, Validate([]byte(bad)))
}

func TestEmptyAndMalformedInput(t *testing.T) {
	require.ErrorContains(t, Validate(nil), "empty")
	require.ErrorContains(t, Validate([]byte("node: [unclosed")), "YAML")
}

// ValidateAll on its own does not look inside Any; ValidateMessage must.
func TestValidateMessageChecksInsideAny(t *testing.T) {
	badHCM := &hcmv3.HttpConnectionManager{StatPrefix: ""} // stat_prefix is required, and no route specifier
	a, err := anypb.New(badHCM)
	require.NoError(t, err)
	l := &listenerv3.Listener{
		Name: "l",
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a},
		}}}},
	}
	require.NoError(t, l.ValidateAll(), "the outer message alone is valid")
	err = ValidateMessage(l)
	require.Error(t, err)
	require.Contains(t, err.Error(), "filter_chains[0].filters[0].typed_config")
	require.Contains(t, err.Error(), "StatPrefix")
}

func TestValidateMessageChecksTheMessageItself(t *testing.T) {
	c := &clusterv3.Cluster{Name: "c", ConnectTimeout: durationpb.New(0)}
	require.ErrorContains(t, ValidateMessage(c), "ConnectTimeout")
	require.Error(t, ValidateMessage(nil))
}

func protoEqual(a, b *bootstrapv3.Bootstrap) bool { return proto.Equal(a, b) }
