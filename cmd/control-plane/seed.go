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
)

// seed writes a list of etcd keys and values (JSON: [{"key": ..., "value":
// ...}], a stack definition's Seed) into etcd in one transaction and exits:
// the one-shot step docker-compose.yml runs before the later stages start,
// doing what the harness does when it seeds a test stack. It waits for etcd
// to answer.
func seed(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("control-plane seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	etcd := fs.String("etcd", "etcd:2379", "comma-separated etcd endpoints")
	file := fs.String("file", "", "JSON list of {key, value} to write (required)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for etcd")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "control-plane seed: usage: control-plane seed --file SEED.json [--etcd HOST:PORT]")
		return 2
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintf(stderr, "control-plane seed: %v\n", err)
		return 2
	}
	var kvs []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kvs); err != nil {
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
	err = retry.Until(ctx, "seed etcd "+*etcd, 0, 500*time.Millisecond, func(ctx context.Context) error {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		ops := make([]clientv3.Op, 0, len(kvs))
		for _, kv := range kvs {
			ops = append(ops, clientv3.OpPut(kv.Key, kv.Value))
		}
		_, err := cli.Txn(rctx).Then(ops...).Commit()
		return err
	})
	if err != nil {
		fmt.Fprintf(stderr, "control-plane seed: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "control-plane seed: %d keys from %s written to %s\n", len(kvs), *file, *etcd)
	return 0
}
