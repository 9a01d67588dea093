package alert

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ContainerJob is the job label of the container-state exporter's series.
const ContainerJob = "okbreak-containers"

// Container-state metric names, labelled with component. Like
// kube-state-metrics they state observable facts about containers (as
// Docker reports them), never anything about faults.
const (
	MetricContainerRunning    = "okbreak_container_running"
	MetricContainerPaused     = "okbreak_container_paused"
	MetricContainerRestarting = "okbreak_container_restarting"
	MetricContainerRestarts   = "okbreak_container_restarts_total"
	MetricContainerExitCode   = "okbreak_container_last_exit_code"
	MetricContainerOOMKilled  = "okbreak_container_oom_killed"
	MetricContainerStarted    = "okbreak_container_started_timestamp_seconds"
	MetricContainerFinished   = "okbreak_container_finished_timestamp_seconds"
	MetricContainerInfo       = "okbreak_container_info"
)

// KubeStateJob is the job label of the same container state under
// kube-state-metrics's names, so that rules written for Kubernetes
// (kube-prometheus's KubePodCrashLooping and friends, which select
// job="kube-state-metrics") run unchanged.
const KubeStateJob = "kube-state-metrics"

// Container state under kube-state-metrics's names, labelled with
// namespace, pod and container.
const (
	KubeRestarts             = "kube_pod_container_status_restarts_total"
	KubeRunning              = "kube_pod_container_status_running"
	KubeWaitingReason        = "kube_pod_container_status_waiting_reason"
	KubeTerminatedReason     = "kube_pod_container_status_terminated_reason"
	KubeLastTerminatedReason = "kube_pod_container_status_last_terminated_reason"
)

// ContainerState is what the container engine says about one component's
// container.
type ContainerState struct {
	// Component is the component's name, e.g. "backend-2".
	Component string
	// Namespace, Pod and Container name the component as Kubernetes would,
	// for the kube-state-metrics names (default: "okbreak", the component,
	// the component).
	Namespace, Pod, Container string
	// Image is the image reference the container runs (info only).
	Image string
	// Running is Docker's State.Running (true while paused, as Docker has
	// it); Paused is State.Paused.
	Running bool
	Paused  bool
	// Restarting is true while the engine waits to restart the container
	// under its restart policy (Docker's State.Restarting), the equivalent
	// of Kubernetes's CrashLoopBackOff.
	Restarting bool
	// Restarts counts restarts made by the restart policy (Docker's
	// RestartCount).
	Restarts int
	// ExitCode is the exit code of the last run that ended (0 while the
	// first run lasts); 137 after SIGKILL. Docker resets it when the
	// container starts again; the harness keeps the one it saw while the
	// container was down.
	ExitCode int
	// OOMKilled is true if the last run was killed for lack of memory.
	OOMKilled bool
	// StartedAt and FinishedAt are the last start and exit (zero: never).
	StartedAt  time.Time
	FinishedAt time.Time
}

// StateSource lists the current state of the stack's containers. The
// harness implements it over the Docker API; an error fails the scrape
// (up{job="okbreak-containers"} == 0), it is never papered over.
type StateSource interface {
	ContainerStates(ctx context.Context) ([]ContainerState, error)
}

// StateSourceFunc adapts a function to StateSource.
type StateSourceFunc func(ctx context.Context) ([]ContainerState, error)

// ContainerStates calls f.
func (f StateSourceFunc) ContainerStates(ctx context.Context) ([]ContainerState, error) {
	return f(ctx)
}

// ContainerExporter renders container state as Prometheus metrics: as a
// Source for the Scraper, and as an http.Handler so that a real Prometheus
// can scrape the same metrics during a game day. It is safe for concurrent
// use if its StateSource is.
type ContainerExporter struct {
	src    StateSource
	render func([]ContainerState) ([]byte, error)
}

// NewContainerExporter returns an exporter over src, under okbreak's names.
func NewContainerExporter(src StateSource) *ContainerExporter {
	return &ContainerExporter{src: src, render: RenderContainerStates}
}

// NewKubeStateExporter returns an exporter over src, under
// kube-state-metrics's names.
func NewKubeStateExporter(src StateSource) *ContainerExporter {
	return &ContainerExporter{src: src, render: RenderKubeState}
}

// ContainerTarget is the scrape target of container state over src.
func ContainerTarget(src StateSource) Target {
	return Target{Job: ContainerJob, Instance: "okbreak", Source: NewContainerExporter(src)}
}

// KubeStateTarget is the scrape target of container state over src under
// kube-state-metrics's names and job.
func KubeStateTarget(src StateSource) Target {
	return Target{Job: KubeStateJob, Instance: "okbreak", Source: NewKubeStateExporter(src)}
}

// RenderKubeState writes states under kube-state-metrics's names: restarts,
// running, waiting (CrashLoopBackOff while the restart policy waits),
// terminated (while stopped) and last terminated reasons (OOMKilled,
// Completed for exit 0, Error otherwise).
func RenderKubeState(states []ContainerState) ([]byte, error) {
	sorted, err := sortedStates(states)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	head := func(name, typ, help string) { fmt.Fprintf(&buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ) }
	line := func(name string, s ContainerState, reason string, v float64) {
		ns, pod, ctr := s.kubeNames()
		fmt.Fprintf(&buf, "%s{namespace=%s,pod=%s,container=%s", name, quoteLabel(ns), quoteLabel(pod), quoteLabel(ctr))
		if reason != "" {
			fmt.Fprintf(&buf, ",reason=%s", quoteLabel(reason))
		}
		fmt.Fprintf(&buf, "} %s\n", strconv.FormatFloat(v, 'g', -1, 64))
	}
	head(KubeRestarts, "counter", "The number of container restarts per container.")
	for _, s := range sorted {
		line(KubeRestarts, s, "", float64(s.Restarts))
	}
	head(KubeRunning, "gauge", "Describes whether the container is currently in running state.")
	for _, s := range sorted {
		line(KubeRunning, s, "", b2f(s.Running && !s.Paused))
	}
	head(KubeWaitingReason, "gauge", "Describes the reason the container is currently in waiting state.")
	for _, s := range sorted {
		if s.Restarting {
			line(KubeWaitingReason, s, "CrashLoopBackOff", 1)
		}
	}
	head(KubeTerminatedReason, "gauge", "Describes the reason the container is currently in terminated state.")
	for _, s := range sorted {
		if !s.Running && !s.Restarting && !s.FinishedAt.IsZero() {
			line(KubeTerminatedReason, s, s.exitReason(), 1)
		}
	}
	head(KubeLastTerminatedReason, "gauge", "Describes the last reason the container was in terminated state.")
	for _, s := range sorted {
		if !s.FinishedAt.IsZero() {
			line(KubeLastTerminatedReason, s, s.exitReason(), 1)
		}
	}
	return buf.Bytes(), nil
}

func (s ContainerState) kubeNames() (namespace, pod, container string) {
	namespace, pod, container = s.Namespace, s.Pod, s.Container
	if namespace == "" {
		namespace = "okbreak"
	}
	if pod == "" {
		pod = s.Component
	}
	if container == "" {
		container = s.Component
	}
	return namespace, pod, container
}

// exitReason is kube-state-metrics's reason for the last exit.
func (s ContainerState) exitReason() string {
	switch {
	case s.OOMKilled:
		return "OOMKilled"
	case s.ExitCode == 0:
		return "Completed"
	}
	return "Error"
}

func sortedStates(states []ContainerState) ([]ContainerState, error) {
	sorted := append([]ContainerState(nil), states...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Component < sorted[j].Component })
	for i, s := range sorted {
		if s.Component == "" {
			return nil, fmt.Errorf("container state %d: no component name", i)
		}
		if i > 0 && sorted[i-1].Component == s.Component {
			return nil, fmt.Errorf("container state: component %s listed twice", s.Component)
		}
	}
	return sorted, nil
}

const textContentType = "text/plain; version=0.0.4; charset=utf-8"

// Scrape implements Source.
func (e *ContainerExporter) Scrape(ctx context.Context) ([]byte, string, error) {
	states, err := e.src.ContainerStates(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("container states: %w", err)
	}
	b, err := e.render(states)
	if err != nil {
		return nil, "", err
	}
	return b, textContentType, nil
}

// ServeHTTP serves the metrics; 503 when the state cannot be read.
func (e *ContainerExporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ct, err := e.Scrape(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(b)
}

// RenderContainerStates writes states in the Prometheus text format, sorted
// by component. Components must be named and distinct.
func RenderContainerStates(states []ContainerState) ([]byte, error) {
	sorted, err := sortedStates(states)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	family := func(name, typ, help string, val func(ContainerState) (float64, bool)) {
		fmt.Fprintf(&buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range sorted {
			if v, ok := val(s); ok {
				fmt.Fprintf(&buf, "%s{component=%s} %s\n", name, quoteLabel(s.Component), strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
	}
	always := func(f func(ContainerState) float64) func(ContainerState) (float64, bool) {
		return func(s ContainerState) (float64, bool) { return f(s), true }
	}
	stamp := func(f func(ContainerState) time.Time) func(ContainerState) (float64, bool) {
		return func(s ContainerState) (float64, bool) {
			t := f(s)
			if t.IsZero() {
				return 0, false
			}
			return float64(t.UnixMilli()) / 1000, true
		}
	}
	family(MetricContainerRunning, "gauge", "1 if the container is running (paused included, as Docker reports it).", always(func(s ContainerState) float64 { return b2f(s.Running) }))
	family(MetricContainerPaused, "gauge", "1 if the container is paused.", always(func(s ContainerState) float64 { return b2f(s.Paused) }))
	family(MetricContainerRestarting, "gauge", "1 while the engine waits to restart the container under its restart policy.", always(func(s ContainerState) float64 { return b2f(s.Restarting) }))
	family(MetricContainerRestarts, "counter", "Restarts made by the container's restart policy.", always(func(s ContainerState) float64 { return float64(s.Restarts) }))
	family(MetricContainerExitCode, "gauge", "Exit code of the container's last run.", always(func(s ContainerState) float64 { return float64(s.ExitCode) }))
	family(MetricContainerOOMKilled, "gauge", "1 if the container's last run was killed for lack of memory.", always(func(s ContainerState) float64 { return b2f(s.OOMKilled) }))
	family(MetricContainerStarted, "gauge", "Unix time of the container's last start.", stamp(func(s ContainerState) time.Time { return s.StartedAt }))
	family(MetricContainerFinished, "gauge", "Unix time of the container's last exit.", stamp(func(s ContainerState) time.Time { return s.FinishedAt }))
	fmt.Fprintf(&buf, "# HELP %s Image of each container.\n# TYPE %s gauge\n", MetricContainerInfo, MetricContainerInfo)
	for _, s := range sorted {
		fmt.Fprintf(&buf, "%s{component=%s,image=%s} 1\n", MetricContainerInfo, quoteLabel(s.Component), quoteLabel(s.Image))
	}
	return buf.Bytes(), nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// quoteLabel quotes a label value as the text format wants: backslash,
// double quote and newline escaped.
func quoteLabel(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}
