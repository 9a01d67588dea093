// Package shop is a team's own system under test, written the way a team
// using okbreak from its own module would: its own names (a gateway in front
// of two cart instances, fed by its own control plane from etcd), its own
// answer check, its own static labels and its own alert rules
// (rules/shop.yml, severity critical, kube-state-metrics names). It reuses
// okbreak's buildable images (the sample service binary as the cart and the
// gateway, okbreak's xDS control plane), configured by its own flags and
// its own etcd data: nothing of okbreak's sample system is imported.
package shop

import (
	"encoding/json"
	"fmt"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/probe"
	"github.com/okbreak/okbreak/harness/stack"
)

// Names of the shop's parts.
const (
	Gateway = "gateway"
	XDS     = "shop-xds"
	CartA   = "cart-a"
	CartB   = "cart-b"
)

// Toxiproxy listen ports, one per link.
const (
	listenClientGateway = 11000
	listenGatewayXDS    = 11001
	listenXDSEtcd       = 11002
	listenCart0         = 11010
)

// System is the shop as an okbreak stack definition.
func System() stack.Definition {
	d := stack.Definition{DataPlane: stack.GRPC}
	link := func(from, to string, listen int, upstream string) {
		d.Links = append(d.Links, stack.Link{Name: from + "->" + to, From: from, To: to, Listen: listen, Upstream: upstream})
	}
	link("client", Gateway, listenClientGateway, Gateway+":8080")
	d.Links[0].Published = true
	link(Gateway, XDS, listenGatewayXDS, XDS+":18000")
	link(XDS, stack.Etcd, listenXDSEtcd, "etcd:2379")
	labels := func(name string) map[string]string {
		return map[string]string{"namespace": "shop", "pod": name + "-0", "container": name}
	}
	d.Components = append(d.Components,
		stack.Component{
			Name: stack.Etcd, Image: image.Etcd, Aliases: []string{"etcd"}, Job: "etcd", Labels: labels("etcd"),
			Cmd: []string{
				"--name=etcd", "--data-dir=/var/lib/etcd",
				"--listen-client-urls=http://0.0.0.0:2379", "--advertise-client-urls=http://etcd:2379",
				"--listen-peer-urls=http://0.0.0.0:2380", "--initial-advertise-peer-urls=http://etcd:2380",
				"--initial-cluster=etcd=http://etcd:2380",
			},
			Ports: []stack.Port{{Name: "client", Number: 2379}}, Ready: stack.Probe{Port: "client", Path: "/health"},
			Metrics: stack.Probe{Port: "client", Path: "/metrics"}, Restart: stack.RestartUnlessStopped,
		},
		stack.Component{
			Name: stack.Toxiproxy, Image: image.Toxiproxy, Aliases: []string{"toxiproxy"}, Job: "toxiproxy",
			Cmd:     []string{"-host=0.0.0.0", "-config=/etc/toxiproxy/proxies.json", "-proxy-metrics"},
			Ports:   []stack.Port{{Name: "api", Number: 8474}, {Name: "client", Number: listenClientGateway}},
			Ready:   stack.Probe{Port: "api", Path: "/version"},
			Metrics: stack.Probe{Port: "api", Path: "/metrics"}, Restart: stack.RestartUnlessStopped,
		},
	)
	var endpoints []kv
	for i, name := range []string{CartA, CartB} {
		listen := listenCart0 + i + 1
		link(Gateway, name, listen, name+":8080")
		d.Components = append(d.Components, stack.Component{
			Name: name, Image: image.SampleService, Aliases: []string{name}, Job: "cart", Labels: labels(name),
			Cmd:     []string{"--role=backend", "--service=cart", "--known-services=cart", "--instance=" + name, "--listen=:8080"},
			Ports:   []stack.Port{{Name: "http", Number: 8080}},
			Ready:   stack.Probe{Port: "http", Path: "/healthz"},
			Metrics: stack.Probe{Port: "http", Path: "/metrics"}, Restart: stack.RestartUnlessStopped,
		})
		endpoints = append(endpoints, kv{"/okbreak/registry/endpoints/cart/" + name,
			map[string]any{"instance": name, "address": "toxiproxy", "port": listen, "zone": "zone-a"}})
		d.Entry.Instances = append(d.Entry.Instances, name)
	}
	d.Components = append(d.Components,
		stack.Component{
			Name: XDS, Image: image.ControlPlane, Aliases: []string{XDS}, Job: "shop-xds", Labels: labels(XDS),
			Cmd:     []string{"--listen=:18000", "--admin=:9901", fmt.Sprintf("--etcd=toxiproxy:%d", listenXDSEtcd)},
			Ports:   []stack.Port{{Name: "ads", Number: 18000}, {Name: "admin", Number: 9901}},
			Ready:   stack.Probe{Port: "admin", Path: "/healthz"},
			Metrics: stack.Probe{Port: "admin", Path: "/metrics"}, Restart: stack.RestartUnlessStopped, Stage: 1,
		},
		stack.Component{
			Name: Gateway, Image: image.SampleService, Aliases: []string{Gateway}, Job: "gateway", Labels: labels(Gateway),
			Cmd: []string{"--role=frontend", "--listen=:8080", "--admin=:9901", "--target=xds:///cart",
				"--bootstrap=/etc/shop/xds.json"},
			Env:     map[string]string{"GRPC_XDS_BOOTSTRAP": "/etc/shop/xds.json"},
			Files:   []stack.File{{Path: "/etc/shop/xds.json", Content: bootstrap(), Mode: 0o644}},
			Ports:   []stack.Port{{Name: "http", Number: 8080}, {Name: "admin", Number: 9901}},
			Ready:   stack.Probe{Port: "admin", Path: "/ready"},
			Metrics: stack.Probe{Port: "admin", Path: "/metrics"}, Restart: stack.RestartUnlessStopped, Stage: 2,
		},
	)
	for i := range d.Components {
		if d.Components[i].Name == stack.Toxiproxy {
			d.Components[i].Files = []stack.File{{Path: "/etc/toxiproxy/proxies.json", Content: d.ToxiproxyConfig(stack.Toxiproxy), Mode: 0o644}}
		}
	}
	seed := append(endpoints,
		kv{"/okbreak/registry/services/cart", map[string]any{"name": "cart", "connect_timeout": "1s",
			"outlier_detection": map[string]any{"interval": "1s", "base_ejection_time": "10s", "max_ejection_time": "10s",
				"max_ejection_percent": 50, "consecutive_5xx": 5, "consecutive_gateway_failure": 5}}},
		kv{"/okbreak/registry/routes/cart", map[string]any{"name": "cart", "service": "cart", "timeout": "3s",
			"retry": map[string]any{"on": []string{"connect-failure", "reset", "5xx", "unavailable"}, "num_retries": 2, "per_try_timeout": "300ms"}}},
	)
	for _, s := range seed {
		b, _ := json.Marshal(s.value) // maps of strings and numbers
		d.Seed = append(d.Seed, stack.KV{Key: s.key, Value: string(b)})
	}
	d.Entry.Link, d.Entry.Host, d.Entry.Check = "client->"+Gateway, "cart", Check
	return d
}

type kv struct {
	key   string
	value any
}

// bootstrap is the gateway's xDS bootstrap: ADS through gateway->shop-xds.
func bootstrap() []byte {
	b, _ := json.Marshal(map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      fmt.Sprintf("toxiproxy:%d", listenGatewayXDS),
			"channel_creds":   []any{map[string]string{"type": "insecure"}},
			"server_features": []string{"xds_v3"},
		}},
		// The control plane tells a gRPC client from Envoy by this metadata
		// (or a node ID starting with "grpc").
		"node": map[string]any{"id": "shop-gateway", "cluster": "shop", "metadata": map[string]string{"okbreak.data_plane": "grpc"}},
	})
	return b
}

// Check is the shop's answer check: a 200 naming the cart service and the
// instance that served it.
func Check(code int, body []byte) probe.Answer {
	var a struct{ Service, Instance string }
	if code != 200 {
		return probe.Answer{Outcome: probe.Error, Err: probe.StatusErr(code, body)}
	}
	if err := json.Unmarshal(body, &a); err != nil || a.Instance == "" {
		return probe.Answer{Outcome: probe.Error, Err: fmt.Sprintf("not a cart answer: %q", body)}
	}
	if a.Service != "cart" {
		return probe.Answer{Outcome: probe.WrongService, Service: a.Service, Instance: a.Instance, Err: "answer from " + a.Service}
	}
	return probe.Answer{Outcome: probe.OK, Service: a.Service, Instance: a.Instance}
}
