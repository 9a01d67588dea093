package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFile bounds what Load reads: an environment file is a page of YAML,
// and a path such as /dev/zero must not hang the reader.
const maxFile = 4 << 20

var (
	topKeys     = []string{"version", "name", "scale", "toxiproxies", "links", "probe", "scrape", "alerts", "docker", "limits", "halt"}
	topRequired = []string{"version", "name", "scale", "toxiproxies", "links", "probe", "alerts"}
)

// Load reads and checks the environment file at path, and finds the rule
// files its alerts.rules patterns match (Alerts.RuleFiles): a pattern that
// matches no file is an error at its position. The error is Errors when
// the file is wrong, another error when it cannot be read.
func Load(path string) (*Env, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read environment file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read environment file %s: %w", path, err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("read environment file %s: larger than %d MiB; an environment file is a page of YAML", path, maxFile>>20)
	}
	p := parse(path, data)
	if len(p.r.errs) == 0 {
		p.ruleFiles()
	}
	if len(p.r.errs) > 0 {
		return nil, p.r.sorted()
	}
	return p.env, nil
}

// Parse checks an environment file already read; name is what messages
// call it, and its folder is the one rule patterns are relative to. Parse
// reads no disk, so Alerts.RuleFiles stays nil (Load fills it). The error,
// if any, is Errors holding every problem; the Env is then nil.
func Parse(name string, data []byte) (*Env, error) {
	p := parse(name, data)
	if len(p.r.errs) > 0 {
		return nil, p.r.sorted()
	}
	return p.env, nil
}

// parser walks one file's node tree into env, remembering the nodes that
// later checks point at.
type parser struct {
	r   report
	env *Env
	// toxiproxies maps each declared name to its node; rules holds each
	// rule pattern's node, for Load's check that it matches.
	toxiproxies map[string]*yaml.Node
	rules       []*yaml.Node
	// sourceNode is alerts.source once it is known good, for errors
	// about what the source needs.
	sourceNode *yaml.Node
}

func parse(name string, data []byte) *parser {
	p := &parser{
		r:           report{file: name},
		env:         &Env{Path: name, Dir: filepath.Dir(name)},
		toxiproxies: map[string]*yaml.Node{},
	}
	if root := p.document(data); root != nil {
		p.top(root)
	}
	return p
}

// document parses the YAML into a node tree and returns its root mapping,
// or nil after reporting why there is none.
func (p *parser) document(data []byte) (root *yaml.Node) {
	const start = "start with `version: 1`, as docs/examples/env/staging.yaml does"
	defer func() {
		// gopkg.in/yaml.v3 has panicked on hostile input before, and an
		// environment file is user input.
		if v := recover(); v != nil {
			p.r.add(1, 1, "check the file's YAML", "the YAML parser failed on this file: %v", v)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.r.add(1, 1, start, "the environment file is empty")
			return nil
		}
		p.syntax(data, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.r.at(&extra, "keep one environment a file", "a second YAML document; an environment file is one document")
		return nil
	case !errors.Is(err, io.EOF):
		p.syntax(data, err)
		return nil
	}
	if len(doc.Content) == 0 {
		p.r.add(1, 1, start, "the environment file is empty")
		return nil
	}
	root = deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.r.at(root, start, "an environment file is a mapping, not %s", describe(root))
		return nil
	}
	return root
}

var yamlLine = regexp.MustCompile(`^line (\d+)`)

// syntax reports a YAML syntax error. yaml.v3 names the line where the
// enclosing block started, not always the line at fault; so find the
// shortest prefix of the file (in lines) that fails with the same problem
// and point at its last line.
func (p *parser) syntax(data []byte, err error) {
	raw := strings.TrimPrefix(err.Error(), "yaml: ")
	msg, line := trimLine(raw), 1
	if m := yamlLine.FindStringSubmatch(raw); m != nil {
		line, _ = strconv.Atoi(m[1])
		line = max(line, 1)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if problem(data) == msg {
		// Bisect between a prefix that does not fail this way (the empty
		// one) and one that does (the whole file): a few parses, where a
		// line-by-line search would be quadratic.
		lo, hi := 0, len(lines)
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if problem(bytes.Join(lines[:mid], nil)) == msg {
				hi = mid
			} else {
				lo = mid
			}
		}
		line = max(hi, 1)
	}
	col := 1
	if line <= len(lines) {
		l := lines[line-1]
		col = len(l) - len(bytes.TrimLeft(l, " \t")) + 1
	}
	p.r.add(line, col, "fix the YAML syntax (indentation, quotes, a `key: value` a line)", "YAML syntax: %s", msg)
}

// trimLine drops a YAML error's "line N: " prefix.
func trimLine(msg string) string {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return strings.TrimPrefix(strings.TrimPrefix(msg, m[0]), ": ")
	}
	return msg
}

// problem returns the YAML syntax problem of data without its line, or "".
func problem(data []byte) (msg string) {
	defer func() {
		if recover() != nil {
			msg = ""
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return trimLine(strings.TrimPrefix(err.Error(), "yaml: "))
		}
	}
}

// object is a mapping read with a fixed set of keys: the value of each key
// given (aliases followed) and the key's own node, for positions.
type object struct {
	node     *yaml.Node
	val, key map[string]*yaml.Node
}

// fields reads a mapping with the keys valid, reporting unknown and
// repeated keys; nil (after a report) when n is not a mapping.
func (p *parser) fields(n *yaml.Node, where string, valid []string) *object {
	if n.Kind != yaml.MappingNode {
		p.r.at(n, "write it as a mapping of "+strings.Join(valid, ", "), "%s must be a mapping, not %s", where, describe(n))
		return nil
	}
	o := &object{node: n, val: map[string]*yaml.Node{}, key: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode || k.Tag != "!!str":
			p.r.at(k, "write the key as plain text; merge keys (<<) are not read", "a key in %s must be text, not %s", where, describe(k))
		case !slices.Contains(valid, k.Value):
			p.r.at(k, suggest(k.Value, valid)+"valid keys: "+strings.Join(valid, ", "), "unknown key %q in %s", k.Value, where)
		case o.key[k.Value] != nil:
			p.r.at(k, fmt.Sprintf("keep one: it is first set at line %d", o.key[k.Value].Line), "key %q set twice in %s", k.Value, where)
		default:
			o.val[k.Value], o.key[k.Value] = deref(v), k
		}
	}
	return o
}

// need reports each of keys the object lacks, at the mapping.
func (p *parser) need(o *object, where, fix string, keys ...string) bool {
	ok := true
	for _, k := range keys {
		if o.val[k] == nil {
			p.r.at(o.node, fix, "%s has no %s", where, k)
			ok = false
		}
	}
	return ok
}

// top reads the root mapping, then checks what ties sections together.
func (p *parser) top(root *yaml.Node) {
	o := p.fields(root, "the environment file", topKeys)
	p.need(o, "the environment file", "see docs/examples/env/staging.yaml for a complete file", topRequired...)
	if v := o.val["version"]; v != nil && (v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Value != "1") {
		got := describe(v)
		if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
			got = strconv.Quote(v.Value)
		}
		p.r.at(v, "write version: 1", "unsupported version %s; this okbreak reads version 1", got)
	}
	if v := o.val["name"]; v != nil {
		p.env.Name, _ = p.name(v, "name", envName, "staging")
	}
	if v := o.val["scale"]; v != nil {
		p.env.Scale, _ = p.number(v, "scale", 1, maxScale, "write scale: 1 for a real game day, or the factor the environment's rules are compressed by")
	}
	if v := o.val["toxiproxies"]; v != nil {
		p.toxiproxyList(v)
	}
	if v := o.val["links"]; v != nil {
		p.linkList(v)
	}
	if v := o.val["probe"]; v != nil {
		p.probe(v)
	}
	if v := o.val["alerts"]; v != nil {
		p.alerts(v)
	}
	p.scrapeSection(o)
	if v := o.val["docker"]; v != nil {
		p.docker(v)
	}
	p.limits(o.val["limits"])
	if v := o.val["halt"]; v != nil {
		p.halt(v)
	}
}
