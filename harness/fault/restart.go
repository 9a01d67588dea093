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
		Name: "restart", Kind: Process, Targets: componentsWhere(nil), Params: known,
		Doc: "restarts a component gracefully (SIGTERM, SIGKILL after grace, then start); revert makes sure it runs",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, known...)
			grace := p.duration("grace", 10*time.Second, false)
			if err := p.err(); err != nil {
				return nil, err
			}
			pf, err := newProcessFault(spec, def, env, nil, "", "restart %s (grace "+grace.String()+")")
			if err != nil {
				return nil, err
			}
			return &restartFault{processFault: pf, grace: grace}, nil
		},
	})
}

type restartFault struct {
	processFault
	grace time.Duration
}

// Inject implements Fault.
func (f *restartFault) Inject(ctx context.Context) error {
	return f.injectWith(ctx, f.startUndo(), "restarted_in", func(ctx context.Context, cli *client.Client) error {
		_, err := cli.ContainerRestart(ctx, f.container, client.ContainerRestartOptions{Timeout: seconds(f.grace)})
		return err
	})
}
