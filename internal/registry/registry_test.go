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
