package stackfile

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
	"gopkg.in/yaml.v3"
)

// The keys okbreak supports, in the order messages list them. Everything
// else Compose knows is an error: okbreak must be able to run, render and
// break whatever the file says, and a key it ignored would silently change
// what runs.
var (
	topKeys          = []string{"name", "services", "configs"}
	serviceKeys      = []string{"image", "build", "command", "entrypoint", "environment", "ports", "volumes", "configs", "depends_on", "healthcheck", "restart", "profiles"}
	buildKeys        = []string{"context", "dockerfile"}
	portKeys         = []string{"target", "published", "host_ip", "protocol"}
	volumeKeys       = []string{"type", "source", "target", "read_only"}
	serviceCfgKeys   = []string{"source", "target"}
	configKeys       = []string{"file", "content"}
	dependsOnKeys    = []string{"condition"}
	healthcheckKeys  = []string{"test", "interval", "timeout", "start_period", "start_interval", "retries", "disable"}
	dependConditions = []string{"service_started", "service_healthy", "service_completed_successfully"}
)

// Compose's rule for service and config names; "->" joins link ends, so a
// name never holds ">".
var composeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// walker checks the Compose part of a stack file node by node, so that every
// problem has a position (compose-go keeps none), and marks what it reports
// for pruning, so that compose-go can still load the rest and the checks
// that need loaded services still run.
type walker struct {
	r   *report
	env map[string]string
	dir string
	fl  files
	// prior is what the files before an overlay declared; nil for the
	// base file.
	prior *prior
	// pruned holds the key nodes (of mapping entries) and items (of lists)
	// to drop before compose-go reads the tree.
	pruned map[*yaml.Node]bool
	// seen makes each anchored node be checked once per use, so that
	// aliases cannot make the walk exponential.
	seen  map[seenKey]bool
	attrs *tree.Matcher

	name     string
	nameNode *yaml.Node
	// servicesAt is the `services` key, where problems of the Compose part
	// as a whole are reported.
	servicesAt *yaml.Node
	xkey, xval *yaml.Node
	// services and configs map declared names to the key naming them.
	services map[string]*yaml.Node
	configs  map[string]*yaml.Node
	// broken holds "service" and "service.key" whose value was dropped, so
	// that later checks do not report what follows from the first error.
	broken map[string]bool
	// deps holds, per service, the node naming each dependency.
	deps map[string]map[string]*yaml.Node
	// mounts holds, per service, the node of each container path mounted.
	mounts map[string]map[string]*yaml.Node
	// kinds says whether each config this file declares is a "file" or a
	// "content" one.
	kinds map[string]string
}

// prior is what the files before an overlay declared, for its walk.
type prior struct {
	// base is the base file's name, for messages.
	base string
	// services are the base file's services: an overlay changes these
	// and adds none.
	services map[string]*yaml.Node
	// configs are the configs declared so far, kinds their kind.
	configs map[string]*yaml.Node
	kinds   map[string]string
}

type seenKey struct {
	n   *yaml.Node
	ctx string
}

type entry struct{ key, val *yaml.Node }

// newWalker starts the walk of one file. An overlay's walker (p not nil)
// knows the base's services and the configs declared before it, so that
// its depends_on and configs may name them.
func newWalker(r *report, dir string, env map[string]string, fl files, p *prior) *walker {
	w := &walker{
		r: r, dir: dir, env: env, fl: fl, prior: p,
		pruned:   map[*yaml.Node]bool{},
		seen:     map[seenKey]bool{},
		services: map[string]*yaml.Node{},
		configs:  map[string]*yaml.Node{},
		broken:   map[string]bool{},
		deps:     map[string]map[string]*yaml.Node{},
		mounts:   map[string]map[string]*yaml.Node{},
		kinds:    map[string]string{},
	}
	if p != nil {
		maps.Copy(w.services, p.services)
		maps.Copy(w.configs, p.configs)
	}
	return w
}

// once reports whether n is met for the first time in this context.
func (w *walker) once(n *yaml.Node, ctx string) bool {
	k := seenKey{n, ctx}
	if w.seen[k] {
		return false
	}
	w.seen[k] = true
	return true
}

func (w *walker) prune(n *yaml.Node) { w.pruned[n] = true }

// top checks the top level: name, services, configs and x-* keys.
func (w *walker) top(root *yaml.Node) {
	var svcs, cfgs *yaml.Node
	for _, e := range w.entries(root, "at the top level") {
		switch k := e.key.Value; {
		case k == "name":
			w.projectName(e)
		case k == "services":
			w.servicesAt, svcs = e.key, deref(e.val)
		case k == "configs":
			cfgs = deref(e.val)
			if !w.isMapping(e, "configs", "write `configs:` as a mapping of names to {file: ...} or {content: ...}") {
				cfgs = nil
			}
		case k == "x-okbreak":
			w.xkey, w.xval = e.key, e.val
		case strings.HasPrefix(k, "x-"):
			// Extensions hold anchors for the services to merge; Compose
			// ignores them and so does okbreak.
		default:
			w.unknown(e, "", "at the top level", topKeys, "x-*")
		}
	}
	if svcs = w.serviceMap(svcs); svcs == nil && w.prior == nil {
		return
	}
	w.tags(svcs, map[*yaml.Node]bool{})
	if cfgs != nil {
		w.tags(cfgs, map[*yaml.Node]bool{})
	}
	w.declare(svcs, cfgs)
	if cfgs != nil {
		w.topConfigs(cfgs)
	}
	for _, e := range w.entries(svcs, "under services") {
		if !w.pruned[e.key] {
			w.service(e)
		}
	}
}

// serviceMap returns the services mapping, or nil after reporting why there
// is none. An overlay may leave `services:` out, to change only configs or
// x-okbreak.
func (w *walker) serviceMap(svcs *yaml.Node) *yaml.Node {
	if w.servicesAt == nil {
		if w.prior == nil {
			w.r.add(1, 1, "add a `services:` mapping with the services to run", "no `services:` in the stack file")
		}
		return nil
	}
	if svcs == nil || svcs.Kind != yaml.MappingNode || len(svcs.Content) == 0 {
		got := "empty"
		if svcs != nil && svcs.Kind != yaml.MappingNode {
			got = describe(svcs)
		}
		w.r.at(w.servicesAt, "list the services to run under `services:`", "`services` must map service names to services, not be %s", got)
		return nil
	}
	return svcs
}

// declare records the service and config names before any service is
// checked, so that depends_on and configs can refer to names declared later
// in the file.
func (w *walker) declare(svcs, cfgs *yaml.Node) {
	for _, e := range w.entries(svcs, "under services") {
		if w.pruned[e.key] {
			continue
		}
		name := e.key.Value
		switch {
		case !composeName.MatchString(name):
			w.r.at(e.key, "use letters, digits, '.', '_' and '-', starting with a letter or digit", "bad service name %q", name)
		case name == Client || name == Any:
			w.r.at(e.key, "rename the service", "%q cannot name a service: links use it for a caller that is not a service", name)
		case w.prior != nil && len(w.prior.services) > 0 && w.prior.services[name] == nil:
			// (A base without services has said so; every overlay service
			// would only echo it.)
			w.r.at(e.key, suggest(name, sortedKeys(w.prior.services))+fmt.Sprintf("declare it in %s, or fix the name: an overlay is a variant of the same system, so it changes the base's services and adds none (Compose would add it)", w.prior.base),
				"service %q is not in the base file %s", name, w.prior.base)
		default:
			w.services[name] = e.key
			continue
		}
		w.prune(e.key)
	}
	if cfgs == nil {
		return
	}
	for _, e := range w.entries(cfgs, "under configs") {
		if w.pruned[e.key] {
			continue
		}
		if !composeName.MatchString(e.key.Value) {
			w.r.at(e.key, "use letters, digits, '.', '_' and '-', starting with a letter or digit", "bad config name %q", e.key.Value)
			w.prune(e.key)
			continue
		}
		w.configs[e.key.Value] = e.key
	}
}

// tags reports lists and mappings with a YAML tag of their own, such as
// Compose's !reset and !override: they mean something where files are
// merged, but compose-go is handed decoded values, which keep no tags, so an
// overlay's !reset would be dropped silently. Scalars' tags are checked
// where their text is read.
func (w *walker) tags(n *yaml.Node, done map[*yaml.Node]bool) {
	if n == nil || done[n] {
		return
	}
	done[n] = true
	step := 1
	if n.Kind == yaml.MappingNode {
		step = 2
	}
	for i := step - 1; i < len(n.Content); i += step {
		v := n.Content[i]
		if d := deref(v); d != nil && (d.Kind == yaml.MappingNode && d.Tag != "!!map" || d.Kind == yaml.SequenceNode && d.Tag != "!!seq") {
			w.r.at(d, "remove the tag, and give an overlay's values in full: okbreak hands compose-go decoded values, which keep no tags", "YAML tag %s is not supported", d.Tag)
			w.prune(n.Content[i-step+1])
			continue
		}
		w.tags(deref(v), done)
	}
}

// projectName reads `name`, which must be written literally: okbreak names
// containers and reports after it, and those must not depend on the
// environment.
func (w *walker) projectName(e entry) {
	s, ok := w.text(e.val, "name")
	if !ok || !w.literal(e.val, "the project name", "write the name itself") {
		w.prune(e.key)
		return
	}
	if loader.NormalizeProjectName(s) != s {
		w.r.at(e.val, fmt.Sprintf("write %q", loader.NormalizeProjectName(s)), "bad project name %q: Compose project names are lowercase letters, digits, '-' and '_'", s)
		w.prune(e.key)
		return
	}
	w.name, w.nameNode = s, e.val
}

// service checks one service's keys.
func (w *walker) service(e entry) {
	name := e.key.Value
	m := deref(e.val)
	if m == nil || m.Kind != yaml.MappingNode {
		w.r.at(e.val, "write the service as a mapping with at least `image:`", "service %q must be a mapping, not %s", name, describe(e.val))
		w.prune(e.key)
		w.broken[name] = true
		return
	}
	if !w.once(m, "service") {
		return
	}
	where := fmt.Sprintf("in service %q", name)
	for _, f := range w.entries(m, where) {
		known, ok := w.serviceKey(name, f)
		if !known {
			w.unknown(f, "services.*", where, serviceKeys, "")
			continue
		}
		if !ok {
			w.prune(f.key)
			w.broken[name+"."+f.key.Value] = true
		}
	}
}

// serviceKey checks one key of a service; known is false for a key okbreak
// does not support, ok false when the value was reported and must go.
func (w *walker) serviceKey(svc string, e entry) (known, ok bool) {
	switch e.key.Value {
	case "image":
		_, ok = w.textVar(e.val, "image")
	case "build":
		ok = w.composeBuild(svc, e.val)
	case "command", "entrypoint":
		ok = w.command(e.val, e.key.Value)
	case "environment":
		ok = w.environment(e.val)
	case "ports":
		ok = w.list(e, "ports", w.port)
	case "volumes":
		ok = w.list(e, "volumes", func(n *yaml.Node) bool { return w.volume(svc, n) })
	case "configs":
		ok = w.list(e, "configs", func(n *yaml.Node) bool { return w.serviceConfig(svc, n) })
	case "depends_on":
		ok = w.dependsOn(svc, e.val)
	case "healthcheck":
		ok = w.healthcheck(e.val)
	case "restart":
		ok = w.restart(e.val)
	case "profiles":
		ok = w.list(e, "profiles", func(n *yaml.Node) bool { return w.profile(n) })
	default:
		return false, false
	}
	return true, ok
}

// unknown reports a key okbreak does not support. Whether Compose knows the
// key decides the fix: a Compose key okbreak leaves out must go, an unknown
// one is likely a typo.
func (w *walker) unknown(e entry, ctx, where string, valid []string, more string) {
	k := e.key.Value
	list := strings.Join(valid, ", ")
	if more != "" {
		list += ", " + more
	}
	if w.composeKey(ctx, k) {
		w.r.at(e.key, fmt.Sprintf("remove %q: okbreak runs a subset of Compose (%s)", k, list),
			"unsupported key %q %s", k, where)
	} else {
		w.r.at(e.key, fmt.Sprintf("%s%q is not a Compose key; use one of %s", suggest(k, valid), k, list),
			"unknown key %q %s", k, where)
	}
	w.prune(e.key)
}

// composeKey reports whether the Compose Specification (as compose-go
// embeds it) declares key under the path pattern ctx.
func (w *walker) composeKey(ctx, key string) bool {
	if w.attrs == nil {
		w.attrs = tree.NewMatcher(schema.AttributePaths()...)
	}
	p := tree.NewPath(key)
	if ctx != "" {
		p = tree.Path(ctx).Next(key)
	}
	return w.attrs.Matches(p)
}

// entries lists a mapping's pairs with merge keys (<<) expanded the way
// YAML merges them: a key written in the mapping wins over a merged one,
// and an earlier merged mapping over a later one. Keys that are not text,
// repeated keys and bad merges are reported and pruned.
func (w *walker) entries(n *yaml.Node, where string) []entry {
	var out []entry
	w.collect(n, where, map[string]bool{}, &out, 0)
	return out
}

func (w *walker) collect(n *yaml.Node, where string, have map[string]bool, out *[]entry, depth int) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > 16 {
		return
	}
	own := map[string]*yaml.Node{}
	var merges []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case w.pruned[k]:
		case k.Kind == yaml.ScalarNode && k.Tag == "!!merge":
			merges = append(merges, entry{k, v})
		case k.Kind != yaml.ScalarNode || k.Tag != "!!str":
			w.r.at(k, "write the key as plain text", "a key %s must be text, not %s", where, describe(k))
			w.prune(k)
		case own[k.Value] != nil:
			w.r.at(k, fmt.Sprintf("keep one; the first is at line %d", own[k.Value].Line), "key %q set twice %s", k.Value, where)
			w.prune(k)
		default:
			own[k.Value] = k
			if !have[k.Value] {
				have[k.Value] = true
				*out = append(*out, entry{k, v})
			}
		}
	}
	for _, m := range merges {
		w.merge(m, where, have, out, depth)
	}
}

// merge expands one merge key.
func (w *walker) merge(m entry, where string, have map[string]bool, out *[]entry, depth int) {
	v := deref(m.val)
	sources := []*yaml.Node{v}
	if v != nil && v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, s := range sources {
		if d := deref(s); d == nil || d.Kind != yaml.MappingNode {
			w.r.at(m.key, "merge an anchored mapping: `<<: *defaults`", "a merge key (<<) %s takes a mapping or a list of mappings, not %s", where, describe(s))
			w.prune(m.key)
			return
		}
	}
	for _, s := range sources {
		w.collect(s, where, have, out, depth+1)
	}
}

// isMapping reports whether an entry's value is a mapping, reporting and
// pruning it if not.
func (w *walker) isMapping(e entry, what, fix string) bool {
	if n := deref(e.val); n != nil && n.Kind == yaml.MappingNode {
		return true
	}
	w.r.at(e.val, fix, "%s must be a mapping, not %s", what, describe(e.val))
	w.prune(e.key)
	return false
}

// list checks a list's items one by one, pruning the bad ones; ok is false
// when the value is not a list at all.
func (w *walker) list(e entry, what string, item func(*yaml.Node) bool) bool {
	n := deref(e.val)
	if n == nil || n.Kind != yaml.SequenceNode {
		w.r.at(e.val, fmt.Sprintf("write `%s` as a list", what), "%s must be a list, not %s", what, describe(e.val))
		return false
	}
	if !w.once(n, what) {
		return true
	}
	seen := map[string]*yaml.Node{}
	for _, it := range n.Content {
		if !item(it) || w.repeated(it, seen, what) {
			w.prune(it)
		}
	}
	return true
}

// repeated reports a scalar listed twice: Compose's schema wants the items
// of these lists unique, and would stop compose-go without a position.
func (w *walker) repeated(it *yaml.Node, seen map[string]*yaml.Node, what string) bool {
	d := deref(it)
	if d == nil || d.Kind != yaml.ScalarNode {
		return false
	}
	key := d.Tag + ":" + d.Value
	if first, dup := seen[key]; dup {
		w.r.at(it, fmt.Sprintf("keep one; the first is at line %d", first.Line), "%q is listed twice in %s", d.Value, what)
		return true
	}
	seen[key] = it
	return false
}

// fields checks a mapping with a fixed set of keys and returns each known
// key's value node; unknown keys are reported and pruned. ctx is the
// Compose path pattern of the mapping, for telling Compose keys from typos.
func (w *walker) fields(n *yaml.Node, ctx, where string, valid []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for _, e := range w.entries(n, where) {
		if !slices.Contains(valid, e.key.Value) {
			w.unknown(e, ctx, where, valid, "")
			continue
		}
		out[e.key.Value] = e.val
	}
	return out
}

// prunedTree drops what the walk reported from the node tree, so that
// compose-go reads only what passed.
func (w *walker) prunedTree(root *yaml.Node) {
	if len(w.pruned) == 0 {
		return
	}
	done := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || done[n] {
			return
		}
		done[n] = true
		switch n.Kind {
		case yaml.MappingNode:
			kept := n.Content[:0]
			for i := 0; i+1 < len(n.Content); i += 2 {
				if !w.pruned[n.Content[i]] {
					kept = append(kept, n.Content[i], n.Content[i+1])
				}
			}
			n.Content = kept
		case yaml.SequenceNode:
			n.Content = slices.DeleteFunc(n.Content, func(c *yaml.Node) bool { return w.pruned[c] })
		case yaml.AliasNode:
			walk(n.Alias)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
}
