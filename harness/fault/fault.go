// Package fault injects the faults of the catalog into a running stack and
// always takes them back out: network toxics on links (through the stack's
// Toxiproxy), process faults on components (through the Docker API and, for
// crashes, a signal from the engine's host), and config faults written into
// the registry in etcd.
//
// A fault is a value built from data (Spec: type, target, params) by New.
// Every Inject first appends what it will change, with the previous values,
// to the run's journal (fsync'd), and only then acts; Revert undoes it and
// journals that too. The journal holds everything needed to undo a fault
// without the process that injected it, which is how harness.Recover
// repairs the stack after that process was killed.
//
// Adding a fault type is one file that calls Register in its init.
package fault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/stack"
)

// Fault is a change to a running stack that can be put in force and taken
// back. Inject and Revert are safe for concurrent use; Revert is idempotent
// ("already gone" counts as done) and a no-op on a fault never injected.
type Fault interface {
	// Name says which fault this is, e.g. the catalog case's name.
	Name() string
	// Inject puts the fault in force. It journals what it will change
	// before changing anything. On error the fault may be partly in force:
	// call Revert anyway (Guard and Apply do).
	Inject(ctx context.Context) error
	// Revert takes the fault out of force and restores the previous state.
	Revert(ctx context.Context) error
}

// Observer is a fault that records facts about its effect while in force:
// the exit code and time to exit of a second instance, the restarts of a
// crashed component. Facts is safe to call at any time, concurrently.
type Observer interface {
	Facts() Facts
}

// Outcomer is a fault whose case demands a reaction of the system that the
// probe and the alerts cannot see: bad_config_at_start's second instance
// must exit non-zero within exit_within. Outcome waits (up to the fault's
// own bound, or until ctx ends) until the reaction is known, and returns nil
// when it happened as demanded, or an error that says what happened
// instead. Call it after Inject returned and before Revert; it is safe for
// concurrent use and may be called more than once.
type Outcomer interface {
	Outcome(ctx context.Context) error
}

// Facts are observations keyed by name ("exit_code", "time_to_exit").
// Values are plain JSON values (numbers, strings, booleans); durations are
// strings such as "1.2s".
type Facts map[string]any

// Describer is a fault that can say in one line what it does, e.g.
// "latency 2s (jitter 0s) downstream on edge->xds, toxicity 1".
type Describer interface {
	Describe() string
}

// Spec is a fault as data, as the catalog writes it.
type Spec struct {
	// Type is a registered type, e.g. "latency" (see Types).
	Type string `json:"type" yaml:"type"`
	// Target is what the fault acts on: link names for network faults
	// (one fault over every link), component names for process faults,
	// registry services or routes for config faults (one fault per
	// target, put together). Several are separated by commas; globs such
	// as "edge->backend-*" or "backend-*" match against the stack.
	Target string `json:"target" yaml:"target"`
	// Params are the type's parameters; unknown keys are an error.
	// Durations are strings such as "2s".
	Params map[string]any `json:"params,omitempty" yaml:"params,omitempty"`
	// Name, when set, names the fault (default "<type> <target>").
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
}

func (s Spec) name() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Type + " " + s.Target
}

// Env is what every fault needs from the system under test: what it is
// made of, which run it is, and where the journal lives. What a fault acts
// through is an extra capability, found by type assertion: ToxiproxyEnv
// for network faults, ContainersEnv for process faults, EtcdEnv for config
// faults. A fault type asks only for the one it uses, and New refuses
// clearly when the system lacks it. *stack.Stack has all three (so does a
// stack rebuilt by stack.Attach in another process).
type Env interface {
	// Definition is the system's definition: components, links, seed.
	Definition() stack.Definition
	// Run is the run ID the journal's entries carry.
	Run() string
	// StateDir is the run's state folder, where the journal lives.
	StateDir() string
}

// Attributed is an Env that says who injects and until when: a game day's
// faults carry their operator and deadline into the journal, where `okbreak
// status` shows them and the stack's keeper enforces the deadline.
type Attributed interface {
	Attribution() Attribution
}

// Attribution is who injects a fault and until when (zero: no deadline).
type Attribution struct {
	Who   string
	Until time.Time
}

// ToxiproxyLocator is a system whose Toxiproxies are not containers it
// started (a running environment's): it says, for each link, the API URL
// and the proxy that carries it, which the journal keeps for recovery.
type ToxiproxyLocator interface {
	LocateLink(link string) (*Endpoint, error)
}

// ToxicNamer is a system that names the toxics okbreak creates on it, so
// that recovery from any machine finds exactly them and nothing else. The
// suffix is unique to the injection and stream.
type ToxicNamer interface {
	ToxicName(suffix string) string
}

// HostSignaller is a system that says whether its containers' processes
// can be signalled from this host: not when they run on another host's
// engine, where crash (a signal from the engine's host) is refused.
type HostSignaller interface {
	SignalsFromHost() bool
}

// ToxiproxyEnv is a system whose links run through Toxiproxy.
type ToxiproxyEnv interface {
	Env
	// ToxiproxyAPI is the URL of the API of the Toxiproxy component proxy,
	// one of Definition().Proxies() (a system may have one per callee).
	ToxiproxyAPI(ctx context.Context, proxy string) (string, error)
	// ContainerName is the name of the container the system started for
	// a component ("" with an error when it started none).
	ContainerName(component string) (string, error)
}

// ContainersEnv is a system whose components are containers it started.
type ContainersEnv interface {
	Env
	// ContainerName is the name of the container the system started for
	// a component, from its own record of what it started.
	ContainerName(component string) (string, error)
	// Refresh tells the system that a component's container was replaced.
	Refresh(ctx context.Context, component string) error
}

// EtcdEnv is a system with an etcd that config faults may write.
type EtcdEnv interface {
	Env
	// Etcd returns a client of the system's etcd; the caller closes it.
	Etcd(ctx context.Context) (*clientv3.Client, error)
	// ContainerName is the name of the container the system started for
	// a component.
	ContainerName(component string) (string, error)
}

// capability returns env as a C, or an error that names what the fault
// needs and the system lacks. A nil env (validation only) passes.
func capability[C any](env Env, what string) (C, error) {
	var zero C
	if env == nil {
		return zero, nil
	}
	c, ok := env.(C)
	if !ok {
		return zero, fmt.Errorf("this fault needs %s, and the system under test (%T) has none", what, env)
	}
	return c, nil
}

// Kind groups fault types by what they act on, which decides their targets.
type Kind string

// Kinds of fault.
const (
	Network Kind = "network" // targets links
	Process Kind = "process" // targets components
	Config  Kind = "config"  // targets registry services or routes
)

// Type is a registered fault type.
type Type struct {
	// Name is what Spec.Type says, e.g. "latency".
	Name string
	Kind Kind
	// Doc says in one line what the fault does.
	Doc string
	// Params lists the parameter names the type accepts, for messages.
	Params []string
	// Targets lists what a fault of this type may target in a stack: link
	// names, component names or registry names.
	Targets func(def stack.Definition) []string
	// New checks spec against def and builds the fault. env is nil when
	// the caller only validates: New must not use it then.
	New func(spec Spec, def stack.Definition, env Env) (Fault, error)
}

var (
	registryMu sync.RWMutex
	types      = map[string]Type{}
)

// Register adds a fault type. It is meant for init functions; a second
// registration of the same name is an error.
func Register(t Type) error {
	if t.Name == "" || t.New == nil {
		return errors.New("register fault type: name and New are required")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, ok := types[t.Name]; ok {
		return fmt.Errorf("register fault type %q: already registered", t.Name)
	}
	types[t.Name] = t
	return nil
}

func mustRegister(t Type) {
	if err := Register(t); err != nil {
		panic(err) // a programming error in this package, found at init
	}
}

// Types lists the registered fault types, sorted by name.
func Types() []Type {
	registryMu.RLock()
	defer registryMu.RUnlock()
	var out []Type
	for _, t := range types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func typeNames() string {
	var names []string
	for _, t := range Types() {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

func lookup(typ string) (Type, error) {
	registryMu.RLock()
	t, ok := types[typ]
	registryMu.RUnlock()
	if !ok {
		return Type{}, fmt.Errorf("unknown fault type %q: want one of %s", typ, typeNames())
	}
	return t, nil
}

// New builds the fault that spec describes, bound to a running stack.
func New(spec Spec, env Env) (Fault, error) {
	if env == nil {
		return nil, errors.New("fault.New: nil Env")
	}
	t, err := lookup(spec.Type)
	if err != nil {
		return nil, err
	}
	f, err := build(t, spec, env.Definition(), env)
	if err != nil {
		return nil, fmt.Errorf("fault %s: %w", spec.name(), err)
	}
	return f, nil
}

// build makes the fault of a spec; a process or config fault on several
// targets is one fault per target, put together.
func build(t Type, spec Spec, def stack.Definition, env Env) (Fault, error) {
	if err := needs(t, def); err != nil {
		return nil, err
	}
	targets, err := expandTargets(t, spec.Target, def)
	if err != nil {
		return nil, err
	}
	if len(targets) == 1 {
		spec.Target = targets[0]
		return t.New(spec, def, env)
	}
	c := &composite{name: spec.name()}
	for _, target := range targets {
		part := spec
		part.Target, part.Name = target, ""
		f, err := t.New(part, def, env)
		if err != nil {
			return nil, err
		}
		c.parts = append(c.parts, f)
	}
	return c, nil
}

// Validate checks spec against a stack definition without a running stack:
// type, target and params. The catalog validator calls it.
func Validate(spec Spec, def stack.Definition) error {
	t, err := lookup(spec.Type)
	if err != nil {
		return err
	}
	if _, err := build(t, spec, def, nil); err != nil {
		return fmt.Errorf("fault %s: %w", spec.name(), err)
	}
	return nil
}

// needs says what part of the system a fault type acts on and the
// definition lacks, before any target is looked at: a config fault writes
// the system's etcd.
func needs(t Type, def stack.Definition) error {
	if t.Kind != Config {
		return nil
	}
	if _, ok := def.Component(def.EtcdComponent()); !ok {
		return fmt.Errorf("a %s fault writes the system's etcd, and the system has no component %q: a stack file names its etcd with x-okbreak roles.etcd", t.Name, def.EtcdComponent())
	}
	return nil
}

// A running stack, and one rebuilt by stack.Attach, has every capability.
var (
	_ ToxiproxyEnv  = (*stack.Stack)(nil)
	_ ContainersEnv = (*stack.Stack)(nil)
	_ EtcdEnv       = (*stack.Stack)(nil)
)
