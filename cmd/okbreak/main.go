// Command okbreak makes a list of what is ok to break, and what is not,
// executable: it brings a system under test up in containers with Toxiproxy on
// every hop, injects faults, and checks that each one is survived or alerted.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/spf13/cobra"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Exit codes, the same for every command.
const (
	exitOK       = 0
	exitFailed   = 1 // a case failed or was invalid
	exitBadInput = 2 // bad flags, files or values
	exitNoEnv    = 3 // the environment is missing (e.g. no Docker engine)
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error {
	return &exitError{code: exitBadInput, err: fmt.Errorf(format, args...)}
}

func noEnv(err error) error { return &exitError{code: exitNoEnv, err: err} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "okbreak",
		Short: "Make what is ok to break, and what is not, executable",
		Long: `okbreak brings a system under test up in containers (etcd, an xDS control
plane, sample backends and a data plane), puts Toxiproxy on every hop, injects
faults and checks that ok-to-break faults are survived and not-ok faults alert.

Environment:
  OKBREAK_DATA_PLANE         envoy, grpc or auto (default auto: envoy when its image can be had)
  OKBREAK_ENVOY_IMAGE        a local Envoy image to use as the envoy data plane
  OKBREAK_<NAME>_IMAGE       use this image for a component (SAMPLE_SERVICE, CONTROL_PLANE, ETCD, TOXIPROXY)
  OKBREAK_REPORT_DIR         where run writes its report folders (default okbreak-reports)
  TESTCONTAINERS_HOST_OVERRIDE is forced to 127.0.0.1 when unset: okbreak only talks to loopback.
  NO_COLOR                   no colour in the live display; CI=true or TERM=dumb: plain lines

Exit codes (every command):
  0    success: every case survived, alerted or skipped; the files are valid
  1    a case failed or was invalid (run); changes found (report diff)
  2    bad input: flags, catalog, rules, report files (the message names file and line)
  3    the environment is missing: no Docker engine, no stack up (inject, status)
  4    a halt condition stopped the run or the injection (game day)
  130  interrupted (Ctrl-C): faults reverted, the stack torn down`,
		Example: `  okbreak validate                       # catalog, rules and stack, no Docker
  okbreak list                           # cases, durations, estimated wall time
  okbreak run                            # the whole catalog on the default stack
  okbreak run --only 'etcd-.*' --report out/
  okbreak run --incidents                # the incidents: before reproduces, after is fixed
  okbreak run --rule-tests rule-tests/   # and a promtool rule test per case
  okbreak up --detach                    # a game day: the stack stays up (README: Game day)
  okbreak inject latency --link 'edge->backend-1' --param latency=300ms --for 5m
  okbreak status --log; okbreak revert --all; okbreak down
  okbreak run --env staging.yaml --catalog staging-catalog.yaml --dry-run
  okbreak report diff a/report.json b/report.json
  okbreak completion bash > /etc/bash_completion.d/okbreak`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return badInput("%w\nrun '%s --help' for usage", err, c.CommandPath())
	})
	root.AddCommand(newUpCmd(), newImagesCmd(), newComposeCmd(), newRecoverCmd(), newRunCmd(),
		newValidateCmd(), newListCmd(), newReportCmd(), newIncidentCmd(), newVersionCmd(),
		newInjectCmd(), newRevertCmd(), newStatusCmd(), newDownCmd())
	return root
}

func main() {
	// testcontainers-go reads its settings once, when first used: set
	// okbreak's (loopback only, no Ryuk) before anything can use it. A
	// user's own values win; stack.Up refuses unsafe ones.
	setTestcontainersDefaults()
	// testcontainers-go logs every container's life; okbreak prints its own
	// progress instead.
	tclog.SetDefault(tclog.NewNoopLogger())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRoot().ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "okbreak:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode maps a command's error to the process's exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own parse errors (unknown command, wrong argument count) are
	// bad input too.
	for _, s := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument"} {
		if strings.Contains(err.Error(), s) {
			return exitBadInput
		}
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return exitFailed
}

// setTestcontainersDefaults sets the settings stack.CheckEnvironment wants
// where the environment leaves them unset. Only main may: it changes the
// process's environment, before anything uses testcontainers-go.
func setTestcontainersDefaults() {
	if os.Getenv(stack.EnvHostOverride) == "" {
		_ = os.Setenv(stack.EnvHostOverride, stack.Loopback.String())
	}
	if os.Getenv(stack.EnvRyukDisabled) == "" {
		_ = os.Setenv(stack.EnvRyukDisabled, "true")
	}
}
