package controlplane

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/okbreak/okbreak/internal/controlplane/translate"
)

// DataPlane is the kind of xDS client a node is, which decides the
// resources it gets.
type DataPlane string

// The data planes the control plane serves.
const (
	DataPlaneEnvoy DataPlane = "envoy"
	DataPlaneGRPC  DataPlane = "grpc"
)

// NodeMetadataKey is the node metadata key that names a node's data plane
// explicitly ("envoy" or "grpc"); without it the node ID's prefix decides.
const NodeMetadataKey = "okbreak.data_plane"

// Classify tells which data plane an xDS node is: the metadata key
// NodeMetadataKey if present, else a node ID starting with "envoy" or
// "grpc".
func Classify(node *corev3.Node) (DataPlane, error) {
	if node == nil || node.GetId() == "" {
		return "", fmt.Errorf("the request carries no node ID")
	}
	if v, ok := node.GetMetadata().GetFields()[NodeMetadataKey]; ok {
		switch dp := DataPlane(v.GetStringValue()); dp {
		case DataPlaneEnvoy, DataPlaneGRPC:
			return dp, nil
		default:
			return "", fmt.Errorf("node %q: metadata %s = %v: want %q or %q",
				node.GetId(), NodeMetadataKey, v.AsInterface(), DataPlaneEnvoy, DataPlaneGRPC)
		}
	}
	switch {
	case strings.HasPrefix(node.GetId(), string(DataPlaneEnvoy)):
		return DataPlaneEnvoy, nil
	case strings.HasPrefix(node.GetId(), string(DataPlaneGRPC)):
		return DataPlaneGRPC, nil
	}
	return "", fmt.Errorf("node %q: the ID starts with neither %q nor %q, and metadata %s is not set",
		node.GetId(), DataPlaneEnvoy, DataPlaneGRPC, NodeMetadataKey)
}

// node is one xDS client, known from its stream requests. Guarded by
// Server.mu.
type node struct {
	id   string
	kind DataPlane
	// listeners are the listener names a gRPC node's snapshot was last built
	// for (nil: every route).
	listeners []string
	// versions are the versions last set for the node, by type.
	versions map[resource.Type]string
}

// sentResponse is the last response of one type sent on a stream; a NACK
// names it by nonce.
type sentResponse struct {
	nonce, version string
}

// streamState is what the control plane knows about one ADS stream.
// Guarded by Server.smu.
type streamState struct {
	nodeID string
	// listeners are the listener names the stream subscribes to (gRPC).
	listeners []string
	sent      map[string]sentResponse
}

// callbacks hooks the control plane into go-control-plane's stream
// handling. They run synchronously on the stream's goroutine, before the
// cache answers the request.
func (s *Server) callbacks() serverv3.Callbacks {
	return serverv3.CallbackFuncs{
		StreamOpenFunc: func(_ context.Context, id int64, _ string) error {
			s.m.connectedStreams.Inc()
			s.smu.Lock()
			s.streams[id] = &streamState{sent: map[string]sentResponse{}}
			s.smu.Unlock()
			return nil
		},
		StreamClosedFunc: func(id int64, n *corev3.Node) {
			s.m.connectedStreams.Dec()
			s.smu.Lock()
			delete(s.streams, id)
			s.smu.Unlock()
			s.log.Info("xDS stream closed", "stream", id, "node", n.GetId())
		},
		StreamRequestFunc:  s.onStreamRequest,
		StreamResponseFunc: s.onStreamResponse,
		DeltaStreamOpenFunc: func(context.Context, int64, string) error {
			return status.Error(codes.Unimplemented, "incremental (delta) xDS is not served: use state-of-the-world ADS")
		},
	}
}

// onStreamRequest learns nodes and their subscriptions, counts NACKs, and
// makes sure a node has its snapshot before the cache looks for it.
func (s *Server) onStreamRequest(id int64, req *discoveryv3.DiscoveryRequest) error {
	kind, err := Classify(req.GetNode())
	if err != nil {
		s.log.Warn("refusing xDS stream", "stream", id, "err", err)
		return status.Error(codes.InvalidArgument, err.Error())
	}
	nodeID := req.GetNode().GetId()

	s.mu.Lock()
	defer s.mu.Unlock()

	s.smu.Lock()
	st := s.streams[id]
	if st == nil { // not opened through the callbacks; keep going without state
		st = &streamState{sent: map[string]sentResponse{}}
		s.streams[id] = st
	}
	if st.nodeID == "" {
		st.nodeID = nodeID
		s.log.Info("xDS stream opened", "stream", id, "node", nodeID, "data_plane", kind,
			"user_agent", req.GetNode().GetUserAgentName())
	}
	if req.GetErrorDetail() != nil {
		s.onNACK(id, st, req)
	}
	if kind == DataPlaneGRPC && req.GetTypeUrl() == resource.ListenerType {
		names := slices.Clone(req.GetResourceNames())
		sort.Strings(names)
		st.listeners = names
	}
	s.smu.Unlock()

	n, known := s.nodes[nodeID]
	if !known {
		n = &node{id: nodeID, kind: kind}
		s.nodes[nodeID] = n
	}
	if s.reg == nil {
		return nil // nothing is served before the first registry read
	}
	if !known || (kind == DataPlaneGRPC && !slices.Equal(n.listeners, s.listenersOf(nodeID))) {
		s.publishLocked(n)
	}
	return nil
}

// onNACK counts and logs a rejected response. So that the cache does not
// resend the very config that was just rejected (and the client reject it
// again, in a tight loop), the request is made to look as if it carried the
// rejected version: the cache then answers only once the snapshot changes.
// Called with s.smu held.
func (s *Server) onNACK(id int64, st *streamState, req *discoveryv3.DiscoveryRequest) {
	typ := translate.ShortType(req.GetTypeUrl())
	s.m.nacks.WithLabelValues(st.nodeID, typ).Inc()
	rejected := st.sent[req.GetTypeUrl()]
	s.log.Warn("xDS response rejected (NACK)", "node", st.nodeID, "stream", id, "type", typ,
		"rejected_version", rejected.version, "kept_version", req.GetVersionInfo(),
		"nonce", req.GetResponseNonce(), "error", req.GetErrorDetail().GetMessage())
	if rejected.nonce != "" && rejected.nonce == req.GetResponseNonce() {
		req.VersionInfo = rejected.version
	}
}

// onStreamResponse remembers what was sent, so that a NACK can be matched to
// the version it rejects.
func (s *Server) onStreamResponse(_ context.Context, id int64, _ *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if st := s.streams[id]; st != nil {
		st.sent[resp.GetTypeUrl()] = sentResponse{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}
	}
}

// listenersOf is the union of the listener names the node's open streams
// subscribe to, sorted; nil if none has asked yet.
func (s *Server) listenersOf(nodeID string) []string {
	s.smu.Lock()
	defer s.smu.Unlock()
	var out []string
	for _, st := range s.streams {
		if st.nodeID == nodeID {
			out = append(out, st.listeners...)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// publishAllLocked rebuilds the snapshot of every known node (of one kind,
// if kinds is not empty). Called with s.mu held.
func (s *Server) publishAllLocked(kinds ...DataPlane) {
	ids := slices.Sorted(maps.Keys(s.nodes))
	for _, id := range ids {
		n := s.nodes[id]
		if len(kinds) == 0 || slices.Contains(kinds, n.kind) {
			s.publishLocked(n)
		}
	}
}

// publishLocked translates the registry for one node and sets its snapshot
// if the content changed. A registry that cannot be translated leaves the
// node's previous snapshot in place. While the test switch EtcdLossClear
// serves empty snapshots, the node gets one. Called with s.mu held and s.reg
// set.
func (s *Server) publishLocked(n *node) {
	var (
		res       translate.Resources
		err       error
		listeners []string
	)
	if n.kind == DataPlaneGRPC {
		listeners = s.listenersOf(n.id)
	}
	switch {
	case s.servingEmpty:
		res = emptyResources()
	case n.kind == DataPlaneEnvoy:
		res, err = translate.Envoy(*s.reg, translate.EnvoyOptions{
			UpstreamProtocol: s.cfg.EnvoyUpstreamProtocol,
			Addresses:        s.resolver.addresses(),
		})
	case n.kind == DataPlaneGRPC:
		res, err = translate.GRPC(*s.reg, listeners)
	}
	if err == nil {
		err = translate.Check(res)
	}
	var versions map[resource.Type]string
	if err == nil {
		versions, err = res.Versions()
	}
	if err != nil {
		s.m.registryErrors.Inc()
		s.log.Error("cannot build a snapshot; the node keeps its previous one", "node", n.id, "err", err)
		return
	}
	n.listeners = listeners
	if maps.Equal(versions, n.versions) {
		return
	}
	snap := &cachev3.Snapshot{}
	for typ, items := range res {
		snap.Resources[cachev3.GetResponseType(typ)] = cachev3.NewResources(versions[typ], items)
	}
	if err := s.cache.SetSnapshot(s.xdsCtx, n.id, snap); err != nil {
		s.log.Error("cannot set snapshot", "node", n.id, "err", err)
		return
	}
	attrs := []any{"node", n.id, "data_plane", n.kind}
	for _, typ := range translate.Types {
		short := translate.ShortType(typ)
		if old, ok := n.versions[typ]; ok && old != versions[typ] {
			s.m.snapshotInfo.DeleteLabelValues(n.id, short, old)
		}
		s.m.snapshotInfo.WithLabelValues(n.id, short, versions[typ]).Set(1)
		attrs = append(attrs, short, fmt.Sprintf("%s%v", versions[typ], res.Names(typ)))
	}
	n.versions = versions
	s.m.snapshotUpdates.WithLabelValues(n.id).Inc()
	s.log.Info("snapshot set", attrs...)
}
