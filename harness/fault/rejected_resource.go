package fault

import (
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

func init() {
	mustRegister(Type{
		Name: "rejected_resource", Kind: Config, Targets: routeNames,
		Doc: "sets a route's retry backoff base to 0s: the control plane pushes it as written and both data planes reject it (NACK)",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			if err := configTarget(spec.Target, "route", routeNames(def)); err != nil {
				return nil, err
			}
			if err := newParams(spec.Params).err(); err != nil {
				return nil, err
			}
			return newConfigFault(spec, def, env, "route "+spec.Target+" with retry backoff_base 0s (rejected by the data plane)",
				rewriteRoute(spec.Target, func(r *registry.Route) error {
					if r.Retry == nil {
						// A backoff needs a retry policy to live in.
						r.Retry = &registry.RetryPolicy{On: []string{"unavailable"}, NumRetries: 1}
					}
					zero := registry.Duration(0)
					r.Retry.BackoffBase = &zero
					return nil
				})), nil
		},
	})
}
