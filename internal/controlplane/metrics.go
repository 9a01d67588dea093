package controlplane

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// MetricsNamespace prefixes every metric of the control plane.
const MetricsNamespace = "okbreak_controlplane"

// metrics are the control plane's own Prometheus metrics, in a registry of
// their own (plus the Go and process collectors). Prometheus types are safe
// for concurrent use.
type metrics struct {
	reg *prometheus.Registry

	up                  prometheus.Gauge
	connectedStreams    prometheus.Gauge
	snapshotInfo        *prometheus.GaugeVec
	snapshotUpdates     *prometheus.CounterVec
	nacks               *prometheus.CounterVec
	etcdLastSync        prometheus.Gauge
	etcdReachable       prometheus.Gauge
	synced              prometheus.Gauge
	registryErrors      prometheus.Counter
	registryInvalidKeys prometheus.Gauge
	servingEmpty        prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: MetricsNamespace, Name: name, Help: help})
	}
	m.up = gauge("up", "1 while the control plane process runs.")
	m.connectedStreams = gauge("connected_streams", "xDS streams currently open.")
	m.snapshotInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: MetricsNamespace, Name: "snapshot_info",
		Help: "1 for the version of each resource type currently set for each node.",
	}, []string{"node", "type", "version"})
	m.snapshotUpdates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: MetricsNamespace, Name: "snapshot_updates_total",
		Help: "Snapshots set for a node whose content changed.",
	}, []string{"node"})
	m.nacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: MetricsNamespace, Name: "nacks_total",
		Help: "xDS responses a node rejected (requests carrying error_detail), by resource type.",
	}, []string{"node", "type"})
	m.etcdLastSync = gauge("etcd_last_sync_timestamp_seconds",
		"Unix time at which the control plane last knew its registry view matched etcd (read, watch event or check with a live watch).")
	m.etcdReachable = gauge("etcd_reachable", "1 if the last etcd reachability check succeeded, else 0.")
	m.synced = gauge("synced", "1 once the registry has been read from etcd at least once (before that nothing is served).")
	m.registryErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: MetricsNamespace, Name: "registry_errors_total",
		Help: "Registry documents that could not be read (each bad key value counted once), plus registries that could not be translated.",
	})
	m.registryInvalidKeys = gauge("registry_invalid_keys", "Registry keys currently skipped because they cannot be read.")
	m.servingEmpty = gauge("serving_empty",
		"1 while the test switch on-etcd-loss=clear serves an empty config because etcd was found unreachable, else 0.")

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.up, m.connectedStreams, m.snapshotInfo, m.snapshotUpdates, m.nacks,
		m.etcdLastSync, m.etcdReachable, m.synced, m.registryErrors, m.registryInvalidKeys,
		m.servingEmpty,
	)
	m.up.Set(1)
	return m
}
