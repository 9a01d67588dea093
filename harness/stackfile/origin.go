package stackfile

import (
	"path"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/template"
	"gopkg.in/yaml.v3"
)

// pathKey names a path compose-go merges across files, and a container
// path it mounts: a bind mount by service and container path (Compose
// merges volumes by target), a service's config by container path too, a
// config file by config name, a build context by service.
type pathKey struct{ kind, service, name string }

// The kinds of pathKey.
const (
	keyVolume  = "volume"
	keyMount   = "mount" // a service's config, by container path
	keyConfig  = "config"
	keyContext = "context"
)

// origin finds the last file that writes a path compose-go merged, and the
// node it writes it at: the path resolves against that file's folder, and
// a problem with it is reported there. It falls back on the base, at its
// start, for a path no file writes (which compose-go would not have).
func origin(srcs []*source, k pathKey) (*source, *yaml.Node) {
	i, n := originAt(srcs, k)
	return srcs[max(i, 0)], n
}

// originAt is origin's file as an index into srcs, -1 when none.
func originAt(srcs []*source, k pathKey) (int, *yaml.Node) {
	for i := len(srcs) - 1; i >= 0; i-- {
		if n := srcs[i].writes(k); n != nil {
			return i, n
		}
	}
	return -1, nil
}

// writes finds where the file writes k, in its pruned tree. The walk
// records no origins: it checks a node anchored into several services once,
// and each of them must still find its paths; and all that is left of the
// tree once pruned passed the walk, so reading it again reports nothing.
func (s *source) writes(k pathKey) *yaml.Node {
	if k.kind == keyConfig {
		cfg := s.lookup(s.lookup(s.root, "configs"), k.name)
		return s.lookup(cfg, "file")
	}
	if s.written == nil {
		s.written = map[string]map[pathKey]*yaml.Node{}
	}
	idx, ok := s.written[k.service]
	if !ok {
		idx = s.index(s.lookup(s.lookup(s.root, "services"), k.service))
		s.written[k.service] = idx
	}
	return idx[pathKey{kind: k.kind, name: k.name}]
}

// index lists where one service writes its merged paths, with the
// service's name left out of the keys.
func (s *source) index(svc *yaml.Node) map[pathKey]*yaml.Node {
	idx := map[pathKey]*yaml.Node{}
	if svc == nil {
		return idx
	}
	if b := deref(s.lookup(svc, "build")); b != nil {
		if b.Kind == yaml.MappingNode {
			b = s.lookup(b, "context")
		}
		idx[pathKey{kind: keyContext}] = b
	}
	for _, it := range s.items(s.lookup(svc, "volumes")) {
		if target, at := s.volumeTarget(it); target != "" {
			idx[pathKey{kind: keyVolume, name: target}] = at
		}
	}
	for _, it := range s.items(s.lookup(svc, "configs")) {
		if target := s.configTarget(it); target != "" {
			idx[pathKey{kind: keyMount, name: target}] = it
		}
	}
	return idx
}

// lookup returns a mapping's value for key, merge keys expanded, or nil.
func (s *source) lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil {
		return nil
	}
	for _, e := range s.w.entries(m, "") {
		if e.key.Value == key {
			return e.val
		}
	}
	return nil
}

func (s *source) items(n *yaml.Node) []*yaml.Node {
	if d := deref(n); d != nil && d.Kind == yaml.SequenceNode {
		return d.Content
	}
	return nil
}

// volumeTarget is a bind mount's container path, cleaned, and the node
// the walk reports its source at.
func (s *source) volumeTarget(it *yaml.Node) (string, *yaml.Node) {
	d := deref(it)
	if d == nil {
		return "", nil
	}
	if d.Kind == yaml.MappingNode {
		t := deref(s.lookup(d, "target"))
		if t == nil {
			return "", nil
		}
		return path.Clean(s.subst(t.Value)), s.lookup(d, "source")
	}
	v, err := format.ParseVolume(s.subst(d.Value))
	if err != nil {
		return "", nil
	}
	return path.Clean(v.Target), it
}

// configTarget is where a service's config is mounted, cleaned.
func (s *source) configTarget(it *yaml.Node) string {
	d := deref(it)
	if d != nil && d.Kind == yaml.MappingNode {
		if t := deref(s.lookup(d, "target")); t != nil {
			return path.Clean(s.subst(t.Value))
		}
		d = deref(s.lookup(d, "source"))
	}
	if d == nil {
		return ""
	}
	return "/" + d.Value
}

// subst substitutes variables as the walk did; what is left of the tree
// substituted without error there.
func (s *source) subst(v string) string {
	out, err := template.SubstituteWithOptions(v, func(k string) (string, bool) {
		x, ok := s.w.env[k]
		return x, ok
	}, template.WithoutLogging)
	if err != nil {
		return v
	}
	return out
}
