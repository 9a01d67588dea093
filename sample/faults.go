package sample

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

// The sample system's registry faults: conveniences over etcd_put and
// etcd_delete that know the registry's documents. They are registered when
// this package is imported, like every fault type (fault.Register).
func init() {
	for _, t := range []fault.Type{
		{
			Name: "empty_endpoints", Kind: fault.Config, Targets: serviceNames,
			Doc: "deletes every endpoint key of a service: the control plane serves a valid but empty endpoint set",
			New: newEmptyEndpoints,
		},
		{
			Name: "route_to_other", Kind: fault.Config, Params: []string{"service"}, Targets: routeNames,
			Doc: "points a route at another service, by default other (valid config, wrong data)",
			New: newRouteToOther,
		},
		{
			Name: "rejected_resource", Kind: fault.Config, Targets: routeNames,
			Doc: "sets a route's retry backoff base to 0s: the control plane pushes it as written and both data planes reject it (NACK)",
			New: newRejectedResource,
		},
	} {
		if err := fault.Register(t); err != nil {
			panic(err) // a programming error in this package, found at init
		}
	}
}

func newEmptyEndpoints(spec fault.Spec, def stack.Definition, env fault.Env) (fault.Fault, error) {
	if err := oneOf(spec.Target, "service", serviceNames(def)); err != nil {
		return nil, err
	}
	if err := onlyParams(spec.Params); err != nil {
		return nil, err
	}
	prefix := registry.EndpointsPrefix(spec.Target)
	return fault.NewEtcdFault(spec, env, "empty endpoint set for service "+spec.Target,
		func(ctx context.Context, cli *clientv3.Client) ([]fault.KeyChange, map[string]int64, error) {
			return fault.ReadPrefix(ctx, cli, prefix, func(string, string) *string { return nil })
		})
}

func newRouteToOther(spec fault.Spec, def stack.Definition, env fault.Env) (fault.Fault, error) {
	if err := oneOf(spec.Target, "route", routeNames(def)); err != nil {
		return nil, err
	}
	svc := OtherService
	if v, ok := spec.Params["service"]; ok {
		s, isStr := v.(string)
		if !isStr {
			return nil, fmt.Errorf("param service: %v (%T) is not a string", v, v)
		}
		svc = s
	}
	if err := onlyParams(spec.Params, "service"); err != nil {
		return nil, err
	}
	if err := oneOf(svc, "service (param service)", serviceNames(def)); err != nil {
		return nil, err
	}
	if reg := registryOf(def); reg.Routes[spec.Target].Service == svc {
		return nil, fmt.Errorf("param service: route %s already sends to %s: want another service", spec.Target, svc)
	}
	return fault.NewEtcdFault(spec, env, fmt.Sprintf("route %s sent to service %s", spec.Target, svc),
		rewriteRoute(spec.Target, func(r *registry.Route) error {
			r.Service = svc
			return nil
		}))
}

func newRejectedResource(spec fault.Spec, def stack.Definition, env fault.Env) (fault.Fault, error) {
	if err := oneOf(spec.Target, "route", routeNames(def)); err != nil {
		return nil, err
	}
	if err := onlyParams(spec.Params); err != nil {
		return nil, err
	}
	return fault.NewEtcdFault(spec, env, "route "+spec.Target+" with retry backoff_base 0s (rejected by the data plane)",
		rewriteRoute(spec.Target, func(r *registry.Route) error {
			if r.Retry == nil {
				// A backoff needs a retry policy to live in.
				r.Retry = &registry.RetryPolicy{On: []string{"unavailable"}, NumRetries: 1}
			}
			zero := registry.Duration(0)
			r.Retry.BackoffBase = &zero
			return nil
		}))
}

// OtherService and the registry's other names, for catalogs and tests.
const (
	BackendService = registry.BackendService
	OtherService   = registry.OtherService
	BackendRoute   = registry.BackendRoute
)

// registryOf reads the registry back from a definition's seed (what
// Definition wrote). A definition that is not the sample's has none.
func registryOf(def stack.Definition) registry.Registry {
	kvs := make([]registry.KV, 0, len(def.Seed))
	for _, kv := range def.Seed {
		kvs = append(kvs, registry.KV{Key: kv.Key, Value: []byte(kv.Value)})
	}
	reg, _ := registry.Decode(kvs) // keys outside the registry are not its concern
	return reg
}

func serviceNames(def stack.Definition) []string {
	return slices.Sorted(maps.Keys(registryOf(def).Services))
}

func routeNames(def stack.Definition) []string {
	return slices.Sorted(maps.Keys(registryOf(def).Routes))
}

func oneOf(target, what string, names []string) error {
	for _, n := range names {
		if n == target {
			return nil
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("unknown %s %q: this system's etcd seed holds no sample registry", what, target)
	}
	return fmt.Errorf("unknown %s %q: want one of %s", what, target, strings.Join(names, ", "))
}

// onlyParams refuses params other than known: a typo must not pass
// silently.
func onlyParams(params map[string]any, known ...string) error {
	var unknown []string
	for k := range params {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	valid := "none"
	if len(known) > 0 {
		valid = strings.Join(known, ", ")
	}
	return fmt.Errorf("unknown params %s: valid params are %s", strings.Join(unknown, ", "), valid)
}

// rewriteRoute plans a change of one route document.
func rewriteRoute(name string, change func(*registry.Route) error) fault.EtcdPlan {
	return func(ctx context.Context, cli *clientv3.Client) ([]fault.KeyChange, map[string]int64, error) {
		key := registry.RouteKey(name)
		prev, rev, err := fault.ReadKey(ctx, cli, key)
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
		return []fault.KeyChange{{Key: key, Prev: prev, Wrote: &wrote}}, map[string]int64{key: rev}, nil
	}
}
