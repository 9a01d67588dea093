package envfile

import (
	"fmt"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	dockerKeys    = []string{"engine", "containers"}
	containerKeys = []string{"component", "container"}
	limitsKeys    = []string{"max_fault_duration", "max_targets"}
	haltKeys      = []string{"min_success", "for", "alerts"}
)

// docker reads the containers process faults may hit.
func (p *parser) docker(n *yaml.Node) {
	const fix = "list them: - {component: backend-1, container: staging-backend-1}"
	o := p.fields(n, "docker", dockerKeys)
	if o == nil || !p.need(o, "docker", "give engine: local and containers: [{component: backend-1, container: staging-backend-1}]", dockerKeys...) {
		return
	}
	d := &Docker{Pos: pos(n)}
	d.Engine, _ = p.engine(o.val["engine"])
	components, containers := map[string]*yaml.Node{}, map[string]*yaml.Node{}
	for _, it := range p.list(o.val["containers"], "docker containers", fix) {
		c := p.fields(it, "a container", containerKeys)
		if c == nil || !p.need(c, "a container", fix, containerKeys...) {
			continue
		}
		comp, ok1 := p.name(c.val["component"], "component", dockerName, "backend-1")
		ctr, ok2 := p.name(c.val["container"], "container", dockerName, "staging-backend-1")
		if prev := containers[ctr]; ok2 && prev != nil {
			p.r.at(c.val["container"], fmt.Sprintf("keep one: it is first declared at line %d", prev.Line), "container %q declared twice in docker.containers", ctr)
			ok2 = false
		} else if ok2 {
			containers[ctr] = c.val["container"]
		}
		if prev := components[comp]; ok1 && prev != nil {
			p.r.at(c.val["component"], fmt.Sprintf("a component is one container (first at line %d): name each replica as a component of its own", prev.Line), "component %q declared twice in docker.containers", comp)
			ok1 = false
		} else if ok1 {
			components[comp] = c.val["component"]
		}
		if ok1 && ok2 {
			d.Containers = append(d.Containers, Container{Component: comp, Container: ctr, Pos: pos(it)})
		}
	}
	p.env.Docker = d
}

// engine reads docker.engine: local, or the URL of another engine (tcp
// with a port, or a unix socket's path).
func (p *parser) engine(n *yaml.Node) (string, bool) {
	const fix = "write engine: local (this host's Docker), tcp://HOST:PORT or unix:///PATH"
	s, ok := p.text(n, "docker engine", fix)
	if !ok || s == EngineLocal {
		return s, ok
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !strings.Contains(s, "://"):
		p.r.at(n, fix, "docker engine %q is neither local nor a URL", s)
	case u.User != nil:
		p.r.at(n, "remove USER:PASSWORD@: an environment file holds no secrets", "docker engine %q holds credentials", s)
	case u.Scheme == "tcp" && (u.Port() == "" || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != ""):
		p.r.at(n, "write tcp://HOST:PORT, e.g. tcp://127.0.0.1:2376", "docker engine %q needs a host and port, and nothing else", s)
	case u.Scheme == "unix" && (u.Path == "" || u.Host != ""):
		p.r.at(n, "write unix:///var/run/docker.sock (three slashes)", "docker engine %q needs a socket path", s)
	case u.Scheme != "tcp" && u.Scheme != "unix":
		p.r.at(n, fix, "docker engine %q has scheme %q", s, u.Scheme)
	default:
		return s, true
	}
	return "", false
}

// limits reads limits, nil when absent: the defaults then hold.
func (p *parser) limits(n *yaml.Node) {
	l := &p.env.Limits
	l.MaxFaultDuration, l.MaxTargets = DefaultMaxFaultDuration, DefaultMaxTargets
	if n == nil {
		return
	}
	o := p.fields(n, "limits", limitsKeys)
	if o == nil {
		return
	}
	if v := o.val["max_fault_duration"]; v != nil {
		if d, ok := p.duration(v, "max_fault_duration"); ok {
			l.MaxFaultDuration, l.DurationAt = d, pos(v)
		}
	}
	if v := o.val["max_targets"]; v != nil {
		if c, ok := p.count(v, "max_targets", 1, 1000, "write max_targets: 3, how many targets one fault may hit at most"); ok {
			l.MaxTargets, l.TargetsAt = c, pos(v)
		}
	}
}

// halt reads when a run stops early. A floor needs its for, and for needs
// a floor: either alone would not say when to halt.
func (p *parser) halt(n *yaml.Node) {
	o := p.fields(n, "halt", haltKeys)
	if o == nil {
		return
	}
	h := &p.env.Halt
	ms, dur := o.val["min_success"], o.val["for"]
	if ms != nil {
		h.MinSuccess, _ = p.number(ms, "min_success", 0, 1, "write a ratio from 0 to 1, e.g. 0.5 for 50%")
	}
	if dur != nil {
		h.For, _ = p.duration(dur, "halt for")
	}
	switch {
	case ms != nil && dur == nil:
		p.r.at(o.key["min_success"], "add for: 30s, how long the probe's success may stay under the floor before the run halts", "halt min_success without for")
	case dur != nil && ms == nil:
		p.r.at(o.key["for"], "add min_success: 0.5, the floor of the probe's success ratio, or remove for", "halt for without min_success")
	}
	if v := o.val["alerts"]; v != nil {
		h.Alerts = p.names(v, "halt alerts", "list the alerts that abort the run: [EdgeDown]")
	}
}
