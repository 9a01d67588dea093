// Package stackfile reads a stack file: a Compose file (the Compose
// Specification) that says what a team's system runs, plus an x-okbreak
// block that says what Compose cannot: which hops okbreak puts Toxiproxy on,
// how the probe sends users' traffic, and where metrics, readiness, etcd,
// alert rules and the catalog are.
//
// compose-go (github.com/compose-spec/compose-go/v2) does the Compose part:
// interpolation, short and long syntax, merge keys, profiles. It keeps no
// positions, so the package also walks the same bytes as a yaml.v3 node
// tree and checks every key and value there first; each problem is an
// *Error with file:line:column, what is wrong and how to fix it, and Load
// returns all of them, sorted by position, as Errors.
//
// # Compose subset
//
// Top level: name (literal), services, configs, and any x-* key (x-* keys
// other than x-okbreak are ignored, as Compose ignores them; they are where
// anchors live). A service may have image, build (a folder, or {context,
// dockerfile}), command, entrypoint, environment, ports, volumes, configs,
// depends_on, healthcheck, restart and profiles. Volumes bind-mount files
// only (./conf/app.yaml:/etc/app.yaml[:ro], or type: bind with source,
// target, read_only): a named volume, a folder, tmpfs or another mount type
// is an error. Top-level configs have exactly one of file and content; a
// service names them in short (- name) or long ({source, target}) syntax.
// depends_on is a list, or a mapping of names to {condition:
// service_started|service_healthy|service_completed_successfully}. Any other
// key, anywhere, is an error; its fix says whether Compose knows the key
// (and okbreak leaves it out) or it is likely a typo.
//
// ${VAR} interpolation uses Options.Env only. Container ports, healthcheck
// timings, retries and disable, volume types and modes, read_only, config
// and dependency names and the project name must be written literally:
// links name container ports, and a rendering of File.Raw writes these back
// as values, not as variables.
//
// # x-okbreak
//
//	x-okbreak:
//	  links:                        # required, non-empty
//	    - to: cart-a                # callee service
//	      port: 8080                # callee's container port: in its ports,
//	                                # or its components metrics/ready port
//	      from: gateway             # caller service, client (the host and the
//	                                # probe) or any (default)
//	      name: gateway->cart-a     # default <from>-><to>
//	  probe:                        # optional
//	    link: client->gateway       # a link from client
//	    method: GET                 # default GET
//	    path: /                     # default /
//	    host: cart                  # Host header, optional
//	    status: 200                 # default 200
//	    check:                      # optional, one of:
//	      header: {name: X-Instance, matches: "^cart-"}   # Go regexp
//	      json: {field: service, equals: cart}            # dotted field
//	  components:                   # optional, per service
//	    cart-a:
//	      metrics: {port: 8080, path: /metrics}   # path default /metrics
//	      ready: {port: 8080, path: /healthz}     # answers 200; default /
//	      job: cart
//	      labels: {namespace: shop, pod: cart-a-0}
//	  seed: seed/etcd.json          # JSON list of {"key", "value"}
//	  rules: [rules/*.yml]          # files, folders or globs; a lone string too
//	  catalog: catalog.yaml
//	  roles:
//	    data_plane: gateway
//	    etcd: etcd
//	    instances: {cart: [cart-a, cart-b]}
//	  build:                        # images okbreak builds itself
//	    cart-a: {go: ./cmd/cart}    # a folder (starts with .) or an import path
//	    gateway: {dockerfile: ./gateway}   # a folder holding a Dockerfile
//
// x-okbreak is read as written: no interpolation (a regexp's $ is an
// anchor), no YAML anchors or aliases, and its paths are relative to the
// stack file's folder, so that a stack runs from any checkout. Two links
// may not share a name, nor a callee and port: one Toxiproxy listener per
// callee port cannot tell callers apart.
//
// # Raw and Services
//
// File.Services are interpolated and resolved, for running. File.Raw are
// the same services as written, for rendering and reports: neither may
// leak values from the environment, which can be machine paths or secrets,
// so messages also quote the file's text, never a substituted value.
package stackfile
