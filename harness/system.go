package harness

import (
	"context"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// System is the system under test as the runner needs it: already running
// (the runner never brings it up or down), described by a definition, with
// an entry for users' traffic and a metrics endpoint per component.
// *stack.Stack is one; the sample system (package sample) is a
// stack.Definition brought up by stack.Up. Its methods must be safe for
// concurrent use.
//
// Abilities beyond these are found by type assertion and used when there:
// ContainerStater (container state as metrics, "components running"),
// LogTailer (logs as evidence), fault.ToxiproxyEnv (a clean Toxiproxy
// before a case, Toxiproxy's state as evidence), and the capabilities each
// fault type asks for (fault.ContainersEnv, fault.EtcdEnv).
type System interface {
	fault.Env
	// EntryURL is the base URL users' traffic enters by, as the host
	// reaches it.
	EntryURL(ctx context.Context) (string, error)
	// WaitServing waits until the entry answers OK from every instance the
	// definition's entry names, and fails with why when ctx ends first.
	WaitServing(ctx context.Context) error
	// MetricsURL is a component's Prometheus endpoint as the host reaches
	// it; it may change when the component restarts.
	MetricsURL(ctx context.Context, component string) (string, error)
	// HostAddr is "host:port" where the host reaches a component's named
	// port (for the definition's evidence endpoints).
	HostAddr(ctx context.Context, component, port string) (string, error)
}

// ContainerStater is a system that can say the state of every component's
// container.
type ContainerStater interface {
	ContainerStates(ctx context.Context) ([]stack.ContainerState, error)
}

// LinkWatcher is a system that can count the connections open through each
// link's Toxiproxy listener.
type LinkWatcher interface {
	LinkConnections(ctx context.Context) (map[string]int, error)
}

// ProxyScoper is a system that shares its Toxiproxies with others (a
// running environment): only the proxies it declares are its business, in
// the steady-state check as in recovery.
type ProxyScoper interface {
	DeclaredProxies(toxiproxy string) []string
}

// RemoteEntry is a system whose entry may be another host's (a running
// environment, allow-listed by its file): the probe, which otherwise only
// sends to loopback, may send there.
type RemoteEntry interface {
	RemoteEntry()
}

// MetricsLister is a system that has metrics for some of its components
// only (a running environment scrapes what its file declares).
type MetricsLister interface {
	MetricsComponents() []string
}

// LogTailer is a system that can give a component's last log lines.
type LogTailer interface {
	LogTail(ctx context.Context, component string, n int) (string, error)
}

var (
	_ System          = (*stack.Stack)(nil)
	_ ContainerStater = (*stack.Stack)(nil)
	_ LogTailer       = (*stack.Stack)(nil)
	_ LinkWatcher     = (*stack.Stack)(nil)
)
