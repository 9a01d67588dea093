package sample_test

import (
	"fmt"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// The sample system is one stack.Definition, read from its stack file: what
// runs, a Toxiproxy holding the callees' names, the registry as etcd's seed,
// and where traffic enters.
func ExampleDefinition() {
	def := sample.Definition(stack.GRPC)
	fmt.Println(def.ComponentNames())
	fmt.Println(def.Entry.Link, def.Entry.Host, def.Entry.Instances)
	fmt.Println(len(def.Seed) > 0, def.Evidence[0].Name)
	// Output:
	// [backend-1 backend-2 backend-3 control-plane edge etcd other-1 toxiproxy]
	// client->edge backend [backend-1 backend-2 backend-3]
	// true data_plane_config
}

// Check judges the sample's JSON answers: who served the request decides
// whether a 200 is right.
func ExampleCheck() {
	check := sample.Check(sample.BackendService)
	fmt.Println(check(200, []byte(`{"service":"backend","instance":"backend-2"}`)).Outcome)
	fmt.Println(check(200, []byte(`{"service":"other","instance":"other-1"}`)).Outcome)
	fmt.Println(check(503, []byte(`no healthy upstream`)).Err)
	// Output:
	// ok
	// wrong_service
	// 503: no healthy upstream
}
