package xdsmetrics_test

import (
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	v3statuspb "github.com/envoyproxy/go-control-plane/envoy/service/status/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/stretchr/testify/assert"

	"github.com/okbreak/okbreak/internal/sample/xdsmetrics"
)

func resource(typeURL, name string, status adminv3.ClientResourceStatus) *v3statuspb.ClientConfig_GenericXdsConfig {
	return &v3statuspb.ClientConfig_GenericXdsConfig{TypeUrl: typeURL, Name: name, VersionInfo: "v1", ClientStatus: status}
}

func TestNACKedListsOnlyNACKedResources(t *testing.T) {
	dump := &v3statuspb.ClientStatusResponse{Config: []*v3statuspb.ClientConfig{
		{GenericXdsConfigs: []*v3statuspb.ClientConfig_GenericXdsConfig{
			resource(resourcev3.ListenerType, "backend", adminv3.ClientResourceStatus_ACKED),
			resource(resourcev3.RouteType, "backend-route", adminv3.ClientResourceStatus_ACKED),
			resource(resourcev3.ClusterType, "backend", adminv3.ClientResourceStatus_NACKED),
			resource(resourcev3.EndpointType, "backend", adminv3.ClientResourceStatus_ACKED),
		}},
		// A second xDS client (another target or authority) in the same
		// process.
		{GenericXdsConfigs: []*v3statuspb.ClientConfig_GenericXdsConfig{
			resource(resourcev3.EndpointType, "other", adminv3.ClientResourceStatus_NACKED),
			resource(resourcev3.ClusterType, "other", adminv3.ClientResourceStatus_REQUESTED),
			resource(resourcev3.ListenerType, "gone", adminv3.ClientResourceStatus_DOES_NOT_EXIST),
			resource("type.googleapis.com/some.Other", "x", adminv3.ClientResourceStatus_NACKED),
		}},
	}}
	assert.Equal(t, []string{"cds/backend", "eds/other", "type.googleapis.com/some.Other/x"}, xdsmetrics.NACKed(dump))
}

func TestNACKedIsEmptyWithoutNACKs(t *testing.T) {
	acked := &v3statuspb.ClientStatusResponse{Config: []*v3statuspb.ClientConfig{
		{GenericXdsConfigs: []*v3statuspb.ClientConfig_GenericXdsConfig{
			resource(resourcev3.ListenerType, "backend", adminv3.ClientResourceStatus_ACKED),
			resource(resourcev3.RouteType, "backend-route", adminv3.ClientResourceStatus_ACKED),
			resource(resourcev3.ClusterType, "backend", adminv3.ClientResourceStatus_ACKED),
			resource(resourcev3.EndpointType, "backend", adminv3.ClientResourceStatus_REQUESTED),
		}},
	}}
	assert.Empty(t, xdsmetrics.NACKed(acked))
	assert.Empty(t, xdsmetrics.NACKed(&v3statuspb.ClientStatusResponse{}))
	// Recorder.Dump returns nil when CSDS does not answer.
	assert.Empty(t, xdsmetrics.NACKed(nil))
}
