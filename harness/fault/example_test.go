package fault_test

import (
	"fmt"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// A fault is data until it is bound to a running system with fault.New;
// Validate checks it against a definition without one.
func ExampleValidate() {
	def := sample.Definition(stack.GRPC)
	fmt.Println(fault.Validate(fault.Spec{Type: "latency", Target: "edge->backend-*", Params: map[string]any{"latency": "2s"}}, def))
	fmt.Println(fault.Validate(fault.Spec{Type: "etcd_delete", Target: "/okbreak/registry/endpoints/backend/", Params: map[string]any{"prefix": true}}, def))
	fmt.Println(fault.Validate(fault.Spec{Type: "latency", Target: "edge->backend-2", Params: map[string]any{"latancy": "2s"}}, def))
	// Output:
	// <nil>
	// <nil>
	// fault latency edge->backend-2: param latency is required (a duration such as "2s")
	// unknown params latancy: valid params are direction, jitter, latency, toxicity
}
