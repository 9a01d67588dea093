package okbreaktest_test

import (
	"fmt"

	"github.com/okbreak/okbreak/harness/stack"
)

// A team's system is a stack.Definition of its own: components, links
// through Toxiproxy, an entry with an answer check. okbreaktest.Run brings
// it up and runs a catalog against it (testdata/shop is a whole module
// doing so); before that, its shape can be checked without Docker.
func Example() {
	def := stack.Definition{
		Components: []stack.Component{
			{Name: "toxiproxy", Ports: []stack.Port{{Name: "api", Number: 8474}, {Name: "client", Number: 11000}}},
			{Name: "api-0", Job: "api", Labels: map[string]string{"namespace": "shop"}, Ports: []stack.Port{{Name: "http", Number: 8080}}},
		},
		Links: []stack.Link{{Name: "client->api-0", From: "client", To: "api-0", Listen: 11000, Upstream: "api-0:8080", Published: true}},
		Entry: stack.Entry{Link: "client->api-0", Instances: []string{"api-0"}},
	}
	c, _ := def.Component("api-0")
	fmt.Println(def.LinkNames(), c.JobOf(), c.Labels["namespace"])
	fmt.Println(string(def.ToxiproxyConfig(stack.Toxiproxy)) != "")
	// Output:
	// [client->api-0] api shop
	// true
}
