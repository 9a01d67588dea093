package fault

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/stack"
)

func init() {
	known := []string{"signal"}
	mustRegister(Type{
		Name: "terminate", Kind: Process, Targets: componentsWhere(nil), Params: known,
		Doc: "terminates a component through Docker (docker kill): it is not restarted, whatever its restart policy, until revert starts it",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, known...)
			sig := p.choice("signal", "KILL", "KILL", "TERM", "INT", "QUIT", "ABRT")
			if err := p.err(); err != nil {
				return nil, err
			}
			pf, err := newProcessFault(spec, def, env, nil, "", "terminate %s (docker kill -s "+sig+", not restarted)")
			if err != nil {
				return nil, err
			}
			return &terminateFault{processFault: pf, signal: sig}, nil
		},
	})
}

type terminateFault struct {
	processFault
	signal string
}

// Inject implements Fault.
func (f *terminateFault) Inject(ctx context.Context) error {
	return f.injectWith(ctx, f.startUndo(), "", func(ctx context.Context, cli *client.Client) error {
		if _, err := cli.ContainerKill(ctx, f.container, client.ContainerKillOptions{Signal: f.signal}); err != nil {
			return fmt.Errorf("docker kill -s %s: %w", f.signal, err)
		}
		return nil
	})
}
