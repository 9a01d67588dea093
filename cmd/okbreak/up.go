package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
)

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "okbreak: "+format+"\n", args...)
}

// checkDocker fails with the "environment missing" exit code when no Docker
// engine answers.
func checkDocker(ctx context.Context) error {
	if err := image.Ping(ctx); err != nil {
		return noEnv(fmt.Errorf("no Docker engine answers: %w\n  start one (e.g. `dockerd &` or `systemctl start docker`) and try again", err))
	}
	return nil
}

// chooseDataPlane turns envoy|grpc|auto into a data plane, saying which one
// runs and why.
func chooseDataPlane(ctx context.Context, s string) (stack.DataPlane, error) {
	if s == "auto" {
		r, err := image.NewResolver(ctx, image.WithLogger(logf))
		if err != nil {
			return "", err
		}
		defer r.Close()
		ok, err := r.Available(ctx, image.Envoy)
		if err != nil {
			return "", err
		}
		if !ok {
			logf("data plane: grpc (auto: no Envoy image can be had; set OKBREAK_ENVOY_IMAGE to use one)")
			return stack.GRPC, nil
		}
		logf("data plane: envoy (auto: the Envoy image is available)")
		return stack.Envoy, nil
	}
	dp, err := stack.ParseDataPlane(s)
	if err != nil {
		return "", badInput("--data-plane: %w", err)
	}
	logf("data plane: %s", dp)
	return dp, nil
}

// sweepDead removes what killed runs left behind and says so.
func sweepDead(ctx context.Context) {
	swept, err := stack.Sweep(ctx)
	if err != nil {
		logf("warning: sweeping dead runs: %v", err)
	}
	if len(swept.Containers)+len(swept.Networks) > 0 {
		logf("swept dead runs %v: %d containers, %d networks", swept.Runs, len(swept.Containers), len(swept.Networks))
	}
}

func newUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use: "up",
		Example: `  okbreak up                      # the default stack; Ctrl-C tears it down
  okbreak up --data-plane grpc
  okbreak up --stack fixtures/stacks/shop/stack.yaml   # your own system
  okbreak up --detach             # a game day: the stack stays up without a terminal
  okbreak up --detach --time-scale 60 --halt-success 0.5 --halt-for 30s --halt-alert EdgeDown`,
		Short: "Bring a stack up and keep it: probe it, evaluate its alerts, keep fault deadlines",
		Long: `up brings the default system under test up on a private Docker network:
etcd, Toxiproxy, the control plane, backend-1..3, other-1 and the data plane
(edge), every hop through Toxiproxy. It prints its run ID, every endpoint
and link, then keeps the stack: a background probe sends users' traffic,
the alert rules are evaluated on the components' metrics (at --time-scale),
and every fault injected with ` + "`okbreak inject`" + ` ends at its deadline even when
the inject command or its terminal is gone (README: Game day).
Ctrl-C (or SIGTERM, or ` + "`okbreak down`" + `) tears everything down.

--detach starts the keeper in the background and returns once the stack
serves; the stack is marked long-lived, so no other command's sweep of dead
runs removes it, even when its keeper dies; ` + "`okbreak down`" + ` removes it.

With --stack, the system a stack file describes comes up instead, a
Toxiproxy in front of each callee of its links.

Halt conditions (--halt-*) revert every fault in force at once when the
probe's success stays under a floor for longer than a bound, or when an
abort alert fires.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.up(cmd.Context()) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataPlane, "data-plane", envOr("OKBREAK_DATA_PLANE", "auto"), "data plane: envoy, grpc or auto")
	f.inputs.register(fl)
	fl.DurationVar(&f.readyTimeout, "ready-timeout", 60*time.Second, "how long each readiness wait may take")
	fl.BoolVar(&f.detach, "detach", false, "keep the stack up in the background and return once it serves")
	fl.Float64Var(&f.scale, "time-scale", 1, "the time scale the alert rules run at (1: production durations, as a real game day)")
	fl.IntVar(&f.rate, "probe-rate", 50, "the background probe's requests per second")
	fl.StringVar(&f.who, "who", "", "who runs this game day, for its log (default user@host)")
	f.halt.register(fl)
	f.limits.register(fl)
	fl.StringVar(&f.child, "detached-run", "", "internal: the run ID a detached keeper brings up")
	_ = fl.MarkHidden("detached-run")
	return cmd
}

func newImagesCmd() *cobra.Command {
	var withEnvoy, withMonitoring bool
	cmd := &cobra.Command{
		Use: "images",
		Example: `  okbreak images                                  # build (or reuse) every image
  OKBREAK_ETCD_IMAGE=my/etcd:3.6 okbreak images   # use an image of your own`,
		Short: "Find or build every component image and tag it okbreak/<name>:latest",
		Long: `images resolves every component image the way a run does (a configured
OKBREAK_<NAME>_IMAGE present locally, else pulled, else built from source) and
tags each okbreak/<name>:latest for docker-compose.yml. Images are cached by a
hash of their build inputs: unchanged code is not rebuilt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := checkDocker(ctx); err != nil {
				return err
			}
			names := []image.Name{image.Etcd, image.Toxiproxy, image.SampleService, image.ControlPlane}
			if withEnvoy {
				names = append(names, image.Envoy)
			}
			if withMonitoring {
				names = append(names, image.Prometheus, image.Alertmanager, image.ContainerExporter)
			}
			r, err := image.NewResolver(ctx, image.WithLogger(logf))
			if err != nil {
				return err
			}
			defer r.Close()
			for _, n := range names {
				t0 := time.Now()
				img, err := r.Resolve(ctx, n)
				if err != nil {
					return err
				}
				if img.Note != "" {
					logf("%s: %s", n, img.Note)
				}
				if err := image.TagLatest(ctx, n, img); err != nil {
					return err
				}
				fmt.Printf("%-15s %-45s %-7s %s\n", n, img.Ref, img.Source, time.Since(t0).Round(time.Millisecond))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&withEnvoy, "envoy", false, "also resolve the Envoy image (fails where it cannot be had)")
	cmd.Flags().BoolVar(&withMonitoring, "monitoring", false, "also build Prometheus, Alertmanager and the container exporter, for okbreak compose --monitoring (minutes, once)")
	return cmd
}

func newComposeCmd() *cobra.Command {
	var dataPlane, dir, stackFile string
	var monitoring bool
	var scale float64
	cmd := &cobra.Command{
		Use: "compose",
		Example: `  okbreak compose --data-plane grpc --dir .   # docker-compose.yml and fixtures/compose/
  okbreak compose --stack stack.yaml --dir game-day   # your own system, Toxiproxy interposed
  okbreak compose --dir rehearsal --monitoring --time-scale 60   # and Prometheus + Alertmanager (profile monitoring)`,
		Short: "Write docker-compose.yml and its files from the stack definition",
		Long: `compose renders a plain Compose file (format 2.4, for docker-compose 1.x
and later) with Toxiproxy interposed on every link, so that ` + "`docker-compose up`" + `
runs the same stack a test runs. With --stack, variables stay as the stack
file wrote them (${VAR}); files are written beside it under fixtures/compose/.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dp, err := stack.ParseDataPlane(dataPlane)
			if err != nil {
				return badInput("--data-plane: %w", err)
			}
			t, err := inputFlags{stack: stackFile}.target(dp)
			if err != nil {
				return err
			}
			files, err := t.shown.ComposeFiles()
			if err != nil {
				return err
			}
			if monitoring {
				if err := addMonitoring(t, stackFile, dp, scale, files); err != nil {
					return err
				}
			}
			return writeFiles(dir, files)
		},
	}
	cmd.Flags().StringVar(&stackFile, "stack", "", "stack file: a Compose file with an x-okbreak block (default: the sample system)")
	cmd.Flags().StringVar(&dataPlane, "data-plane", "grpc", "data plane: envoy or grpc")
	cmd.Flags().StringVar(&dir, "dir", ".", "where to write docker-compose.yml")
	cmd.Flags().BoolVar(&monitoring, "monitoring", false, "add a Prometheus (the stack's rules, rewritten for --time-scale) and an Alertmanager, in the compose profile monitoring")
	cmd.Flags().Float64Var(&scale, "time-scale", 1, "with --monitoring: the time scale the Prometheus's rules and intervals run at")
	return cmd
}

// addMonitoring adds the monitoring profile to a rendering: the system's
// rules rewritten for scale, and Prometheus's timing at that scale.
func addMonitoring(t target, stackFile string, dp stack.DataPlane, scale float64, files map[string][]byte) error {
	if scale < 1 {
		return badInput("--time-scale %v: want a number >= 1", scale)
	}
	_, rules, err := load(inputFlags{stack: stackFile}, dp)
	if err != nil {
		return err
	}
	scaled, err := alert.ScaleFiles(rules, scale)
	if err != nil {
		return badInput("%w", err)
	}
	tm, err := alert.TimingFor(scale)
	if err != nil {
		return badInput("%w", err)
	}
	m := stack.Monitoring{Rules: map[string][]byte{}, ScrapeInterval: tm.ScrapeInterval, ScrapeTimeout: tm.ScrapeTimeout,
		EvalInterval: tm.EvalInterval, Lookback: tm.Lookback, ResendDelay: max(time.Minute/time.Duration(scale), time.Second)}
	for _, f := range scaled {
		b, err := f.Marshal()
		if err != nil {
			return err
		}
		m.Rules[f.Name] = b
	}
	return t.shown.WithMonitoring(files, m)
}
