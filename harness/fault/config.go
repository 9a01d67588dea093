package fault

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdPlan reads the keys a config fault will change and says what it will
// write (KeyChange.Wrote nil: delete), with the mod revision each key was
// read at (0: absent). It must not write.
type EtcdPlan func(ctx context.Context, cli *clientv3.Client) (changes []KeyChange, revs map[string]int64, err error)

// etcdFault writes into the system's etcd by compare-and-swap, and restores
// exactly the previous values the same way.
type etcdFault struct {
	base
	ee   EtcdEnv
	plan EtcdPlan
}

// NewEtcdFault builds a config fault that writes what plan says into the
// system's etcd: the previous values are journalled before anything is
// written, the write is one transaction that fails if any key changed since
// plan read it, and Revert restores the previous values by compare-and-swap
// (a key someone else changed meanwhile is left alone and reported). It
// refuses an env without an etcd (EtcdEnv); a nil env builds a fault that
// can only be validated. System-specific config faults (the sample
// system's registry faults) are built on it.
func NewEtcdFault(spec Spec, env Env, describe string, plan EtcdPlan) (Fault, error) {
	ee, err := capability[EtcdEnv](env, "an etcd to write")
	if err != nil {
		return nil, err
	}
	var access Access
	if access.Etcd, err = etcdAccess(env); err != nil {
		return nil, err
	}
	return &etcdFault{base: newBase(spec, env, access, describe), ee: ee, plan: plan}, nil
}

// Inject implements Fault: read, journal the previous values, then write in
// one transaction that fails if any key changed since it was read.
func (f *etcdFault) Inject(ctx context.Context) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	cli, err := f.ee.Etcd(ctx)
	if err != nil {
		return f.wrapInject(err)
	}
	defer cli.Close()
	changes, revs, err := f.plan(ctx, cli)
	if err != nil {
		return f.wrapInject(err)
	}
	if err := f.begin(newID(), []Undo{{Action: UndoRestoreKeys, Keys: changes}}); err != nil {
		return f.wrapInject(err)
	}
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, c := range changes {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c.Key), "=", revs[c.Key]))
		if c.Wrote == nil {
			ops = append(ops, clientv3.OpDelete(c.Key))
		} else {
			ops = append(ops, clientv3.OpPut(c.Key, *c.Wrote))
		}
	}
	res, err := cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return f.wrapInject(err)
	}
	if !res.Succeeded {
		f.abandon("not applied: the keys changed between read and write")
		return f.wrapInject(errors.New("the keys changed between read and write: nothing written, try again"))
	}
	f.setFact("keys", len(changes))
	return nil
}

// ReadKey reads one key for an EtcdPlan: its value (nil: absent) and mod
// revision.
func ReadKey(ctx context.Context, cli *clientv3.Client, key string) (*string, int64, error) {
	res, err := cli.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	if len(res.Kvs) == 0 {
		return nil, 0, nil
	}
	v := string(res.Kvs[0].Value)
	return &v, res.Kvs[0].ModRevision, nil
}

// ReadPrefix reads every key under prefix for an EtcdPlan, as changes
// that would write wrote(key, value) (nil: delete). It is an error when no
// key is there: a fault on nothing proves nothing.
func ReadPrefix(ctx context.Context, cli *clientv3.Client, prefix string, wrote func(key, value string) *string) ([]KeyChange, map[string]int64, error) {
	res, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", prefix, err)
	}
	if len(res.Kvs) == 0 {
		return nil, nil, fmt.Errorf("no key under %s: nothing to change", prefix)
	}
	var changes []KeyChange
	revs := map[string]int64{}
	for _, kv := range res.Kvs {
		k, v := string(kv.Key), string(kv.Value)
		changes = append(changes, KeyChange{Key: k, Prev: &v, Wrote: wrote(k, v)})
		revs[k] = kv.ModRevision
	}
	return changes, revs, nil
}
