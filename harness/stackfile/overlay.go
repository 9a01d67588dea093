package stackfile

import (
	"maps"

	"gopkg.in/yaml.v3"
)

// source is one stack file of a load, the base or an overlay, as the
// stages go through it.
type source struct {
	r *report
	// dir is the folder its relative paths resolve against.
	dir  string
	root *yaml.Node
	w    *walker
	x    *xdecoder
	// written indexes, per service, where the file writes the paths
	// compose-go merges (see writes).
	written map[string]map[pathKey]*yaml.Node
}

// documents parses each file's YAML; ok is false when a file has no
// document to walk: the files' checks against each other would then report
// what follows from that.
func documents(ins []input, fl files, dir string) ([]*source, bool) {
	ok := true
	srcs := make([]*source, len(ins))
	for i, in := range ins {
		s := &source{r: &report{file: in.name}, dir: dir}
		if s.dir == "" {
			s.dir = fl.dir(in.name)
		}
		s.root = document(s.r, in.data)
		ok = ok && s.root != nil
		srcs[i] = s
	}
	return srcs, ok
}

// walkAll walks each file's Compose part in order. An overlay's walk knows
// the base's services and the configs the files before it declared.
func walkAll(srcs []*source, env map[string]string, fl files) {
	var p *prior
	for _, s := range srcs {
		s.w = newWalker(s.r, s.dir, env, fl, p)
		s.w.top(s.root)
		if p == nil {
			p = &prior{base: s.r.file, services: maps.Clone(s.w.services), configs: map[string]*yaml.Node{}, kinds: map[string]string{}}
		}
		maps.Copy(p.configs, s.w.configs)
		maps.Copy(p.kinds, s.w.kinds)
	}
}

// mergeX decodes each file's x-okbreak and lays each overlay's over the
// ones before it: a key an overlay gives replaces theirs, except
// components, which merge per service and per field (an overlay may change
// one component's metrics path only). The result maps each key to the
// decoder of the file whose value won, so that the cross checks report in
// that file.
func mergeX(f *File, srcs []*source) map[string]*xdecoder {
	from := map[string]*xdecoder{}
	for _, s := range srcs {
		s.x = decodeX(s.w, &File{})
		for _, k := range xKeys {
			if s.x.given[k] {
				from[k] = s.x
				takeX(f, s.x, k)
			}
		}
	}
	return from
}

// takeX copies one x-okbreak key from a file's decoder to the merged file.
func takeX(f *File, x *xdecoder, key string) {
	p := x.f
	switch key {
	case "links":
		f.Links = p.Links
	case "probe":
		f.Probe = p.Probe
	case "components":
		mergeComponents(f, x)
	case "seed":
		f.Seed = p.Seed
	case "rules":
		f.Rules = p.Rules
	case "catalog":
		f.Catalog = p.Catalog
	case "roles":
		f.Roles = p.Roles
	case "build":
		f.Builds = p.Builds
	case "evidence":
		f.Evidence = p.Evidence
	}
}

// mergeComponents lays a file's components over the merged ones: a
// component new to the merge is taken whole, else each field the file
// gives replaces the one merged so far. Labels are one field: an overlay
// that gives labels gives all of them, so that none linger unseen.
func mergeComponents(f *File, x *xdecoder) {
	for name, c := range x.f.Components {
		if f.Components == nil {
			f.Components = map[string]Component{}
		}
		m, ok := f.Components[name]
		if !ok {
			f.Components[name] = c
			continue
		}
		given := x.components[name].fields
		if given["metrics"] != nil {
			m.Metrics = c.Metrics
		}
		if given["ready"] != nil {
			m.Ready = c.Ready
		}
		if given["job"] != nil {
			m.Job = c.Job
		}
		if given["labels"] != nil {
			m.Labels = c.Labels
		}
		f.Components[name] = m
	}
}

// errorsOf gathers the problems of every file, the base's first, then each
// overlay's in the order given, each file's sorted by position; nil when
// there are none.
func errorsOf(srcs []*source) error {
	var all Errors
	for _, s := range srcs {
		all = append(all, s.r.sorted()...)
	}
	if len(all) == 0 {
		return nil
	}
	return all
}
