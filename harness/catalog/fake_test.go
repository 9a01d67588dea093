package catalog

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// fakeFaults knows the default stack's names and the fault types the fault
// package registers, and checks a few parameters the way it would.
type fakeFaults struct{}

var (
	fakeLinks      = []string{"client->edge", "edge->xds", "xds->etcd", "edge->backend-1", "edge->backend-2", "edge->backend-3", "edge->other-1"}
	fakeComponents = []string{"etcd", "toxiproxy", "control-plane", "edge", "backend-1", "backend-2", "backend-3", "other-1"}
	fakeRegistry   = []string{"backend", "other"}
	fakeKinds      = map[string][]string{}
)

func init() {
	for _, t := range []string{"latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data", "down"} {
		fakeKinds[t] = fakeLinks
	}
	for _, t := range []string{"stop", "pause", "restart", "terminate", "crash", "crash_loop", "bad_config_at_start"} {
		fakeKinds[t] = fakeComponents
	}
	for _, t := range []string{"empty_endpoints", "route_to_other", "rejected_resource"} {
		fakeKinds[t] = fakeRegistry
	}
}

func (fakeFaults) Types() []string {
	var out []string
	for t := range fakeKinds {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (fakeFaults) Targets(typ string) []string { return fakeKinds[typ] }

func (fakeFaults) Check(typ, target string, params map[string]any) error {
	if !slices.Contains(fakeKinds[typ], target) {
		return fmt.Errorf("unknown target %s", target)
	}
	known := map[string][]string{"latency": {"latency", "jitter"}, "bad_config_at_start": {"exit_within"}}
	for k, v := range params {
		if !slices.Contains(known[typ], k) {
			return fmt.Errorf("unknown parameter %q for %s", k, typ)
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("parameter %s: want a duration such as 2s", k)
		}
		if _, err := time.ParseDuration(s); err != nil {
			return fmt.Errorf("parameter %s: %w", k, err)
		}
	}
	if typ == "latency" && params["latency"] == nil {
		return fmt.Errorf("a latency fault needs params.latency")
	}
	return nil
}

// fakeAlerts is an AlertIndex from a literal map.
type fakeAlerts map[string]map[string]string

func (f fakeAlerts) Lookup(name string) (map[string]string, bool) {
	l, ok := f[name]
	return l, ok
}

func (f fakeAlerts) Names() []string {
	var out []string
	for n := range f {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// pagingAlerts are the alert names the catalog's not-ok cases use, as the
// alert rule files label them.
func pagingAlerts() fakeAlerts {
	page := map[string]string{"severity": "page"}
	warn := map[string]string{"severity": "warning"}
	f := fakeAlerts{}
	for _, n := range []string{"DataPlaneDown", "UpstreamErrorRateHigh", "NoHealthyUpstream", "WrongServiceAnswers", "EtcdDownTooLong", "LatencySLOBreach", "CrashLooping", "InstanceMissing"} {
		f[n] = page
	}
	f["XDSConfigRejected"] = warn
	f["ControlPlaneDisconnected"] = warn
	return f
}
