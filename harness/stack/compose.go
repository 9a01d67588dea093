package stack

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness/image"
)

// ComposeDir is where the compose file's side files live, relative to the
// compose file.
const ComposeDir = "fixtures/compose"

// SeedService is the compose-only one-shot service that writes the
// definition's Seed into etcd before any component of a later stage starts.
const SeedService = "etcd-seed"

// ComposeFiles renders the definition as a docker-compose.yml (Compose file
// format 2.4, which the docker-compose 1.x of Debian reads) plus the files it
// mounts, keyed by path relative to the compose file. Images are referenced as
// okbreak/<name>:latest, the tags `okbreak images` writes, and can be
// overridden with the same OKBREAK_<NAME>_IMAGE variables the harness reads.
//
// Ports are published on 127.0.0.1 only: client->edge on 10000 and the
// Toxiproxy API on 8474, so that a game day has fixed addresses; every other
// port on a loopback port Docker picks.
func (d Definition) ComposeFiles() (map[string][]byte, error) {
	type service struct {
		Image       string            `yaml:"image"`
		Healthcheck map[string]any    `yaml:"healthcheck,omitempty"`
		Command     []string          `yaml:"command,omitempty"`
		Entrypoint  []string          `yaml:"entrypoint,omitempty"`
		Environment map[string]string `yaml:"environment,omitempty"`
		Ports       []string          `yaml:"ports,omitempty"`
		Volumes     []string          `yaml:"volumes,omitempty"`
		Restart     string            `yaml:"restart,omitempty"`
		DependsOn   map[string]any    `yaml:"depends_on,omitempty"`
		Labels      map[string]string `yaml:"labels"`
		Networks    map[string]any    `yaml:"networks"`
	}
	files := map[string][]byte{}
	services := map[string]service{}
	byStage := map[int][]Component{}
	for _, c := range d.Components {
		byStage[c.Stage] = append(byStage[c.Stage], c)
	}
	entryListen, entryProxy := -1, ""
	if l, ok := d.Link(d.Entry.Link); ok {
		entryListen, entryProxy = l.Listen, l.ProxyComponent()
	}
	// One host port cannot carry several Toxiproxy APIs: 8474 is fixed only
	// when there is one.
	fixedAPI := len(d.Proxies()) == 1
	for _, c := range d.Components {
		img := imageRef(c.Image)
		if c.ImageRef != "" {
			img = c.ImageRef
		}
		svc := service{
			Image:   img,
			Command: c.Cmd, Entrypoint: c.Entrypoint, Healthcheck: healthcheck(c.Healthcheck),
			Restart: string(c.Restart),
			Labels:  map[string]string{LabelOkbreak: "true", LabelComponent: c.Name, LabelRun: "compose"},
			Networks: map[string]any{"okbreak": map[string][]string{
				"aliases": c.Aliases,
			}},
			Environment: c.Env,
		}
		for _, p := range c.Ports {
			switch {
			case fixedAPI && d.IsProxy(c.Name) && p.Number == PortToxiproxy, c.Name == entryProxy && p.Number == entryListen:
				svc.Ports = append(svc.Ports, fmt.Sprintf("127.0.0.1:%d:%d", p.Number, p.Number))
			default:
				svc.Ports = append(svc.Ports, fmt.Sprintf("127.0.0.1::%d", p.Number))
			}
		}
		for _, f := range c.Files {
			local := path.Join(ComposeDir, c.Name+"-"+path.Base(f.Path))
			files[local] = f.Content
			svc.Volumes = append(svc.Volumes, "./"+local+":"+f.Path+":ro")
		}
		if c.Stage > 0 {
			svc.DependsOn = map[string]any{}
			for _, dep := range byStage[c.Stage-1] {
				cond := "service_started"
				if dep.Healthcheck != nil {
					cond = "service_healthy"
				}
				svc.DependsOn[serviceName(dep)] = map[string]string{"condition": cond}
			}
		}
		if c.Stage > 0 && len(d.Seed) > 0 {
			svc.DependsOn[SeedService] = map[string]string{"condition": "service_completed_successfully"}
		}
		services[serviceName(c)] = svc
	}
	if len(d.Seed) > 0 {
		seed, err := json.MarshalIndent(d.Seed, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("compose: seed: %w", err)
		}
		seedPath := path.Join(ComposeDir, "etcd-seed.json")
		files[seedPath] = seed
		// etcd's image is etcd alone (no etcdctl, no shell): the seed job
		// is the control plane image's seed command, which reads a list
		// of {key, value}.
		services[SeedService] = service{
			Image:      imageRef(image.ControlPlane),
			Entrypoint: []string{"/control-plane", "seed"},
			Command:    []string{fmt.Sprintf("--etcd=%s:%d", d.EtcdComponent(), PortEtcd), "--file=/etc/okbreak/etcd-seed.json"},
			Volumes:    []string{"./" + seedPath + ":/etc/okbreak/etcd-seed.json:ro"},
			Restart:    "on-failure",
			DependsOn:  map[string]any{d.etcdService(): map[string]string{"condition": "service_started"}},
			Labels:     map[string]string{LabelOkbreak: "true", LabelComponent: SeedService, LabelRun: "compose"},
			Networks:   map[string]any{"okbreak": map[string][]string{"aliases": {SeedService}}},
		}
	}
	doc := map[string]any{
		"version":  "2.4",
		"services": services,
		"networks": map[string]any{"okbreak": map[string]any{"labels": map[string]string{LabelOkbreak: "true", LabelRun: "compose"}}},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	source := d.Source
	if source == "" {
		source = "a stack definition"
	}
	header := "# Generated by `okbreak compose` from " + source + "\n" +
		"# (data plane: " + string(d.DataPlane) + "). Do not edit by hand: run `make compose`.\n" +
		"# Images: `okbreak images` builds and tags okbreak/<name>:latest.\n"
	files["docker-compose.yml"] = append([]byte(header), out...)
	return files, nil
}

// serviceName is a component's service in the compose file: its name, or,
// for a component that does not answer to its own name (a callee behind
// its Toxiproxy), its first alias. Compose makes every service's name a
// DNS name on the network: a callee keeping its own would let callers
// reach it around Toxiproxy.
func serviceName(c Component) string {
	if len(c.Aliases) == 0 || slices.Contains(c.Aliases, c.Name) {
		return c.Name
	}
	return c.Aliases[0]
}

func (d Definition) etcdService() string {
	if c, ok := d.Component(d.EtcdComponent()); ok {
		return serviceName(c)
	}
	return d.EtcdComponent()
}

// healthcheck is a component's Docker health check as Compose writes it.
func healthcheck(h *Healthcheck) map[string]any {
	if h == nil {
		return nil
	}
	out := map[string]any{"test": h.Test}
	for k, v := range map[string]time.Duration{"interval": h.Interval, "timeout": h.Timeout, "start_period": h.StartPeriod} {
		if v > 0 {
			out[k] = v.String()
		}
	}
	if h.Retries > 0 {
		out["retries"] = h.Retries
	}
	return out
}

func imageRef(n image.Name) string {
	if n == image.Envoy {
		return "${OKBREAK_ENVOY_IMAGE:-" + image.DefaultEnvoyImage + "}"
	}
	return fmt.Sprintf("${%s:-%s}", image.EnvVar(n), image.LatestRef(n))
}

// ComposePaths lists the paths ComposeFiles writes, sorted.
func ComposePaths(files map[string][]byte) []string {
	var ps []string
	for p := range files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}
