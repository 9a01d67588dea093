package envfile_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/okbreak/okbreak/harness/envfile"
)

func ExampleLoad() {
	env, err := envfile.Load("../../docs/examples/env/staging.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, link := range env.Links() {
		api, proxy, _ := env.ProxyOf(link)
		fmt.Printf("%-16s %s proxy %s\n", link, api, proxy)
	}
	fmt.Println("probe:", env.Probe.Target, "halt under", env.Halt.MinSuccess, "for", env.Halt.For)
	fmt.Println(env.ToxicName("3f9a01bc", "latency-downstream"))
	// Output:
	// edge->backend-1  http://127.0.0.1:8474 proxy edge_backend-1
	// edge->backend-2  http://127.0.0.1:8474 proxy edge_backend-2
	// probe: http://127.0.0.1:10000/ halt under 0.5 for 30s
	// okbreak.staging.3f9a01bc.latency-downstream
}

func ExampleEnv_CheckLimits() {
	env, err := envfile.Parse("staging.yaml", []byte(`version: 1
name: staging
scale: 1
toxiproxies: [{name: tp-1, api: "http://127.0.0.1:8474"}]
links: [{name: edge->backend-1, toxiproxy: tp-1, proxy: edge_backend-1}]
probe: {url: "http://127.0.0.1:10000"}
alerts: {source: prometheus, prometheus: "http://127.0.0.1:9090"}
limits: {max_fault_duration: 5m}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = env.CheckLimits(20*time.Minute, 1)
	fmt.Println(errors.Is(err, envfile.ErrRefused))
	fmt.Println(err)
	// Output:
	// true
	// a fault of 20m0s is over the limit of 5m0s (limits.max_fault_duration) (fix: shorten the fault, or raise limits.max_fault_duration at staging.yaml:8:30)
}
