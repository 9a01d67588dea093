package stack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/internal/registry"
)

// DataPlane names what carries user traffic and consumes xDS.
type DataPlane string

const (
	// Envoy is the official Envoy image, configured over ADS.
	Envoy DataPlane = "envoy"
	// GRPC is the sample service's frontend role: gRPC-Go's proxyless xDS
	// client behind a small HTTP server.
	GRPC DataPlane = "grpc"
)

// ParseDataPlane reads "envoy" or "grpc". "auto" is resolved by the caller,
// which knows whether the Envoy image can be had.
func ParseDataPlane(s string) (DataPlane, error) {
	switch DataPlane(s) {
	case Envoy, GRPC:
		return DataPlane(s), nil
	}
	return "", fmt.Errorf("unknown data plane %q: want envoy, grpc or auto", s)
}

// Well-known names of the default stack. Components are containers, links
// are Toxiproxy proxies named from->to.
const (
	Etcd         = "etcd"
	Toxiproxy    = "toxiproxy"
	ControlPlane = "control-plane"
	Edge         = "edge"

	LinkClientEdge = "client->edge"
	LinkEdgeXDS    = "edge->xds"
	LinkXDSEtcd    = "xds->etcd"
)

// Ports inside the containers. They are fixed so that the stack definition,
// the registry and the compose file agree without asking Docker.
const (
	PortHTTP      = 8080  // sample service (HTTP, h2c and gRPC), data plane listener
	PortAdmin     = 9901  // data plane and control plane admin: /healthz, /metrics
	PortADS       = 18000 // control plane gRPC ADS
	PortEtcd      = 2379
	PortEtcdPeer  = 2380
	PortToxiproxy = 8474
)

// Toxiproxy listen ports, one a link. They stay below 32768 so that they never
// collide with the kernel's ephemeral range, and are decided before the
// Toxiproxy container is created because only ports published at creation
// can be reached from the host.
const (
	listenClientEdge = 10000
	listenEdgeXDS    = 10001
	listenXDSEtcd    = 10002
	listenBackend0   = 10010 // + instance number
	listenOther0     = 10020 // + instance number
)

// BackendCount is the number of backend instances in the default stack.
const BackendCount = 3

// Port is a container port a component publishes, with the role it plays.
type Port struct {
	// Name says what the port is for: "http", "admin", "ads", "client", "api".
	Name string `json:"name"`
	// Number is the port inside the container (TCP).
	Number int `json:"number"`
}

// File is a file written into a component's container before it starts.
type File struct {
	Path    string `json:"path"`
	Content []byte `json:"-"`
	Mode    int64  `json:"mode"`
}

// Probe names an HTTP endpoint on one of a component's ports.
type Probe struct {
	Port string `json:"port"` // a Port.Name
	Path string `json:"path"`
}

// RestartPolicy is Docker's restart policy for a component: "unless-stopped"
// for services (as a production orchestrator would), "no" for one-shot runs.
type RestartPolicy string

// Restart policies used by the default stack.
const (
	RestartUnlessStopped RestartPolicy = "unless-stopped"
	RestartNo            RestartPolicy = "no"
)

// Component is one container of the stack, as data: the harness starts it with
// testcontainers-go and the compose generator writes it as a service.
type Component struct {
	Name    string            `json:"name"`
	Image   image.Name        `json:"image"`
	Aliases []string          `json:"aliases"`
	Cmd     []string          `json:"cmd"`
	Env     map[string]string `json:"env,omitempty"`
	Ports   []Port            `json:"ports"`
	Files   []File            `json:"files,omitempty"`
	// Ready is the HTTP endpoint that answers 200 once the component serves.
	Ready Probe `json:"ready"`
	// Metrics is the Prometheus endpoint, scraped directly (not through
	// Toxiproxy), so that a network fault never hides a component's metrics.
	Metrics Probe         `json:"metrics"`
	Restart RestartPolicy `json:"restart"`
	// Stage orders start-up: every component of a stage starts in parallel,
	// after the previous stage is ready.
	Stage int `json:"stage"`
}

// PortNumber returns the container port with the given name.
func (c Component) PortNumber(name string) (int, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.Number, true
		}
	}
	return 0, false
}

// Link is a directed hop that runs through Toxiproxy.
type Link struct {
	// Name is "from->to", e.g. "edge->backend-1".
	Name string `json:"name"`
	From string `json:"from"`
	To   string `json:"to"`
	// Listen is the Toxiproxy listen port inside the network.
	Listen int `json:"listen"`
	// Upstream is "<component alias>:<port>".
	Upstream string `json:"upstream"`
	// Published links are reachable from the host (only client->edge: the
	// probe's way in).
	Published bool `json:"published,omitempty"`
}

// Definition is a whole stack as data. Default builds the one of
// README "Architecture"; the harness and the compose generator both read it, so
// that a game-day stack and a test stack cannot drift apart.
type Definition struct {
	DataPlane  DataPlane         `json:"data_plane"`
	Components []Component       `json:"components"`
	Links      []Link            `json:"links"`
	Registry   registry.Registry `json:"registry"`
}

// Component returns the component with the given name.
func (d Definition) Component(name string) (Component, bool) {
	for _, c := range d.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// Link returns the link with the given name.
func (d Definition) Link(name string) (Link, bool) {
	for _, l := range d.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// ComponentNames lists the components' names, sorted.
func (d Definition) ComponentNames() []string {
	var names []string
	for _, c := range d.Components {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return names
}

// LinkNames lists the links' names, sorted.
func (d Definition) LinkNames() []string {
	var names []string
	for _, l := range d.Links {
		names = append(names, l.Name)
	}
	sort.Strings(names)
	return names
}

// Backends lists the backend instances' names (backend-1..N).
func (d Definition) Backends() []string {
	var names []string
	for _, c := range d.Components {
		if strings.HasPrefix(c.Name, registry.BackendService+"-") {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	return names
}

// ToxiproxyConfig is the JSON that Toxiproxy's -config flag reads: every link
// as a proxy, so that proxies exist the moment Toxiproxy listens.
func (d Definition) ToxiproxyConfig() []byte {
	type proxy struct {
		Name     string `json:"name"`
		Listen   string `json:"listen"`
		Upstream string `json:"upstream"`
		Enabled  bool   `json:"enabled"`
	}
	var ps []proxy
	for _, l := range d.Links {
		ps = append(ps, proxy{Name: l.Name, Listen: "0.0.0.0:" + strconv.Itoa(l.Listen), Upstream: l.Upstream, Enabled: true})
	}
	b, _ := json.MarshalIndent(ps, "", "  ") // plain strings and bools: cannot fail
	return b
}

// GRPCBootstrap is the xDS bootstrap of the gRPC frontend with the given node
// ID: ADS through the edge->xds link.
func GRPCBootstrap(nodeID string) []byte {
	b, _ := json.MarshalIndent(map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      fmt.Sprintf("%s:%d", Toxiproxy, listenEdgeXDS),
			"channel_creds":   []any{map[string]string{"type": "insecure"}},
			"server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{"id": nodeID, "cluster": "okbreak"},
	}, "", "  ")
	return b
}

// Default returns the default stack (README, "Architecture") for a data plane:
// etcd, Toxiproxy, the control plane, three backend instances, one other
// instance, and the data plane as "edge", every hop through Toxiproxy.
func Default(dp DataPlane, envoyBootstrap []byte) Definition {
	d := Definition{DataPlane: dp}
	link := func(from, to string, listen int, upstream string) {
		d.Links = append(d.Links, Link{Name: from + "->" + to, From: from, To: to, Listen: listen, Upstream: upstream})
	}
	link("client", Edge, listenClientEdge, fmt.Sprintf("%s:%d", Edge, PortHTTP))
	d.Links[0].Published = true
	link(Edge, "xds", listenEdgeXDS, fmt.Sprintf("%s:%d", ControlPlane, PortADS))
	link("xds", Etcd, listenXDSEtcd, fmt.Sprintf("%s:%d", Etcd, PortEtcd))

	d.Components = append(d.Components,
		Component{
			Name: Etcd, Image: image.Etcd, Aliases: []string{Etcd},
			Cmd: []string{
				"--name=etcd", "--data-dir=/var/lib/etcd",
				"--listen-client-urls=http://0.0.0.0:2379", "--advertise-client-urls=http://etcd:2379",
				"--listen-peer-urls=http://0.0.0.0:2380", "--initial-advertise-peer-urls=http://etcd:2380",
				"--initial-cluster=etcd=http://etcd:2380",
			},
			Ports:   []Port{{Name: "client", Number: PortEtcd}},
			Ready:   Probe{Port: "client", Path: "/health"},
			Metrics: Probe{Port: "client", Path: "/metrics"},
			Restart: RestartUnlessStopped, Stage: 0,
		},
		Component{
			Name: Toxiproxy, Image: image.Toxiproxy, Aliases: []string{Toxiproxy},
			Cmd:   []string{"-host=0.0.0.0", "-config=/etc/toxiproxy/proxies.json", "-proxy-metrics", "-runtime-metrics"},
			Ports: []Port{{Name: "api", Number: PortToxiproxy}, {Name: "client", Number: listenClientEdge}},
			// Files is filled below, once every link is known.
			Ready:   Probe{Port: "api", Path: "/version"},
			Metrics: Probe{Port: "api", Path: "/metrics"},
			Restart: RestartUnlessStopped, Stage: 0,
		},
	)
	var backends, others []registry.Endpoint
	addSample := func(service string, n, listen0 int) {
		name := fmt.Sprintf("%s-%d", service, n)
		d.Components = append(d.Components, Component{
			Name: name, Image: image.SampleService, Aliases: []string{name},
			Cmd:     []string{"--role=backend", "--service=" + service, "--instance=" + name, fmt.Sprintf("--listen=:%d", PortHTTP)},
			Ports:   []Port{{Name: "http", Number: PortHTTP}},
			Ready:   Probe{Port: "http", Path: "/healthz"},
			Metrics: Probe{Port: "http", Path: "/metrics"},
			Restart: RestartUnlessStopped, Stage: 0,
		})
		link(Edge, name, listen0+n, fmt.Sprintf("%s:%d", name, PortHTTP))
		ep := registry.Endpoint{Instance: name, Address: Toxiproxy, Port: uint32(listen0 + n), Zone: "zone-a"}
		if service == registry.BackendService {
			backends = append(backends, ep)
		} else {
			others = append(others, ep)
		}
	}
	for i := 1; i <= BackendCount; i++ {
		addSample(registry.BackendService, i, listenBackend0)
	}
	addSample(registry.OtherService, 1, listenOther0)

	d.Components = append(d.Components, Component{
		Name: ControlPlane, Image: image.ControlPlane, Aliases: []string{ControlPlane},
		Cmd: []string{
			fmt.Sprintf("--listen=:%d", PortADS), fmt.Sprintf("--admin=:%d", PortAdmin),
			fmt.Sprintf("--etcd=%s:%d", Toxiproxy, listenXDSEtcd),
		},
		Ports:   []Port{{Name: "ads", Number: PortADS}, {Name: "admin", Number: PortAdmin}},
		Ready:   Probe{Port: "admin", Path: "/healthz"},
		Metrics: Probe{Port: "admin", Path: "/metrics"},
		Restart: RestartUnlessStopped, Stage: 1,
	})

	edge := Component{
		Name: Edge, Aliases: []string{Edge},
		Ports:   []Port{{Name: "http", Number: PortHTTP}, {Name: "admin", Number: PortAdmin}},
		Restart: RestartUnlessStopped, Stage: 2,
	}
	switch dp {
	case Envoy:
		edge.Image = image.Envoy
		edge.Cmd = []string{"envoy", "-c", "/etc/envoy/bootstrap.yaml", "--service-node", "envoy-edge", "--service-cluster", "okbreak"}
		edge.Files = []File{{Path: "/etc/envoy/bootstrap.yaml", Content: envoyBootstrap, Mode: 0o644}}
		edge.Ready = Probe{Port: "admin", Path: "/ready"}
		edge.Metrics = Probe{Port: "admin", Path: "/stats/prometheus"}
	default:
		edge.Image = image.SampleService
		edge.Cmd = []string{
			"--role=frontend", fmt.Sprintf("--listen=:%d", PortHTTP), fmt.Sprintf("--admin=:%d", PortAdmin),
			"--target=xds:///" + registry.BackendRoute, "--bootstrap=/etc/okbreak/xds-bootstrap.json",
		}
		edge.Files = []File{{Path: "/etc/okbreak/xds-bootstrap.json", Content: GRPCBootstrap("grpc-edge"), Mode: 0o644}}
		// gRPC reads GRPC_XDS_BOOTSTRAP when the process loads; set, it spares
		// the frontend a re-exec of itself to hand the bootstrap over.
		edge.Env = map[string]string{"GRPC_XDS_BOOTSTRAP": "/etc/okbreak/xds-bootstrap.json"}
		edge.Ready = Probe{Port: "admin", Path: "/ready"}
		edge.Metrics = Probe{Port: "admin", Path: "/metrics"}
	}
	d.Components = append(d.Components, edge)

	cfg := d.ToxiproxyConfig()
	for i := range d.Components {
		if d.Components[i].Name == Toxiproxy {
			d.Components[i].Files = []File{{Path: "/etc/toxiproxy/proxies.json", Content: cfg, Mode: 0o644}}
		}
	}
	d.Registry = registry.Default(backends, others)
	return d
}
