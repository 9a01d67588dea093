package stackfile

import (
	"io/fs"
	"time"
)

// Options says how to read a stack file. The package reads no environment
// of its own: whatever the file's ${VAR}s may see comes in Env, so that a
// test, a CI job and a developer's shell read a file the same way when they
// pass the same map.
type Options struct {
	// Dir is the folder relative paths resolve against (bind sources,
	// configs, seed, rules, catalog, build folders), in every file given.
	// Default: each stack file's own folder, kept relative if it was, so
	// that an overlay in another folder names its files from there.
	Dir string
	// FS, when set, is where every file is read from: the stack files
	// themselves (LoadFiles), bind sources, config files, the seed, rules,
	// catalog and build folders, so that a stack file embedded in a binary
	// (embed.FS) loads with no disk. Paths are then slash paths from its
	// root (Dir too), and the files a stack file names must be inside it:
	// no absolute paths, no ~, no climbing out of the root. The File keeps
	// FS, for File.ReadFile.
	FS fs.FS
	// Env is what ${VAR} interpolation sees (the CLI passes os.Environ and
	// a .env beside the file; see DotEnv). nil means no variables are set.
	// Parse neither keeps nor changes the map.
	Env map[string]string
	// Profiles are the Compose profiles to enable ("*" enables all). A
	// service with profiles none of which is enabled is left out of
	// File.Services, as `docker compose` would leave it out.
	Profiles []string
}

// File is a stack file read and checked: the Compose services okbreak runs
// and the x-okbreak block that says how it breaks them. It is plain data; a
// File is not changed after Load returns it, so any number of goroutines may
// read it at once.
type File struct {
	// Path is the (first) file as named to Load, LoadFiles or Parse, never
	// made absolute, so that messages and reports carry only what the user
	// typed.
	Path string
	// Paths are all the files as given to LoadFiles: the base, then its
	// overlays. Load and Parse give one.
	Paths []string
	// Dir is the folder the base file's relative paths were resolved
	// against (Options.Dir, else the base file's folder).
	Dir string
	// Name is the Compose project name: the file's `name`, else the
	// folder's name, as Compose would choose it.
	Name string
	// Services are the enabled services, interpolated with Options.Env,
	// sorted by name. They are for running: they may hold values from the
	// environment (paths, secrets) and must not be written into reports.
	Services []Service
	// Raw are the same services as written: no variable substituted, paths
	// not resolved. Renderings and reports use Raw so that `${VAR}` stays
	// `${VAR}` and no value from the environment leaks.
	Raw []Service
	// Links are the hops okbreak puts Toxiproxy on, in file order.
	Links []Link
	// Probe is how okbreak sends users' traffic; Probe.Link is empty when
	// the file declares no probe.
	Probe Probe
	// Components holds the per-service extras (metrics, readiness, scrape
	// labels), keyed by service name.
	Components map[string]Component
	// Seed is what okbreak writes into etcd before the system serves.
	Seed []KV
	// Rules are the alert rule files (or folders), resolved against the
	// folder of the file that gives them, globs expanded, in file order.
	// Read them with ReadFile.
	Rules []string
	// Catalog is the catalog file, resolved likewise, or "".
	Catalog string
	// Roles says which services play the parts okbreak needs to know.
	Roles Roles
	// Builds are the images okbreak builds itself, keyed by service name.
	Builds map[string]Build
	// Evidence are the HTTP endpoints whose answers a failed case keeps, in
	// file order.
	Evidence []Evidence

	// fl is where the files were read from, for ReadFile.
	fl files
}

// Service is one Compose service in the subset okbreak supports.
type Service struct {
	Name  string
	Image string
	// Build is the Compose `build:` section, nil when the service has none.
	Build *ComposeBuild
	// Command and Entrypoint are argument lists (a string form is split the
	// way Compose splits it); nil when not set.
	Command    []string
	Entrypoint []string
	// Environment holds the service's variables. In File.Raw, a variable
	// listed without a value (`- NAME`, passed through from the host) is
	// written "${NAME}".
	Environment map[string]string
	// Ports are the container ports the service declares (its `ports`
	// targets), sorted, without repeats. okbreak never publishes them: the
	// host reaches services only through Toxiproxy.
	Ports []int
	// Files are the bind-mounted files, in file order. Source is resolved
	// against the folder of the file that mounts it in Services, and as
	// written in Raw.
	Files []Mount
	// Configs are the service's Compose configs, in file order: a `file:`
	// config has Source, a `content:` config has no Source.
	Configs []Mount
	// DependsOn maps each service this one waits for to the condition:
	// service_started, service_healthy or service_completed_successfully.
	DependsOn   map[string]string
	Healthcheck *Healthcheck
	// Restart is "no", "always", "on-failure" (maybe ":N") or
	// "unless-stopped"; "" when not set.
	Restart  string
	Profiles []string
	// Line and Col are where the service is named in the base file
	// (File.Path): overlays add no services.
	Line, Col int
}

// ComposeBuild is a service's Compose `build:`.
type ComposeBuild struct {
	// Context is resolved against the folder of the file that gives it in
	// Services, as written in Raw.
	Context    string
	Dockerfile string
}

// Mount is a file placed into a service's container.
type Mount struct {
	// Name is the config's name under the top-level `configs:`; "" for a
	// bind mount.
	Name string
	// Source is the file on the host (or in Options.FS): resolved in
	// Services, as written in Raw; "" for a config with content. It is for
	// messages: the file is already read into Content.
	Source string
	// Content is what the container gets. In Services it is always set: a
	// file's bytes, read when the stack file was loaded (from disk or
	// Options.FS), or a `content:` config's interpolated text. In Raw only
	// a `content:` config has it, as written: a file's bytes could depend
	// on the environment, through a ${VAR} in its path.
	Content []byte
	// Target is the path in the container.
	Target   string
	ReadOnly bool
}

// Healthcheck is a service's Compose healthcheck. Zero durations and
// retries mean Docker's defaults.
type Healthcheck struct {
	// Test is the Compose test, e.g. ["CMD", "wget", "-q", "localhost"] or
	// ["CMD-SHELL", "curl -f localhost"].
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
	Disable       bool
}

// Link is a hop okbreak carries through Toxiproxy.
type Link struct {
	// Name is "<from>-><to>" unless the file names the link.
	Name string
	// From is the calling service, "client" for the host (the probe), or
	// "any" when callers are not told apart.
	From string
	// To is the callee service and Port its container port.
	To   string
	Port int
	// File, Line and Col are where the link starts: File is the stack file
	// as named, the base's or an overlay's that gave the links.
	File      string
	Line, Col int
}

// Callers that are not services.
const (
	// Client is the host: the probe and anything else okbreak runs outside
	// the stack.
	Client = "client"
	// Any is a link's caller when the file names none: every caller of the
	// callee's port goes through the same proxy.
	Any = "any"
)

// Probe is the users' traffic okbreak sends and how it judges an answer.
type Probe struct {
	// Link is a link from "client".
	Link   string
	Method string
	Path   string
	// Host is the Host header sent; "" sends the listener's address.
	Host string
	// Status is the status code an answer must have.
	Status int
	// Check is an extra correctness check on each answer, or nil.
	Check *Check
	// File, Line and Col are where the probe is given.
	File      string
	Line, Col int
}

// Check is one correctness check on a probe's answer: exactly one of Header
// and JSON is set.
type Check struct {
	Header *HeaderCheck
	JSON   *JSONCheck
}

// HeaderCheck requires a response header whose value matches a regular
// expression (Go syntax, checked when the file is read).
type HeaderCheck struct {
	Name    string
	Matches string
}

// JSONCheck requires a JSON body whose field (top level, or dotted into
// nested objects: "meta.service") equals a value. A string field compares as
// its text, any other as its JSON text (3, true).
type JSONCheck struct {
	Field  string
	Equals string
}

// Component is what okbreak knows of a service beyond Compose: where it
// serves metrics and readiness, and how its series are labelled.
type Component struct {
	// Metrics is the Prometheus endpoint, or nil.
	Metrics *Endpoint
	// Ready answers 200 once the service serves, or nil.
	Ready *Endpoint
	// Job is the job label of its scrape target ("" for the service name).
	Job string
	// Labels are static labels added to every series scraped from it.
	Labels map[string]string
	// File, Line and Col are where the component is first named: in the
	// base, unless only an overlay names it.
	File      string
	Line, Col int
}

// Endpoint is an HTTP path on a container port.
type Endpoint struct {
	Port int
	Path string
}

// KV is one etcd key and its value.
type KV struct {
	Key   string
	Value string
}

// Roles names the services that play parts okbreak must know.
type Roles struct {
	// DataPlane carries user traffic.
	DataPlane string
	// Etcd is the etcd that config faults write.
	Etcd string
	// Instances groups the instances of one logical service, e.g.
	// "cart": ["cart-a", "cart-b"].
	Instances map[string][]string
}

// Build is an image okbreak builds itself for a service, instead of
// pulling the service's image. Exactly one of Go and Dockerfile is set.
type Build struct {
	// Go is a main package: an import path, or a folder resolved against
	// the folder of the file that gives it when GoDir is true.
	Go    string
	GoDir bool
	// Dockerfile is a folder holding a Dockerfile, resolved against the
	// folder of the file that gives it.
	Dockerfile string
	// File, Line and Col are where the build is given.
	File      string
	Line, Col int
}

// Evidence is an HTTP endpoint whose answer a failed case keeps under Name
// (the data plane's /config_dump, say): what a person needs to see why.
type Evidence struct {
	Name string
	// Component is the service that serves it, on its container port Port
	// (declared in its ports, or as its metrics or ready port).
	Component string
	Port      int
	// Path starts with /; default /.
	Path string
	// File, Line and Col are where the endpoint is given.
	File      string
	Line, Col int
}

// Service returns the enabled service with the given name.
func (f *File) Service(name string) (Service, bool) {
	for _, s := range f.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Link returns the link with the given name.
func (f *File) Link(name string) (Link, bool) {
	for _, l := range f.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}
