package stackfile

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"

	"sort"
	"strconv"
	"strings"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/probe"
	"github.com/okbreak/okbreak/harness/stack"
)

// Names okbreak gives what it adds to a team's system.
const (
	// ProxyName names the Toxiproxy components that stand in for the
	// callees: "toxiproxy", then "toxiproxy-2" and on when callees share a
	// port (see packCallees).
	ProxyName = "toxiproxy"
	// RealPrefix starts the hidden name the real callee keeps on the
	// network, the one its Toxiproxy forwards to. No caller knows it.
	RealPrefix = "okbreak-real-"
)

// okbreakImage maps the references of okbreak's own images, as the
// rendered compose file writes them, to the images okbreak builds, and the
// official Envoy image okbreak's control plane is built for to image.Envoy,
// so that the resolver's Envoy rules (OKBREAK_ENVOY_IMAGE, a local image
// before a pull) apply to it as to the sample system.
func okbreakImage(ref string) (image.Name, bool) {
	if ref == image.DefaultEnvoyImage {
		return image.Envoy, true
	}
	name, tag, _ := strings.Cut(strings.TrimPrefix(ref, "okbreak/"), ":")
	if !strings.HasPrefix(ref, "okbreak/") || (tag != "" && tag != "latest") {
		return "", false
	}
	for _, n := range image.Names() {
		if string(n) == name {
			return n, true
		}
	}
	return "", false
}

// Definition is the system the file describes, as okbreak runs it: every
// service a component under its own name, and every declared link carried
// by a Toxiproxy that takes over the callee's name on the network, so that
// callers reach the callee through Toxiproxy with their configs unchanged,
// while the callee itself answers only to a hidden name. Files are read
// here (bind sources, configs); nothing is started.
func (f *File) Definition() (stack.Definition, error) {
	d := stack.Definition{DataPlane: f.dataPlane(), EtcdName: f.Roles.Etcd}
	stages, err := f.stages()
	if err != nil {
		return d, err
	}
	if err := f.checkInterposable(); err != nil {
		return d, err
	}
	callees := map[string][]Link{}
	for _, l := range f.Links {
		callees[l.To] = append(callees[l.To], l)
	}
	proxies := f.packCallees(callees)
	for _, svc := range f.Services {
		if slices.ContainsFunc(proxies, func(p *proxy) bool { return p.name == svc.Name }) {
			return d, fmt.Errorf("%s:%d:%d: service %s: its name is the one okbreak gives the Toxiproxy in front of the callees; rename it",
				f.Path, svc.Line, svc.Col, svc.Name)
		}
		c, err := f.component(svc, stages[svc.Name], len(callees[svc.Name]) > 0)
		if err != nil {
			return d, err
		}
		d.Components = append(d.Components, c)
	}
	for _, p := range proxies {
		for _, callee := range p.callees {
			for _, l := range callees[callee] {
				d.Links = append(d.Links, stack.Link{
					Name: l.Name, From: l.From, To: l.To, Listen: l.Port,
					Upstream:  fmt.Sprintf("%s%s:%d", RealPrefix, l.To, l.Port),
					Published: l.From == Client, Proxy: p.name,
				})
			}
		}
		// Its config is its links' (just added) and its pass-throughs.
		c := proxyFor(p, callees)
		c.Files = []stack.File{{Path: "/etc/toxiproxy/proxies.json", Content: proxyConfig(d, p), Mode: 0o644}}
		d.Components = append(d.Components, c)
	}
	for _, kv := range f.Seed {
		d.Seed = append(d.Seed, stack.KV{Key: kv.Key, Value: kv.Value})
	}
	d.Entry = f.entry()
	for _, e := range f.Evidence {
		c, _ := d.Component(e.Component)
		for _, p := range c.Ports {
			if p.Number == e.Port {
				d.Evidence = append(d.Evidence, stack.EvidenceEndpoint{Name: e.Name, Component: e.Component, Port: p.Name, Path: e.Path})
			}
		}
	}
	return d, nil
}

// proxy is one Toxiproxy container: the callees whose names it holds, the
// ports it passes through for each, and every port it listens on.
type proxy struct {
	name        string
	callees     []string
	passthrough map[string][]int
	ports       map[int]bool
}

// packCallees puts the callees into as few Toxiproxies as their ports
// allow: one container listens once on a port, so callees that share a
// port (four backends on 8080) need one each, and callees on distinct
// ports share one. Every container costs the engine about half a second of
// start on 2 cores (measured with fuse-overlayfs), which a stack of many
// callees would otherwise pay once per callee. Callees are taken in name
// order, so that the packing, and so the names, are the same every time.
// The price: callees that share a Toxiproxy answer on each other's ports
// (backend-1:8082 reaches backend-2), so a caller that names the wrong
// port works under test where production would refuse it.
func (f *File) packCallees(callees map[string][]Link) []*proxy {
	var out []*proxy
	for _, callee := range sortedKeys(callees) {
		ports := map[int]bool{}
		for _, l := range callees[callee] {
			ports[l.Port] = true
		}
		pass := f.unlinkedPorts(callee, callees[callee])
		for _, p := range pass {
			ports[p] = true
		}
		i := slices.IndexFunc(out, func(p *proxy) bool { return !collides(p.ports, ports) })
		if i < 0 {
			i = len(out)
			out = append(out, &proxy{name: proxyName(i), passthrough: map[string][]int{}, ports: map[int]bool{stack.PortToxiproxy: true}})
		}
		home := out[i]
		home.callees = append(home.callees, callee)
		home.passthrough[callee] = pass
		maps.Copy(home.ports, ports)
	}
	return out
}

func collides(taken, ports map[int]bool) bool {
	for p := range ports {
		if taken[p] {
			return true
		}
	}
	return false
}

// proxyName names the i-th Toxiproxy: "toxiproxy", then "toxiproxy-2"...
func proxyName(i int) string {
	if i == 0 {
		return ProxyName
	}
	return fmt.Sprintf("%s-%d", ProxyName, i+1)
}

// proxyFor is the component of a Toxiproxy: it holds its callees' names
// and listens on each linked port, the port the callers already use, and
// passes each callee's other declared ports straight through (no link, no
// fault), so that holding a name takes none of them away.
func proxyFor(p *proxy, callees map[string][]Link) stack.Component {
	c := stack.Component{
		Name: p.name, Image: image.Toxiproxy, Aliases: slices.Clone(p.callees), Job: "toxiproxy",
		Cmd:     []string{"-host=0.0.0.0", "-config=/etc/toxiproxy/proxies.json", "-proxy-metrics"},
		Ports:   []stack.Port{{Name: "api", Number: stack.PortToxiproxy}},
		Ready:   stack.Probe{Port: "api", Path: "/version"},
		Metrics: stack.Probe{Port: "api", Path: "/metrics"},
		Restart: stack.RestartUnlessStopped,
	}
	// Only the probe's way in is published on the host.
	for _, callee := range p.callees {
		for _, l := range callees[callee] {
			c.Ports = append(c.Ports, stack.Port{Name: portName(l.Port), Number: l.Port, Internal: l.From != Client})
		}
		for _, n := range p.passthrough[callee] {
			c.Ports = append(c.Ports, stack.Port{Name: portName(n), Number: n, Internal: true})
		}
	}
	return c
}

// proxyConfig is a Toxiproxy's config: its links, then a plain proxy
// ("<callee>:<port>") for each port it passes through.
func proxyConfig(d stack.Definition, p *proxy) []byte {
	var entries []map[string]any
	if err := json.Unmarshal(d.ToxiproxyConfig(p.name), &entries); err != nil {
		panic(fmt.Sprintf("toxiproxy config of %s: %v", p.name, err)) // our own JSON: a bug
	}
	for _, callee := range p.callees {
		for _, n := range p.passthrough[callee] {
			entries = append(entries, map[string]any{
				"name": fmt.Sprintf("%s:%d", callee, n), "listen": fmt.Sprintf("0.0.0.0:%d", n),
				"upstream": fmt.Sprintf("%s%s:%d", RealPrefix, callee, n), "enabled": true,
			})
		}
	}
	b, _ := json.MarshalIndent(entries, "", "  ") // strings and bools: cannot fail
	return b
}

// unlinkedPorts are the callee's declared ports (its ports, and its metrics
// and readiness ports) that no link carries, sorted.
func (f *File) unlinkedPorts(callee string, links []Link) []int {
	linked := map[int]bool{}
	for _, l := range links {
		linked[l.Port] = true
	}
	declared := map[int]bool{}
	if svc, ok := f.Service(callee); ok {
		for _, p := range svc.Ports {
			declared[p] = true
		}
	}
	x := f.Components[callee]
	for _, e := range []*Endpoint{x.Metrics, x.Ready} {
		if e != nil {
			declared[e.Port] = true
		}
	}
	var out []int
	for p := range declared {
		if !linked[p] {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// checkInterposable refuses what a Toxiproxy in front of a callee cannot
// carry: a callee port that is the Toxiproxy API's own, and a seed with no
// etcd to write it to (okbreak writes it on etcd's client port, 2379).
func (f *File) checkInterposable() error {
	for _, l := range f.Links {
		if l.Port == stack.PortToxiproxy {
			return fmt.Errorf("%s:%d:%d: link %s: port %d is the API of the Toxiproxy okbreak puts in front of %s; move the service off that port",
				l.File, l.Line, l.Col, l.Name, l.Port, l.To)
		}
		// Every declared port of a callee is passed through its Toxiproxy,
		// its metrics and readiness ports too.
		if svc, ok := f.Service(l.To); ok && slices.Contains(append(f.unlinkedPorts(l.To, nil), svc.Ports...), stack.PortToxiproxy) {
			return fmt.Errorf("%s:%d:%d: service %s declares port %d (in ports, or as its metrics or ready port), the API port of the Toxiproxy okbreak puts in front of it; move the service off that port",
				f.Path, svc.Line, svc.Col, svc.Name, stack.PortToxiproxy)
		}
	}
	if len(f.Seed) == 0 {
		return nil
	}
	etcd, ok := f.Service(f.Roles.Etcd)
	if !ok {
		return fmt.Errorf("%s: x-okbreak seed needs the etcd to write it to: name it with x-okbreak roles.etcd", f.Path)
	}
	if !slices.Contains(etcd.Ports, stack.PortEtcd) {
		return fmt.Errorf("%s:%d:%d: service %s (roles.etcd) declares no port %d: okbreak writes the seed and config faults on etcd's client port; add \"%d\" to its ports",
			f.Path, etcd.Line, etcd.Col, etcd.Name, stack.PortEtcd, stack.PortEtcd)
	}
	return nil
}

func portName(n int) string { return strconv.Itoa(n) }

// component is one service as okbreak starts it. A callee of a link keeps
// only its hidden name: were it to keep its own, callers would reach it
// around Toxiproxy without anyone noticing.
func (f *File) component(svc Service, stage int, isCallee bool) (stack.Component, error) {
	x := f.Components[svc.Name]
	c := stack.Component{
		Name: svc.Name, Entrypoint: svc.Entrypoint, Cmd: svc.Command, Env: svc.Environment,
		Restart: stack.RestartPolicy(restartPolicy(svc.Restart)), Job: x.Job, Labels: x.Labels, Stage: stage,
		Aliases: []string{svc.Name},
	}
	if isCallee {
		c.Aliases = []string{RealPrefix + svc.Name}
	}
	if err := f.setImage(&c, svc); err != nil {
		return c, err
	}
	for _, p := range svc.Ports {
		c.Ports = append(c.Ports, stack.Port{Name: portName(p), Number: p})
	}
	if svc.Name == f.Roles.Etcd {
		for i := range c.Ports {
			if c.Ports[i].Number == stack.PortEtcd {
				c.Ports[i].Name = "client"
			}
		}
	}
	addPort := func(e *Endpoint) stack.Probe {
		if e == nil {
			return stack.Probe{}
		}
		if _, ok := c.PortNumber(portName(e.Port)); !ok && !(svc.Name == f.Roles.Etcd && e.Port == stack.PortEtcd) {
			c.Ports = append(c.Ports, stack.Port{Name: portName(e.Port), Number: e.Port})
		}
		for _, p := range c.Ports {
			if p.Number == e.Port {
				return stack.Probe{Port: p.Name, Path: e.Path}
			}
		}
		return stack.Probe{}
	}
	c.Metrics, c.Ready = addPort(x.Metrics), addPort(x.Ready)
	c.Healthcheck = dockerHealthcheck(svc.Healthcheck)
	// Loading read every mounted file (from disk or the stack's fs.FS).
	for _, m := range append(append([]Mount{}, svc.Files...), svc.Configs...) {
		c.Files = append(c.Files, stack.File{Path: m.Target, Content: m.Content, Mode: 0o644})
	}
	return c, nil
}

// setImage picks what the component runs: okbreak's own images by their
// okbreak/<name> reference, a build the file asks okbreak for, or the
// team's image as written.
func (f *File) setImage(c *stack.Component, svc Service) error {
	if b, ok := f.Builds[svc.Name]; ok {
		c.Image, c.Build = image.Name(buildName(f.Name, svc.Name)), f.build(b)
		return nil
	}
	if n, ok := okbreakImage(svc.Image); ok {
		c.Image = n
		return nil
	}
	if svc.Image == "" {
		return fmt.Errorf("%s:%d:%d: service %s: no image", f.Path, svc.Line, svc.Col, svc.Name)
	}
	c.Image, c.ImageRef = image.Name("service-"+svc.Name), svc.Image
	return nil
}

// buildName names the image okbreak builds for a service: okbreak/<it>:<key>,
// overridable with OKBREAK_<IT>_IMAGE.
func buildName(project, service string) string {
	if project == "" {
		return "build-" + service
	}
	return project + "-" + service
}

// build is where a service's image is built from: a Go main package (a
// folder, or an import path in the stack file's module), or a Dockerfile
// folder.
func (f *File) build(b Build) *stack.Build {
	switch {
	case b.Dockerfile != "":
		return &stack.Build{DockerDir: b.Dockerfile}
	case b.GoDir:
		return &stack.Build{GoDir: b.Go}
	}
	return &stack.Build{GoDir: f.Dir, GoPackage: b.Go}
}

func restartPolicy(s string) string {
	if s == "" {
		return "no"
	}
	return s
}

// stages orders start-up by depends_on: a service starts in the stage after
// the last of the services it waits for. A cycle is an error.
func (f *File) stages() (map[string]int, error) {
	out := map[string]int{}
	visiting := map[string]bool{}
	var visit func(name string) (int, error)
	visit = func(name string) (int, error) {
		if st, ok := out[name]; ok {
			return st, nil
		}
		if visiting[name] {
			return 0, fmt.Errorf("%s: depends_on makes a cycle through %s", f.Path, name)
		}
		visiting[name] = true
		svc, _ := f.Service(name)
		st := 0
		for dep := range svc.DependsOn {
			d, err := visit(dep)
			if err != nil {
				return 0, err
			}
			st = max(st, d+1)
		}
		out[name] = st
		return st, nil
	}
	for _, svc := range f.Services {
		if _, err := visit(svc.Name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (f *File) dataPlane() stack.DataPlane {
	svc, ok := f.Service(f.Roles.DataPlane)
	switch {
	case ok && strings.Contains(svc.Image, "envoy"):
		return stack.Envoy
	case ok:
		return stack.GRPC
	}
	return ""
}

// entry is where the probe sends traffic, and how it judges an answer.
func (f *File) entry() stack.Entry {
	e := stack.Entry{Link: f.Probe.Link, Host: f.Probe.Host, Path: f.Probe.Path}
	for _, group := range sortedKeys(f.Roles.Instances) {
		e.Instances = append(e.Instances, f.Roles.Instances[group]...)
	}
	e.Check, e.Header = f.Probe.answerCheck(), f.Probe.headerCheck()
	return e
}

// answerCheck judges one answer as the file's probe says: the status it
// must have, then the JSON field it must hold. The answering instance is
// read from the body's "instance" field when there is one, so that start-up
// can wait until every instance of roles.instances has answered.
func (p Probe) answerCheck() probe.Check {
	status := p.Status
	if status == 0 {
		status = 200
	}
	var jc *JSONCheck
	if p.Check != nil {
		jc = p.Check.JSON
	}
	return func(code int, body []byte) probe.Answer {
		if code != status {
			return probe.Answer{Outcome: probe.Error, Err: probe.StatusErr(code, body)}
		}
		var doc map[string]any
		_ = json.Unmarshal(body, &doc) // a body that is not JSON holds no field
		a := probe.Answer{Outcome: probe.OK}
		if s, ok := doc["instance"].(string); ok {
			a.Instance = s
		}
		if jc == nil {
			return a
		}
		got, ok := jsonField(doc, jc.Field)
		if !ok {
			return probe.Answer{Outcome: probe.Error, Instance: a.Instance, Err: fmt.Sprintf("answer has no field %s: %.200q", jc.Field, body)}
		}
		if got != jc.Equals {
			return probe.Answer{Outcome: probe.WrongService, Service: got, Instance: a.Instance, Err: fmt.Sprintf("%s is %q, want %q", jc.Field, got, jc.Equals)}
		}
		a.Service = got
		return a
	}
}

// headerCheck judges an answer's headers as the file's probe says: the
// header must be there (an Error when not) and its value match (a wrong
// answer when not). nil when the probe checks no header.
func (p Probe) headerCheck() probe.HeaderCheck {
	if p.Check == nil || p.Check.Header == nil {
		return nil
	}
	name := p.Check.Header.Name
	re, err := regexp.Compile(p.Check.Header.Matches)
	if err != nil {
		// Checked when the file was read: unreachable.
		return func(http.Header) probe.Answer {
			return probe.Answer{Outcome: probe.Error, Err: fmt.Sprintf("header %s: bad pattern: %v", name, err)}
		}
	}
	return func(h http.Header) probe.Answer {
		vs := h.Values(name)
		if len(vs) == 0 {
			return probe.Answer{Outcome: probe.Error, Err: "answer has no header " + name}
		}
		for _, v := range vs {
			if re.MatchString(v) {
				return probe.Answer{Outcome: probe.OK}
			}
		}
		return probe.Answer{Outcome: probe.WrongService, Err: fmt.Sprintf("header %s is %q, want it to match %q", name, vs[0], re)}
	}
}

// jsonField reads a dotted field of a JSON object: a string as its text,
// anything else as its JSON text.
func jsonField(doc map[string]any, field string) (string, bool) {
	var v any = doc
	for _, part := range strings.Split(field, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[part]; !ok {
			return "", false
		}
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

// Inputs are the catalog and rule files the stack file names, read.
func (f *File) Inputs() (harness.Inputs, error) {
	if f.Catalog == "" {
		return harness.Inputs{}, fmt.Errorf("%s: x-okbreak names no catalog", f.Path)
	}
	if f.fl.fsys == nil {
		return harness.ReadInputs(f.Catalog, f.Rules...)
	}
	// From an fs.FS: rules are named as files (or globs, expanded when the
	// file was loaded).
	in := harness.Inputs{}
	b, err := f.ReadFile(f.Catalog)
	if err != nil {
		return in, fmt.Errorf("catalog: %w", err)
	}
	in.Catalog = harness.Source{Name: "embedded:" + f.Catalog, Data: b}
	for _, r := range f.Rules {
		b, err := f.ReadFile(r)
		if err != nil {
			return in, fmt.Errorf("rules: %w", err)
		}
		in.Rules = append(in.Rules, harness.Source{Name: "embedded:" + r, Data: b})
	}
	return in, nil
}

// EnvMap turns os.Environ's "KEY=value" list into the map Options.Env
// takes (the package itself never reads the process environment).
func EnvMap(kvs []string) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Rendering is the definition as a compose file writes it: what Definition
// runs, with each service's image, command, entrypoint and environment as
// the file wrote them (${VAR} kept), because a rendering is shared and
// values from the environment can hold machine paths or secrets. File
// contents are the files' own.
func (f *File) Rendering() (stack.Definition, error) {
	d, err := f.Definition()
	if err != nil {
		return d, err
	}
	d.Source = "the stack file " + filepath.Base(f.Path)
	raw := map[string]Service{}
	for _, s := range f.Raw {
		raw[s.Name] = s
	}
	for i, c := range d.Components {
		s, ok := raw[c.Name]
		if !ok {
			continue // a component okbreak added
		}
		c := &d.Components[i]
		// okbreak's own images (and builds) render as the image names
		// okbreak tags, with their override variables; a team's image as
		// written.
		if c.ImageRef != "" {
			c.ImageRef = s.Image
		}
		c.Cmd, c.Entrypoint, c.Env = s.Command, s.Entrypoint, s.Environment
		c.Healthcheck = dockerHealthcheck(s.Healthcheck)
		// A content: config is text with ${VAR}s; a file's content is the
		// file's own, as on disk.
		for j, m := range append(append([]Mount{}, s.Files...), s.Configs...) {
			if m.Source == "" && j < len(c.Files) {
				c.Files[j].Content = m.Content
			}
		}
	}
	return d, nil
}

// dockerHealthcheck is a service's Compose healthcheck as Docker runs it (nil
// when it has none or disables it).
func dockerHealthcheck(h *Healthcheck) *stack.Healthcheck {
	if h == nil || h.Disable || len(h.Test) == 0 {
		return nil
	}
	return &stack.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
}

// Open loads the stack file at path with the process environment a caller
// passes (os.Environ()) and the .env beside the file, as Compose would:
// what a command or a test runner needs in one call.
func Open(ctx context.Context, path string, environ []string) (*File, error) {
	env, err := DotEnv(filepath.Dir(path), EnvMap(environ))
	if err != nil {
		return nil, err
	}
	return Load(ctx, path, Options{Env: env})
}
