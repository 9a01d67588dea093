// Package envfile reads the environment file of `okbreak run --env FILE`:
// what okbreak may touch when it runs against an environment it did not
// start (a staging system on a game day, with Toxiproxy already in the
// path), and when it must stop.
//
// The file is YAML, one document, read strictly: an unknown key, a value of
// the wrong type, a missing field, a name that is declared twice or used
// without being declared are all errors. Parse walks the yaml.v3 node tree,
// so each problem is an *Error at file:line:column saying what is wrong and
// how to fix it; it reports all of them at once, sorted by position, as
// Errors. fixtures/env.schema.json describes the same format for editors,
// and docs/examples/env/staging.yaml is a commented example.
//
//	version: 1
//	name: staging            # [a-z0-9-]: reports and toxic names
//	scale: 1                 # the time scale the environment's rules run at (>= 1)
//	toxiproxies:             # the Toxiproxy APIs okbreak may call
//	  - {name: tp-1, api: http://127.0.0.1:8474}
//	links:                   # link (caller->callee) = a proxy of a Toxiproxy
//	  - {name: edge->backend-1, toxiproxy: tp-1, proxy: edge_backend-1}
//	probe:                   # where users' traffic enters
//	  url: http://127.0.0.1:10000
//	  path: /                # default /
//	  host: ""               # Host header, default the URL's
//	  header: {x-probe: "1"}
//	  expect_instances: [backend-1, backend-2]
//	scrape:                  # source engine: the metrics okbreak scrapes
//	  - {job: backend, instance: backend-1, url: http://127.0.0.1:9101/metrics}
//	alerts:
//	  source: engine         # engine | prometheus | alertmanager
//	  rules: [rules/*.yml]   # source engine; relative to the file, globs
//	  prometheus: http://127.0.0.1:9090     # needed by source prometheus
//	  alertmanager: http://127.0.0.1:9093   # needed by source alertmanager
//	  page: {severity: page} # default
//	docker:                  # optional: the containers process faults may hit
//	  engine: local          # or tcp://HOST:PORT
//	  containers: [{component: backend-1, container: staging-backend-1}]
//	limits: {max_fault_duration: 5m, max_targets: 3}   # default 10m, 3
//	halt: {min_success: 0.5, for: 30s, alerts: [EdgeDown]}
//
// Load also finds the rule files alerts.rules matches (a pattern matching
// no file is an error at its position); Parse reads no disk and leaves
// them to the caller. Neither reads the rule files: whether halt.alerts
// names alerts of them, and whether the environment answers at all, are
// for the run to check.
//
// # The allow-list
//
// An Env is also the allow-list a run against the environment goes
// through: AllowURL, AllowProxy, AllowContainer and CheckLimits refuse
// what the file does not declare, with an error that wraps ErrRefused and
// says how to declare it. They are pure: they read the Env and nothing
// else, so a refusal never depends on what the network answers.
//
// # Toxic names
//
// Toxics okbreak creates through an environment file are named
//
//	okbreak.<env>.<run>.<fault>
//
// where env is the file's name, run the run's ID and fault the fault's name,
// run and fault kept to [a-z0-9_-] and [a-z0-9._-] (see ToxicName). Since
// neither env nor run holds a dot, the prefix "okbreak.<env>.<run>." names
// exactly one run's toxics: OwnToxic claims those and nothing else, not
// another run's, not another environment's, not toxics people made by hand,
// and not those okbreak's own stacks create ("okbreak-<type>-<id>-...").
//
// # Concurrency
//
// An Env is immutable once Load or Parse returns it: its methods only read
// it, and callers must treat its exported slices and maps as read-only.
// It is then safe for concurrent use. Load and Parse are safe for
// concurrent use.
package envfile
