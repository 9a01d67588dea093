// Command sample-service is the system under test's app: one binary with two
// roles. --role backend serves HTTP/1.1, h2c and gRPC on one port and names
// the service and instance in every answer; --role frontend is the "grpc"
// data plane (HTTP in, gRPC out through gRPC-Go's proxyless xDS client).
// Run with -h for the flags; every flag is also OKBREAK_<FLAG> in the
// environment. See package internal/sample/cli.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/okbreak/okbreak/internal/sample/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Process{
		Args:      os.Args[1:],
		LookupEnv: os.LookupEnv,
		Environ:   os.Environ(),
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Reexec:    reexec,
	})
	stop()
	os.Exit(code)
}

// reexec replaces this process with a new run of the same executable and
// arguments under env (same PID).
func reexec(env []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	return syscall.Exec(exe, os.Args, env)
}
