package harness_test

import (
	"fmt"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// Inputs are a catalog and alert rules; Load checks them against a system
// before anything runs: fault types and targets against its definition,
// expected alerts against the rules.
func ExampleInputs_Load() {
	def := sample.Definition(stack.GRPC)
	in := harness.Inputs{
		Catalog: harness.Source{Name: "catalog.yaml", Data: []byte(`version: 1
cases:
  - name: one-backend-slow
    class: ok-to-break
    why: retries and outlier detection route around one slow backend
    fault: {type: latency, target: edge->backend-2, params: {latency: 2s}}
    duration: 5m
  - name: backend-gone
    class: not-ok
    why: an instance that stays down must page
    fault: {type: stop, target: backend-2}
    duration: 10m
    expect: {alerts: [InstanceMissing]}
`)},
		Rules: []harness.Source{{Name: "rules.yml", Data: []byte(`groups:
  - name: shop
    rules:
      - alert: InstanceMissing
        expr: okbreak_container_running{component=~"backend-.*"} == 0
        for: 2m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.component }} is missing"}
`)}},
	}
	cat, rules, warnings, err := in.Load(def)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range cat.Cases {
		fmt.Println(c.Name, c.Class, c.Faults[0].Type)
	}
	fmt.Println(len(rules), "rule file,", len(warnings), "warnings")

	in.Catalog.Data = []byte("version: 1\ncases:\n  - name: typo\n    class: ok-to-break\n    why: x\n    fault: {type: latency, target: edge->backend-9}\n    duration: 5m\n")
	_, _, _, err = in.Load(def)
	fmt.Println(err != nil)
	// Output:
	// one-backend-slow ok-to-break latency
	// backend-gone not-ok stop
	// 1 rule file, 0 warnings
	// true
}
