package fault

import (
	"context"

	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/stack"
)

func init() {
	mustRegister(Type{
		Name: "pause", Kind: Process, Targets: componentsWhere(nil),
		Doc: "freezes a component (cgroup freezer): its connections hang until revert unpauses it",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			if err := newParams(spec.Params).err(); err != nil {
				return nil, err
			}
			pf, err := newProcessFault(spec, def, env, nil, "", "pause %s")
			if err != nil {
				return nil, err
			}
			return &pauseFault{processFault: pf}, nil
		},
	})
}

type pauseFault struct{ processFault }

// Inject implements Fault.
func (f *pauseFault) Inject(ctx context.Context) error {
	return f.injectWith(ctx, []Undo{{Action: UndoUnpause, Container: f.container}}, "", func(ctx context.Context, cli *client.Client) error {
		_, err := cli.ContainerPause(ctx, f.container, client.ContainerPauseOptions{})
		return err
	})
}
