package stack

import (
	"strings"

	"encoding/json"
	"fmt"
	"github.com/moby/moby/api/types/container"
	"sort"
	"strconv"
	"time"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/probe"
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

// Names and ports of the parts okbreak itself adds to a system under test:
// Toxiproxy, which carries every link, and etcd, which config faults write.
const (
	Etcd      = "etcd"
	Toxiproxy = "toxiproxy"

	PortEtcd      = 2379
	PortToxiproxy = 8474
)

// Port is a container port a component publishes, with the role it plays.
type Port struct {
	// Name says what the port is for: "http", "admin", "ads", "client", "api".
	Name string `json:"name"`
	// Number is the port inside the container (TCP).
	Number int `json:"number"`
	// Internal ports are reached on the run's network only, not published
	// on the host: a Toxiproxy's listeners other than the entry's. Each
	// published port costs the engine a userland proxy and NAT rules at
	// start, and nothing on the host talks to these.
	Internal bool `json:"internal,omitempty"`
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

// docker is the policy as Docker takes it: Compose's "on-failure:3" is the
// policy on-failure with at most 3 retries.
func (r RestartPolicy) docker() container.RestartPolicy {
	name, retries, _ := strings.Cut(string(r), ":")
	n, _ := strconv.Atoi(retries) // "" or not a number: no limit
	return container.RestartPolicy{Name: container.RestartPolicyMode(name), MaximumRetryCount: n}
}

// Restart policies used by the default stack.
const (
	RestartUnlessStopped RestartPolicy = "unless-stopped"
	RestartNo            RestartPolicy = "no"
)

// Component is one container of the stack, as data: the harness starts it with
// testcontainers-go and the compose generator writes it as a service.
type Component struct {
	Name  string     `json:"name"`
	Image image.Name `json:"image"`
	// ImageRef, when set, is the image reference the component runs (a
	// team's own image); Image then only names it for the resolver.
	ImageRef string `json:"image_ref,omitempty"`
	// Build, when set, is how okbreak builds the component's image itself.
	Build      *Build            `json:"build,omitempty"`
	Aliases    []string          `json:"aliases"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd"`
	Env        map[string]string `json:"env,omitempty"`
	Ports      []Port            `json:"ports"`
	Files      []File            `json:"files,omitempty"`
	// Ready is the HTTP endpoint that answers 200 once the component serves.
	Ready Probe `json:"ready"`
	// Metrics is the Prometheus endpoint, scraped directly (not through
	// Toxiproxy), so that a network fault never hides a component's metrics.
	Metrics Probe         `json:"metrics"`
	Restart RestartPolicy `json:"restart"`
	// Job is the job label of the component's scrape target (default: the
	// component's name). Rules select on it.
	Job string `json:"job,omitempty"`
	// Labels are static labels added to every series scraped from the
	// component (teams' rules select on labels such as namespace, pod,
	// container). They may not set job or instance.
	Labels map[string]string `json:"labels,omitempty"`
	// Healthcheck is Docker's own health check of the container (a
	// Compose healthcheck); start-up waits for "healthy" when it is set.
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
	// Stage orders start-up: every component of a stage starts in parallel,
	// after the previous stage is ready.
	Stage int `json:"stage"`
}

// Build is an image okbreak builds for a team: a Go main package of a
// module on disk (into a scratch image), or a Dockerfile folder.
type Build struct {
	// GoDir is a folder of the module to build in, and GoPackage the main
	// package's import path ("": the package in GoDir).
	GoDir     string `json:"go_dir,omitempty"`
	GoPackage string `json:"go_package,omitempty"`
	// DockerDir is a folder holding a Dockerfile.
	DockerDir string `json:"docker_dir,omitempty"`
}

// Healthcheck is a command Docker runs in the container to judge its
// health, as Compose writes it (["CMD", ...] or ["CMD-SHELL", "..."]).
type Healthcheck struct {
	Test        []string      `json:"test"`
	Interval    time.Duration `json:"interval,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	StartPeriod time.Duration `json:"start_period,omitempty"`
	Retries     int           `json:"retries,omitempty"`
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
	// Proxy is the Toxiproxy component that carries the link (default
	// Toxiproxy). A system whose components call each other by service
	// name has one Toxiproxy per callee, holding the callee's name.
	Proxy string `json:"proxy,omitempty"`
}

// ProxyComponent is the Toxiproxy component that carries the link.
func (l Link) ProxyComponent() string {
	if l.Proxy != "" {
		return l.Proxy
	}
	return Toxiproxy
}

// Definition is a whole system under test as data: what runs, how it is
// linked, what is written into etcd before it serves, and where users'
// traffic enters. The sample system (package sample) is one; the harness
// and the compose generator both read it, so that a game-day stack and a
// test stack cannot drift apart.
type Definition struct {
	// Source says where the definition comes from, for renderings'
	// headers, e.g. "the sample system (package sample)".
	Source     string      `json:"source,omitempty"`
	DataPlane  DataPlane   `json:"data_plane"`
	Components []Component `json:"components"`
	Links      []Link      `json:"links"`
	// Seed is written into etcd in one transaction once the stage that
	// holds it is ready, before any later stage starts.
	Seed []KV `json:"seed,omitempty"`
	// EtcdName is the etcd component config faults write and the seed goes
	// to (default Etcd); its client port is the one named "client".
	EtcdName string `json:"etcd,omitempty"`
	// Entry is where users' traffic enters and how an answer is judged.
	Entry Entry `json:"entry"`
	// Evidence lists HTTP endpoints whose answers a failed case keeps, e.g.
	// a data plane's config dump.
	Evidence []EvidenceEndpoint `json:"evidence,omitempty"`
}

// KV is one etcd key and its value.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Entry is where the probe sends users' traffic and how it judges answers.
type Entry struct {
	// Link is the published link the traffic enters by (its Toxiproxy
	// listener), e.g. "client->edge".
	Link string `json:"link"`
	// Host is the Host header sent (empty: the listener's address).
	Host string `json:"host,omitempty"`
	// Path is the request path (default "/").
	Path string `json:"path,omitempty"`
	// Instances must each have answered through the entry before the
	// system counts as serving, and again before a case counts as back.
	// Empty: any OK answer will do.
	Instances []string `json:"instances,omitempty"`
	// Check judges each answer (probe.StatusOK when nil).
	Check probe.Check `json:"-"`
	// Header, when set, also judges the headers of each answer Check
	// found OK.
	Header probe.HeaderCheck `json:"-"`
}

// EvidenceEndpoint is an HTTP endpoint on a component's port whose answer a
// failed case keeps under Name.
type EvidenceEndpoint struct {
	Name      string `json:"name"`
	Component string `json:"component"`
	Port      string `json:"port"`
	Path      string `json:"path"`
}

// EtcdComponent is the name of the etcd component.
func (d Definition) EtcdComponent() string {
	if d.EtcdName != "" {
		return d.EtcdName
	}
	return Etcd
}

// SeedMap is the Seed as key -> value.
func (d Definition) SeedMap() map[string]string {
	m := make(map[string]string, len(d.Seed))
	for _, kv := range d.Seed {
		m[kv.Key] = kv.Value
	}
	return m
}

// JobOf is the job label of a component's scrape target.
func (c Component) JobOf() string {
	if c.Job != "" {
		return c.Job
	}
	return c.Name
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

// Proxies lists the Toxiproxy components that carry the links, sorted.
func (d Definition) Proxies() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range d.Links {
		if p := l.ProxyComponent(); !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// IsProxy tells whether a component is a Toxiproxy that carries links.
func (d Definition) IsProxy(component string) bool {
	for _, l := range d.Links {
		if l.ProxyComponent() == component {
			return true
		}
	}
	return false
}

// ToxiproxyConfig is the JSON that Toxiproxy's -config flag reads: every link
// the proxy component carries, so that proxies exist the moment Toxiproxy
// listens.
func (d Definition) ToxiproxyConfig(proxy string) []byte {
	type entry struct {
		Name     string `json:"name"`
		Listen   string `json:"listen"`
		Upstream string `json:"upstream"`
		Enabled  bool   `json:"enabled"`
	}
	var ps []entry
	for _, l := range d.Links {
		if l.ProxyComponent() != proxy {
			continue
		}
		ps = append(ps, entry{Name: l.Name, Listen: "0.0.0.0:" + strconv.Itoa(l.Listen), Upstream: l.Upstream, Enabled: true})
	}
	b, _ := json.MarshalIndent(ps, "", "  ") // plain strings and bools: cannot fail
	return b
}
