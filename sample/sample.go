// Package sample is okbreak's sample system under test: its own sample
// service (backends and a gRPC proxyless xDS frontend), its own control
// plane fed from a registry in etcd, or Envoy as the data plane. It is one
// implementation of the system under test, not an assumption of the
// harness: Definition gives it as a stack.Definition, Check judges its
// answers, and this package registers the fault types that only make sense
// on its registry (route_to_other, rejected_resource, empty_endpoints).
package sample

import (
	"encoding/json"
	"fmt"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/internal/registry"
)

// Names of the sample system. Components are containers, links are
// Toxiproxy proxies named from->to.
const (
	Etcd         = stack.Etcd
	Toxiproxy    = stack.Toxiproxy
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
	PortEtcd      = stack.PortEtcd
	PortEtcdPeer  = 2380
	PortToxiproxy = stack.PortToxiproxy
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

// Definition returns the sample system (README, "Architecture") for a data
// plane: etcd, Toxiproxy, the control plane, three backend instances, one
// other instance, and the data plane as "edge", every hop through
// Toxiproxy; its registry as etcd's seed, its answer check at the entry,
// and the data plane's config dump as evidence.
func Definition(dp stack.DataPlane, envoyBootstrap []byte) stack.Definition {
	d := stack.Definition{DataPlane: dp, Source: "a stack definition (the sample system: package sample)"}
	link := func(from, to string, listen int, upstream string) {
		d.Links = append(d.Links, stack.Link{Name: from + "->" + to, From: from, To: to, Listen: listen, Upstream: upstream})
	}
	link("client", Edge, listenClientEdge, fmt.Sprintf("%s:%d", Edge, PortHTTP))
	d.Links[0].Published = true
	link(Edge, "xds", listenEdgeXDS, fmt.Sprintf("%s:%d", ControlPlane, PortADS))
	link("xds", Etcd, listenXDSEtcd, fmt.Sprintf("%s:%d", Etcd, PortEtcd))

	d.Components = append(d.Components,
		stack.Component{
			Name: Etcd, Image: image.Etcd, Aliases: []string{Etcd},
			Cmd: []string{
				"--name=etcd", "--data-dir=/var/lib/etcd",
				"--listen-client-urls=http://0.0.0.0:2379", "--advertise-client-urls=http://etcd:2379",
				"--listen-peer-urls=http://0.0.0.0:2380", "--initial-advertise-peer-urls=http://etcd:2380",
				"--initial-cluster=etcd=http://etcd:2380",
			},
			Ports:   []stack.Port{{Name: "client", Number: PortEtcd}},
			Ready:   stack.Probe{Port: "client", Path: "/health"},
			Metrics: stack.Probe{Port: "client", Path: "/metrics"},
			Restart: stack.RestartUnlessStopped, Stage: 0,
		},
		stack.Component{
			Name: Toxiproxy, Image: image.Toxiproxy, Aliases: []string{Toxiproxy},
			Cmd:   []string{"-host=0.0.0.0", "-config=/etc/toxiproxy/proxies.json", "-proxy-metrics", "-runtime-metrics"},
			Ports: []stack.Port{{Name: "api", Number: PortToxiproxy}, {Name: "client", Number: listenClientEdge}},
			// Files is filled below, once every link is known.
			Ready:   stack.Probe{Port: "api", Path: "/version"},
			Metrics: stack.Probe{Port: "api", Path: "/metrics"},
			Restart: stack.RestartUnlessStopped, Stage: 0,
		},
	)
	var backends, others []registry.Endpoint
	addSample := func(service string, n, listen0 int) {
		name := fmt.Sprintf("%s-%d", service, n)
		d.Components = append(d.Components, stack.Component{
			Name: name, Image: image.SampleService, Aliases: []string{name}, Job: service,
			Cmd:     []string{"--role=backend", "--service=" + service, "--instance=" + name, fmt.Sprintf("--listen=:%d", PortHTTP)},
			Ports:   []stack.Port{{Name: "http", Number: PortHTTP}},
			Ready:   stack.Probe{Port: "http", Path: "/healthz"},
			Metrics: stack.Probe{Port: "http", Path: "/metrics"},
			Restart: stack.RestartUnlessStopped, Stage: 0,
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

	d.Components = append(d.Components, stack.Component{
		Name: ControlPlane, Image: image.ControlPlane, Aliases: []string{ControlPlane},
		Cmd: []string{
			fmt.Sprintf("--listen=:%d", PortADS), fmt.Sprintf("--admin=:%d", PortAdmin),
			fmt.Sprintf("--etcd=%s:%d", Toxiproxy, listenXDSEtcd),
		},
		Ports:   []stack.Port{{Name: "ads", Number: PortADS}, {Name: "admin", Number: PortAdmin}},
		Ready:   stack.Probe{Port: "admin", Path: "/healthz"},
		Metrics: stack.Probe{Port: "admin", Path: "/metrics"},
		Restart: stack.RestartUnlessStopped, Stage: 1,
	})

	edge := stack.Component{
		Name: Edge, Aliases: []string{Edge},
		Ports:   []stack.Port{{Name: "http", Number: PortHTTP}, {Name: "admin", Number: PortAdmin}},
		Restart: stack.RestartUnlessStopped, Stage: 2,
	}
	switch dp {
	case stack.Envoy:
		edge.Image = image.Envoy
		edge.Cmd = []string{"envoy", "-c", "/etc/envoy/bootstrap.yaml", "--service-node", "envoy-edge", "--service-cluster", "okbreak"}
		edge.Files = []stack.File{{Path: "/etc/envoy/bootstrap.yaml", Content: envoyBootstrap, Mode: 0o644}}
		edge.Ready = stack.Probe{Port: "admin", Path: "/ready"}
		edge.Metrics = stack.Probe{Port: "admin", Path: "/stats/prometheus"}
	default:
		edge.Image = image.SampleService
		edge.Cmd = []string{
			"--role=frontend", fmt.Sprintf("--listen=:%d", PortHTTP), fmt.Sprintf("--admin=:%d", PortAdmin),
			"--target=xds:///" + registry.BackendRoute, "--bootstrap=/etc/okbreak/xds-bootstrap.json",
		}
		edge.Files = []stack.File{{Path: "/etc/okbreak/xds-bootstrap.json", Content: GRPCBootstrap("grpc-edge"), Mode: 0o644}}
		// gRPC reads GRPC_XDS_BOOTSTRAP when the process loads; set, it spares
		// the frontend a re-exec of itself to hand the bootstrap over.
		edge.Env = map[string]string{"GRPC_XDS_BOOTSTRAP": "/etc/okbreak/xds-bootstrap.json"}
		edge.Ready = stack.Probe{Port: "admin", Path: "/ready"}
		edge.Metrics = stack.Probe{Port: "admin", Path: "/metrics"}
	}
	d.Components = append(d.Components, edge)

	cfg := d.ToxiproxyConfig(stack.Toxiproxy)
	for i := range d.Components {
		if d.Components[i].Name == Toxiproxy {
			d.Components[i].Files = []stack.File{{Path: "/etc/toxiproxy/proxies.json", Content: cfg, Mode: 0o644}}
		}
	}
	reg := registry.Default(backends, others)
	kvs, err := registry.Encode(reg)
	if err != nil {
		panic(fmt.Sprintf("sample registry: %v", err)) // built from constants above: a bug here
	}
	for _, kv := range kvs {
		d.Seed = append(d.Seed, stack.KV{Key: kv.Key, Value: string(kv.Value)})
	}
	for _, b := range backends {
		d.Entry.Instances = append(d.Entry.Instances, b.Instance)
	}
	d.Entry.Link, d.Entry.Host, d.Entry.Check = LinkClientEdge, registry.BackendRoute, Check(registry.BackendService)
	d.Evidence = []stack.EvidenceEndpoint{{Name: "data_plane_config", Component: Edge, Port: "admin", Path: "/config_dump"}}
	return d
}
