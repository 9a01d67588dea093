package fault

import (
	"context"
	"time"

	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/stack"
)

func init() {
	known := []string{"grace"}
	mustRegister(Type{
		Name: "stop", Kind: Process, Targets: componentsWhere(nil), Params: known,
		Doc: "stops a component gracefully (SIGTERM, SIGKILL after grace); it stays stopped until revert starts it",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, known...)
			grace := p.duration("grace", 10*time.Second, false)
			if err := p.err(); err != nil {
				return nil, err
			}
			pf, err := newProcessFault(spec, def, env, nil, "", "stop %s (SIGTERM, then SIGKILL after "+grace.String()+")")
			if err != nil {
				return nil, err
			}
			return &stopFault{processFault: pf, grace: grace}, nil
		},
	})
}

type stopFault struct {
	processFault
	grace time.Duration
}

// Inject implements Fault.
func (f *stopFault) Inject(ctx context.Context) error {
	err := f.injectWith(ctx, f.startUndo(), "stopped_in", func(ctx context.Context, cli *client.Client) error {
		_, err := cli.ContainerStop(ctx, f.container, client.ContainerStopOptions{Timeout: seconds(f.grace)})
		return err
	})
	if err != nil {
		return err
	}
	if ctr, err := stack.Inspect(ctx, f.container); err == nil && ctr.State != nil {
		f.setFact("exit_code", ctr.State.ExitCode)
	}
	return nil
}
