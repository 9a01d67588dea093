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
// # Overlays
//
// LoadFiles reads a base stack file and overlays, merged as `docker compose
// -f base.yaml -f overlay.yaml` merges them: compose-go merges the Compose
// part (command and entrypoint replaced, environment merged by name,
// volumes and configs by container path, ports and profiles appended,
// mappings such as healthcheck and build key by key; a depends_on list
// merges as service_started, replacing a condition the base gave). The
// base is the whole system, with services and an x-okbreak with links; an
// overlay holds only what it changes (services, configs, name, x-okbreak
// keys). Every file is walked, so a problem is reported in the file it is
// in. Unlike Compose:
//
//   - an overlay is a variant of the same system: it changes the base's
//     services and adds none, so a service the base lacks is an error;
//   - each file's relative paths resolve against its own folder (Compose
//     resolves every file's against the first's), unless Options.Dir is
//     given, which then serves every file;
//   - an overlay's x-okbreak keys replace the base's (links, probe, seed,
//     rules, catalog, roles, build, evidence), except components, which
//     merge per service and per field: an overlay may give only
//     `cart-a: {metrics: {port: 8080, path: /debug/metrics}}`;
//   - what the merge would silently get wrong is an error: a config that is
//     a file in one file and a content in another, a container path with a
//     bind mount from one file and a config from another, a build context
//     from one file whose Dockerfile, named in another, is not in it;
//   - Compose's !reset and !override tags are not supported: compose-go is
//     handed decoded values, which keep no tags.
//
// # Reading from an fs.FS
//
// With Options.FS, every file is read from it: the stack files, bind
// sources, config files, the seed, rules, catalog and build folders, so a
// stack file embedded in a binary (embed.FS) loads with no disk. Paths are
// slash paths from the FS's root, and a stack file may name only files
// inside it. In Services, every mount's Content holds the file's bytes
// (from disk or FS): callers use Content, and keep Source for messages.
// File.Rules and File.Catalog stay paths; File.ReadFile reads them from
// where the stack file was read.
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
//	  evidence:                     # answers a failed case keeps, by name
//	    - name: data_plane_config   # unique; letters, digits, . _ -
//	      component: gateway        # the service that serves it
//	      port: 9901                # its container port: in its ports, or
//	                                # its components metrics/ready port
//	      path: /config_dump        # starts with /; default /
//
// x-okbreak is read as written: no interpolation (a regexp's $ is an
// anchor), no YAML anchors or aliases, and its paths are relative to the
// folder of the stack file that names them, so that a stack runs from any
// checkout. Two links
// may not share a name, nor a callee and port: one Toxiproxy listener per
// callee port cannot tell callers apart.
//
// # Raw and Services
//
// File.Services are interpolated and resolved, for running, with every
// mounted file read into Mount.Content. File.Raw are the same services as
// written (paths as the file that wrote them wrote them, no file contents),
// for rendering and reports: neither may leak values from the environment,
// which can be machine paths or secrets, so messages also quote the file's
// text, never a substituted value.
package stackfile
