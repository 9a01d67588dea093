// Package xdsmetrics turns what gRPC-Go's xDS client knows into Prometheus
// metrics for the frontend: updates received per resource type and whether
// they were valid (ACK) or invalid (NACK), the ADS stream's health, resource
// cache states, and the config version in use per resource type.
//
// Sources, checked against grpc v1.85.0:
//   - The xDS client records grpc.xds_client.resource_updates_valid/_invalid
//     and grpc.xds_client.server_failure on the MetricsRecorder of the channel
//     that created it. A channel's recorders are its stats handlers that also
//     implement experimental/stats.MetricsRecorder (internal/stats
//     NewMetricsRecorderList over dial options' stats handlers), so a Recorder
//     must be passed with grpc.WithStatsHandler. xDS clients are shared per
//     target in a process: the recorder of the first channel to a target is
//     the one that counts.
//   - grpc.xds_client.connected and grpc.xds_client.resources are async
//     gauges: the client registers a reporter, which the Recorder calls at
//     each scrape.
//   - Versions come from CSDS (xds/csds), called in-process at each scrape;
//     no port is needed.
//
// Connected also serves the frontend's --require-xds-connected test switch,
// which reads the same gauge outside scrapes. How gRPC v1.85.0 sets it
// (internal/xds/clients/xdsclient/ads_stream.go, streamEstablished): 1 from
// the moment the very first ADS stream is created; a stream that breaks after
// it received a response leaves it at 1 (gRFC A9: servers may close streams)
// and the client opens a new stream at once; that new stream failing to open
// (the channel to the server is in TRANSIENT_FAILURE: refused, or accepted
// then closed) or failing before its first response sets it to 0 and counts
// a grpc.xds_client.server_failure; the first response on a later stream sets
// it back to 1. Reconnects follow gRPC's backoff (1 s, x1.6, up to 120 s). A
// stream that hangs instead of breaking (paused server, blackholed link)
// stays "connected" until HTTP/2 keepalive (5 min + 20 s) gives up on it.
package xdsmetrics

import (
	"context"
	"strings"
	"sync"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	v3statuspb "github.com/envoyproxy/go-control-plane/envoy/service/status/v3"
	"github.com/prometheus/client_golang/prometheus"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/xds/csds"
)

// Metric names.
const (
	UpdatesName        = "okbreak_frontend_xds_resource_updates_total"
	ServerFailuresName = "okbreak_frontend_xds_server_failures_total"
	ConnectedName      = "okbreak_frontend_xds_connected"
	ResourcesName      = "okbreak_frontend_xds_resources"
	ConfigInfoName     = "okbreak_frontend_xds_config_info"
)

// Resource type label values, as Envoy names its xDS subscriptions.
var resourceTypes = []string{"lds", "rds", "cds", "eds"}

// TypeLabel maps gRPC's resource type names ("ListenerResource") and xDS
// type URLs (".../envoy.config.listener.v3.Listener") to lds, rds, cds, eds.
// Anything else is returned unchanged.
func TypeLabel(t string) string {
	switch {
	case t == "ListenerResource" || strings.HasSuffix(t, "envoy.config.listener.v3.Listener"):
		return "lds"
	case t == "RouteConfigResource" || strings.HasSuffix(t, "envoy.config.route.v3.RouteConfiguration"):
		return "rds"
	case t == "ClusterResource" || strings.HasSuffix(t, "envoy.config.cluster.v3.Cluster"):
		return "cds"
	case t == "EndpointsResource" || strings.HasSuffix(t, "envoy.config.endpoint.v3.ClusterLoadAssignment"):
		return "eds"
	}
	return t
}

// Recorder is a grpc stats.Handler and experimental MetricsRecorder that
// keeps the xDS client's metrics, and a prometheus.Collector that exports
// them. It is safe for concurrent use.
type Recorder struct {
	estats.UnimplementedMetricsRecorder

	updates        *prometheus.CounterVec
	serverFailures prometheus.Counter
	connectedDesc  *prometheus.Desc
	resourcesDesc  *prometheus.Desc
	configDesc     *prometheus.Desc
	csds           *csds.ClientStatusDiscoveryServer

	// failed gets a token (coalesced) at each server failure; see
	// ServerFailed.
	failed chan struct{}

	mu        sync.Mutex
	reporters map[int]estats.AsyncMetricReporter
	next      int
}

// New returns a Recorder. Counters start at zero for every resource type, so
// that rate() and increase() see the first NACK.
func New() (*Recorder, error) {
	c, err := csds.NewClientStatusDiscoveryServer()
	if err != nil {
		return nil, err
	}
	r := &Recorder{
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: UpdatesName,
			Help: "xDS resources received, by type (lds, rds, cds, eds) and result: valid (ACKed) or invalid (NACKed). Counted per resource, unchanged ones included.",
		}, []string{"type", "result"}),
		serverFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: ServerFailuresName,
			Help: "Times the xDS server went from healthy to unhealthy (connection failure, or ADS stream failed without a response).",
		}),
		connectedDesc: prometheus.NewDesc(ConnectedName,
			"1 if the xDS client has a working ADS stream to the server, 0 otherwise.", []string{"server"}, nil),
		resourcesDesc: prometheus.NewDesc(ResourcesName,
			"xDS resources in the client's cache, by type and cache state (requested, does_not_exist, acked, nacked, nacked_but_cached).",
			[]string{"type", "cache_state"}, nil),
		configDesc: prometheus.NewDesc(ConfigInfoName,
			"Config version in use per resource type (from CSDS): one series per type and version, value 1.",
			[]string{"type", "version"}, nil),
		csds:      c,
		failed:    make(chan struct{}, 1),
		reporters: map[int]estats.AsyncMetricReporter{},
	}
	for _, t := range resourceTypes {
		r.updates.WithLabelValues(t, "valid")
		r.updates.WithLabelValues(t, "invalid")
	}
	return r, nil
}

// TagRPC implements stats.Handler; it records nothing per RPC.
func (r *Recorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

// HandleRPC implements stats.Handler; it records nothing per RPC.
func (r *Recorder) HandleRPC(context.Context, stats.RPCStats) {}

// TagConn implements stats.Handler; it records nothing per connection.
func (r *Recorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

// HandleConn implements stats.Handler; it records nothing per connection.
func (r *Recorder) HandleConn(context.Context, stats.ConnStats) {}

// labelValue returns the value of label name among the descriptor's labels.
func labelValue(d *estats.MetricDescriptor, name string, values []string) string {
	for i, l := range d.Labels {
		if l == name && i < len(values) {
			return values[i]
		}
	}
	return ""
}

// RecordInt64Count keeps the xDS client's counters and ignores the others.
func (r *Recorder) RecordInt64Count(h *estats.Int64CountHandle, incr int64, labels ...string) {
	d := h.Descriptor()
	switch d.Name {
	case "grpc.xds_client.resource_updates_valid":
		r.updates.WithLabelValues(TypeLabel(labelValue(d, "grpc.xds.resource_type", labels)), "valid").Add(float64(incr))
	case "grpc.xds_client.resource_updates_invalid":
		r.updates.WithLabelValues(TypeLabel(labelValue(d, "grpc.xds.resource_type", labels)), "invalid").Add(float64(incr))
	case "grpc.xds_client.server_failure":
		r.serverFailures.Add(float64(incr))
		// Never block the xDS client: one pending token says it all.
		select {
		case r.failed <- struct{}{}:
		default:
		}
	}
}

// ServerFailed returns a channel that receives whenever the xDS client counts
// a server failure; tokens are coalesced, and the xDS client never waits for
// a reader. gRPC sets grpc.xds_client.connected to 0 just before it counts a
// failure, so a watcher can re-read Connected at once instead of at its next
// poll. Meant for one reader: with several, each token wakes only one.
func (r *Recorder) ServerFailed() <-chan struct{} { return r.failed }

// Connected reports whether the xDS client that reports to r has a working
// ADS stream to at least one of its servers, as gRPC's
// grpc.xds_client.connected gauge has it at this moment (see the package doc
// for when gRPC flips it). known is false while no xDS client reports to r:
// before the channel has built its xDS client, or when another channel in
// the process created the shared client for the same target.
//
// It asks the xDS client's reporters, which wait on the xDS client's
// serializer: call it from a watcher, not on every request.
func (r *Recorder) Connected() (connected, known bool) {
	g := r.report()
	for _, v := range g.connected {
		known = true
		if v > 0 {
			connected = true
		}
	}
	return connected, known
}

// RegisterAsyncReporter keeps reporter until the returned function is called;
// it is asked for values at every scrape.
func (r *Recorder) RegisterAsyncReporter(reporter estats.AsyncMetricReporter, _ ...estats.AsyncMetric) func() {
	r.mu.Lock()
	id := r.next
	r.next++
	r.reporters[id] = reporter
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.reporters, id)
			r.mu.Unlock()
		})
	}
}

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	r.updates.Describe(ch)
	r.serverFailures.Describe(ch)
	ch <- r.connectedDesc
	ch <- r.resourcesDesc
	ch <- r.configDesc
}

// gauges collects one scrape's async gauge values.
type gauges struct {
	connected map[string]int64
	resources map[[2]string]int64
}

// RecordInt64AsyncGauge implements estats.AsyncMetricsRecorder.
func (g *gauges) RecordInt64AsyncGauge(h *estats.Int64AsyncGaugeHandle, v int64, labels ...string) {
	d := h.Descriptor()
	switch d.Name {
	case "grpc.xds_client.connected":
		g.connected[labelValue(d, "grpc.xds.server", labels)] += v
	case "grpc.xds_client.resources":
		k := [2]string{TypeLabel(labelValue(d, "grpc.xds.resource_type", labels)), labelValue(d, "grpc.xds.cache_state", labels)}
		g.resources[k] += v
	}
}

// report asks every registered reporter for its async gauges.
func (r *Recorder) report() *gauges {
	r.mu.Lock()
	reporters := make([]estats.AsyncMetricReporter, 0, len(r.reporters))
	for _, rep := range r.reporters {
		reporters = append(reporters, rep)
	}
	r.mu.Unlock()
	g := &gauges{connected: map[string]int64{}, resources: map[[2]string]int64{}}
	for _, rep := range reporters {
		_ = rep.Report(g)
	}
	return g
}

// Collect implements prometheus.Collector.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.updates.Collect(ch)
	r.serverFailures.Collect(ch)

	g := r.report()
	for server, v := range g.connected {
		ch <- prometheus.MustNewConstMetric(r.connectedDesc, prometheus.GaugeValue, float64(v), server)
	}
	for k, v := range g.resources {
		ch <- prometheus.MustNewConstMetric(r.resourcesDesc, prometheus.GaugeValue, float64(v), k[0], k[1])
	}

	for k := range r.Versions() {
		ch <- prometheus.MustNewConstMetric(r.configDesc, prometheus.GaugeValue, 1, k[0], k[1])
	}
}

// Dump returns the CSDS view of every xDS client in the process (nil when
// there is none yet).
func (r *Recorder) Dump() *v3statuspb.ClientStatusResponse {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := r.csds.FetchClientStatus(ctx, &v3statuspb.ClientStatusRequest{})
	if err != nil {
		return nil
	}
	return resp
}

// Versions returns the set of (type, version) pairs of the resources the
// xDS clients hold, as CSDS reports them: a NACKed resource keeps the
// version of its last accepted update.
func (r *Recorder) Versions() map[[2]string]bool {
	out := map[[2]string]bool{}
	for _, cfg := range r.Dump().GetConfig() {
		for _, x := range cfg.GetGenericXdsConfigs() {
			if v := x.GetVersionInfo(); v != "" {
				out[[2]string{TypeLabel(x.GetTypeUrl()), v}] = true
			}
		}
	}
	return out
}

// NACKed lists the resources ("type/name") a CSDS dump shows as NACKed: the
// xDS client rejected their latest update. gRPC keeps serving a NACKed
// resource's last accepted version; only a test switch acts on this list.
func NACKed(dump *v3statuspb.ClientStatusResponse) []string {
	var out []string
	for _, cfg := range dump.GetConfig() {
		for _, x := range cfg.GetGenericXdsConfigs() {
			if x.GetClientStatus() == adminv3.ClientResourceStatus_NACKED {
				out = append(out, TypeLabel(x.GetTypeUrl())+"/"+x.GetName())
			}
		}
	}
	return out
}
