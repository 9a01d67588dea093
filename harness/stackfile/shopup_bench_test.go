package stackfile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
)

// BenchmarkShopUp measures a warm start of the shop (images built, fresh
// network and containers, up to traffic through client->gateway having
// reached both carts; teardown not timed): from its stack file (parsed and
// compiled inside the timer, a Toxiproxy per callee: 10 containers), and
// from the Go definition it had before stack files (one Toxiproxy: 6).
// Run each alone to pair them (farm-bench --vs).
func BenchmarkShopUp(b *testing.B) {
	ctx := context.Background()
	r, err := image.NewResolver(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []image.Name{image.Etcd, image.Toxiproxy, image.SampleService, image.ControlPlane} {
		if _, err := r.Resolve(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	r.Close()
	fromFile := func() (stack.Definition, error) {
		f, err := stackfile.Load(ctx, shopStack, stackfile.Options{})
		if err != nil {
			return stack.Definition{}, err
		}
		return f.Definition()
	}
	// The same answer check for both: the one the stack file compiles.
	check, err := fromFile()
	if err != nil {
		b.Fatal(err)
	}
	fromGo := func() (stack.Definition, error) {
		d := shopGoDefinition()
		d.Entry.Check = check.Entry.Check
		return d, nil
	}
	for _, bc := range []struct {
		name string
		def  func() (stack.Definition, error)
	}{{"stack-file", fromFile}, {"go-definition", fromGo}} {
		b.Run(bc.name, func(b *testing.B) {
			for range b.N {
				def, err := bc.def()
				if err != nil {
					b.Fatal(err)
				}
				s, err := stack.Up(ctx, def)
				b.StopTimer()
				if s != nil {
					downCtx, cancel := context.WithTimeout(ctx, time.Minute)
					if derr := s.Down(downCtx); derr != nil {
						b.Error(derr)
					}
					cancel()
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

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

// shopGoDefinition is the shop as it was described before stack files:
// in Go, with one Toxiproxy for every link and the configs naming
// toxiproxy:<port>. It is the baseline of BenchmarkShopUp.
func shopGoDefinition() stack.Definition {
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
	d.Entry.Link, d.Entry.Host = "client->"+Gateway, "cart"
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
