package envfile

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AllowURL refuses a URL whose scheme, host and port are not those of a
// URL the file declares: a toxiproxies api, probe.url, a scrape url,
// alerts.prometheus or alerts.alertmanager. Paths are not compared: an
// API's paths are its own business. Hosts compare as written (lowercased):
// localhost and 127.0.0.1 are different hosts here.
func (e *Env) AllowURL(u string) error {
	parsed, err := url.Parse(u)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Hostname() == "" {
		return refuse("okbreak calls only http(s) URLs declared in "+e.Path, "URL %q refused: not an http(s) URL with a host", redact(u, parsed, err))
	}
	want := origin(parsed)
	declared := e.origins()
	if slices.Contains(declared, want) {
		return nil
	}
	return refuse(fmt.Sprintf("declare it in %s as a toxiproxies api, probe.url, a scrape url, alerts.prometheus or alerts.alertmanager (declared: %s)", e.Path, strings.Join(declared, ", ")),
		"okbreak may not call %s: %s is not declared in %s", parsed.Redacted(), want, e.Path)
}

// redact is u for a message, without a password.
func redact(u string, parsed *url.URL, err error) string {
	if err != nil {
		return "(unparsable)"
	}
	return parsed.Redacted()
}

// origins lists the origins of every URL the file declares, without
// repeats, in file order.
func (e *Env) origins() []string {
	var urls []string
	for _, t := range e.Toxiproxies {
		urls = append(urls, t.API)
	}
	urls = append(urls, e.Probe.URL)
	for _, s := range e.Scrape {
		urls = append(urls, s.URL)
	}
	urls = append(urls, e.Alerts.Prometheus, e.Alerts.Alertmanager)
	var out []string
	for _, u := range urls {
		if o := originOf(u); u != "" && o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// AllowProxy refuses a proxy that no link of the file is carried by.
// toxiproxy is a Toxiproxy's name in the file or its API URL (as ProxyOf
// returns it).
func (e *Env) AllowProxy(toxiproxy, proxy string) error {
	tp, ok := e.toxiproxy(toxiproxy)
	if !ok {
		return refuse(fmt.Sprintf("declare it in %s under toxiproxies: {name: tp-1, api: http://HOST:PORT}", e.Path),
			"toxiproxy %q is not declared in %s", toxiproxy, e.Path)
	}
	for _, l := range e.Proxies {
		if l.Toxiproxy == tp.Name && l.Proxy == proxy {
			return nil
		}
	}
	return refuse(fmt.Sprintf("declare the link it carries in %s under links: {name: CALLER->CALLEE, toxiproxy: %s, proxy: %s}", e.Path, tp.Name, proxy),
		"proxy %q of toxiproxy %s (%s) is not declared in %s", proxy, tp.Name, tp.API, e.Path)
}

// toxiproxy finds a declared Toxiproxy by name or by API URL.
func (e *Env) toxiproxy(nameOrAPI string) (Toxiproxy, bool) {
	key := apiKey(nameOrAPI)
	for _, t := range e.Toxiproxies {
		if t.Name == nameOrAPI || (key != "" && apiKey(t.API) == key) {
			return t, true
		}
	}
	return Toxiproxy{}, false
}

// apiKey is a base URL's origin and path, so that http://H:80/ and
// http://h match; "" when s is no http(s) URL.
func apiKey(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return ""
	}
	return origin(u) + strings.TrimSuffix(u.EscapedPath(), "/")
}

// AllowContainer refuses a container docker.containers does not declare
// (all of them when the file has no docker). A leading slash, as Docker's
// API writes names, is ignored.
func (e *Env) AllowContainer(name string) error {
	if e.Docker == nil {
		return refuse(fmt.Sprintf("add to %s: docker: {engine: local, containers: [{component: COMPONENT, container: %s}]}", e.Path, strings.TrimPrefix(name, "/")),
			"container %q refused: %s allows no process faults (it has no docker)", name, e.Path)
	}
	if _, ok := e.ComponentOf(name); ok {
		return nil
	}
	return refuse(fmt.Sprintf("declare it in %s under docker.containers: {component: COMPONENT, container: %s}", e.Path, strings.TrimPrefix(name, "/")),
		"container %q is not declared in %s", name, e.Path)
}

// CheckLimits refuses a fault that lasts longer than limits allow (d is
// the wall-clock time the environment spends under the fault, after any
// time scale) or hits more targets. A fault with no end (d <= 0) is
// refused too: every fault must end within the limit.
func (e *Env) CheckLimits(d time.Duration, targets int) error {
	l := e.Limits
	var errs []error
	if d <= 0 {
		errs = append(errs, refuse("give the fault a duration of at most "+l.MaxFaultDuration.String(), "a fault with no end (duration %s) is refused by %s", d, e.Path))
	} else if d > l.MaxFaultDuration {
		errs = append(errs, refuse(e.limitFix("max_fault_duration", l.DurationAt, "shorten the fault"),
			"a fault of %s is over the limit of %s (limits.max_fault_duration)", d, l.MaxFaultDuration))
	}
	if targets > l.MaxTargets {
		errs = append(errs, refuse(e.limitFix("max_targets", l.TargetsAt, "hit fewer targets"),
			"a fault on %d targets is over the limit of %d (limits.max_targets)", targets, l.MaxTargets))
	}
	return errors.Join(errs...)
}

// limitFix says where a limit comes from and how to change it.
func (e *Env) limitFix(key string, at Pos, instead string) string {
	if at == (Pos{}) {
		return fmt.Sprintf("%s, or raise the default: set limits.%s in %s", instead, key, e.Path)
	}
	return fmt.Sprintf("%s, or raise limits.%s at %s:%d:%d", instead, key, e.Path, at.Line, at.Col)
}

// LocalEngine tells whether process faults go through this host's Docker
// engine (docker.engine: local); false with no docker.
func (e *Env) LocalEngine() bool {
	return e.Docker != nil && e.Docker.Engine == EngineLocal
}

// Links lists the links the file maps to proxies, in file order.
func (e *Env) Links() []string {
	out := make([]string, len(e.Proxies))
	for i, l := range e.Proxies {
		out[i] = l.Name
	}
	return out
}

// ProxyOf returns the API of the Toxiproxy that carries link, and the
// proxy's name there.
func (e *Env) ProxyOf(link string) (toxiproxyAPI, proxy string, ok bool) {
	for _, l := range e.Proxies {
		if l.Name != link {
			continue
		}
		if tp, found := e.toxiproxy(l.Toxiproxy); found {
			return tp.API, l.Proxy, true
		}
	}
	return "", "", false
}

// ToxiproxyAPI returns the API of the Toxiproxy the file names name.
func (e *Env) ToxiproxyAPI(name string) (string, bool) {
	for _, t := range e.Toxiproxies {
		if t.Name == name {
			return t.API, true
		}
	}
	return "", false
}

// ContainerOf returns the container docker.containers gives component.
func (e *Env) ContainerOf(component string) (string, bool) {
	if e.Docker != nil {
		for _, c := range e.Docker.Containers {
			if c.Component == component {
				return c.Container, true
			}
		}
	}
	return "", false
}

// ComponentOf returns the component docker.containers gives container
// (a leading slash, as Docker's API writes names, is ignored).
func (e *Env) ComponentOf(container string) (string, bool) {
	container = strings.TrimPrefix(container, "/")
	if e.Docker != nil {
		for _, c := range e.Docker.Containers {
			if c.Container == container {
				return c.Component, true
			}
		}
	}
	return "", false
}

// Components lists the components docker.containers declares, in file
// order: the targets process faults may have.
func (e *Env) Components() []string {
	if e.Docker == nil {
		return nil
	}
	out := make([]string, len(e.Docker.Containers))
	for i, c := range e.Docker.Containers {
		out[i] = c.Component
	}
	return out
}
