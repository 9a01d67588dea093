package stackfile

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/format"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

const (
	varFix      = "write ${NAME}, ${NAME:-default} or ${NAME:?why}; $$ is a literal $"
	durationFix = "write a Go duration such as 500ms, 5s or 1m30s"
	relFix      = "create it, or fix the path: relative paths resolve against the stack file's folder"
)

// text reads a string. Compose's schema takes numbers and booleans only in
// a few places (see scalar); elsewhere `image: 5` would stop compose-go,
// far from the value, so it is reported here.
func (w *walker) text(n *yaml.Node, what string) (string, bool) {
	d := deref(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.Tag != "!!str" {
		w.r.at(n, "write it as text, quoted if YAML reads it as something else", "%s must be text, not %s", what, describe(n))
		return "", false
	}
	return d.Value, true
}

// scalar reads a string, number or boolean as its text, where Compose
// takes any of them: environment values, ports, retries.
func (w *walker) scalar(n *yaml.Node, what string) (string, bool) {
	d := deref(n)
	if !plainScalar(d) {
		w.r.at(n, "write a single value", "%s must be a single value, not %s", what, describe(n))
		return "", false
	}
	return d.Value, true
}

// textVar reads a scalar and substitutes its variables, reporting a missing
// required variable or a bad ${...} at the scalar. The value returned is
// for checks only: messages quote the text as written.
func (w *walker) textVar(n *yaml.Node, what string) (string, bool) {
	s, ok := w.text(n, what)
	if !ok {
		return "", false
	}
	return w.subst(n, s, what)
}

// scalarVar is textVar for the places Compose takes numbers too.
func (w *walker) scalarVar(n *yaml.Node, what string) (string, bool) {
	s, ok := w.scalar(n, what)
	if !ok {
		return "", false
	}
	return w.subst(n, s, what)
}

func (w *walker) subst(n *yaml.Node, s, what string) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	lookup := func(k string) (string, bool) {
		v, ok := w.env[k]
		return v, ok
	}
	v, err := template.SubstituteWithOptions(s, lookup, template.WithoutLogging)
	var missing *template.MissingRequiredError
	switch {
	case errors.As(err, &missing):
		w.r.at(n, fmt.Sprintf("set %s in the environment or in .env beside the stack file", missing.Variable), "%s needs variable %s: %s", what, missing.Variable, missing.Reason)
		return "", false
	case err != nil:
		w.r.at(n, varFix, "bad variable in %s %q", what, s)
		return "", false
	}
	return v, true
}

// literal rejects a value with variables, for what okbreak itself must
// read as written: a renderer writes Raw back, and these values must mean
// the same in it as in the services okbreak checked.
func (w *walker) literal(n *yaml.Node, what, fix string) bool {
	if d := deref(n); d != nil && strings.Contains(d.Value, "$") {
		w.r.at(n, fix, "%s must be written literally, without variables", what)
		return false
	}
	return true
}

// command reads a command or entrypoint: a string or a list of strings.
func (w *walker) command(n *yaml.Node, what string) bool {
	d := deref(n)
	if d != nil && d.Kind == yaml.SequenceNode {
		ok := true
		for _, it := range d.Content {
			_, good := w.textVar(it, what+" argument")
			ok = ok && good
		}
		return ok
	}
	_, ok := w.textVar(n, what)
	return ok
}

// environment reads a mapping of names to values, or a list of NAME=value.
func (w *walker) environment(n *yaml.Node) bool {
	d := deref(n)
	switch {
	case d != nil && d.Kind == yaml.MappingNode:
		for _, e := range w.entries(d, "in environment") {
			if v := deref(e.val); v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if _, ok := w.scalarVar(e.val, "variable "+e.key.Value); !ok {
				w.prune(e.key)
			}
		}
		return true
	case d != nil && d.Kind == yaml.SequenceNode:
		seen := map[string]*yaml.Node{}
		for _, it := range d.Content {
			if _, ok := w.textVar(it, "environment entry"); !ok || w.repeated(it, seen, "environment") {
				w.prune(it)
			}
		}
		return true
	}
	w.r.at(n, "write NAME: value pairs, or a list of NAME=value", "environment must be a mapping or a list, not %s", describe(n))
	return false
}

// port reads one `ports` entry. The container port must be written
// literally: links name it, and a rendering writes it back.
func (w *walker) port(n *yaml.Node) bool {
	d := deref(n)
	if d != nil && d.Kind == yaml.MappingNode {
		return w.longPort(d)
	}
	raw, ok := w.scalar(n, "a port")
	if !ok {
		return false
	}
	parts := splitOutsideVars(raw, ':')
	if container, _, _ := strings.Cut(parts[len(parts)-1], "/"); strings.Contains(container, "$") {
		w.r.at(n, "write the container port as a number; only the published port may use a variable", "the container port in %q must be written literally", raw)
		return false
	}
	v, ok := w.subst(n, raw, "port")
	if !ok {
		return false
	}
	ports, err := types.ParsePortConfig(v)
	if err != nil {
		w.r.at(n, "write CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER, e.g. \"8080\" or \"18080:8080\"", "bad port %q", raw)
		return false
	}
	for _, p := range ports {
		if p.Protocol != "" && p.Protocol != "tcp" {
			w.r.at(n, "remove it: Toxiproxy carries TCP only", "port %q is %s", raw, p.Protocol)
			return false
		}
	}
	return true
}

func (w *walker) longPort(d *yaml.Node) bool {
	f := w.fields(d, "services.*.ports.[]", "in a port", portKeys)
	t, ok := f["target"]
	if !ok {
		w.r.at(d, "add `target:` with the container port", "a port needs a target")
		return false
	}
	if _, ok := w.number(t, "port target", 1, 65535); !ok {
		return false
	}
	if v, has := f["published"]; has {
		if _, ok := w.scalarVar(v, "published"); !ok {
			return false
		}
	}
	if v, has := f["host_ip"]; has {
		if _, ok := w.textVar(v, "host_ip"); !ok {
			return false
		}
	}
	if p, has := f["protocol"]; has {
		s, ok := w.textVar(p, "protocol")
		if !ok || s != "tcp" {
			w.r.at(p, "remove the port: Toxiproxy carries TCP only", "port protocol must be tcp")
			return false
		}
	}
	return true
}

// number reads a literal whole number in [least, most].
func (w *walker) number(n *yaml.Node, what string, least, most int) (int, bool) {
	s, ok := w.scalar(n, what)
	if !ok || !w.literal(n, what, "write the number itself") {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v < least || v > most {
		w.r.at(n, fmt.Sprintf("write a whole number from %d to %d", least, most), "bad %s %q", what, s)
		return 0, false
	}
	return v, true
}

// boolean reads a literal true or false.
func (w *walker) boolean(n *yaml.Node, what string) bool {
	d := deref(n)
	if d == nil || d.Kind != yaml.ScalarNode || d.Tag != "!!bool" {
		w.r.at(n, "write true or false", "%s must be true or false, not %s", what, describe(n))
		return false
	}
	return true
}

// volume reads one `volumes` entry: a bind mount of one file.
func (w *walker) volume(svc string, n *yaml.Node) bool {
	d := deref(n)
	if d != nil && d.Kind == yaml.MappingNode {
		return w.longVolume(svc, d)
	}
	raw, ok := w.text(n, "a volume")
	if !ok {
		return false
	}
	parts := splitOutsideVars(raw, ':')
	if len(parts) == 3 && !w.mountMode(n, parts[2]) {
		return false
	}
	v, ok := w.subst(n, raw, "volume")
	if !ok {
		return false
	}
	vol, err := format.ParseVolume(v)
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // ParseVolume's own message repeats the interpolated spec
		}
		w.r.at(n, "write SOURCE:TARGET or SOURCE:TARGET:ro, e.g. ./conf/app.yaml:/etc/app.yaml:ro", "bad volume %q: %v", raw, err)
		return false
	}
	if vol.Source == "" || vol.Type != types.VolumeTypeBind {
		w.notBind(n, raw, vol.Type)
		return false
	}
	return w.mountFile(svc, n, parts[0], vol.Source, vol.Target)
}

// mountMode accepts the ro and rw modes of a short volume: other options
// (SELinux, propagation) change how Docker mounts, which okbreak does not
// reproduce.
func (w *walker) mountMode(n *yaml.Node, mode string) bool {
	for _, o := range strings.Split(mode, ",") {
		if o != "ro" && o != "rw" {
			w.r.at(n, "use :ro or :rw, or drop the option", "unsupported mount option %q", o)
			return false
		}
	}
	return true
}

func (w *walker) notBind(n *yaml.Node, raw, typ string) {
	const fix = "bind-mount a file (./path/file:/target), or put the text in a config with `content:`"
	if typ == types.VolumeTypeVolume || typ == "" {
		w.r.at(n, fix+"; a path must start with ./, ../, / or ~", "named or anonymous volume %q: okbreak mounts files only", raw)
		return
	}
	w.r.at(n, fix, "%s mount: okbreak mounts files only", typ)
}

func (w *walker) longVolume(svc string, d *yaml.Node) bool {
	f := w.fields(d, "services.*.volumes.[]", "in a volume", volumeKeys)
	typ, ok := f["type"]
	if !ok {
		w.r.at(d, "add `type: bind`", "a volume needs a type")
		return false
	}
	if t, ok := w.text(typ, "volume type"); !ok || t != types.VolumeTypeBind {
		if ok {
			w.notBind(typ, t, t)
		}
		return false
	}
	if ro, has := f["read_only"]; has && !w.boolean(ro, "read_only") {
		return false
	}
	src, hasSrc := f["source"]
	tgt, hasTgt := f["target"]
	if !hasSrc || !hasTgt {
		w.r.at(d, "give both `source:` (the file on the host) and `target:` (its path in the container)", "a bind mount needs a source and a target")
		return false
	}
	rawSrc, ok1 := w.text(src, "source")
	source, ok2 := w.textVar(src, "source")
	target, ok3 := w.textVar(tgt, "target")
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	return w.mountFile(svc, src, rawSrc, source, target)
}

// mountFile checks a bind mount's host file and container path.
func (w *walker) mountFile(svc string, n *yaml.Node, rawSource, source, target string) bool {
	if !path.IsAbs(target) {
		w.r.at(n, "write the path in the container from /", "mount target %q is not absolute", target)
		return false
	}
	if !w.mountTarget(svc, n, target) {
		return false
	}
	resolved, ok := w.resolve(n, rawSource, source)
	if !ok {
		return false
	}
	return w.regularFile(n, "bind source", rawSource, resolved,
		"mount the files one by one, or put each in a config: okbreak mounts files only")
}

// mountTarget reports a container path mounted twice: Compose would keep
// the last silently.
func (w *walker) mountTarget(svc string, n *yaml.Node, target string) bool {
	target = path.Clean(target)
	if w.mounts[svc] == nil {
		w.mounts[svc] = map[string]*yaml.Node{}
	}
	if first, dup := w.mounts[svc][target]; dup {
		w.r.at(n, fmt.Sprintf("keep one; the other is at line %d", first.Line), "%s is mounted twice in service %q", target, svc)
		return false
	}
	w.mounts[svc][target] = n
	return true
}

// serviceConfig reads one entry of a service's `configs`.
func (w *walker) serviceConfig(svc string, n *yaml.Node) bool {
	src, target := n, ""
	if d := deref(n); d != nil && d.Kind == yaml.MappingNode {
		f := w.fields(d, "services.*.configs.[]", "in a service config", serviceCfgKeys)
		s, ok := f["source"]
		if !ok {
			w.r.at(d, "add `source:` naming a config under the top-level `configs:`", "a service config needs a source")
			return false
		}
		src = s
		if t, has := f["target"]; has {
			var ok bool
			if target, ok = w.textVar(t, "config target"); !ok {
				return false
			}
		}
	}
	name, ok := w.text(src, "config name")
	if !ok || !w.literal(src, "a config name", "name the config itself") {
		return false
	}
	if w.configs[name] == nil {
		w.r.at(src, suggest(name, sortedKeys(w.configs))+"declare it under the top-level `configs:` with `file:` or `content:`", "config %q is not declared", name)
		return false
	}
	if target == "" {
		target = "/" + name
	}
	return w.mountTarget(svc, src, target)
}

// topConfigs reads the top-level `configs:`: each a file or a text.
func (w *walker) topConfigs(cfgs *yaml.Node) {
	for _, e := range w.entries(cfgs, "under configs") {
		if w.pruned[e.key] {
			continue
		}
		if !w.isMapping(e, fmt.Sprintf("config %q", e.key.Value), "write {file: ./path} or {content: text}") {
			continue
		}
		f := w.fields(deref(e.val), "configs.*", fmt.Sprintf("in config %q", e.key.Value), configKeys)
		file, hasFile := f["file"]
		content, hasContent := f["content"]
		ok := false
		switch {
		case hasFile == hasContent:
			w.r.at(e.key, "give exactly one of `file:` and `content:`", "config %q needs either a file or a content", e.key.Value)
		case hasFile:
			ok = w.configFile(file) && w.configKind(e.key, "file")
		default:
			_, ok = w.textVar(content, "content")
			ok = ok && w.configKind(e.key, "content")
		}
		if !ok {
			w.prune(e.key)
		}
	}
}

// configKind records whether a config is a file or a content, and reports
// an overlay that turns one into the other: Compose merges configs key by
// key, so the merged config would have both, which compose-go rejects
// without saying where.
func (w *walker) configKind(key *yaml.Node, kind string) bool {
	name := key.Value
	if w.prior != nil && w.prior.kinds[name] != "" && w.prior.kinds[name] != kind {
		w.r.at(key, fmt.Sprintf("give it `%s:` as before, or declare a config of a new name and mount that", w.prior.kinds[name]),
			"config %q has `%s:` in an earlier file and `%s:` here: Compose would merge both into one config, which it rejects", name, w.prior.kinds[name], kind)
		return false
	}
	w.kinds[name] = kind
	return true
}

func (w *walker) configFile(n *yaml.Node) bool {
	raw, ok := w.text(n, "config file")
	if !ok {
		return false
	}
	v, ok := w.subst(n, raw, "config file")
	if !ok {
		return false
	}
	resolved, ok := w.resolve(n, raw, v)
	return ok && w.regularFile(n, "config file", raw, resolved, "a config is one file")
}

// dependsOn reads a list of service names, or a mapping of names to
// {condition: ...}.
func (w *walker) dependsOn(svc string, n *yaml.Node) bool {
	d := deref(n)
	if d == nil || (d.Kind != yaml.SequenceNode && d.Kind != yaml.MappingNode) {
		w.r.at(n, "list the services, or map each to {condition: service_healthy}", "depends_on must be a list or a mapping, not %s", describe(n))
		return false
	}
	if d.Kind == yaml.SequenceNode {
		seen := map[string]*yaml.Node{}
		for _, it := range d.Content {
			if !w.dependency(svc, it) || w.repeated(it, seen, "depends_on") {
				w.prune(it)
			}
		}
		return true
	}
	for _, e := range w.entries(d, "in depends_on") {
		if !w.dependency(svc, e.key) || !w.condition(e) {
			w.prune(e.key)
		}
	}
	return true
}

func (w *walker) dependency(svc string, n *yaml.Node) bool {
	dep, ok := w.text(n, "a dependency")
	if !ok || !w.literal(n, "a dependency", "name the service itself") {
		return false
	}
	switch {
	case dep == svc:
		w.r.at(n, "remove it", "service %q depends on itself", svc)
		return false
	case w.services[dep] == nil:
		w.r.at(n, suggest(dep, sortedKeys(w.services))+"name a service of this file", "service %q depends on unknown service %q", svc, dep)
		return false
	}
	if w.deps[svc] == nil {
		w.deps[svc] = map[string]*yaml.Node{}
	}
	w.deps[svc][dep] = n
	return true
}

func (w *walker) condition(e entry) bool {
	d := deref(e.val)
	if d == nil || d.Kind != yaml.MappingNode {
		w.r.at(e.val, "write {condition: service_healthy} or list the service", "a dependency must be a mapping, not %s", describe(e.val))
		return false
	}
	f := w.fields(d, "services.*.depends_on.*", "in a dependency", dependsOnKeys)
	c, ok := f["condition"]
	if !ok {
		w.r.at(d, "add `condition:` ("+strings.Join(dependConditions, ", ")+")", "a dependency needs a condition")
		return false
	}
	s, ok := w.textVar(c, "condition")
	if ok && !slices.Contains(dependConditions, s) {
		w.r.at(c, suggest(s, dependConditions)+"use one of "+strings.Join(dependConditions, ", "), "unknown condition %q", s)
		return false
	}
	return ok
}

// healthcheck reads a service's healthcheck. Its timings must be literal:
// a rendering writes them back as numbers.
func (w *walker) healthcheck(n *yaml.Node) bool {
	d := deref(n)
	if d == nil || d.Kind != yaml.MappingNode {
		w.r.at(n, "write a mapping with test, interval, timeout, retries", "healthcheck must be a mapping, not %s", describe(n))
		return false
	}
	ok := true
	for k, v := range w.fields(d, "services.*.healthcheck", "in healthcheck", healthcheckKeys) {
		switch k {
		case "test":
			ok = w.healthTest(v) && ok
		case "retries":
			_, good := w.number(v, "retries", 0, 1<<20)
			ok = good && ok
		case "disable":
			ok = w.boolean(v, "disable") && ok
		default:
			ok = w.duration(v, k) && ok
		}
	}
	return ok
}

func (w *walker) healthTest(n *yaml.Node) bool {
	d := deref(n)
	if d == nil || d.Kind != yaml.SequenceNode {
		_, ok := w.textVar(n, "test")
		return ok
	}
	if len(d.Content) == 0 {
		w.r.at(n, `start the list with "CMD", "CMD-SHELL" or "NONE"`, "healthcheck test is an empty list")
		return false
	}
	first, ok := w.text(d.Content[0], "test")
	if ok && first != "CMD" && first != "CMD-SHELL" && first != "NONE" {
		w.r.at(d.Content[0], `start the list with "CMD", "CMD-SHELL" or "NONE"`, "healthcheck test starts with %q", first)
		return false
	}
	for _, it := range d.Content[1:] {
		_, good := w.textVar(it, "test argument")
		ok = ok && good
	}
	return ok
}

func (w *walker) duration(n *yaml.Node, what string) bool {
	s, ok := w.scalar(n, what) // a bare number is a duration without unit

	if !ok || !w.literal(n, what, durationFix) {
		return false
	}
	if d, err := time.ParseDuration(s); err != nil || d < 0 {
		w.r.at(n, durationFix, "bad duration %q for %s", s, what)
		return false
	}
	return true
}

var onFailure = regexp.MustCompile(`^on-failure(:[0-9]+)?$`)

func (w *walker) restart(n *yaml.Node) bool {
	s, ok := w.textVar(n, "restart")
	if !ok {
		return false
	}
	switch {
	case s == "no", s == "always", s == "unless-stopped", onFailure.MatchString(s):
		return true
	}
	w.r.at(n, `use "no", always, on-failure, on-failure:N or unless-stopped`, "unknown restart policy %q", s)
	return false
}

func (w *walker) profile(n *yaml.Node) bool {
	s, ok := w.text(n, "profile")
	if ok && !composeName.MatchString(s) {
		w.r.at(n, "use letters, digits, '.', '_' and '-'", "bad profile name %q", s)
		return false
	}
	return ok
}

// composeBuild reads a Compose `build:`: a context folder, or {context,
// dockerfile}.
func (w *walker) composeBuild(svc string, n *yaml.Node) bool {
	ctxNode, dfNode := n, (*yaml.Node)(nil)
	if d := deref(n); d != nil && d.Kind == yaml.MappingNode {
		f := w.fields(d, "services.*.build", fmt.Sprintf("in the build of %q", svc), buildKeys)
		ctxNode, dfNode = f["context"], f["dockerfile"]
		if ctxNode == nil {
			w.r.at(d, "add `context:` with the folder to build", "a build needs a context")
			return false
		}
	}
	raw, ok := w.text(ctxNode, "build context")
	if !ok {
		return false
	}
	v, ok := w.subst(ctxNode, raw, "build context")
	if !ok {
		return false
	}
	if remoteContext(v) {
		if dfNode != nil {
			_, ok = w.textVar(dfNode, "dockerfile")
		}
		return ok
	}
	dir, ok := w.resolve(ctxNode, raw, v)
	if !ok || !w.folder(ctxNode, "build context", raw, dir) {
		return false
	}
	rawDF, dockerfile := "Dockerfile", "Dockerfile"
	at := ctxNode
	if dfNode != nil {
		at = dfNode
		if rawDF, ok = w.text(dfNode, "dockerfile"); !ok {
			return false
		}
		if dockerfile, ok = w.subst(dfNode, rawDF, "dockerfile"); !ok {
			return false
		}
	}
	return w.regularFile(at, "Dockerfile", path.Join(raw, rawDF), w.fl.join(dir, dockerfile), "add the Dockerfile, or name it with `dockerfile:`")
}

// remoteContext reports a build context Docker fetches itself (a Git
// repository or a tarball URL), which okbreak cannot check.
func remoteContext(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "github.com/")
}

// splitOutsideVars splits s at sep, except inside ${...}: a default such as
// ${CONF:-./conf} may hold the separator.
func splitOutsideVars(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
