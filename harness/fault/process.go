package fault

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/stack"
)

// processFault is a fault on one component's container, addressed by its
// Docker name (which stays the same when the container is recreated).
type processFault struct {
	base
	comp      stack.Component
	container string
	// ce is the system's containers (nil when only validating).
	ce ContainersEnv
}

// newProcessFault resolves the target component and builds the shared part
// of a process fault.
func newProcessFault(spec Spec, def stack.Definition, env Env, ok func(stack.Component) bool, why, describe string) (processFault, error) {
	c, err := component(spec.Target, def, ok, why)
	if err != nil {
		return processFault{}, err
	}
	ce, err := capability[ContainersEnv](env, "containers it started")
	if err != nil {
		return processFault{}, err
	}
	pf := processFault{comp: c, ce: ce}
	if ce != nil {
		if pf.container, err = ce.ContainerName(c.Name); err != nil {
			return processFault{}, err
		}
	}
	pf.base = newBase(spec, env, Access{}, fmt.Sprintf(describe, c.Name))
	return pf, nil
}

// ready is the component's readiness check, for reverts that wait for it.
func (f *processFault) ready() *stack.ReadyCheck {
	port, ok := f.comp.PortNumber(f.comp.Ready.Port)
	if !ok || f.comp.Ready.Path == "" {
		return nil
	}
	return &stack.ReadyCheck{Port: port, Path: f.comp.Ready.Path}
}

// startUndo gets the component running and serving again on revert.
func (f *processFault) startUndo() []Undo {
	return []Undo{{Action: UndoStart, Container: f.container, Ready: f.ready()}}
}

// seconds turns a grace period into Docker's whole seconds, rounding up.
func seconds(d time.Duration) *int {
	s := int(math.Ceil(d.Seconds()))
	return &s
}

// restartCount reads a container's restart count and state.
func restartCount(ctx context.Context, name string) (int, string, error) {
	ctr, err := stack.Inspect(ctx, name)
	if err != nil {
		return 0, "", err
	}
	state := "unknown"
	if ctr.State != nil {
		state = string(ctr.State.Status)
	}
	return ctr.RestartCount, state, nil
}

// injectWith is the shape of every Docker-API process fault: under the
// fault's operation lock, journal undo first, then act on the component's
// container. fact, when set, records how long act took.
func (f *processFault) injectWith(ctx context.Context, undo []Undo, fact string, act func(ctx context.Context, cli *client.Client) error) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	cli, err := stack.Docker(ctx)
	if err != nil {
		return f.wrapInject(err)
	}
	if err := f.begin(newID(), undo); err != nil {
		return f.wrapInject(err)
	}
	t0 := time.Now()
	if err := act(ctx, cli); err != nil {
		return f.wrapInject(err)
	}
	if fact != "" {
		f.setFact(fact, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}
