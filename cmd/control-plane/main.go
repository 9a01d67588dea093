// Command control-plane is the sample xDS control plane of the okbreak
// system under test: a go-control-plane ADS server that reads the service
// registry from etcd and serves it to Envoy and gRPC proxyless data planes.
//
// Every flag can also be set from the environment as OKBREAK_<FLAG> (upper
// snake case: --etcd-check-interval is OKBREAK_ETCD_CHECK_INTERVAL); a flag
// given on the command line wins. Bad settings exit with status 2.
//
// --on-etcd-loss=clear (OKBREAK_ON_ETCD_LOSS) is a test switch: a control
// plane without a cache, which serves an empty config while etcd is
// unreachable, for okbreak's regression tests. The default, keep, serves the
// last snapshot.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/okbreak/okbreak/internal/controlplane"
	"github.com/okbreak/okbreak/internal/controlplane/translate"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "seed" {
		os.Exit(seed(os.Args[2:], os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is main with its inputs made explicit; it returns the exit status.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, logLevel, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "control-plane: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	srv, err := controlplane.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "control-plane: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		cfg.Logger.Error("control plane failed", "err", err)
		return 1
	}
	cfg.Logger.Info("control plane stopped")
	return 0
}

// envName is the environment variable that sets a flag.
func envName(flagName string) string {
	return "OKBREAK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig reads flags, then the OKBREAK_* environment for every flag
// not given, and checks the result.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (controlplane.Config, slog.Level, error) {
	def := controlplane.DefaultConfig()
	fs := flag.NewFlagSet("control-plane", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", def.ListenAddr, "gRPC ADS listen address")
	admin := fs.String("admin", def.AdminAddr, "HTTP admin listen address (/healthz, /metrics)")
	etcd := fs.String("etcd", strings.Join(def.EtcdEndpoints, ","), "comma-separated etcd endpoints")
	checkEvery := fs.Duration("etcd-check-interval", def.EtcdCheckInterval, "how often to check that etcd is reachable")
	dialTimeout := fs.Duration("etcd-dial-timeout", def.EtcdDialTimeout, "bound on connecting to etcd and on each etcd request")
	resolveEvery := fs.Duration("resolve-interval", def.ResolveInterval, "how often to resolve endpoint host names again for Envoy")
	upstream := fs.String("envoy-upstream-protocol", string(def.EnvoyUpstreamProtocol), "protocol Envoy speaks to backends: http1 or h2")
	onEtcdLoss := fs.String("on-etcd-loss", string(def.OnEtcdLoss),
		"what to serve while etcd is unreachable: keep (the last snapshot) or clear (TEST SWITCH: an empty config; a control plane without a cache, for regression tests)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: control-plane [flags]\n\nEvery flag can also be set as OKBREAK_<FLAG>, e.g. %s; flags win.\n\n",
			envName("etcd-check-interval"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return controlplane.Config{}, 0, err
	}
	if fs.NArg() > 0 {
		return controlplane.Config{}, 0, fmt.Errorf("unexpected arguments %q: every setting is a flag", fs.Args())
	}

	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return controlplane.Config{}, 0, err
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return controlplane.Config{}, 0, fmt.Errorf("log level %q: want debug, info, warn or error", *level)
	}
	var endpoints []string
	for _, e := range strings.Split(*etcd, ",") {
		if e = strings.TrimSpace(e); e != "" {
			endpoints = append(endpoints, e)
		}
	}
	cfg := controlplane.Config{
		ListenAddr:            *listen,
		AdminAddr:             *admin,
		EtcdEndpoints:         endpoints,
		EtcdCheckInterval:     *checkEvery,
		EtcdDialTimeout:       *dialTimeout,
		ResolveInterval:       *resolveEvery,
		EnvoyUpstreamProtocol: translate.UpstreamProtocol(*upstream),
		OnEtcdLoss:            controlplane.EtcdLossPolicy(*onEtcdLoss),
	}
	if err := cfg.Validate(); err != nil {
		return controlplane.Config{}, 0, err
	}
	return cfg, lvl, nil
}
