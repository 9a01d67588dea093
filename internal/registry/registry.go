// Package registry defines the service registry that the sample control plane
// reads from etcd: services, their endpoints, and the routes that send traffic
// to them. It is the contract between the harness (which seeds and, for config
// faults, rewrites the registry), the control plane (which translates it into
// xDS) and the tests.
//
// Layout in etcd, one JSON document a key:
//
//	/okbreak/registry/services/<service>             Service
//	/okbreak/registry/endpoints/<service>/<instance> Endpoint
//	/okbreak/registry/routes/<route>                 Route
//	/okbreak/registry/ingress                        Ingress (optional, one)
//
// A route's name is the name a data plane asks for: the gRPC frontend dials
// xds:///<route>, and Envoy's listener serves the route for Host <route>.
//
// Some settings exist for Envoy only (Service.HealthCheck, Ingress): the
// control plane translates them into Envoy's resources and leaves them out
// of gRPC's, whose xDS client has no use for them (see each field).
package registry

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Prefix is the etcd key prefix under which the whole registry lives.
const Prefix = "/okbreak/registry/"

const (
	servicesDir  = Prefix + "services/"
	endpointsDir = Prefix + "endpoints/"
	routesDir    = Prefix + "routes/"
)

// ServiceKey is the etcd key of a service.
func ServiceKey(service string) string { return servicesDir + service }

// EndpointKey is the etcd key of one instance of a service.
func EndpointKey(service, instance string) string {
	return endpointsDir + service + "/" + instance
}

// EndpointsPrefix is the etcd key prefix of every endpoint of a service.
func EndpointsPrefix(service string) string { return endpointsDir + service + "/" }

// RouteKey is the etcd key of a route.
func RouteKey(route string) string { return routesDir + route }

// IngressKey is the etcd key of the ingress settings; there is one, for
// the data plane's one HTTP entry.
const IngressKey = Prefix + "ingress"

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("250ms"), so that registry documents stay readable in etcdctl.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "250ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"250ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Service is one upstream service (an xDS cluster).
type Service struct {
	// Name of the service; also the xDS cluster name.
	Name string `json:"name"`
	// ConnectTimeout bounds a new upstream connection (Envoy only; gRPC has
	// its own connection backoff).
	ConnectTimeout Duration `json:"connect_timeout,omitempty"`
	// OutlierDetection, when set, ejects failing hosts.
	OutlierDetection *OutlierDetection `json:"outlier_detection,omitempty"`
	// HealthCheck, when set, makes the data plane check every host of the
	// service itself, over HTTP, on a timer (Envoy's active health
	// checking, cluster health_checks). Envoy only: gRPC's xDS client does
	// no active health checks, and the control plane does not send it the
	// field.
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
}

// HealthCheck is an active HTTP health check of every host of a service
// (Envoy's HealthCheck with an http_health_check). Every data plane that
// has it checks every host on its own: n data planes and m hosts make n×m
// checks an interval, which is why it is off unless a registry sets it.
//
// It is translated literally: Envoy requires path, interval and timeout,
// and rejects the cluster (a NACK) when they are missing or zero.
type HealthCheck struct {
	// Path is the HTTP path each check asks for (GET); a 200 answer is a
	// pass.
	Path string `json:"path"`
	// Interval is the time between two checks of a host.
	Interval Duration `json:"interval"`
	// Timeout bounds one check; a check that takes longer fails.
	Timeout Duration `json:"timeout"`
	// UnhealthyThreshold is how many failed checks in a row mark a host
	// unhealthy; HealthyThreshold how many passes in a row mark it healthy
	// again.
	UnhealthyThreshold uint32 `json:"unhealthy_threshold"`
	HealthyThreshold   uint32 `json:"healthy_threshold"`
	// NoTrafficInterval, when set, is the interval while the service has
	// had no traffic (Envoy's default: 60 s).
	NoTrafficInterval Duration `json:"no_traffic_interval,omitempty"`
	// IntervalJitter, when set, adds up to this much random time to each
	// interval, so that data planes started together do not check in step.
	IntervalJitter Duration `json:"interval_jitter,omitempty"`
}

// OutlierDetection mirrors the parts of Envoy's OutlierDetection that both
// data planes understand. gRPC enforces only success-rate and
// failure-percentage ejection; Envoy enforces consecutive 5xx as well.
type OutlierDetection struct {
	Interval         Duration `json:"interval"`
	BaseEjectionTime Duration `json:"base_ejection_time"`
	// MaxEjectionTime caps how long a host stays ejected: each ejection
	// lasts base × the number of times the host was ejected, up to this
	// (both data planes default to 300 s). Unset means the default.
	MaxEjectionTime                Duration `json:"max_ejection_time,omitempty"`
	MaxEjectionPercent             uint32   `json:"max_ejection_percent"`
	Consecutive5xx                 uint32   `json:"consecutive_5xx,omitempty"`
	ConsecutiveGatewayFailure      uint32   `json:"consecutive_gateway_failure,omitempty"`
	FailurePercentageThreshold     uint32   `json:"failure_percentage_threshold,omitempty"`
	EnforcingFailurePercentage     uint32   `json:"enforcing_failure_percentage,omitempty"`
	FailurePercentageMinimumHosts  uint32   `json:"failure_percentage_minimum_hosts,omitempty"`
	FailurePercentageRequestVolume uint32   `json:"failure_percentage_request_volume,omitempty"`
}

// Endpoint is one instance of a service, as the data plane should reach it.
// In the default stack Address is a Toxiproxy listener, so that a fault on
// the link edge-><instance> sits between the data plane and the instance.
type Endpoint struct {
	Instance string `json:"instance"`
	Address  string `json:"address"`
	Port     uint32 `json:"port"`
	// Zone names the locality. gRPC rejects an endpoint set whose locality
	// has no ID, so the translation always sets region and zone.
	Zone string `json:"zone,omitempty"`
}

// Route sends the traffic for one name to one service.
type Route struct {
	// Name is what the data plane asks for (xds:///<name>, Host: <name>).
	Name string `json:"name"`
	// Service is the cluster the route sends traffic to.
	Service string `json:"service"`
	// Timeout bounds the whole request, retries included (Envoy route
	// timeout; gRPC max_stream_duration).
	Timeout Duration `json:"timeout,omitempty"`
	// Retry, when set, retries failed requests.
	Retry *RetryPolicy `json:"retry,omitempty"`
}

// RetryPolicy is a route's retry policy. On lists Envoy retry_on conditions
// and gRPC status names alike ("connect-failure", "reset", "5xx",
// "unavailable"); each data plane ignores the ones it does not know (gRPC
// honours gRPC status names only).
type RetryPolicy struct {
	On            []string `json:"on"`
	NumRetries    uint32   `json:"num_retries"`
	PerTryTimeout Duration `json:"per_try_timeout,omitempty"`
	// BackoffBase and BackoffMax, when set, override the data plane's
	// default retry backoff. Both data planes reject a zero base interval.
	BackoffBase *Duration `json:"backoff_base,omitempty"`
	BackoffMax  *Duration `json:"backoff_max,omitempty"`
}

// Ingress is how the data plane's HTTP entry treats its clients. Envoy
// only: its one listener is the entry. The gRPC frontend's xDS listeners
// are API listeners inside the client process, with no remote address to
// judge and no x-envoy-* headers to strip, so the control plane gives gRPC
// nodes none of this.
//
// Absent, Envoy's defaults hold: every client is external, so Envoy strips
// the x-envoy-* request headers a client sets for its retries and deadline
// (x-envoy-retry-on, x-envoy-max-retries, x-envoy-upstream-rq-timeout-ms,
// x-envoy-upstream-rq-per-try-timeout-ms, x-envoy-expected-rq-timeout-ms),
// and the router ignores x-envoy-expected-rq-timeout-ms even from an
// internal caller.
type Ingress struct {
	// UseRemoteAddress judges a request internal or external by the
	// connection's peer address instead of X-Forwarded-For (HTTP connection
	// manager use_remote_address).
	UseRemoteAddress bool `json:"use_remote_address,omitempty"`
	// InternalCIDRs are the client address ranges treated as internal
	// (internal_address_config.cidr_ranges), e.g. "172.16.0.0/12": their
	// requests keep their x-envoy-* headers. Since Envoy 1.33 no address is
	// internal unless listed here.
	InternalCIDRs []string `json:"internal_cidrs,omitempty"`
	// RespectExpectedRqTimeout makes the router take the request's timeout
	// from x-envoy-expected-rq-timeout-ms, which a calling Envoy sets
	// (router respect_expected_rq_timeout).
	RespectExpectedRqTimeout bool `json:"respect_expected_rq_timeout,omitempty"`
}

// check reports what the translation could not write down literally: a
// CIDR range that does not parse has no address and prefix length to send.
func (in Ingress) check() error {
	for _, c := range in.InternalCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			return fmt.Errorf("internal_cidrs: want CIDR ranges such as \"172.16.0.0/12\": %w", err)
		}
	}
	return nil
}

// Registry is the whole registry at one etcd revision.
type Registry struct {
	Services  map[string]Service    `json:"services"`
	Endpoints map[string][]Endpoint `json:"endpoints"` // by service, sorted by instance
	Routes    map[string]Route      `json:"routes"`
	// Ingress is nil when the registry has no ingress key.
	Ingress *Ingress `json:"ingress,omitempty"`
}

// KV is one key and value read from etcd.
type KV struct {
	Key   string
	Value []byte
}

// Decode builds a Registry from the key-values under Prefix. Keys it cannot
// read are skipped and reported in errs, one error a key naming the key, so
// that one bad document does not take the whole registry down.
func Decode(kvs []KV) (reg Registry, errs []error) {
	reg = Registry{
		Services:  map[string]Service{},
		Endpoints: map[string][]Endpoint{},
		Routes:    map[string]Route{},
	}
	for _, kv := range kvs {
		rest, ok := strings.CutPrefix(kv.Key, Prefix)
		if !ok {
			continue
		}
		kind, name, _ := strings.Cut(rest, "/")
		var err error
		switch kind {
		case "services":
			var s Service
			if err = strictUnmarshal(kv.Value, &s); err == nil {
				if s.Name == "" {
					s.Name = name
				}
				if s.Name != name {
					err = fmt.Errorf("name %q does not match the key", s.Name)
				} else {
					reg.Services[name] = s
				}
			}
		case "endpoints":
			service, instance, found := strings.Cut(name, "/")
			if !found || service == "" || instance == "" {
				err = fmt.Errorf("want %s<service>/<instance>", endpointsDir)
				break
			}
			var e Endpoint
			if err = strictUnmarshal(kv.Value, &e); err == nil {
				if e.Instance == "" {
					e.Instance = instance
				}
				if e.Address == "" || e.Port == 0 {
					err = fmt.Errorf("address and port are required")
				} else {
					reg.Endpoints[service] = append(reg.Endpoints[service], e)
				}
			}
		case "routes":
			var r Route
			if err = strictUnmarshal(kv.Value, &r); err == nil {
				if r.Name == "" {
					r.Name = name
				}
				if r.Service == "" {
					err = fmt.Errorf("service is required")
				} else {
					reg.Routes[name] = r
				}
			}
		case "ingress":
			if rest != "ingress" {
				err = fmt.Errorf("want %s: the ingress is one document", IngressKey)
				break
			}
			var in Ingress
			if err = strictUnmarshal(kv.Value, &in); err == nil {
				if err = in.check(); err == nil {
					reg.Ingress = &in
				}
			}
		default:
			err = fmt.Errorf("unknown registry kind %q", kind)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("registry key %s: %w", kv.Key, err))
		}
	}
	for svc := range reg.Endpoints {
		eps := reg.Endpoints[svc]
		sort.Slice(eps, func(i, j int) bool { return eps[i].Instance < eps[j].Instance })
	}
	return reg, errs
}

// Encode returns the key-values that represent reg, sorted by key.
func Encode(reg Registry) ([]KV, error) {
	var kvs []KV
	add := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", key, err)
		}
		kvs = append(kvs, KV{Key: key, Value: b})
		return nil
	}
	for name, s := range reg.Services {
		if err := add(ServiceKey(name), s); err != nil {
			return nil, err
		}
	}
	for svc, eps := range reg.Endpoints {
		for _, e := range eps {
			if err := add(EndpointKey(svc, e.Instance), e); err != nil {
				return nil, err
			}
		}
	}
	for name, r := range reg.Routes {
		if err := add(RouteKey(name), r); err != nil {
			return nil, err
		}
	}
	if reg.Ingress != nil {
		if err := add(IngressKey, reg.Ingress); err != nil {
			return nil, err
		}
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	return kvs, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
