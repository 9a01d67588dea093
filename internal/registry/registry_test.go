package registry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	reg := Default(
		[]Endpoint{{Instance: "backend-2", Address: "toxiproxy", Port: 10012}, {Instance: "backend-1", Address: "toxiproxy", Port: 10011}},
		[]Endpoint{{Instance: "other-1", Address: "toxiproxy", Port: 10021}},
	)
	kvs, err := Encode(reg)
	require.NoError(t, err)
	got, errs := Decode(kvs)
	require.Empty(t, errs)
	require.Equal(t, "backend-1", got.Endpoints[BackendService][0].Instance, "endpoints are sorted by instance")
	require.Equal(t, 300*time.Millisecond, got.Routes[BackendRoute].Retry.PerTryTimeout.D())
	require.Equal(t, reg.Services, got.Services)
	require.Equal(t, reg.Routes, got.Routes)
}

func TestDecodeReportsBadKeysAndKeepsTheRest(t *testing.T) {
	kvs := []KV{
		{Key: ServiceKey("backend"), Value: []byte(`{"name":"backend"}`)},
		{Key: ServiceKey("bad"), Value: []byte(`{"name":"bad","surprise":1}`)},
		{Key: EndpointKey("backend", "b1"), Value: []byte(`{"address":"toxiproxy"}`)},
		{Key: RouteKey("backend"), Value: []byte(`{"service":"backend","timeout":"soon"}`)},
		{Key: Prefix + "widgets/x", Value: []byte(`{}`)},
	}
	reg, errs := Decode(kvs)
	require.Len(t, errs, 4)
	require.Contains(t, errs[0].Error(), ServiceKey("bad"))
	require.Contains(t, reg.Services, "backend")
	require.Empty(t, reg.Endpoints)
	require.Empty(t, reg.Routes)
}

// The Envoy-only settings read strictly, like the rest, and round-trip.
func TestHealthCheckAndIngress(t *testing.T) {
	reg := Default(
		[]Endpoint{{Instance: "backend-1", Address: "backend-1", Port: 8081}},
		[]Endpoint{{Instance: "other-1", Address: "other-1", Port: 8084}},
	)
	s := reg.Services[BackendService]
	s.HealthCheck = &HealthCheck{Path: "/healthz", Interval: Duration(time.Second), Timeout: Duration(time.Second), UnhealthyThreshold: 2, HealthyThreshold: 2}
	reg.Services[BackendService] = s
	reg.Ingress = &Ingress{UseRemoteAddress: true, InternalCIDRs: []string{"172.16.0.0/12"}, RespectExpectedRqTimeout: true}
	kvs, err := Encode(reg)
	require.NoError(t, err)
	got, errs := Decode(kvs)
	require.Empty(t, errs)
	require.Equal(t, reg.Services, got.Services)
	require.Equal(t, reg.Ingress, got.Ingress)

	none, errs := Decode([]KV{{Key: ServiceKey("backend"), Value: []byte(`{"name":"backend"}`)}})
	require.Empty(t, errs)
	require.Nil(t, none.Ingress, "no ingress key: the data plane's defaults")
	require.Nil(t, none.Services["backend"].HealthCheck)

	for _, tc := range []struct {
		kv   KV
		want string
	}{
		{KV{Key: ServiceKey("backend"), Value: []byte(`{"health_check":{"path":"/healthz","intervall":"1s"}}`)}, "intervall"},
		{KV{Key: ServiceKey("backend"), Value: []byte(`{"health_check":{"path":"/healthz","interval":1}}`)}, "duration must be a string"},
		{KV{Key: IngressKey, Value: []byte(`{"internal_cidrs":["172.16.0.0"]}`)}, "CIDR"},
		{KV{Key: IngressKey, Value: []byte(`{"use_remote_adress":true}`)}, "use_remote_adress"},
		{KV{Key: IngressKey + "/edge", Value: []byte(`{}`)}, "one document"},
	} {
		reg, errs := Decode([]KV{tc.kv})
		require.Len(t, errs, 1, "%s %s", tc.kv.Key, tc.kv.Value)
		require.ErrorContains(t, errs[0], tc.want)
		require.ErrorContains(t, errs[0], tc.kv.Key)
		require.Nil(t, reg.Ingress)
		require.Empty(t, reg.Services)
	}
}
