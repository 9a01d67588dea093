package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/internal/registry"
)

// seed writes a registry (JSON, as registry.Registry) into etcd and exits: the
// one-shot step docker-compose.yml runs before the control plane, doing what
// the harness does when it seeds a test stack. It waits for etcd to answer.
func seed(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("control-plane seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	etcd := fs.String("etcd", "etcd:2379", "comma-separated etcd endpoints")
	file := fs.String("file", "", "registry JSON file to write (required)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for etcd")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "control-plane seed: usage: control-plane seed --file REGISTRY.json [--etcd HOST:PORT]")
		return 2
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintf(stderr, "control-plane seed: %v\n", err)
		return 2
	}
	var reg registry.Registry
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reg); err != nil {
		fmt.Fprintf(stderr, "control-plane seed: %s: %v\n", *file, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*etcd, ","), DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Fprintf(stderr, "control-plane seed: etcd %s: %v\n", *etcd, err)
		return 1
	}
	defer cli.Close()
	err = retry.Until(ctx, "seed the registry into etcd "+*etcd, 0, 500*time.Millisecond, func(ctx context.Context) error {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		return registry.Replace(rctx, cli, reg)
	})
	if err != nil {
		fmt.Fprintf(stderr, "control-plane seed: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "control-plane seed: registry from %s written to %s\n", *file, *etcd)
	return 0
}
