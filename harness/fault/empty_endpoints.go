package fault

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

func init() {
	mustRegister(Type{
		Name: "empty_endpoints", Kind: Config, Targets: serviceNames,
		Doc: "deletes every endpoint key of a service: the control plane serves a valid but empty endpoint set",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			if err := configTarget(spec.Target, "service", serviceNames(def)); err != nil {
				return nil, err
			}
			if err := newParams(spec.Params).err(); err != nil {
				return nil, err
			}
			svc := spec.Target
			return newConfigFault(spec, def, env, "empty endpoint set for service "+svc,
				func(ctx context.Context, cli *clientv3.Client) ([]KeyChange, map[string]int64, error) {
					prefix := registry.EndpointsPrefix(svc)
					res, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
					if err != nil {
						return nil, nil, fmt.Errorf("read %s: %w", prefix, err)
					}
					if len(res.Kvs) == 0 {
						return nil, nil, fmt.Errorf("service %s has no endpoint keys under %s: nothing to empty", svc, prefix)
					}
					var changes []KeyChange
					revs := map[string]int64{}
					for _, kv := range res.Kvs {
						v := string(kv.Value)
						changes = append(changes, KeyChange{Key: string(kv.Key), Prev: &v, Wrote: nil})
						revs[string(kv.Key)] = kv.ModRevision
					}
					return changes, revs, nil
				}), nil
		},
	})
}
