package envfile

import "time"

// Defaults of limits: when the file has no limits, a fault may last at
// most 10 minutes and hit at most 3 targets.
const (
	DefaultMaxFaultDuration = 10 * time.Minute
	DefaultMaxTargets       = 3
)

// Env is a checked environment file. Every URL in it has passed url.Parse
// with scheme http or https and a host, carries no credentials, and is
// kept as text (so that an Env holds no pointers a caller could change).
// Defaults are applied. An Env is immutable: see the package doc.
type Env struct {
	// Path is the file as named to Load or Parse; Dir is its folder, which
	// rule patterns are relative to.
	Path, Dir string
	Name      string
	// Scale is the time scale the environment's alert rules run at: 1 for
	// a real game day.
	Scale       float64
	Toxiproxies []Toxiproxy
	// Proxies maps each link to its proxy, in file order (links:).
	Proxies []Link
	Probe   Probe
	Scrape  []ScrapeTarget
	Alerts  Alerts
	// Docker is nil when the file has no docker: process faults are then
	// refused.
	Docker *Docker
	Limits Limits
	Halt   Halt
}

// Pos is a position in the file (1-based), for messages that point back
// at what the file says; zero when the value is a default.
type Pos struct{ Line, Col int }

// Toxiproxy is a Toxiproxy API okbreak may call.
type Toxiproxy struct {
	Name string
	// API is the base URL, without a trailing slash: "/proxies" follows.
	API string
	Pos Pos
}

// Link says which proxy of which Toxiproxy carries a link.
type Link struct {
	// Name is the link as the catalog writes it: caller->callee.
	Name string
	// Toxiproxy is the name of a Toxiproxy of Env.Toxiproxies.
	Toxiproxy string
	Proxy     string
	Pos       Pos
}

// Probe is where users' traffic enters the environment.
type Probe struct {
	// URL is the entry's scheme, host and port; Path defaults to "/" and
	// may hold a query. Target is the two together, ready to request.
	URL, Path, Target string
	// Host, when set, is the Host header to send.
	Host   string
	Header map[string]string
	// ExpectInstances are the instances the entry must answer from.
	ExpectInstances []string
	Pos             Pos
}

// ScrapeTarget is a metrics endpoint the embedded rule engine scrapes.
type ScrapeTarget struct {
	Job, Instance, URL string
	// Labels are extra labels on every series scraped, nil when none.
	Labels map[string]string
	Pos    Pos
}

// Source is where a run learns which alerts fire.
type Source string

// Sources: okbreak's embedded rule engine on rule files and scrape
// targets, the environment's Prometheus, or its Alertmanager.
const (
	SourceEngine       Source = "engine"
	SourcePrometheus   Source = "prometheus"
	SourceAlertmanager Source = "alertmanager"
)

// Alerts says where alerts come from and which of them page.
type Alerts struct {
	Source Source
	// Rules are the rule patterns (source engine), each joined to Env.Dir
	// unless absolute; RuleFiles is what they match, sorted, filled by
	// Load only (Parse reads no disk).
	Rules, RuleFiles []string
	// Prometheus and Alertmanager are base URLs without a trailing slash,
	// "" when not given.
	Prometheus, Alertmanager string
	// Page are the labels that make an alert a page: every one must
	// match. The default is severity=page.
	Page map[string]string
}

// EngineLocal is Docker.Engine for the Docker engine of this host, reached
// through its usual unix socket.
const EngineLocal = "local"

// Docker names the containers process faults may hit, and the engine that
// runs them.
type Docker struct {
	// Engine is EngineLocal or a URL such as tcp://127.0.0.1:2376.
	Engine     string
	Containers []Container
	Pos        Pos
}

// Container ties a component (as the catalog names targets) to the
// container that runs it.
type Container struct {
	Component, Container string
	Pos                  Pos
}

// Limits bound every fault of a run; CheckLimits enforces them.
type Limits struct {
	MaxFaultDuration time.Duration
	MaxTargets       int
	// DurationAt and TargetsAt are where the file sets each limit: zero
	// for a default.
	DurationAt, TargetsAt Pos
}

// Halt says when a run must stop early. The zero Halt never halts.
type Halt struct {
	// MinSuccess is the floor of the probe's success ratio (0..1); 0 is
	// no floor. For is how long the ratio may stay under it.
	MinSuccess float64
	For        time.Duration
	// Alerts are abort alerts: any of them firing halts the run.
	Alerts []string
}
