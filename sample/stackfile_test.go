package sample_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/sample"
)

// TestDefinitionLoads reads the embedded default stack file on both data
// planes and checks what the rest of okbreak relies on: the links the
// catalog names, all carried by one Toxiproxy that holds every callee's name
// (the callees' ports are distinct) and forwards to the real callee; the edge's image and readiness per
// data plane; the registry naming instances by service name only (no
// Toxiproxy address in any config); the entry and the evidence.
func TestDefinitionLoads(t *testing.T) {
	for _, tc := range []struct {
		dp      stack.DataPlane
		edge    image.Name
		metrics string
	}{
		{stack.GRPC, image.SampleService, "/metrics"},
		{stack.Envoy, image.Envoy, "/stats/prometheus"},
	} {
		t.Run(string(tc.dp), func(t *testing.T) {
			d := sample.Definition(tc.dp)
			if d.DataPlane != tc.dp {
				t.Errorf("data plane %s, want %s", d.DataPlane, tc.dp)
			}
			edge, ok := d.Component(sample.Edge)
			if !ok || edge.Image != tc.edge || edge.ImageRef != "" || edge.Metrics.Path != tc.metrics {
				t.Errorf("edge %+v: want image %s (resolved by okbreak), metrics %s", edge, tc.edge, tc.metrics)
			}
			wantLinks := []string{"client->edge", "edge->backend-1", "edge->backend-2", "edge->backend-3", "edge->other-1", "edge->xds", "xds->etcd"}
			if got := d.LinkNames(); !slices.Equal(sorted(got), wantLinks) {
				t.Errorf("links %v, want %v", got, wantLinks)
			}
			for _, l := range d.Links {
				if l.Proxy != stackfile.ProxyName || l.Upstream != stackfile.RealPrefix+l.To+":"+portOf(l.Upstream) {
					t.Errorf("link %s: proxy %s upstream %s, want the Toxiproxy of %s forwarding to the real one", l.Name, l.Proxy, l.Upstream, l.To)
				}
			}
			if got := d.Proxies(); !slices.Equal(got, []string{stackfile.ProxyName}) {
				t.Errorf("Toxiproxies %v, want one", got)
			}
			for _, kv := range d.Seed {
				if strings.Contains(kv.Value, "toxiproxy") {
					t.Errorf("seed %s names a Toxiproxy: %s", kv.Key, kv.Value)
				}
			}
			endpoints := 0
			for k, v := range d.SeedMap() {
				if !strings.Contains(k, "/endpoints/") {
					continue
				}
				var ep struct {
					Instance, Address string
					Port              int
				}
				if err := json.Unmarshal([]byte(v), &ep); err != nil {
					t.Fatalf("seed %s: %v", k, err)
				}
				l, _ := d.Link("edge->" + ep.Instance)
				if ep.Address != ep.Instance || ep.Port != l.Listen {
					t.Errorf("seed %s: endpoint %+v, want the instance by its service name on the port of edge->%s (%d)", k, ep, ep.Instance, l.Listen)
				}
				endpoints++
			}
			if endpoints != 4 {
				t.Errorf("%d endpoints in the registry, want 4 (three backends, one other)", endpoints)
			}
			if d.Entry.Link != sample.LinkClientEdge || d.Entry.Host != sample.BackendRoute || !slices.Equal(d.Entry.Instances, []string{"backend-1", "backend-2", "backend-3"}) {
				t.Errorf("entry %+v", d.Entry)
			}
			// The sample's own check, not the file's: it tells a wrong
			// service apart.
			if a := d.Entry.Check(200, []byte(`{"service":"other","instance":"other-1"}`)); a.Outcome != "wrong_service" {
				t.Errorf("an answer from other-1 is %s, want wrong_service", a.Outcome)
			}
			if len(d.Evidence) != 1 || d.Evidence[0].Component != sample.Edge || d.Evidence[0].Path != "/config_dump" {
				t.Errorf("evidence %+v", d.Evidence)
			}
		})
	}
}

func TestUnknownDataPlaneIsAnError(t *testing.T) {
	if _, err := sample.Rendering("linkerd"); err == nil || !strings.Contains(err.Error(), `"linkerd"`) {
		t.Fatalf("err = %v, want one naming the data plane", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func portOf(hostport string) string {
	_, p, _ := strings.Cut(hostport, ":")
	return p
}
