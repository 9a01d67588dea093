// Command container-exporter publishes the state of Docker containers as
// the metrics okbreak's embedded rule engine synthesises for its own
// stacks (package alert's ContainerTarget and KubeStateTarget), so that a
// real Prometheus evaluates the default rules that use them (InstanceMissing,
// CrashLooping, the etcd rules) against a running environment:
//
//	/metrics             okbreak_container_* by component (scrape as job "okbreak-containers")
//	/metrics/kube-state  kube_pod_container_status_* (scrape as job "kube-state-metrics")
//	/-/healthy           200 while the process serves
//
// It reads the Docker API over a unix socket and only ever sends GET
// requests: mount the socket read-only (which keeps the file from being
// replaced, not the API from being written to: the exporter's own refusal
// of anything but GET is what makes it read-only).
//
// A container's component is the first of --component-label that it
// carries, else its name. Bad settings exit with status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

// config is the command line, checked.
type config struct {
	listen          string
	socket          string
	filters         map[string][]string
	componentLabels []string
	namespace       string
}

// run is main with its inputs made explicit; it returns the exit status.
// ready, if not nil, receives the listening address once it serves.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "container-exporter: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	src := newStates(newEngine(cfg.socket, cfg.filters), cfg.componentLabels, cfg.namespace)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", alert.NewContainerExporter(src))
	mux.Handle("GET /metrics/kube-state", alert.NewKubeStateExporter(src))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })

	l, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		fmt.Fprintf(stderr, "container-exporter: listen on %s: %v\n", cfg.listen, err)
		return 2
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	log.Info("serving container state", "listen", l.Addr().String(), "docker_socket", cfg.socket, "filters", cfg.filters)
	if ready != nil {
		ready <- l.Addr().String()
	}
	select {
	case err := <-served:
		log.Error("server failed", "err", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// filterFlag collects repeated --filter key=value flags as the Docker API's
// list filters.
type filterFlag map[string][]string

func (f filterFlag) String() string { return fmt.Sprint(map[string][]string(f)) }

func (f filterFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return fmt.Errorf("filter %q: want key=value as `docker ps --filter` takes it, e.g. label=com.docker.compose.project=shop", v)
	}
	f[k] = append(f[k], val)
	return nil
}

func parseConfig(args []string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("container-exporter", flag.ContinueOnError)
	fs.SetOutput(out)
	filters := filterFlag{}
	listen := fs.String("listen", ":9417", "HTTP listen address")
	socket := fs.String("docker-socket", "/var/run/docker.sock", "the Docker API's unix socket (mount it read-only)")
	fs.Var(filters, "filter", "`key=value` selecting containers, as docker ps --filter (repeatable; default: every container)")
	labels := fs.String("component-label", "okbreak.component,com.docker.compose.service",
		"comma-separated container labels naming the component, first present wins; else the container's name")
	namespace := fs.String("namespace", "okbreak", "the namespace label of the kube-state-metrics names")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: container-exporter [flags]\n\nServes Docker container state as okbreak's container metrics.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q: every setting is a flag", fs.Args())
	}
	cfg := config{listen: *listen, socket: *socket, filters: filters, namespace: *namespace}
	for _, l := range strings.Split(*labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			cfg.componentLabels = append(cfg.componentLabels, l)
		}
	}
	if cfg.socket == "" {
		return config{}, errors.New("--docker-socket is empty: give the Docker API's unix socket")
	}
	return cfg, nil
}
