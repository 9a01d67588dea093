package stackfile

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The keys of x-okbreak, in the order messages list them.
var (
	xKeys         = []string{"links", "probe", "components", "seed", "rules", "catalog", "roles", "build", "evidence"}
	linkKeys      = []string{"to", "port", "from", "name"}
	probeKeys     = []string{"link", "method", "path", "host", "status", "check"}
	checkKeys     = []string{"header", "json"}
	headerKeys    = []string{"name", "matches"}
	jsonKeys      = []string{"field", "equals"}
	componentKeys = []string{"metrics", "ready", "job", "labels"}
	endpointKeys  = []string{"port", "path"}
	roleKeys      = []string{"data_plane", "etcd", "instances"}
	buildXKeys    = []string{"go", "dockerfile"}
	evidenceKeys  = []string{"name", "component", "port", "path"}
)

var (
	linkName   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.>-]*$`)
	token      = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	httpMethod = regexp.MustCompile(`^[A-Z]+$`)
)

// xdecoder reads x-okbreak from the node tree, strictly: unknown keys,
// anchors and aliases are errors, so that every value has one position.
// It keeps the nodes the cross checks report at.
type xdecoder struct {
	r   *report
	dir string
	fl  files
	// f holds what this file's x-okbreak says, before the files are
	// merged.
	f *File
	// given holds the keys this file's x-okbreak gives: an overlay's
	// replace the base's.
	given map[string]bool
	// found in the decode, for the cross checks
	links      []linkNodes
	probeLink  *yaml.Node
	components map[string]*componentNodes
	roles      []roleRef
	builds     map[string]*yaml.Node
	evidence   []evidenceNodes
}

type linkNodes struct{ to, port, from *yaml.Node }

// componentNodes are a component's name and the fields it gives: an
// overlay's replace the base's one by one.
type componentNodes struct {
	key    *yaml.Node
	fields map[string]*yaml.Node
}

type evidenceNodes struct{ component, port *yaml.Node }

// roleRef is a service named in roles, with what names it.
type roleRef struct {
	name string
	n    *yaml.Node
	role string
}

// decodeX reads a file's x-okbreak into f. The base file must have one,
// with links; an overlay's is optional and may give any of its keys.
func decodeX(w *walker, f *File) *xdecoder {
	x := &xdecoder{r: w.r, dir: w.dir, fl: w.fl, f: f, given: map[string]bool{},
		components: map[string]*componentNodes{}, builds: map[string]*yaml.Node{}}
	base := w.prior == nil
	if w.xkey == nil {
		if base {
			w.r.add(1, 1, "add an `x-okbreak:` block with at least `links:` (see the package documentation)", "no x-okbreak block: okbreak needs to know which links to break")
		}
		return x
	}
	if x.noAliases(w.xval) {
		return x
	}
	fs := x.fields(w.xval, "in x-okbreak", xKeys)
	if fs == nil {
		return x
	}
	if _, ok := fs["links"]; !ok && base {
		w.r.at(w.xkey, "add `links:` with a link for every hop okbreak puts Toxiproxy on", "x-okbreak has no links")
	}
	steps := []struct {
		key  string
		read func(*yaml.Node)
	}{
		{"links", x.linkList}, {"probe", x.probe}, {"components", x.componentMap}, {"seed", x.seed},
		{"rules", x.rules}, {"catalog", x.catalog}, {"roles", x.rolesMap}, {"build", x.buildMap},
		{"evidence", x.evidenceList},
	}
	for _, s := range steps {
		if n, ok := fs[s.key]; ok {
			x.given[s.key] = true
			s.read(n)
		}
	}
	return x
}

// noAliases rejects anchors, aliases and merge keys in x-okbreak: they would
// make a value depend on text elsewhere, which an error's position could no
// longer show.
func (x *xdecoder) noAliases(n *yaml.Node) bool {
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch {
		case n.Kind == yaml.AliasNode:
			x.r.at(n, "write the value out in full", "YAML aliases (*%s) are not supported in x-okbreak", n.Value)
			found = true
			return
		case n.Anchor != "":
			x.r.at(n, "write the value out in full", "YAML anchors (&%s) are not supported in x-okbreak", n.Anchor)
			found = true
		case n.Kind == yaml.ScalarNode && n.Tag == "!!merge":
			x.r.at(n, "write the keys out in full", "YAML merge keys (<<) are not supported in x-okbreak")
			found = true
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return found
}

// fields reads a mapping with a fixed set of keys, reporting unknown and
// repeated keys; nil when n is not a mapping.
func (x *xdecoder) fields(n *yaml.Node, where string, valid []string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		x.r.at(n, "write it as a mapping of "+strings.Join(valid, ", "), "%s must be a mapping, not %s", strings.TrimPrefix(where, "in "), describe(n))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode || k.Tag != "!!str":
			x.r.at(k, "write the key as plain text", "a key %s must be text, not %s", where, describe(k))
		case !slices.Contains(valid, k.Value):
			x.r.at(k, suggest(k.Value, valid)+"use one of "+strings.Join(valid, ", "), "unknown key %q %s", k.Value, where)
		case out[k.Value] != nil:
			x.r.at(k, "keep one", "key %q set twice %s", k.Value, where)
		default:
			out[k.Value] = v
		}
	}
	return out
}

// names reads a mapping whose keys are names (services, groups) and returns
// its pairs in file order.
func (x *xdecoder) names(n *yaml.Node, what string) []entry {
	if n.Kind != yaml.MappingNode {
		x.r.at(n, "write it as a mapping of service names", "%s must be a mapping, not %s", what, describe(n))
		return nil
	}
	var out []entry
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch {
		case k.Kind != yaml.ScalarNode || k.Tag != "!!str":
			x.r.at(k, "write the name as plain text", "a name in %s must be text, not %s", what, describe(k))
		case seen[k.Value]:
			x.r.at(k, "keep one", "%q set twice in %s", k.Value, what)
		default:
			seen[k.Value] = true
			out = append(out, entry{k, n.Content[i+1]})
		}
	}
	return out
}

// text reads a non-empty text scalar.
func (x *xdecoder) text(n *yaml.Node, what string) (string, bool) {
	if !plainScalar(n) {
		x.r.at(n, "write it as text", "%s must be text, not %s", what, describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		x.r.at(n, "write a value", "%s is empty", what)
		return "", false
	}
	return n.Value, true
}

// number reads a whole number in [least, most].
func (x *xdecoder) number(n *yaml.Node, what string, least, most int) (int, bool) {
	if !plainScalar(n) {
		x.r.at(n, "write a whole number", "%s must be a number, not %s", what, describe(n))
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(n.Value))
	if err != nil || v < least || v > most {
		x.r.at(n, fmt.Sprintf("write a whole number from %d to %d", least, most), "bad %s %q", what, n.Value)
		return 0, false
	}
	return v, true
}

// relPath reads a path relative to the stack file and resolves it. Paths
// in x-okbreak must be relative, so that a stack runs from any checkout.
func (x *xdecoder) relPath(n *yaml.Node, what string) (raw, resolved string, ok bool) {
	raw, ok = x.text(n, what)
	if !ok {
		return "", "", false
	}
	if path.IsAbs(raw) || filepath.IsAbs(raw) || strings.HasPrefix(raw, "~") {
		x.r.at(n, "write it relative to the stack file's folder, so the stack runs from any checkout", "%s %q is not relative", what, raw)
		return "", "", false
	}
	return raw, x.fl.join(x.dir, raw), true
}
