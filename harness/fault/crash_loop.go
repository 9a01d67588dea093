package fault

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
)

// EnvExitAtStart is the sample service's variable that makes it exit at
// once with the given code (its --exit-at-start flag).
const EnvExitAtStart = "OKBREAK_EXIT_AT_START"

// loopable components run the sample service (which has --exit-at-start)
// under a restart policy.
func loopable(c stack.Component) bool { return c.Image == image.SampleService && restartable(c) }

func init() {
	known := []string{"exit_code"}
	mustRegister(Type{
		Name: "crash_loop", Kind: Process, Params: known, Targets: componentsWhere(loopable),
		Doc: "recreates a component with a config that makes it exit at start; its restart policy restarts it again and again until revert puts the original back",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, known...)
			code := p.integer("exit_code", 1, 1, 255, false)
			if err := p.err(); err != nil {
				return nil, err
			}
			pf, err := newProcessFault(spec, def, env,
				loopable,
				"it needs the sample service's --exit-at-start and a restart policy",
				fmt.Sprintf("crash loop %%s (recreated with %s=%d)", EnvExitAtStart, code))
			if err != nil {
				return nil, err
			}
			return &crashLoopFault{processFault: pf, code: int(code)}, nil
		},
	})
}

// crashLoopFault replaces a component's container by one with the same
// name, aliases, labels and restart policy whose process exits at start.
type crashLoopFault struct {
	processFault
	code int
}

// Inject implements Fault. The journal holds the original's whole spec, so
// that the original can be recreated without this process.
func (f *crashLoopFault) Inject(ctx context.Context) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	orig, err := stack.SpecOf(ctx, f.env.Run(), f.comp)
	if err != nil {
		return f.wrapInject(err)
	}
	id := newID()
	if err := f.begin(id, []Undo{{Action: UndoRestoreContainer, Spec: &orig, FaultID: id}}); err != nil {
		return f.wrapInject(err)
	}
	loop := orig
	loop.Env = slices.Clone(orig.Env)
	loop.SetEnv(EnvExitAtStart, strconv.Itoa(f.code))
	loop.Labels = maps.Clone(orig.Labels)
	loop.Labels[stack.LabelFault] = id
	loop.Ready = nil
	if err := stack.RemoveContainer(ctx, orig.Name); err != nil {
		return f.wrapInject(err)
	}
	if _, err := stack.CreateContainer(ctx, loop); err != nil {
		return f.wrapInject(err)
	}
	f.setFact("exit_code", f.code)
	return f.wrapInject(f.ce.Refresh(ctx, f.comp.Name))
}

// Revert implements Fault: it notes how often the loop restarted, then puts
// the original back and waits until it serves.
func (f *crashLoopFault) Revert(ctx context.Context) error {
	if f.injecting() != "" {
		if n, _, err := restartCount(ctx, f.container); err == nil {
			f.setFact("restarts", n)
		}
	}
	return f.base.Revert(ctx)
}
