package stackfile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// checker runs the checks that need both the services and x-okbreak. ld is
// nil when compose-go rejected the file: the checks that need loaded
// services (ports, images, profiles) are then left out, and the others
// still run on the names the walk saw declared.
type checker struct {
	r  *report
	w  *walker
	x  *xdecoder
	ld *loaded
	f  *File
}

func crossCheck(w *walker, x *xdecoder, ld *loaded, f *File) {
	c := &checker{r: w.r, w: w, x: x, ld: ld, f: f}
	c.links()
	c.probe()
	for name, n := range x.components {
		c.service(name, n.key, "x-okbreak.components")
	}
	for _, ref := range x.roles {
		c.service(ref.name, ref.n, ref.role)
	}
	for name, n := range x.builds {
		c.service(name, n, "x-okbreak.build")
	}
	if ld != nil {
		c.images()
		c.dependencies()
	}
}

// service reports a name in x-okbreak that is no service of the file, or
// one the active profiles leave out. It reports whether the name is fine.
func (c *checker) service(name string, n *yaml.Node, what string) bool {
	if c.w.services[name] == nil {
		if c.w.servicesAt != nil {
			c.r.at(n, suggest(name, sortedKeys(c.w.services))+"name a service under `services:`", "%s names unknown service %q", what, name)
		}
		return false
	}
	if c.ld != nil && c.ld.disabled[name] {
		c.r.at(n, "enable one of its profiles, or remove the reference", "%s names service %q, which the active profiles leave out", what, name)
		return false
	}
	return true
}

// links checks each link's ends and port, and that no two links share a
// name or a callee port.
func (c *checker) links() {
	names := map[string]Link{}
	callee := map[string]Link{}
	for i, l := range c.f.Links {
		nodes := c.x.links[i]
		if first, dup := names[l.Name]; dup {
			c.r.add(l.Line, l.Col, fmt.Sprintf("give one of them `name:`; the other is at line %d", first.Line), "two links named %q", l.Name)
		}
		names[l.Name] = l
		key := l.To + ":" + strconv.Itoa(l.Port)
		if first, dup := callee[key]; dup {
			c.r.at(nodes.port, fmt.Sprintf("keep one link to %s (without `from:` it carries every caller), or give the callee a port per caller", key),
				"links %q and %q both go to %s: one Toxiproxy listener per callee port cannot tell callers apart", first.Name, l.Name, key)
		}
		callee[key] = l
		if l.From != Client && l.From != Any {
			c.service(l.From, nodes.from, fmt.Sprintf("link %q", l.Name))
		}
		if c.service(l.To, nodes.to, fmt.Sprintf("link %q", l.Name)) {
			c.port(l, nodes.port)
		}
	}
}

// port reports a link to a port its callee does not declare: in its
// `ports`, or as its metrics or ready port.
func (c *checker) port(l Link, n *yaml.Node) {
	if c.ld == nil || c.w.broken[l.To] || c.w.broken[l.To+".ports"] {
		return
	}
	s, ok := find(c.ld.services, l.To)
	if !ok {
		return
	}
	declared := slices.Clone(s.Ports)
	if comp, ok := c.f.Components[l.To]; ok {
		for _, e := range []*Endpoint{comp.Metrics, comp.Ready} {
			if e != nil {
				declared = append(declared, e.Port)
			}
		}
	}
	if slices.Contains(declared, l.Port) {
		return
	}
	slices.Sort(declared)
	have := "it declares none"
	if len(declared) > 0 {
		have = "it declares " + joinInts(slices.Compact(declared))
	}
	c.r.at(n, fmt.Sprintf("add %d to the `ports:` of %q, or fix the link's port (%s)", l.Port, l.To, have),
		"link %q goes to port %d, which service %q does not declare", l.Name, l.Port, l.To)
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// probe checks that the probe's link exists and starts at the client.
func (c *checker) probe() {
	p := c.f.Probe
	if c.x.probeLink == nil {
		return
	}
	l, ok := c.f.Link(p.Link)
	if !ok {
		var names []string
		for _, l := range c.f.Links {
			names = append(names, l.Name)
		}
		c.r.at(c.x.probeLink, suggest(p.Link, names)+"name a link under x-okbreak.links, with `from: client`", "the probe's link %q is not declared", p.Link)
		return
	}
	if l.From != Client {
		c.r.at(c.x.probeLink, "probe through a link with `from: client`: the probe is the client", "the probe's link %q comes from %q, not from client", p.Link, l.From)
	}
}

// images reports a service with nothing to run: no image, no Compose build
// and no build by okbreak.
func (c *checker) images() {
	for _, s := range c.ld.services {
		if s.Image != "" || s.Build != nil || c.w.broken[s.Name+".image"] || c.w.broken[s.Name+".build"] {
			continue
		}
		if _, ok := c.x.builds[s.Name]; ok {
			continue
		}
		c.r.add(s.Line, s.Col, fmt.Sprintf("add `image:`, a Compose `build:`, or x-okbreak.build.%s", s.Name), "service %q has no image", s.Name)
	}
}

// dependencies reports a service waiting for one the profiles leave out:
// it would never start.
func (c *checker) dependencies() {
	for _, s := range c.ld.services {
		for dep, n := range c.w.deps[s.Name] {
			if c.ld.disabled[dep] {
				c.r.at(n, "enable one of its profiles, or drop the dependency", "service %q depends on %q, which the active profiles leave out", s.Name, dep)
			}
		}
	}
}
