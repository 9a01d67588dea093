package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

// planFunc reads the keys a config fault will change and says what it will
// write, with the revision each key was read at (0: absent).
type planFunc func(ctx context.Context, cli *clientv3.Client) (changes []KeyChange, revs map[string]int64, err error)

// configFault writes bad registry data into etcd by compare-and-swap, and
// restores exactly the previous values the same way.
type configFault struct {
	base
	plan planFunc
}

func newConfigFault(spec Spec, def stack.Definition, env Env, describe string, plan planFunc) *configFault {
	var access Access
	if env != nil {
		access.Etcd = etcdAccess(def, env.Run())
	}
	return &configFault{base: newBase(spec, env, access, describe), plan: plan}
}

// Inject implements Fault: read, journal the previous values, then write in
// one transaction that fails if any key changed since it was read.
func (f *configFault) Inject(ctx context.Context) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	cli, err := f.env.Etcd(ctx)
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
		f.abandon("not applied: the registry changed between read and write")
		return f.wrapInject(errors.New("the registry changed between read and write: nothing written, try again"))
	}
	f.setFact("keys", len(changes))
	return nil
}

// readKey reads one key: its value (nil: absent) and mod revision.
func readKey(ctx context.Context, cli *clientv3.Client, key string) (*string, int64, error) {
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

// configTarget checks a config fault's target against names the registry
// of the definition holds.
func configTarget(target, what string, names []string) error {
	sort.Strings(names)
	for _, n := range names {
		if n == target {
			return nil
		}
	}
	return fmt.Errorf("unknown %s %q: want one of %s", what, target, strings.Join(names, ", "))
}

func serviceNames(def stack.Definition) []string {
	var out []string
	for n := range def.Registry.Services {
		out = append(out, n)
	}
	return out
}

func routeNames(def stack.Definition) []string {
	var out []string
	for n := range def.Registry.Routes {
		out = append(out, n)
	}
	return out
}

// rewriteRoute plans a change of one route document.
func rewriteRoute(name string, change func(*registry.Route) error) planFunc {
	return func(ctx context.Context, cli *clientv3.Client) ([]KeyChange, map[string]int64, error) {
		key := registry.RouteKey(name)
		prev, rev, err := readKey(ctx, cli, key)
		if err != nil {
			return nil, nil, err
		}
		if prev == nil {
			return nil, nil, fmt.Errorf("route %s is not in etcd (%s)", name, key)
		}
		reg, errs := registry.Decode([]registry.KV{{Key: key, Value: []byte(*prev)}})
		if len(errs) > 0 {
			return nil, nil, errors.Join(errs...)
		}
		r := reg.Routes[name]
		if err := change(&r); err != nil {
			return nil, nil, err
		}
		kvs, err := registry.Encode(registry.Registry{Routes: map[string]registry.Route{name: r}})
		if err != nil {
			return nil, nil, err
		}
		wrote := string(kvs[0].Value)
		return []KeyChange{{Key: key, Prev: prev, Wrote: &wrote}}, map[string]int64{key: rev}, nil
	}
}
