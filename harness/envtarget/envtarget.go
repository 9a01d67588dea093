// Package envtarget makes a running environment, described by an
// environment file (harness/envfile), a system under test the runner can
// take: links are proxies of Toxiproxies already in the path, the entry is
// the probe's URL, metrics are the declared scrape targets, and process
// faults reach only the containers the file declares. Everything it hands
// out comes from the file, so a run through it touches nothing else: the
// file is the allow-list.
package envtarget

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/envfile"
	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
)

// System is an environment as a system under test, for one run. It is
// immutable once New returns: safe for concurrent use.
type System struct {
	env *envfile.Env
	run string
	def stack.Definition
	// ServingTimeout bounds WaitServing (default 60 s).
	ServingTimeout time.Duration
}

// New makes the environment of env a system under test for run.
func New(env *envfile.Env, run string) *System {
	return &System{env: env, run: run, def: Definition(env), ServingTimeout: 60 * time.Second}
}

// Definition is the environment as a stack definition: a component per
// Toxiproxy (carrying its links), per scrape target and per declared
// container; the links the file maps; the entry the probe uses.
func Definition(env *envfile.Env) stack.Definition {
	d := stack.Definition{Source: env.Path}
	seen := map[string]bool{}
	add := func(c stack.Component) {
		if !seen[c.Name] {
			seen[c.Name] = true
			d.Components = append(d.Components, c)
		}
	}
	for _, tp := range env.Toxiproxies {
		add(stack.Component{Name: tp.Name, Job: "toxiproxy"})
	}
	for _, s := range env.Scrape {
		add(stack.Component{Name: s.Instance, Job: s.Job, Labels: s.Labels})
	}
	for _, c := range env.Components() {
		add(stack.Component{Name: c})
		// A declared container is taken to restart, as a crash case
		// demands: one that does not is what such a case finds out.
		for i := range d.Components {
			if d.Components[i].Name == c {
				d.Components[i].Restart = stack.RestartUnlessStopped
			}
		}
	}
	for _, l := range env.Proxies {
		from, to, _ := strings.Cut(l.Name, "->")
		d.Links = append(d.Links, stack.Link{Name: l.Name, From: from, To: to, Proxy: l.Toxiproxy})
	}
	d.Entry = stack.Entry{Link: "the probe's URL", Host: env.Probe.Host, Path: env.Probe.Path, Instances: env.Probe.ExpectInstances}
	return d
}

var (
	_ fault.ToxiproxyEnv     = (*System)(nil)
	_ fault.ContainersEnv    = (*System)(nil)
	_ fault.ToxiproxyLocator = (*System)(nil)
	_ fault.ToxicNamer       = (*System)(nil)
)

// SignalsFromHost implements fault.HostSignaller: only a local engine's
// containers are processes of this host.
func (s *System) SignalsFromHost() bool { return s.env.LocalEngine() }

// RemoteEntry implements harness.RemoteEntry: the file declares the entry.
func (s *System) RemoteEntry() {}

// Env is the environment file the system was made from.
func (s *System) Env() *envfile.Env { return s.env }

// Definition implements fault.Env.
func (s *System) Definition() stack.Definition { return s.def }

// Run implements fault.Env.
func (s *System) Run() string { return s.run }

// StateDir implements fault.Env: the journal lives on this machine.
func (s *System) StateDir() string { return stack.RunStateDir(s.run) }

// ToxiproxyAPI implements fault.ToxiproxyEnv: proxy is a Toxiproxy's name.
func (s *System) ToxiproxyAPI(_ context.Context, proxy string) (string, error) {
	for _, tp := range s.env.Toxiproxies {
		if tp.Name == proxy {
			return tp.API, nil
		}
	}
	return "", fmt.Errorf("no Toxiproxy %q in %s", proxy, s.env.Path)
}

// LocateLink implements fault.ToxiproxyLocator: the journal keeps the API
// URL and the proxy, so that recovery needs no Docker.
func (s *System) LocateLink(link string) (*fault.Endpoint, error) {
	api, proxy, ok := s.env.ProxyOf(link)
	if !ok {
		return nil, fmt.Errorf("link %q is not in %s: declare it under links", link, s.env.Path)
	}
	l, _ := s.def.Link(link)
	return &fault.Endpoint{Component: l.Proxy, URL: api, Proxy: proxy}, nil
}

// ToxicName implements fault.ToxicNamer: okbreak.<env>.<run>.<suffix>.
func (s *System) ToxicName(suffix string) string { return s.env.ToxicName(s.run, suffix) }

// ContainerName implements fault.ContainersEnv: only declared containers.
// They are reached through the engine the file names (the CLI points the
// process's Docker client at it).
func (s *System) ContainerName(component string) (string, error) {
	c, ok := s.env.ContainerOf(component)
	if !ok {
		return "", fmt.Errorf("component %q has no container in %s: declare it under docker.containers to allow process faults on it", component, s.env.Path)
	}
	return c, nil
}

// Refresh implements fault.ContainersEnv: containers are found by name
// each time, so there is nothing to refresh.
func (s *System) Refresh(context.Context, string) error { return nil }

// EntryURL is the probe's URL.
func (s *System) EntryURL(context.Context) (string, error) { return s.env.Probe.URL, nil }

// WaitServing waits until the entry answers OK (from every expected
// instance, when the file names them).
func (s *System) WaitServing(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	seen := map[string]bool{}
	return retry.Until(ctx, "the entry "+s.env.Probe.Target+" to serve", s.ServingTimeout, 100*time.Millisecond, func(ctx context.Context) error {
		a, err := stack.Get(ctx, hc, s.env.Probe.URL, s.def.Entry)
		if err != nil {
			return err
		}
		seen[a.Instance] = true
		for _, want := range s.env.Probe.ExpectInstances {
			if !seen[want] {
				return fmt.Errorf("not yet answered by %s", want)
			}
		}
		return nil
	})
}

// MetricsURL is a declared scrape target's URL.
func (s *System) MetricsURL(_ context.Context, component string) (string, error) {
	for _, t := range s.env.Scrape {
		if t.Instance == component {
			return t.URL, nil
		}
	}
	return "", fmt.Errorf("%s has no scrape target in %s", component, s.env.Path)
}

// MetricsComponents implements harness.MetricsLister: the scrape targets.
func (s *System) MetricsComponents() []string {
	var out []string
	for _, t := range s.env.Scrape {
		out = append(out, t.Instance)
	}
	return out
}

// HostAddr implements harness.System; an environment declares no ports.
func (s *System) HostAddr(_ context.Context, component, port string) (string, error) {
	return "", fmt.Errorf("%s:%s: an environment file declares no ports", component, port)
}

// DeclaredProxies lists the proxies of a Toxiproxy that carry declared
// links: the only ones whose state is okbreak's business.
func (s *System) DeclaredProxies(toxiproxy string) []string {
	var out []string
	for _, l := range s.env.Proxies {
		if l.Toxiproxy == toxiproxy {
			out = append(out, l.Proxy)
		}
	}
	return out
}
