package stackfile

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// checker runs the checks that need both the services and x-okbreak, over
// the files merged. ld is nil when compose-go rejected the files: the
// checks that need loaded services (ports, images, profiles) are then left
// out, and the others still run on the names the walk saw declared.
type checker struct {
	srcs []*source
	// base names the services: overlays add none.
	base *walker
	// from is the decoder of the file each x-okbreak key was taken from.
	from map[string]*xdecoder
	// broken is every file's walker.broken.
	broken map[string]bool
	ld     *loaded
	f      *File
}

func crossCheck(srcs []*source, from map[string]*xdecoder, ld *loaded, f *File) {
	c := &checker{srcs: srcs, base: srcs[0].w, from: from, ld: ld, f: f, broken: map[string]bool{}}
	for _, s := range srcs {
		maps.Copy(c.broken, s.w.broken)
	}
	c.links()
	c.probe()
	c.evidence()
	for _, s := range srcs {
		// Each file's names, also those an overlay replaced: a file that
		// names no service is wrong whatever comes after it.
		c.names(s.x)
	}
	if ld != nil {
		c.images()
		c.dependencies()
		c.mountClashes()
		if len(srcs) > 1 {
			c.dockerfiles()
		}
	}
}

// names checks the services a file's x-okbreak names in components, roles
// and builds.
func (c *checker) names(x *xdecoder) {
	for name, n := range x.components {
		c.service(x.r, name, n.key, "x-okbreak.components")
	}
	for _, ref := range x.roles {
		c.service(x.r, ref.name, ref.n, ref.role)
	}
	for name, n := range x.builds {
		c.service(x.r, name, n, "x-okbreak.build")
	}
}

// service reports, in r, a name in x-okbreak that is no service of the
// base file, or one the active profiles leave out. It reports whether the
// name is fine.
func (c *checker) service(r *report, name string, n *yaml.Node, what string) bool {
	if c.base.services[name] == nil {
		if c.base.servicesAt != nil {
			r.at(n, suggest(name, sortedKeys(c.base.services))+"name a service under `services:`", "%s names unknown service %q", what, name)
		}
		return false
	}
	if c.ld != nil && c.ld.disabled[name] {
		r.at(n, "enable one of its profiles, or remove the reference", "%s names service %q, which the active profiles leave out", what, name)
		return false
	}
	return true
}

// links checks each link's ends and port, and that no two links share a
// name or a callee port.
func (c *checker) links() {
	lx := c.from["links"]
	if lx == nil {
		return
	}
	names := map[string]Link{}
	callee := map[string]Link{}
	for i, l := range c.f.Links {
		nodes := lx.links[i]
		if first, dup := names[l.Name]; dup {
			lx.r.add(l.Line, l.Col, fmt.Sprintf("give one of them `name:`; the other is at line %d", first.Line), "two links named %q", l.Name)
		}
		names[l.Name] = l
		key := l.To + ":" + strconv.Itoa(l.Port)
		if first, dup := callee[key]; dup {
			lx.r.at(nodes.port, fmt.Sprintf("keep one link to %s (without `from:` it carries every caller), or give the callee a port per caller", key),
				"links %q and %q both go to %s: one Toxiproxy listener per callee port cannot tell callers apart", first.Name, l.Name, key)
		}
		callee[key] = l
		if l.From != Client && l.From != Any {
			c.service(lx.r, l.From, nodes.from, fmt.Sprintf("link %q", l.Name))
		}
		if !c.service(lx.r, l.To, nodes.to, fmt.Sprintf("link %q", l.Name)) {
			continue
		}
		if have := c.undeclared(l.To, l.Port); have != "" {
			lx.r.at(nodes.port, fmt.Sprintf("add %d to the `ports:` of %q, or fix the link's port (%s)", l.Port, l.To, have),
				"link %q goes to port %d, which service %q does not declare", l.Name, l.Port, l.To)
		}
	}
}

// undeclared says which ports a service declares when port is none of
// them, "" when it is one (or the ports cannot be known): a port is
// declared in the service's `ports`, or as its metrics or ready port.
func (c *checker) undeclared(svc string, port int) string {
	if c.ld == nil || c.broken[svc] || c.broken[svc+".ports"] {
		return ""
	}
	s, ok := find(c.ld.services, svc)
	if !ok {
		return ""
	}
	declared := slices.Clone(s.Ports)
	if comp, ok := c.f.Components[svc]; ok {
		for _, e := range []*Endpoint{comp.Metrics, comp.Ready} {
			if e != nil {
				declared = append(declared, e.Port)
			}
		}
	}
	if slices.Contains(declared, port) {
		return ""
	}
	slices.Sort(declared)
	if len(declared) == 0 {
		return "it declares none"
	}
	return "it declares " + joinInts(slices.Compact(declared))
}

// evidence checks that each evidence endpoint is on a service's declared
// port.
func (c *checker) evidence() {
	ex := c.from["evidence"]
	if ex == nil {
		return
	}
	for i, e := range c.f.Evidence {
		nodes := ex.evidence[i]
		if !c.service(ex.r, e.Component, nodes.component, fmt.Sprintf("evidence %q", e.Name)) {
			continue
		}
		if have := c.undeclared(e.Component, e.Port); have != "" {
			ex.r.at(nodes.port, fmt.Sprintf("add %d to the `ports:` of %q, or fix the endpoint's port (%s)", e.Port, e.Component, have),
				"evidence %q is on port %d, which service %q does not declare", e.Name, e.Port, e.Component)
		}
	}
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
	px := c.from["probe"]
	if px == nil || px.probeLink == nil {
		return
	}
	p := c.f.Probe
	l, ok := c.f.Link(p.Link)
	if !ok {
		var names []string
		for _, l := range c.f.Links {
			names = append(names, l.Name)
		}
		px.r.at(px.probeLink, suggest(p.Link, names)+"name a link under x-okbreak.links, with `from: client`", "the probe's link %q is not declared", p.Link)
		return
	}
	if l.From != Client {
		px.r.at(px.probeLink, "probe through a link with `from: client`: the probe is the client", "the probe's link %q comes from %q, not from client", p.Link, l.From)
	}
}

// images reports a service with nothing to run: no image, no Compose build
// and no build by okbreak.
func (c *checker) images() {
	bx := c.from["build"]
	for _, s := range c.ld.services {
		if s.Image != "" || s.Build != nil || c.broken[s.Name+".image"] || c.broken[s.Name+".build"] {
			continue
		}
		if bx != nil && bx.builds[s.Name] != nil {
			continue
		}
		c.base.r.add(s.Line, s.Col, fmt.Sprintf("add `image:`, a Compose `build:`, or x-okbreak.build.%s", s.Name), "service %q has no image", s.Name)
	}
}

// dependencies reports a service waiting for one the profiles leave out:
// it would never start. Each file that names the dependency hears of it.
func (c *checker) dependencies() {
	for _, s := range c.ld.services {
		for _, src := range c.srcs {
			for dep, n := range src.w.deps[s.Name] {
				if c.ld.disabled[dep] {
					src.r.at(n, "enable one of its profiles, or drop the dependency", "service %q depends on %q, which the active profiles leave out", s.Name, dep)
				}
			}
		}
	}
}

// mountClashes reports a container path that gets both a bind mount and a
// config. One file cannot do that (the walk sees to it), but Compose
// merges volumes and configs each by target, so an overlay's bind mount
// does not replace a base's config at the same path: Docker would get two.
// The later of the two files hears of it.
func (c *checker) mountClashes() {
	for _, s := range c.ld.services {
		bound := map[string]bool{}
		for _, m := range s.Files {
			bound[path.Clean(m.Target)] = true
		}
		for _, m := range s.Configs {
			target := path.Clean(m.Target)
			if !bound[target] {
				continue
			}
			i, n := originAt(c.srcs, pathKey{keyVolume, s.Name, target})
			if j, cn := originAt(c.srcs, pathKey{keyMount, s.Name, target}); j > i {
				i, n = j, cn
			}
			c.srcs[max(i, 0)].r.at(n, "mount one file there: an overlay replaces a bind mount with a bind mount, a config with a config",
				"%s gets both a bind mount and a config in service %q once the files are merged", target, s.Name)
		}
	}
}

// dockerfiles checks each merged Compose build's Dockerfile. Each file's
// walk checked its own; but Compose merges build key by key, so an
// overlay's context may meet the base's dockerfile, which need not be in
// it.
func (c *checker) dockerfiles() {
	for _, s := range c.ld.services {
		if s.Build == nil || remoteContext(s.Build.Context) {
			continue
		}
		raw, ok := find(c.ld.raw, s.Name)
		if !ok || raw.Build == nil {
			continue
		}
		df, rawDF := s.Build.Dockerfile, raw.Build.Dockerfile
		if df == "" {
			df, rawDF = "Dockerfile", "Dockerfile"
		}
		src, n := origin(c.srcs, pathKey{kind: keyContext, service: s.Name})
		src.w.fl.check(src.r, n, "Dockerfile", path.Join(raw.Build.Context, rawDF), src.w.fl.join(s.Build.Context, df),
			false, "name the Dockerfile with `dockerfile:` in the file that sets the context")
	}
}
