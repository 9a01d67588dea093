package harness

import (
	"testing"
)

func TestLinkBytesAndIdleLinks(t *testing.T) {
	body := []byte(`# HELP toxiproxy_proxy_received_bytes_total x
# TYPE toxiproxy_proxy_received_bytes_total counter
toxiproxy_proxy_received_bytes_total{direction="downstream",listener="[::]:10000",proxy="client->edge",upstream="edge:8080"} 1200
toxiproxy_proxy_received_bytes_total{direction="upstream",listener="[::]:10000",proxy="client->edge",upstream="edge:8080"} 300
toxiproxy_proxy_sent_bytes_total{direction="upstream",listener="[::]:10001",proxy="edge->xds",upstream="control-plane:18000"} 5e+02
toxiproxy_proxy_other{proxy="edge->xds"} 9
`)
	got := parseLinkBytes(body)
	if got["client->edge"] != 1500 || got["edge->xds"] != 500 || len(got) != 2 {
		t.Fatalf("parseLinkBytes = %v", got)
	}
	links := []string{"client->edge", "edge->xds", "xds->etcd", "edge->backend-1"}
	before := linkUse{bytes: got, conns: map[string]int{"edge->backend-1": 1}}
	after := linkUse{bytes: map[string]float64{"client->edge": 1600, "edge->xds": 500}, conns: map[string]int{}}
	idle := idleLinks(links, before, after)
	if len(idle) != 2 || idle[0] != "edge->xds" || idle[1] != "xds->etcd" {
		t.Fatalf("idleLinks = %v, want edge->xds (no change) and xds->etcd (no series); client->edge moved, edge->backend-1 had a connection", idle)
	}
}
