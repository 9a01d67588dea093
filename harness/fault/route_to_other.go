package fault

import (
	"fmt"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

func init() {
	known := []string{"service"}
	mustRegister(Type{
		Name: "route_to_other", Kind: Config, Params: known, Targets: routeNames,
		Doc: "points a route at another service, by default other (valid config, wrong data)",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			if err := configTarget(spec.Target, "route", routeNames(def)); err != nil {
				return nil, err
			}
			p := newParams(spec.Params, known...)
			svc := p.str("service", registry.OtherService)
			if err := p.err(); err != nil {
				return nil, err
			}
			if err := configTarget(svc, "service (param service)", serviceNames(def)); err != nil {
				return nil, err
			}
			if def.Registry.Routes[spec.Target].Service == svc {
				return nil, fmt.Errorf("param service: route %s already sends to %s: want another service", spec.Target, svc)
			}
			return newConfigFault(spec, def, env, fmt.Sprintf("route %s sent to service %s", spec.Target, svc),
				rewriteRoute(spec.Target, func(r *registry.Route) error {
					r.Service = svc
					return nil
				})), nil
		},
	})
}
