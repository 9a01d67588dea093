// Package cli is the command line of the sample service: one binary, two
// roles (--role backend|frontend). Every flag can also be set from the
// environment as OKBREAK_<FLAG_IN_UPPER_SNAKE_CASE> (--error-ratio is
// OKBREAK_ERROR_RATIO), so that a container can be reconfigured by its
// environment alone; a flag on the command line wins over the environment,
// and an empty variable counts as unset. The environment is read only for
// the flags of the process's role (plus --listen and --exit-at-start), so one
// environment can serve containers of both roles. Bad flags or variables
// print a clear message on stderr and exit 2; a service that cannot start
// (bad xDS bootstrap, port taken) exits 1; --exit-at-start N exits N.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/okbreak/okbreak/internal/sample/backend"
	"github.com/okbreak/okbreak/internal/sample/frontend"
	"github.com/okbreak/okbreak/internal/sample/xdsbootstrap"
)

// Roles.
const (
	RoleBackend  = "backend"
	RoleFrontend = "frontend"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the service could not start or failed while running
	ExitUsage = 2 // bad flags or environment
)

// EnvReexec marks a process that re-executed itself to give gRPC the xDS
// bootstrap, so that a second mismatch fails instead of looping.
const EnvReexec = "OKBREAK_SAMPLE_REEXEC"

// EnvName returns the environment variable that sets a flag.
func EnvName(flagName string) string {
	return "OKBREAK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Options are the parsed flags.
type Options struct {
	Role        string
	Listen      string
	ExitAtStart int

	// Backend role.
	Backend backend.Config

	// Frontend role.
	Frontend  frontend.Config
	Admin     string
	Bootstrap string
	// WaitOnControlPlane and KeepRunningOnBadBootstrap are TEST SWITCHES
	// (see their flags).
	WaitOnControlPlane        bool
	KeepRunningOnBadBootstrap bool

	// TLS, under the backend role, serves TLS beside plaintext on the
	// backend's port (backend.TLSListener).
	TLS bool
}

var (
	commonFlags   = []string{"role", "listen", "exit-at-start"}
	backendFlags  = []string{"service", "instance", "latency", "error-ratio", "known-services", "max-concurrency", "queue-wait", "work", "work-jitter", "tls"}
	frontendFlags = []string{"target", "bootstrap", "admin", "attempt-timeout", "attempts", "request-timeout", "retry-on", "retry-backoff", "retry-other-host", "require-xds-connected", "drop-config-on-nack", "wait-on-control-plane", "keep-running-on-bad-bootstrap", "backend-tls", "tls-session-cache"}
)

func flagSet(o *Options, retryOn, known *string) *flag.FlagSet {
	fs := flag.NewFlagSet("sample-service", flag.ContinueOnError)
	fd := frontend.DefaultConfig()
	fs.StringVar(&o.Role, "role", "", "role of this process: backend or frontend (required)")
	fs.StringVar(&o.Listen, "listen", ":8080", "address to serve on (backend: HTTP/1.1, h2c and gRPC; frontend: proxied HTTP)")
	fs.IntVar(&o.ExitAtStart, "exit-at-start", 0, "when non-zero, print why and exit with this code (1-255) at once, to simulate a crash loop")

	fs.StringVar(&o.Backend.Service, "service", "backend", "backend: the service this instance belongs to")
	fs.StringVar(&o.Backend.Instance, "instance", "", "backend: the name of this instance (default: the host name)")
	fs.DurationVar(&o.Backend.Knobs.Latency, "latency", 0, "backend: latency added to each request (also POST /knobs)")
	fs.Float64Var(&o.Backend.Knobs.ErrorRatio, "error-ratio", 0, "backend: share of requests, 0..1, answered with HTTP 503 / gRPC Unavailable (also POST /knobs)")
	fs.IntVar(&o.Backend.Knobs.MaxConcurrency, "max-concurrency", 0, "backend: most requests served at once, 0 = no limit; a request that finds every slot taken waits up to --queue-wait, then is refused as overloaded (HTTP 503 / gRPC ResourceExhausted) (also POST /knobs)")
	fs.DurationVar(&o.Backend.Knobs.QueueWait, "queue-wait", backend.DefaultQueueWait, "backend: under --max-concurrency, how long a request waits for a slot before it is refused (0 = refuse at once) (also POST /knobs)")
	fs.DurationVar(&o.Backend.Knobs.Work, "work", 0, "backend: time each request holds its slot, the cost of serving it; with --max-concurrency N the backend serves about N/work requests a second (also POST /knobs)")
	fs.DurationVar(&o.Backend.Knobs.WorkJitter, "work-jitter", 0, "backend: spread each request's work uniformly over work ± this, at most --work (also POST /knobs)")
	fs.BoolVar(&o.TLS, "tls", false, "backend: also serve TLS on the same port, told apart per connection by its first byte (a TLS ClientHello); plaintext keeps working. The certificate is self-signed, made at start for --service and --instance; completed handshakes are counted in okbreak_sample_tls_handshakes_total{resumed}")
	fs.StringVar(known, "known-services", strings.Join(backend.DefaultKnownServices, ","), "backend: comma-separated host names that name a service; a request whose authority is one of them, other than --service, is refused")

	fs.StringVar(&o.Frontend.Target, "target", fd.Target, "frontend: gRPC target of the Hello calls")
	fs.StringVar(&o.Bootstrap, "bootstrap", "", "frontend: gRPC xDS bootstrap file (default: $GRPC_XDS_BOOTSTRAP)")
	fs.StringVar(&o.Admin, "admin", ":9901", "frontend: admin address (/healthz, /ready, /metrics, /config_dump)")
	fs.DurationVar(&o.Frontend.AttemptTimeout, "attempt-timeout", fd.AttemptTimeout, "frontend: deadline of each attempt (0 = off)")
	fs.IntVar(&o.Frontend.Attempts, "attempts", fd.Attempts, "frontend: most attempts per request (1 = no retries)")
	fs.DurationVar(&o.Frontend.RequestTimeout, "request-timeout", fd.RequestTimeout, "frontend: deadline of a whole request, retries included")
	fs.StringVar(retryOn, "retry-on", "unavailable,deadline-exceeded,resource-exhausted", "frontend: comma-separated gRPC codes to retry (never permission-denied)")
	fs.DurationVar(&o.Frontend.RetryBackoff, "retry-backoff", fd.RetryBackoff, "frontend: wait before each retry")
	fs.BoolVar(&o.Frontend.RetryOtherHost, "retry-other-host", fd.RetryOtherHost, "frontend: send each retry to a host the request has not tried")
	fs.BoolVar(&o.Frontend.RequireXDSConnected, "require-xds-connected", fd.RequireXDSConnected,
		"frontend: TEST SWITCH, a data plane without static stability, for regression tests: answer every request 503 Unavailable while the xDS stream to the management server is not connected, instead of serving on the cached config")
	fs.BoolVar(&o.Frontend.DropConfigOnNACK, "drop-config-on-nack", fd.DropConfigOnNACK,
		"frontend: TEST SWITCH, a data plane that does not keep its last good config, for regression tests: answer every request 503 Unavailable while the xDS client holds a resource it rejected (NACKed)")
	fs.BoolVar(&o.WaitOnControlPlane, "wait-on-control-plane", false,
		"frontend: TEST SWITCH, a data plane whose traffic waits on the control plane, for regression tests: every request first makes one call to the bootstrap's xDS server and waits for the answer")
	fs.BoolVar(&o.Frontend.BackendTLS, "backend-tls", fd.BackendTLS, "frontend: speak TLS to the backends (their --tls), without verifying their self-signed certificates: a test-only mechanism check of session resumption, not authentication; the xDS connection is not concerned")
	fs.IntVar(&o.Frontend.TLSSessionCache, "tls-session-cache", fd.TLSSessionCache, "frontend: with --backend-tls, how many TLS sessions to keep for resumption on reconnect (0 = none, Go's default: every reconnect is a full handshake)")
	fs.BoolVar(&o.KeepRunningOnBadBootstrap, "keep-running-on-bad-bootstrap", false,
		"frontend: TEST SWITCH, a data plane that does not fail fast, for regression tests: on an xDS bootstrap it cannot load, log the error and keep running (serving nothing) instead of exiting 1")
	return fs
}

// Usage writes the help text to w.
func Usage(w io.Writer) {
	var o Options
	var a, b string
	fs := flagSet(&o, &a, &b)
	fs.SetOutput(w)
	fmt.Fprintf(w, "Usage: sample-service --role backend|frontend [flags]\n\n"+
		"Every flag can also be set as OKBREAK_<FLAG> (e.g. --error-ratio: OKBREAK_ERROR_RATIO);\n"+
		"a flag on the command line wins over the environment.\n\n")
	fs.PrintDefaults()
}

// Parse reads the flags in args and, for every flag not on the command line,
// its OKBREAK_* variable through lookupEnv. It returns flag.ErrHelp for -h.
func Parse(args []string, lookupEnv func(string) (string, bool)) (Options, error) {
	var o Options
	var retryOn, known string
	fs := flagSet(&o, &retryOn, &known)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	onCLI := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCLI[f.Name] = true })
	if !onCLI["role"] {
		if v, ok := lookupEnv(EnvName("role")); ok && v != "" {
			o.Role = v
		}
	}
	var roleFlags []string
	switch o.Role {
	case RoleBackend:
		roleFlags = backendFlags
	case RoleFrontend:
		roleFlags = frontendFlags
	case "":
		return Options{}, fmt.Errorf("--role (%s) is required: backend or frontend", EnvName("role"))
	default:
		return Options{}, fmt.Errorf("--role %q: want backend or frontend", o.Role)
	}
	// The environment sets only the flags of this role, so that one
	// environment can serve containers of both roles.
	var errs []error
	for _, name := range slices.Concat(commonFlags, roleFlags) {
		if onCLI[name] || name == "role" {
			continue
		}
		v, ok := lookupEnv(EnvName(name))
		if !ok || v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(name), v, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Options{}, err
	}
	for name := range onCLI {
		if !slices.Contains(commonFlags, name) && !slices.Contains(roleFlags, name) {
			errs = append(errs, fmt.Errorf("--%s does not apply to role %s", name, o.Role))
		}
	}
	if o.ExitAtStart < 0 || o.ExitAtStart > 255 {
		errs = append(errs, fmt.Errorf("--exit-at-start %d: want 0 (off) or an exit code 1-255", o.ExitAtStart))
	}
	if o.Listen == "" {
		errs = append(errs, errors.New("--listen is empty"))
	}

	switch o.Role {
	case RoleBackend:
		o.Frontend = frontend.Config{}
		o.Backend.KnownServices = nil
		for _, s := range strings.Split(known, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.Backend.KnownServices = append(o.Backend.KnownServices, s)
			}
		}
		if o.Backend.KnownServices == nil {
			o.Backend.KnownServices = []string{}
		}
		if o.Backend.Instance == "" {
			host, err := os.Hostname()
			if err != nil || host == "" {
				errs = append(errs, fmt.Errorf("--instance is empty and the host name is unknown: %v", err))
			}
			o.Backend.Instance = host
		}
		if o.Backend.Service == "" {
			errs = append(errs, errors.New("--service is empty"))
		}
		if err := o.Backend.Knobs.Validate(); err != nil {
			errs = append(errs, err)
		}
	case RoleFrontend:
		o.Backend = backend.Config{}
		codes, err := frontend.ParseCodes(retryOn)
		if err != nil {
			errs = append(errs, fmt.Errorf("--retry-on: %w", err))
		}
		o.Frontend.RetryOn = codes
		if err := o.Frontend.Validate(); err != nil {
			errs = append(errs, err)
		}
		if o.Bootstrap == "" {
			o.Bootstrap, _ = lookupEnv(xdsbootstrap.EnvFile)
		}
		if o.Bootstrap == "" {
			errs = append(errs, fmt.Errorf("--bootstrap (%s) is required for the frontend: the gRPC xDS bootstrap file", EnvName("bootstrap")))
		}
		if o.Admin == "" {
			errs = append(errs, errors.New("--admin is empty"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Options{}, err
	}
	return o, nil
}

// Process is what Main needs from the operating system.
type Process struct {
	Args      []string
	LookupEnv func(string) (string, bool)
	Environ   []string
	Stdout    io.Writer
	Stderr    io.Writer
	// Reexec replaces the process with a new run of the same program and
	// arguments under env; it returns only on failure. Nil means it cannot.
	Reexec func(env []string) error
}

// Main runs the sample service until ctx is done and returns the exit code.
func Main(ctx context.Context, p Process) int {
	o, err := Parse(p.Args, p.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		Usage(p.Stdout)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(p.Stderr, "sample-service: %v\n(run with -h for the flags)\n", err)
		return ExitUsage
	}
	if o.ExitAtStart != 0 {
		fmt.Fprintf(p.Stderr, "sample-service: exiting with code %d at start because --exit-at-start (%s) is %d: simulated crash loop\n",
			o.ExitAtStart, EnvName("exit-at-start"), o.ExitAtStart)
		return o.ExitAtStart
	}
	log := slog.New(slog.NewTextHandler(p.Stderr, nil)).With("role", o.Role)
	switch o.Role {
	case RoleBackend:
		err = runBackend(ctx, o, log)
	case RoleFrontend:
		err = runFrontend(ctx, o, p, log)
	}
	if err != nil {
		fmt.Fprintf(p.Stderr, "sample-service: %v\n", err)
		return ExitError
	}
	return ExitOK
}

func runBackend(ctx context.Context, o Options, log *slog.Logger) error {
	b, err := backend.New(o.Backend)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	log.Info("backend serving", "listen", ln.Addr().String(), "service", o.Backend.Service, "instance", o.Backend.Instance,
		"latency", o.Backend.Knobs.Latency, "error_ratio", o.Backend.Knobs.ErrorRatio, "known_services", strings.Join(o.Backend.KnownServices, ","),
		"max_concurrency", o.Backend.Knobs.MaxConcurrency, "queue_wait", o.Backend.Knobs.QueueWait, "work", o.Backend.Knobs.Work, "work_jitter", o.Backend.Knobs.WorkJitter)
	if o.TLS {
		tl, err := b.TLSListener(ln)
		if err != nil {
			_ = ln.Close()
			return err
		}
		ln = tl
		log.Info("backend serving TLS beside plaintext", "listen", ln.Addr().String())
	}
	err = b.Serve(ctx, ln)
	log.Info("backend stopped")
	return err
}

func runFrontend(ctx context.Context, o Options, p Process, log *slog.Logger) error {
	start := time.Now()
	contents, err := xdsbootstrap.Load(o.Bootstrap)
	if err != nil && o.KeepRunningOnBadBootstrap {
		// A rollout that never fails: the instance hangs, unready, until
		// it is stopped.
		log.Error("bad xDS bootstrap; keeping running, serving nothing (--keep-running-on-bad-bootstrap, a test switch)", "err", err)
		<-ctx.Done()
		return nil
	}
	if err != nil {
		return fmt.Errorf("bad xDS bootstrap: %w", err)
	}
	if !xdsbootstrap.InEffect(contents, p.LookupEnv) {
		if v, _ := p.LookupEnv(EnvReexec); v != "" {
			return fmt.Errorf("xDS bootstrap %s: gRPC still does not see it after re-executing with %s set", o.Bootstrap, xdsbootstrap.EnvContents)
		}
		if p.Reexec == nil {
			return fmt.Errorf("xDS bootstrap %s: gRPC reads it from %s or %s at process start, and this process cannot re-execute itself; set %s=%s",
				o.Bootstrap, xdsbootstrap.EnvFile, xdsbootstrap.EnvContents, xdsbootstrap.EnvFile, o.Bootstrap)
		}
		// gRPC captured its environment before main ran: start over with the
		// bootstrap in it. Same PID, so a container's main process stays.
		log.Info("re-executing with the xDS bootstrap in the environment (gRPC reads it at process start)", "bootstrap", o.Bootstrap)
		env := append(xdsbootstrap.ExecEnv(p.Environ, contents), EnvReexec+"=1")
		return fmt.Errorf("re-execute with the xDS bootstrap: %w", p.Reexec(env))
	}
	log.Info("xDS bootstrap loaded", "bootstrap", o.Bootstrap, "took", time.Since(start))

	data, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	admin, err := net.Listen("tcp", o.Admin)
	if err != nil {
		_ = data.Close()
		return fmt.Errorf("listen admin %s: %w", o.Admin, err)
	}
	cfg := o.Frontend
	cfg.Logger = log
	if o.WaitOnControlPlane {
		if cfg.WaitOnControlPlane, err = xdsbootstrap.ServerURI(contents); err != nil {
			_ = data.Close()
			_ = admin.Close()
			return fmt.Errorf("--wait-on-control-plane: xDS server of %s: %w", o.Bootstrap, err)
		}
	}
	f, err := frontend.New(cfg)
	if err != nil {
		_ = data.Close()
		_ = admin.Close()
		return err
	}
	err = f.Serve(ctx, data, admin)
	log.Info("frontend stopped")
	return err
}
