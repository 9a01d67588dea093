package envfile

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

var (
	// envName is the environment's name and a Toxiproxy's: it goes into
	// toxic names, which keep to [a-z0-9._-], and the dot separates their
	// parts, so it has none.
	envName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// linkName is the stack file's (harness/stackfile): usually
	// caller->callee, but a stack file may name a link, and a catalog
	// then targets that name.
	linkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.>-]{0,127}$`)
	// proxyName is a Toxiproxy proxy's name as it goes in the API's
	// paths (escaped); okbreak's own stacks name proxies after their links
	// (edge->backend-1).
	proxyName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:>-]{0,127}$`)
	// dockerName is a Docker container's name, and a component's.
	dockerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	token      = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	bareDays   = regexp.MustCompile(`^(\d+)d$`)
)

const (
	durationFix = "write a Go duration: 250ms, 30s, 5m, 1h30m"
	// maxDuration bounds every duration (about 14 months), as the
	// catalog's does, so that no sum of them overflows.
	maxDuration = 10000 * time.Hour
	maxScale    = 100000
)

// deref follows aliases to the node they name; positions then point at
// the anchor's text.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// describe names a node's kind for messages: "a list", "a mapping", "the
// number 3".
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return fmt.Sprintf("a %s value", n.Tag)
	}
	return "nothing"
}

// text reads a scalar as text. Numbers are text as written (a header
// value 1); booleans, nulls, timestamps and custom tags are not, since
// YAML would have changed what was written.
func (p *parser) text(n *yaml.Node, what, fix string) (string, bool) {
	switch {
	case n.Kind != yaml.ScalarNode || n.Tag == "!!null":
		p.r.at(n, fix, "%s must be text, not %s", what, describe(n))
	case n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float":
		p.r.at(n, fmt.Sprintf("quote it: %q", n.Value), "%s must be text, not %s", what, describe(n))
	case strings.TrimSpace(n.Value) == "":
		p.r.at(n, fix, "%s is empty", what)
	case strings.IndexFunc(n.Value, unicode.IsControl) >= 0:
		p.r.at(n, fix, "%s %q holds a control character", what, n.Value)
	default:
		return n.Value, true
	}
	return "", false
}

// name reads a name that must match re; example is one that does.
func (p *parser) name(n *yaml.Node, what string, re *regexp.Regexp, example string) (string, bool) {
	s, ok := p.text(n, what, "write a name such as "+example)
	if !ok {
		return "", false
	}
	if !re.MatchString(s) {
		p.r.at(n, fmt.Sprintf("write a name such as %s (%s)", example, nameRule(re)), "bad %s %q", what, s)
		return "", false
	}
	return s, true
}

// nameRule says in words what a name pattern allows.
func nameRule(re *regexp.Regexp) string {
	switch re {
	case envName:
		return "lowercase letters, digits and '-', at most 63, not starting or ending with '-'"
	case linkName:
		return "letters, digits, '.', '_', '-' and '>', as caller->callee"
	case proxyName:
		return "letters, digits, '.', '_', ':', '-' and '>' (okbreak's own stacks name proxies after their links)"
	default:
		return "letters, digits, '.', '_' and '-'"
	}
}

// number reads a number in [lo, hi].
func (p *parser) number(n *yaml.Node, what string, lo, hi float64, fix string) (float64, bool) {
	var f float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
		p.r.at(n, fix, "%s must be a number, not %s", what, describe(n))
		return 0, false
	}
	if math.IsNaN(f) || f < lo || f > hi {
		p.r.at(n, fix, "%s %s is out of range: want %g to %g", what, n.Value, lo, hi)
		return 0, false
	}
	return f, true
}

// count reads a whole number in [lo, hi].
func (p *parser) count(n *yaml.Node, what string, lo, hi int, fix string) (int, bool) {
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		p.r.at(n, fix, "%s must be a whole number, not %s", what, describe(n))
		return 0, false
	}
	if i < lo || i > hi {
		p.r.at(n, fix, "%s %d is out of range: want %d to %d", what, i, lo, hi)
		return 0, false
	}
	return i, true
}

// duration reads a Go duration longer than zero.
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		p.r.at(n, fmt.Sprintf("add a unit, e.g. %ss or %sm", n.Value, n.Value), "%s %s has no unit", what, n.Value)
		return 0, false
	}
	s, ok := p.text(n, what, durationFix)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		fix := durationFix
		if m := bareDays.FindStringSubmatch(s); m != nil {
			if days, err := strconv.Atoi(m[1]); err == nil && days < 1000 {
				fix = fmt.Sprintf("Go durations have no days: write %dh", days*24)
			}
		}
		p.r.at(n, fix, "bad duration %q for %s", s, what)
	case d <= 0:
		p.r.at(n, durationFix, "%s must be longer than zero, not %q", what, s)
	case d > maxDuration:
		p.r.at(n, fmt.Sprintf("at most %s", maxDuration), "%s %q is too long", what, s)
	default:
		return d, true
	}
	return 0, false
}

// list reads a non-empty list; fix says what an item looks like.
func (p *parser) list(n *yaml.Node, what, fix string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		got := "empty"
		if n.Kind != yaml.SequenceNode {
			got = describe(n)
		}
		p.r.at(n, fix, "%s must be a list, not %s", what, got)
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		out[i] = deref(it)
	}
	return out
}

// names reads a non-empty list of distinct texts, such as alert names.
func (p *parser) names(n *yaml.Node, what, fix string) []string {
	var out []string
	seen := map[string]*yaml.Node{}
	for _, it := range p.list(n, what, fix) {
		s, ok := p.text(it, "an item of "+what, fix)
		switch {
		case !ok:
		case seen[s] != nil:
			p.r.at(it, fmt.Sprintf("keep one: it is first listed at line %d", seen[s].Line), "%q listed twice in %s", s, what)
		default:
			seen[s] = it
			out = append(out, s)
		}
	}
	return out
}

// stringMap reads a non-empty mapping of text to text, checking keys with
// key (which reports and returns false for a bad one).
func (p *parser) stringMap(n *yaml.Node, what, fix string, key func(k *yaml.Node) bool) map[string]string {
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.r.at(n, fix, "%s must be a mapping of names to values, not %s", what, describe(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		name, ok := p.text(k, "a name in "+what, fix)
		if !ok || !key(k) {
			continue
		}
		if _, dup := out[name]; dup {
			p.r.at(k, "keep one", "%q set twice in %s", name, what)
			continue
		}
		if val, ok := p.text(v, fmt.Sprintf("%s %s", what, name), fix); ok {
			out[name] = val
		}
	}
	return out
}

func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }
