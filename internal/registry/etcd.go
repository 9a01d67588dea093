package registry

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Replace makes the registry in etcd exactly reg, in one transaction, so that
// a watcher never sees half of it. etcd refuses a transaction that touches a
// key twice, so only keys that reg does not hold are deleted.
func Replace(ctx context.Context, cli *clientv3.Client, reg Registry) error {
	kvs, err := Encode(reg)
	if err != nil {
		return err
	}
	old, err := cli.Get(ctx, Prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return fmt.Errorf("replace registry: read %s: %w", Prefix, err)
	}
	keep := map[string]bool{}
	var ops []clientv3.Op
	for _, kv := range kvs {
		keep[kv.Key] = true
		ops = append(ops, clientv3.OpPut(kv.Key, string(kv.Value)))
	}
	for _, kv := range old.Kvs {
		if !keep[string(kv.Key)] {
			ops = append(ops, clientv3.OpDelete(string(kv.Key)))
		}
	}
	if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
		return fmt.Errorf("replace registry: %w", err)
	}
	return nil
}
