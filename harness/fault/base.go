package fault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/okbreak/okbreak/harness/stack"
)

// base is what every fault type shares: its identity, the journal, the
// undo steps of the injection in force, and facts. Types embed it and call
// begin before acting; Revert is base's for every type.
type base struct {
	spec     Spec
	describe string
	env      Env
	x        *executor
	journal  *Journal
	st       *state
}

// state is the mutable part of a fault, shared by copies of its base.
type state struct {
	// op serialises Inject and Revert of one fault value.
	op sync.Mutex

	mu    sync.Mutex
	id    string // the injection in force; "" when none
	undo  []Undo
	facts Facts
}

func newBase(spec Spec, env Env, access Access, describe string) base {
	b := base{spec: spec, describe: describe, env: env, st: &state{facts: Facts{}}}
	if env != nil {
		b.x = &executor{env: env, access: access}
		b.journal = OpenJournal(env.StateDir())
	}
	return b
}

// Name implements Fault.
func (b *base) Name() string { return b.spec.name() }

// Describe implements Describer.
func (b *base) Describe() string { return b.describe }

// Facts implements Observer.
func (b *base) Facts() Facts {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	return maps.Clone(b.st.facts)
}

func (b *base) setFact(k string, v any) {
	if d, ok := v.(time.Duration); ok {
		v = d.String()
	}
	b.st.mu.Lock()
	b.st.facts[k] = v
	b.st.mu.Unlock()
}

// injecting is the ID of the injection in force, if any.
func (b *base) injecting() string {
	b.st.mu.Lock()
	defer b.st.mu.Unlock()
	return b.st.id
}

// begin journals an injection (fsync'd) and keeps its undo steps, before
// the caller changes anything. From then on Revert undoes it.
func (b *base) begin(id string, undo []Undo) error {
	if b.injecting() != "" {
		return errors.New("already injected: revert it first")
	}
	e := Entry{
		Op: OpInject, ID: id, Run: b.env.Run(), Fault: b.Name(), Type: b.spec.Type, Target: b.spec.Target,
		By: Self(), Access: b.x.access, Undo: undo, Note: b.describe,
	}
	if a, ok := b.env.(Attributed); ok {
		at := a.Attribution()
		e.Who, e.Until = at.Who, at.Until
	}
	if err := b.journal.Append(e); err != nil {
		return err
	}
	b.st.mu.Lock()
	b.st.id, b.st.undo = id, undo
	b.st.facts = Facts{}
	b.st.mu.Unlock()
	return nil
}

// abandon closes an injection that changed nothing after all (its write was
// refused), so that neither Revert nor recovery acts on it.
func (b *base) abandon(note string) {
	b.st.mu.Lock()
	id := b.st.id
	b.st.id, b.st.undo = "", nil
	b.st.mu.Unlock()
	if id != "" {
		_ = b.journal.Append(Entry{Op: OpReverted, ID: id, Run: b.env.Run(), Fault: b.Name(), By: Self(), Note: note})
	}
}

// Revert implements Fault for every type: it carries out the undo steps of
// the injection in force and journals the outcome. It closes the idle
// connections of the fault's API clients on the way out, whether there was
// an injection in force or not (an Inject that failed part-way is
// reverted too), so that a fault done with leaves no connection behind.
func (b *base) Revert(ctx context.Context) error {
	b.st.op.Lock()
	defer b.st.op.Unlock()
	if b.x != nil {
		defer b.x.closeIdle()
	}
	return b.revert(ctx)
}

func (b *base) revert(ctx context.Context) error {
	b.st.mu.Lock()
	id, undo := b.st.id, b.st.undo
	b.st.mu.Unlock()
	if id == "" {
		return nil
	}
	err := b.x.run(ctx, undo)
	e := Entry{Op: OpReverted, ID: id, Run: b.env.Run(), Fault: b.Name(), By: Self(), Facts: b.Facts()}
	if err != nil {
		e.Op, e.Error = OpRevertFailed, err.Error()
	}
	jerr := b.journal.Append(e)
	if err != nil {
		return fmt.Errorf("revert %s: %w", b.Name(), err)
	}
	b.st.mu.Lock()
	b.st.id, b.st.undo = "", nil
	b.st.mu.Unlock()
	if jerr != nil {
		return fmt.Errorf("revert %s: done, but %w", b.Name(), jerr)
	}
	return nil
}

// wrapInject wraps an inject error the same way for every type.
func (b *base) wrapInject(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("inject %s: %w", b.Name(), err)
}

// RevertEntry undoes one journaled injection without the process that made
// it, from the entry alone, and journals the outcome (note says who did it,
// e.g. "okbreak recover").
func RevertEntry(ctx context.Context, j *Journal, e Entry, note string) error {
	return RevertEntryAs(ctx, j, e, "", note)
}

// RevertEntryAs is RevertEntry on behalf of who (a person at `okbreak
// revert`, or the keeper), for the game-day log.
func RevertEntryAs(ctx context.Context, j *Journal, e Entry, who, note string) error {
	x := &executor{access: e.Access}
	defer x.closeIdle()
	err := x.run(ctx, e.Undo)
	out := Entry{Op: OpReverted, ID: e.ID, Run: e.Run, Fault: e.Fault, By: Self(), Who: who, Note: note}
	if err != nil {
		out.Op, out.Error = OpRevertFailed, err.Error()
	}
	jerr := j.Append(out)
	if err != nil {
		return fmt.Errorf("revert %s: %w", e.Fault, err)
	}
	if jerr != nil {
		return fmt.Errorf("revert %s: done, but %w", e.Fault, jerr)
	}
	return nil
}

// Abandon closes a journaled injection whose run no longer exists.
func Abandon(j *Journal, e Entry, note string) error {
	return j.Append(Entry{Op: OpAbandoned, ID: e.ID, Run: e.Run, Fault: e.Fault, By: Self(), Note: note})
}

// toxiproxyAccess and etcdAccess say where a run's Toxiproxy API and etcd
// are, for the journal, from the system's record of the containers it
// started. They refuse a system without the capability, and give nil for a
// nil env (validation only).
func toxiproxyAccess(env Env, links []string) (map[string]*Endpoint, error) {
	te, err := capability[ToxiproxyEnv](env, "Toxiproxy on its links")
	if err != nil || env == nil {
		return nil, err
	}
	def := te.Definition()
	out := map[string]*Endpoint{}
	if loc, ok := env.(ToxiproxyLocator); ok {
		for _, name := range links {
			ep, err := loc.LocateLink(name)
			if err != nil {
				return nil, err
			}
			out[name] = ep
		}
		return out, nil
	}
	for _, name := range links {
		l, ok := def.Link(name)
		if !ok {
			return nil, fmt.Errorf("no link %q", name)
		}
		ep, err := access(def, te.ContainerName, l.ProxyComponent(), "api", stack.PortToxiproxy)
		if err != nil {
			return nil, err
		}
		out[name] = ep
	}
	return out, nil
}

func etcdAccess(env Env) (*Endpoint, error) {
	ee, err := capability[EtcdEnv](env, "an etcd to write")
	if err != nil || env == nil {
		return nil, err
	}
	return access(ee.Definition(), ee.ContainerName, ee.Definition().EtcdComponent(), "client", stack.PortEtcd)
}

func access(def stack.Definition, containerName func(string) (string, error), component, port string, defPort int) (*Endpoint, error) {
	name, err := containerName(component)
	if err != nil {
		return nil, err
	}
	c, _ := def.Component(component)
	num, ok := c.PortNumber(port)
	if !ok {
		num = defPort
	}
	return &Endpoint{Component: component, Container: name, Port: num}, nil
}
