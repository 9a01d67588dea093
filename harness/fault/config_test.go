package fault_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

// registryKVs reads the whole registry as key -> value.
func registryKVs(t *testing.T, ctx context.Context, cli *clientv3.Client) map[string]string {
	t.Helper()
	res, err := cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	out := map[string]string{}
	for _, kv := range res.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

func TestConfigFaultsWriteAndRestoreExactlyByCompareAndSwap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	def := defs()[stack.GRPC]
	env := &unitEnv{def: def, dir: t.TempDir(), etcdAddr: embeddedEtcd(t)}
	cli, err := env.Etcd(ctx)
	require.NoError(t, err)
	defer cli.Close()
	_, err = cli.Delete(ctx, registry.Prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	for _, kv := range def.Seed {
		_, err = cli.Put(ctx, kv.Key, kv.Value)
		require.NoError(t, err)
	}
	// A hand-written value the registry's encoder would write differently:
	// revert must restore the bytes, not an equivalent document.
	odd := `{"name":"backend","service":"backend","timeout":"3s",  "retry":{"on":["unavailable"],"num_retries":2}}`
	_, err = cli.Put(ctx, registry.RouteKey(registry.BackendRoute), odd)
	require.NoError(t, err)
	before := registryKVs(t, ctx, cli)

	decode := func(kvs map[string]string) registry.Registry {
		var list []registry.KV
		for k, v := range kvs {
			list = append(list, registry.KV{Key: k, Value: []byte(v)})
		}
		reg, errs := registry.Decode(list)
		require.Empty(t, errs)
		return reg
	}
	decoded := func(check func(reg registry.Registry)) func(map[string]string) {
		return func(kvs map[string]string) { check(decode(kvs)) }
	}
	routeKey, epPrefix := registry.RouteKey(registry.BackendRoute), registry.EndpointsPrefix(registry.BackendService)

	for _, tc := range []struct {
		spec  fault.Spec
		check func(kvs map[string]string)
	}{
		{fault.Spec{Type: "etcd_put", Target: routeKey, Params: map[string]any{"value": `{"name":`}}, func(kvs map[string]string) {
			require.Equal(t, `{"name":`, kvs[routeKey], "incorrect data: a truncated document")
		}},
		{fault.Spec{Type: "etcd_put", Target: epPrefix, Params: map[string]any{"prefix": true, "value": "{}"}}, func(kvs map[string]string) {
			n := 0
			for k, v := range kvs {
				if strings.HasPrefix(k, epPrefix) {
					require.Equal(t, "{}", v, k)
					n++
				}
			}
			require.Equal(t, 3, n, "every backend endpoint, and only those")
		}},
		{fault.Spec{Type: "etcd_delete", Target: routeKey}, func(kvs map[string]string) {
			require.NotContains(t, kvs, routeKey, "incomplete data: the route is gone")
		}},
		{fault.Spec{Type: "etcd_delete", Target: epPrefix, Params: map[string]any{"prefix": true}}, decoded(func(reg registry.Registry) {
			require.Empty(t, reg.Endpoints[registry.BackendService])
			require.Len(t, reg.Endpoints[registry.OtherService], 1, "other's endpoints are left alone")
		})},
		{fault.Spec{Type: "empty_endpoints", Target: "backend"}, decoded(func(reg registry.Registry) {
			require.Empty(t, reg.Endpoints[registry.BackendService])
			require.Len(t, reg.Endpoints[registry.OtherService], 1, "other's endpoints are left alone")
		})},
		{fault.Spec{Type: "route_to_other", Target: "backend"}, decoded(func(reg registry.Registry) {
			require.Equal(t, registry.OtherService, reg.Routes[registry.BackendRoute].Service)
			require.Equal(t, registry.Duration(3*time.Second), reg.Routes[registry.BackendRoute].Timeout, "the rest of the route is kept")
		})},
		{fault.Spec{Type: "rejected_resource", Target: "backend"}, decoded(func(reg registry.Registry) {
			r := reg.Routes[registry.BackendRoute]
			require.NotNil(t, r.Retry.BackoffBase)
			require.Zero(t, *r.Retry.BackoffBase)
			require.Equal(t, uint32(2), r.Retry.NumRetries)
		})},
	} {
		t.Run(tc.spec.Type+" "+tc.spec.Target, func(t *testing.T) {
			f, err := fault.New(tc.spec, env)
			require.NoError(t, err)
			require.NoError(t, f.Inject(ctx))
			tc.check(registryKVs(t, ctx, cli))

			// The journal holds the previous values before anything else.
			entries, err := fault.OpenJournal(env.dir).Entries()
			require.NoError(t, err)
			open := fault.OpenInjections(entries)
			require.Len(t, open, 1)
			require.Equal(t, fault.UndoRestoreKeys, open[0].Undo[0].Action)
			require.NotEmpty(t, open[0].Undo[0].Keys)
			for _, k := range open[0].Undo[0].Keys {
				require.NotNil(t, k.Prev)
				require.Equal(t, before[k.Key], *k.Prev, k.Key)
			}
			require.Equal(t, "unit-etcd", open[0].Access.Etcd.Container[len(open[0].Access.Etcd.Container)-9:])

			require.NoError(t, f.Revert(ctx))
			require.Equal(t, before, registryKVs(t, ctx, cli), "revert restores every byte")
			require.NoError(t, f.Revert(ctx), "a second revert is a no-op")
			entries, err = fault.OpenJournal(env.dir).Entries()
			require.NoError(t, err)
			require.Empty(t, fault.OpenInjections(entries))
		})
	}

	t.Run("revert leaves a key someone else changed, and says so", func(t *testing.T) {
		f, err := fault.New(fault.Spec{Type: "route_to_other", Target: "backend"}, env)
		require.NoError(t, err)
		require.NoError(t, f.Inject(ctx))
		theirs := `{"name":"backend","service":"backend","timeout":"9s"}`
		_, err = cli.Put(ctx, registry.RouteKey(registry.BackendRoute), theirs)
		require.NoError(t, err)
		err = f.Revert(ctx)
		require.ErrorIs(t, err, fault.ErrConflict)
		require.Contains(t, err.Error(), registry.RouteKey(registry.BackendRoute))
		got := registryKVs(t, ctx, cli)[registry.RouteKey(registry.BackendRoute)]
		require.Equal(t, theirs, got, "their value is left alone")
		entries, err := fault.OpenJournal(env.dir).Entries()
		require.NoError(t, err)
		require.Len(t, fault.OpenInjections(entries), 1, "a failed revert leaves the injection open")

		// Once the key is back at its previous value, revert is done.
		_, err = cli.Put(ctx, registry.RouteKey(registry.BackendRoute), odd)
		require.NoError(t, err)
		require.NoError(t, f.Revert(ctx))
		require.Equal(t, before, registryKVs(t, ctx, cli))
	})

	t.Run("empty endpoints of a service without any is an error, and journals nothing open", func(t *testing.T) {
		f, err := fault.New(fault.Spec{Type: "empty_endpoints", Target: "backend"}, env)
		require.NoError(t, err)
		require.NoError(t, f.Inject(ctx))
		g, err := fault.New(fault.Spec{Type: "empty_endpoints", Target: "backend"}, env)
		require.NoError(t, err)
		err = g.Inject(ctx)
		require.ErrorContains(t, err, "nothing to change")
		require.ErrorContains(t, err, "inject empty_endpoints backend")
		require.NoError(t, g.Revert(ctx))
		require.NoError(t, f.Revert(ctx))
		require.Equal(t, before, registryKVs(t, ctx, cli))
	})
}
