package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Version is the catalog format this package reads.
const Version = 1

// Field names, in the order the JSON Schema and the documentation list them.
// Unknown-field hints print these lists.
var (
	topFields        = []string{"version", "defaults", "cases"}
	defaultsFields   = []string{"probe", "slo", "grace", "min_window", "min_samples", "recovery", "page_label", "prometheus", "min_scrape_interval", "min_scrape_points"}
	probeFields      = []string{"rate"}
	sloFields        = []string{"success", "p50", "p90", "p99", "p999"}
	prometheusFields = []string{"scrape_interval", "evaluation_interval", "lookback_delta"}
	caseFields       = []string{"name", "class", "why", "fault", "faults", "duration", "mechanism", "expect", "requires", "idle_link", "provenance"}
	faultFields      = []string{"type", "target", "params"}
	faultsFields     = []string{"type", "target", "params", "at", "for"}
	mechanismFields  = []string{"what", "timer"}
	expectFields     = []string{"slo", "alerts", "detection", "recovery"}
	alertsFields     = []string{string(AllOf), string(AnyOf)}
	provenanceFields = []string{"date", "summary", "link"}
)

var caseName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Load reads, parses and validates a catalog file. The error, if any, is an
// Errors holding every problem found, sorted by position.
func Load(path string, checks Checks) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog %s: %w", path, err)
	}
	return LoadData(path, data, checks)
}

// LoadData is Load for a catalog already read (an embedded one); file names
// it in messages.
func LoadData(file string, data []byte, checks Checks) (*Catalog, error) {
	c, perr := Parse(file, data)
	verr := c.Validate(checks)
	var all Errors
	for _, e := range []error{perr, verr} {
		var es Errors
		if errors.As(e, &es) {
			all = append(all, es...)
		}
	}
	return c, all.err()
}

// Parse reads a catalog strictly: unknown fields, bad durations and
// percentages, missing fields, duplicate names, and cases whose expectations
// contradict their class or the defaults are all errors. It checks
// everything that needs no knowledge of the stack or the alert rules; Validate
// does the rest. file is used in error messages only.
//
// Parse always returns a catalog; its Cases are the cases that parsed
// cleanly. The error, if any, is an Errors with every problem found, sorted
// by position.
func Parse(file string, data []byte) (*Catalog, error) {
	p := &parser{r: report{file: file}}
	c := &Catalog{File: file, Defaults: BuiltinDefaults()}
	root := p.document(data)
	if root != nil {
		p.catalog(root, c)
	}
	return c, p.r.errs.err()
}

type parser struct {
	r report
	// unknown holds the unknown keys the last call of fields met, so that
	// a misspelt required field is reported once, as a typo, not also as
	// missing.
	unknown []string
}

func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

var yamlLine = regexp.MustCompile(`^line (\d+)`)

// document decodes the YAML into a node tree, reporting syntax errors with
// the line the YAML parser names.
func (p *parser) document(data []byte) (root *yaml.Node) {
	defer func() {
		// gopkg.in/yaml.v3 has panicked on hostile input before; a catalog
		// is user input, so turn any such panic into an error.
		if v := recover(); v != nil {
			p.r.add(Pos{1, 1}, "", "the YAML parser failed on this file: %v", v)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.r.add(Pos{1, 1}, "start with \"version: 1\" and a \"cases\" list", "the catalog is empty")
			return nil
		}
		p.syntax(data, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.r.add(pos(&extra), "keep one catalog a file, or merge the cases into one list", "a second YAML document; a catalog is one document")
	case !errors.Is(err, io.EOF):
		p.syntax(data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.r.add(pos(&doc), "", "the catalog is empty")
		return nil
	}
	p.noAliases(doc.Content[0])
	return doc.Content[0]
}

// syntax reports a YAML syntax error. gopkg.in/yaml.v3 names the line where
// the enclosing block started (and 0-based, for parser errors), not the line
// at fault; so find a line at which the file's prefix starts failing with the
// same problem, and point at its first character.
func (p *parser) syntax(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	at := Pos{1, 1}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		at.Line, _ = strconv.Atoi(m[1])
		at.Line = max(at.Line, 1)
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, m[0]), ": ")
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
		at.Line = hi
	}
	if at.Line <= len(lines) {
		line := lines[at.Line-1]
		at.Column = len(line) - len(bytes.TrimLeft(line, " \t")) + 1
	}
	p.r.add(at, "", "YAML syntax: %s", msg)
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
			msg = strings.TrimPrefix(err.Error(), "yaml: ")
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				msg = strings.TrimPrefix(strings.TrimPrefix(msg, m[0]), ": ")
			}
			return msg
		}
	}
}

// noAliases rejects anchors, aliases and merge keys: they make a case's
// values depend on text elsewhere, which the position in an error can no
// longer show, and they let a small file expand without bound.
func (p *parser) noAliases(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		p.r.add(pos(n), "write the value out in full", "YAML aliases (*%s) are not supported in a catalog", n.Value)
		return
	}
	if n.Anchor != "" {
		p.r.add(pos(n), "write the value out in full", "YAML anchors (&%s) are not supported in a catalog", n.Anchor)
	}
	for _, c := range n.Content {
		p.noAliases(c)
	}
}

// fields reads a mapping with a fixed set of keys, reporting unknown and
// duplicate keys; the result maps each known key to its value node. where
// names the mapping in messages, e.g. `in case "etcd-down-10m"`.
func (p *parser) fields(n *yaml.Node, where string, valid []string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.r.add(pos(n), "write it as a mapping of "+strings.Join(valid, ", "), "%s must be a mapping, not %s", where, describe(n))
		return nil
	}
	p.unknown = nil
	out := map[string]*yaml.Node{}
	keyAt := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.r.add(pos(k), "valid fields: "+strings.Join(valid, ", "), "a field name %s must be a plain name, not %s", where, describe(k))
			continue
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			p.r.add(pos(k), "write the fields out in full", "YAML merge keys (<<) are not supported in a catalog")
			continue
		}
		if !slices.Contains(valid, k.Value) {
			p.unknown = append(p.unknown, k.Value)
			p.r.add(pos(k), suggest(k.Value, "fields", valid), "unknown field %q %s", k.Value, where)
			continue
		}
		if first, dup := keyAt[k.Value]; dup {
			p.r.add(pos(k), fmt.Sprintf("it was first set at line %d", first.Line), "field %q set twice %s", k.Value, where)
			continue
		}
		keyAt[k.Value] = pos(k)
		out[k.Value] = v
	}
	return out
}

// describe names a node's kind for messages: "a list", "a mapping", "the number 3".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// text reads a non-empty string scalar.
func (p *parser) text(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.r.add(pos(n), "quote it if it is meant as text", "%s must be text, not %s", what, describe(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		p.r.add(pos(n), "", "%s is empty", what)
		return "", false
	}
	return n.Value, true
}

// scalar reads any scalar's text (durations and numbers may be tagged int,
// float or str alike).
func (p *parser) scalar(n *yaml.Node, what, hint string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.r.add(pos(n), hint, "%s must be a single value, not %s", what, describe(n))
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

const durationHint = "durations use Go syntax: 250ms, 30s, 5m, 2h, 1h30m"

var bareDays = regexp.MustCompile(`^(\d+)d$`)

// maxDuration bounds every duration a catalog may hold (about 14 months), so
// that sums and multiples of them cannot overflow.
const maxDuration = 10000 * time.Hour

// duration reads a Go duration such as "5m"; zero is allowed only when
// allowZero.
func (p *parser) duration(n *yaml.Node, what string, allowZero bool) (time.Duration, bool) {
	s, ok := p.scalar(n, what, durationHint)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		hint := durationHint
		if m := bareDays.FindStringSubmatch(s); m != nil {
			days, _ := strconv.Atoi(m[1])
			hint = fmt.Sprintf("Go durations have no days: write %dh", days*24)
		} else if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			hint = fmt.Sprintf("add a unit, e.g. %ss or %sms", s, s)
		}
		p.r.add(pos(n), hint, "bad duration %q for %s", s, what)
		return 0, false
	}
	if d > maxDuration {
		p.r.add(pos(n), fmt.Sprintf("at most %s", maxDuration), "%s %q is too long", what, s)
		return 0, false
	}
	if d < 0 || (d == 0 && !allowZero) {
		p.r.add(pos(n), durationHint, "%s must be longer than zero, not %q", what, s)
		return 0, false
	}
	return d, true
}

// percent reads "99%", "99.9%" or 0.99 as a ratio in (0, 1].
func (p *parser) percent(n *yaml.Node, what string) (float64, bool) {
	const hint = `write a percentage such as "99%" or a ratio such as 0.99`
	s, ok := p.scalar(n, what, hint)
	if !ok {
		return 0, false
	}
	var v float64
	var err error
	if t, isPct := strings.CutSuffix(s, "%"); isPct {
		t = strings.TrimSpace(t)
		if strings.ContainsAny(t, "eE") {
			v, err = strconv.ParseFloat(t, 64)
			v /= 100
		} else {
			// "99.9e-2" parses to the float nearest 0.999; dividing
			// 99.9 by 100 would not.
			v, err = strconv.ParseFloat(t+"e-2", 64)
		}
	} else {
		v, err = strconv.ParseFloat(s, 64)
		if err == nil && v > 1 && v <= 100 {
			p.r.add(pos(n), fmt.Sprintf("write \"%s%%\" or %g", s, v/100), "%s %s is more than 1", what, s)
			return 0, false
		}
	}
	if err != nil || v <= 0 || v > 1 || v != v {
		p.r.add(pos(n), hint, "bad percentage %q for %s", s, what)
		return 0, false
	}
	return v, true
}

// count reads an integer in [least, most].
func (p *parser) count(n *yaml.Node, what string, least, most int) (int, bool) {
	s, ok := p.scalar(n, what, "write a whole number")
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < least || v > most {
		p.r.add(pos(n), fmt.Sprintf("write a whole number from %d to %d", least, most), "bad %s %q", what, s)
		return 0, false
	}
	return v, true
}

// rate reads a probe rate: "100/s", "6000/m" or a plain number per second.
func (p *parser) rate(n *yaml.Node, what string) (float64, bool) {
	const hint = `write a rate such as "100/s" or "6000/m"`
	s, ok := p.scalar(n, what, hint)
	if !ok {
		return 0, false
	}
	num, unit, _ := strings.Cut(s, "/")
	per := 1.0
	switch strings.TrimSpace(unit) {
	case "", "s":
	case "m":
		per = 60
	default:
		p.r.add(pos(n), hint, "bad rate %q for %s", s, what)
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v != v || v/per < 0.01 || v/per > 1e6 {
		p.r.add(pos(n), hint+", between 0.01/s and 1000000/s", "bad rate %q for %s", s, what)
		return 0, false
	}
	return v / per, true
}

// names reads a list of text values; single reports whether a lone scalar
// is accepted as a list of one.
func (p *parser) names(n *yaml.Node, what, hint string, single bool) ([]string, []Pos, bool) {
	if single && n.Kind == yaml.ScalarNode {
		s, ok := p.text(n, what)
		if !ok {
			return nil, nil, false
		}
		return []string{s}, []Pos{pos(n)}, true
	}
	if n.Kind != yaml.SequenceNode {
		p.r.add(pos(n), hint, "%s must be a list, not %s", what, describe(n))
		return nil, nil, false
	}
	if len(n.Content) == 0 {
		p.r.add(pos(n), hint, "%s is an empty list", what)
		return nil, nil, false
	}
	var out []string
	var at []Pos
	seen := map[string]int{}
	ok := true
	for _, e := range n.Content {
		s, good := p.text(e, what+" entry")
		if !good {
			ok = false
			continue
		}
		if line, dup := seen[s]; dup {
			p.r.add(pos(e), fmt.Sprintf("it is already listed at line %d", line), "%q listed twice in %s", s, what)
			ok = false
			continue
		}
		seen[s] = e.Line
		out = append(out, s)
		at = append(at, pos(e))
	}
	return out, at, ok
}

func (p *parser) catalog(root *yaml.Node, c *Catalog) {
	f := p.fields(root, "at the top of the catalog", topFields)
	if f == nil {
		return
	}
	if v, ok := f["version"]; !ok {
		p.r.add(pos(root), `add "version: 1" at the top`, "the catalog has no version")
	} else if n, ok := p.count(v, "version", 0, 1000); ok {
		if n != Version {
			p.r.add(pos(v), "this okbreak reads version 1", "unsupported catalog version %d", n)
		}
		c.Version = n
	}
	if v, ok := f["defaults"]; ok {
		p.defaults(v, &c.Defaults)
	}
	v, ok := f["cases"]
	if !ok {
		p.r.add(pos(root), `add a "cases" list`, "the catalog has no cases")
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.r.add(pos(v), "write cases as a list, each entry starting with \"- name: ...\"", "cases must be a list, not %s", describe(v))
		return
	}
	if len(v.Content) == 0 {
		p.r.add(pos(v), "", "the catalog has no cases")
		return
	}
	seen := map[string]int{}
	for i, n := range v.Content {
		k, ok := p.caseNode(n, i, c.Defaults)
		if k.Name != "" {
			if line, dup := seen[k.Name]; dup {
				p.r.add(k.pos.name, fmt.Sprintf("it was first defined at line %d; case names must be unique", line), "duplicate case name %q", k.Name)
				continue
			}
			seen[k.Name] = k.Pos.Line
		}
		if ok {
			c.Cases = append(c.Cases, k)
		} else {
			c.partial = append(c.partial, k)
		}
	}
}

func (p *parser) defaults(n *yaml.Node, d *Defaults) {
	const where = "in defaults"
	f := p.fields(n, where, defaultsFields)
	if f == nil {
		return
	}
	if v, ok := f["probe"]; ok {
		if pf := p.fields(v, "in defaults.probe", probeFields); pf != nil {
			if r, ok := pf["rate"]; ok {
				if x, ok := p.rate(r, "probe rate"); ok {
					d.ProbeRate = x
				}
			}
		}
	}
	if v, ok := f["slo"]; ok {
		// Field by field, like every default: {success: 99.9%} keeps p99.
		if s, _, ok := p.slo(v, "defaults.slo"); ok {
			d.SLO = d.SLO.merge(s)
		}
	}
	for _, x := range []struct {
		key  string
		dst  *time.Duration
		zero bool
	}{{"grace", &d.Grace, true}, {"min_window", &d.MinWindow, false}, {"recovery", &d.Recovery, false}, {"min_scrape_interval", &d.MinScrapeInterval, true}} {
		if v, ok := f[x.key]; ok {
			if dur, ok := p.duration(v, "defaults."+x.key, x.zero); ok {
				*x.dst = dur
			}
		}
	}
	if v, ok := f["min_samples"]; ok {
		if x, ok := p.count(v, "defaults.min_samples", 0, 1000000); ok {
			d.MinSamples = x
		}
	}
	if v, ok := f["min_scrape_points"]; ok {
		if x, ok := p.count(v, "defaults.min_scrape_points", 1, 1000); ok {
			d.MinScrapePoints = x
		}
	}
	if v, ok := f["page_label"]; ok {
		p.pageLabels(v, d)
	}
	if v, ok := f["prometheus"]; ok {
		if pf := p.fields(v, "in defaults.prometheus", prometheusFields); pf != nil {
			for _, x := range []struct {
				key string
				dst *time.Duration
			}{{"scrape_interval", &d.ScrapeInterval}, {"evaluation_interval", &d.EvalInterval}, {"lookback_delta", &d.Lookback}} {
				if v, ok := pf[x.key]; ok {
					if dur, ok := p.duration(v, "defaults.prometheus."+x.key, false); ok {
						*x.dst = dur
					}
				}
			}
		}
	}
	if d.MinScrapeInterval > 0 && min(d.ScrapeInterval, d.EvalInterval) < d.MinScrapeInterval {
		p.r.add(pos(n), "raise the interval or lower min_scrape_interval", "the scrape or evaluation interval (%s, %s) is shorter than min_scrape_interval %s", d.ScrapeInterval, d.EvalInterval, d.MinScrapeInterval)
	}
}

func (p *parser) pageLabels(n *yaml.Node, d *Defaults) {
	const hint = "write page_label: {severity: page}"
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.r.add(pos(n), hint, "defaults.page_label must be a mapping of label names to values, not %s", describe(n))
		return
	}
	labels := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok1 := p.text(k, "a page label name")
		val, ok2 := p.text(v, "a page label value")
		if !ok1 || !ok2 {
			continue
		}
		if _, dup := labels[name]; dup {
			p.r.add(pos(k), "", "page label %q set twice", name)
			continue
		}
		labels[name] = val
	}
	if len(labels) > 0 {
		d.PageLabels = labels
	}
}

// slo reads an SLO mapping; unset fields stay zero. at maps each field set
// to its position.
func (p *parser) slo(n *yaml.Node, where string) (s SLO, at map[string]Pos, ok bool) {
	f := p.fields(n, "in "+where, sloFields)
	if f == nil {
		return SLO{}, nil, false
	}
	at = map[string]Pos{}
	for k, v := range f {
		at[k] = pos(v)
	}
	ok = true
	if v, has := f["success"]; has {
		x, good := p.percent(v, where+".success")
		s.Success, ok = x, ok && good
	}
	for _, x := range []struct {
		key string
		dst *time.Duration
	}{{"p50", &s.P50}, {"p90", &s.P90}, {"p99", &s.P99}, {"p999", &s.P999}} {
		if v, has := f[x.key]; has {
			d, good := p.duration(v, where+"."+x.key, false)
			*x.dst, ok = d, ok && good
		}
	}
	if len(f) == 0 {
		p.r.add(pos(n), "set success or a latency percentile, or remove it", "%s is empty", where)
		ok = false
	}
	return s, at, ok
}

// caseLabel names a case for messages before its fields are checked, so that
// every message about the case can name it: `case "etcd-down-10m"`, or
// `case #3` when it has no name.
func caseLabel(n *yaml.Node, i int) string {
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "name" && n.Content[j+1].Kind == yaml.ScalarNode && n.Content[j+1].Value != "" {
				return fmt.Sprintf("case %q", n.Content[j+1].Value)
			}
		}
	}
	return fmt.Sprintf("case #%d", i+1)
}

// caseNode reads one case; ok is false when the case is unusable.
func (p *parser) caseNode(n *yaml.Node, i int, d Defaults) (Case, bool) {
	label := caseLabel(n, i)
	k := Case{Pos: pos(n)}
	before := len(p.r.errs)
	f := p.fields(n, "in "+label, caseFields)
	if f == nil {
		return k, false
	}
	typos := p.unknown
	required := func(key, hint string) *yaml.Node {
		v, ok := f[key]
		if !ok && !slices.ContainsFunc(typos, func(u string) bool { return slices.Contains(closest(u, caseFields, 1), key) }) {
			p.r.add(pos(n), hint, "%s has no %q", label, key)
		}
		return v
	}

	if v := required("name", "add name: a-short-kebab-case-name"); v != nil {
		k.pos.name = pos(v)
		if s, ok := p.text(v, "a case name"); ok {
			if !caseName.MatchString(s) {
				p.r.add(pos(v), "use lower-case letters, digits and dashes, e.g. etcd-down-10m", "bad case name %q", s)
			} else {
				k.Name = s
			}
		}
	}
	if v := required("class", "add class: ok-to-break or class: not-ok"); v != nil {
		if s, ok := p.text(v, "class of "+label); ok {
			if c := Class(s); c == OkToBreak || c == NotOK {
				k.Class = c
			} else {
				p.r.add(pos(v), suggest(s, "classes", []string{string(OkToBreak), string(NotOK)}), "unknown class %q in %s", s, label)
			}
		}
	}
	if v := required("why", "say in one line why it is ok to break, or why it is not"); v != nil {
		if s, ok := p.text(v, "why of "+label); ok {
			k.Why = strings.TrimSpace(s)
		}
	}
	one, hasOne := f["fault"]
	list, hasList := f["faults"]
	switch {
	case hasOne && hasList:
		p.r.add(pos(list), "write one fault as fault: {...}, or move it into the faults: list", "%s has both fault and faults", label)
	case hasList:
		p.faultList(list, label, &k)
	default:
		if required("fault", "add fault: {type: ..., target: ...}, or faults: [...] for several") != nil {
			k.Faults = []Fault{p.fault(one, "the fault of "+label, faultFields)}
		}
	}
	if v := required("duration", "add duration: 5m (world time; the time scale compresses it)"); v != nil {
		k.pos.duration = pos(v)
		if dur, ok := p.duration(v, "duration of "+label, false); ok {
			k.Duration = dur
		}
	}
	if hasList && len(p.r.errs) == before {
		p.schedule(label, &k)
	}
	if v, ok := f["mechanism"]; ok {
		p.mechanism(v, label, &k)
	}
	expectNode := n
	if v, ok := f["expect"]; ok {
		expectNode = v
		p.expect(v, label, &k)
	}
	if v, ok := f["requires"]; ok {
		if rs, at, ok := p.names(v, "requires", "write requires: [envoy]", false); ok {
			for j, r := range rs {
				if !slices.Contains(knownRequires, r) {
					p.r.add(at[j], suggest(r, "values", knownRequires), "unknown requirement %q in %s", r, label)
				}
			}
			k.Requires = rs
		}
	}
	if v, ok := f["idle_link"]; ok {
		if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
			p.r.add(pos(v), "write idle_link: true", "idle_link of %s must be true or false, not %s", label, describe(v))
		} else {
			k.IdleLink = v.Value == "true"
		}
	}
	if v, ok := f["provenance"]; ok {
		p.provenance(v, label, &k)
	}
	if len(p.r.errs) == before {
		p.classRules(expectNode, label, &k, d)
	}
	return k, len(p.r.errs) == before
}

// fault reads one fault; what names it in messages ("the fault of case
// X", "fault 2 of case X"). It returns what it could read, so that
// Validate can still check the parts that parsed.
func (p *parser) fault(n *yaml.Node, what string, valid []string) Fault {
	var out Fault
	out.pos.node = pos(n)
	where := "in " + what
	f := p.fields(n, where, valid)
	if f == nil {
		return out
	}
	if v, ok := f["type"]; !ok {
		p.r.add(pos(n), "add type: latency (or another fault type)", "%s has no type", what)
	} else if s, ok := p.text(v, "fault type"); ok {
		out.Type = s
		out.pos.typ = pos(v)
	}
	if v, ok := f["target"]; !ok {
		p.r.add(pos(n), `add target: edge->backend-1 (a link), etcd (a component) or backend (a registry name)`, "%s has no target", what)
	} else if ts, at, ok := p.names(v, "fault target", `write target: "edge->backend-1", a list of targets, or a glob such as "edge->backend-*"`, true); ok {
		out.Target = ts
		out.Targets = append([]string(nil), ts...)
		out.pos.targets = at
	}
	if v, ok := f["params"]; ok {
		out.pos.params = pos(v)
		out.Params = p.params(v, where)
	}
	if v, ok := f["at"]; ok {
		out.pos.at = pos(v)
		out.At, _ = p.duration(v, "at of "+what, true)
	}
	if v, ok := f["for"]; ok {
		out.pos.dur = pos(v)
		out.For, _ = p.duration(v, "for of "+what, false)
	}
	return out
}

func (p *parser) params(v *yaml.Node, where string) map[string]any {
	if v.Kind != yaml.MappingNode {
		p.r.add(pos(v), "write params: {latency: 2s}", "fault params must be a mapping, not %s", describe(v))
		return nil
	}
	params := map[string]any{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		kn, vn := v.Content[i], v.Content[i+1]
		name, ok := p.text(kn, "a fault parameter name")
		if !ok {
			continue
		}
		if _, dup := params[name]; dup {
			p.r.add(pos(kn), "", "fault parameter %q set twice %s", name, where)
			continue
		}
		var val any
		if err := vn.Decode(&val); err != nil {
			p.r.add(pos(vn), "", "fault parameter %q: %v", name, err)
			continue
		}
		params[name] = val
	}
	return params
}

// faultList reads `faults:`, a list of faults with at and for.
func (p *parser) faultList(n *yaml.Node, label string, k *Case) {
	const hint = "write faults: [{type: down, target: edge->xds}, {type: crash, target: backend-2, at: 1m}]"
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.r.add(pos(n), hint, "faults of %s must be a list of one or more faults, not %s", label, describe(n))
		return
	}
	for i, fn := range n.Content {
		k.Faults = append(k.Faults, p.fault(fn, fmt.Sprintf("fault %d of %s", i+1, label), faultsFields))
	}
}

// schedule checks a `faults:` list against the case's duration: every
// fault starts and ends inside the window, and the window starts with a
// fault (one has at: 0), so that time to detect counts from a fault.
func (p *parser) schedule(label string, k *Case) {
	first := false
	for i, f := range k.Faults {
		what := fmt.Sprintf("fault %d of %s", i+1, label)
		switch {
		case f.At >= k.Duration:
			p.r.add(f.pos.at, fmt.Sprintf("start it before the case's duration %s ends", k.Duration), "%s starts at %s, not inside the case's %s window", what, f.At, k.Duration)
		case f.For > 0 && f.At+f.For > k.Duration:
			p.r.add(f.pos.dur, fmt.Sprintf("make for at most %s, or lengthen the case's duration to %s", k.Duration-f.At, f.At+f.For), "%s runs to %s (at %s + for %s), past the case's duration %s", what, f.At+f.For, f.At, f.For, k.Duration)
		}
		first = first || f.At == 0
	}
	if !first {
		p.r.add(k.Faults[0].pos.node, "give the first fault at: 0s (or leave at out): the fault window starts with a fault, and time to detect counts from it", "no fault of %s starts at 0", label)
	}
}

func (p *parser) mechanism(n *yaml.Node, label string, k *Case) {
	f := p.fields(n, "in the mechanism of "+label, mechanismFields)
	if f == nil {
		return
	}
	if v, ok := f["what"]; ok {
		if s, ok := p.text(v, "mechanism.what"); ok {
			k.Mechanism.What = s
		}
	}
	if v, ok := f["timer"]; ok {
		if d, ok := p.duration(v, "mechanism.timer of "+label, true); ok {
			k.Mechanism.Timer = d
			if d > 0 && k.Mechanism.What == "" {
				p.r.add(pos(n), "e.g. what: outlier detection base ejection time", "the mechanism of %s has a timer but does not say what runs on it", label)
			}
		}
	}
}

func (p *parser) expect(n *yaml.Node, label string, k *Case) {
	f := p.fields(n, "in the expectations of "+label, expectFields)
	if f == nil {
		return
	}
	if v, ok := f["slo"]; ok {
		if s, at, ok := p.slo(v, "expect.slo"); ok {
			k.Expect.SLO = &s
			k.pos.slo = at
		}
	}
	if v, ok := f["alerts"]; ok {
		p.alerts(v, label, k)
	}
	if v, ok := f["detection"]; ok {
		k.pos.detection = pos(v)
		if d, ok := p.duration(v, "detection window of "+label, false); ok {
			k.Expect.Detection = d
		}
	}
	if v, ok := f["recovery"]; ok {
		k.pos.recovery = pos(v)
		if d, ok := p.duration(v, "recovery window of "+label, false); ok {
			k.Expect.Recovery = d
		}
	}
}

func (p *parser) alerts(n *yaml.Node, label string, k *Case) {
	const hint = "write alerts: [AlertName] (every one must fire) or alerts: {any_of: [A, B]}"
	list := n
	k.Expect.Alerts.Match = AllOf
	if n.Kind == yaml.MappingNode {
		f := p.fields(n, "in the alerts of "+label, alertsFields)
		if f == nil {
			return
		}
		if len(f) != 1 {
			p.r.add(pos(n), hint, "alerts must hold exactly one of all_of or any_of")
			return
		}
		for m, v := range f {
			k.Expect.Alerts.Match = Match(m)
			list = v
		}
	}
	names, at, ok := p.names(list, "alerts", hint, false)
	if ok {
		k.Expect.Alerts.Names = names
		k.pos.alerts = at
	}
}

func (p *parser) provenance(n *yaml.Node, label string, k *Case) {
	f := p.fields(n, "in the provenance of "+label, provenanceFields)
	if f == nil {
		return
	}
	pv := &Provenance{}
	ok := true
	if v, has := f["date"]; !has {
		p.r.add(pos(n), "add date: 2018-11-11", "the provenance of %s has no date", label)
		ok = false
	} else if s, good := p.scalar(v, "provenance date", "write date: 2018-11-11"); good {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			p.r.add(pos(v), "write the date as YYYY-MM-DD, e.g. 2018-11-11", "bad provenance date %q", s)
			ok = false
		}
		pv.Date = t
	} else {
		ok = false
	}
	if v, has := f["summary"]; !has {
		p.r.add(pos(n), "say in a sentence what happened", "the provenance of %s has no summary", label)
		ok = false
	} else if s, good := p.text(v, "provenance summary"); good {
		pv.Summary = s
	} else {
		ok = false
	}
	if v, has := f["link"]; has {
		if s, good := p.text(v, "provenance link"); good {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				p.r.add(pos(v), "write an http(s) address of the postmortem or the issue", "bad provenance link %q", s)
				ok = false
			}
			pv.Link = s
		} else {
			ok = false
		}
	}
	if ok {
		k.Provenance = pv
	}
}

// classRules checks what a case expects against its class and the defaults;
// it runs only on a case whose fields all parsed.
func (p *parser) classRules(expectNode *yaml.Node, label string, k *Case, d Defaults) {
	e := k.Expect
	switch k.Class {
	case NotOK:
		if len(e.Alerts.Names) == 0 {
			p.r.add(pos(expectNode), "add expect: {alerts: [AlertName]}: a not-ok case must page, and names the page-severity alerts that must fire",
				"not-ok %s names no alert that must fire", label)
		}
		if e.SLO != nil {
			p.r.add(pos(expectNode), "remove expect.slo, or make the case ok-to-break", "not-ok %s sets an SLO; only ok-to-break cases are judged on the SLO", label)
		}
		if e.Detection > k.Duration {
			p.r.add(k.pos.detection, fmt.Sprintf("the alert must fire before the fault ends: at most %s", k.Duration),
				"detection window %s of %s is longer than its duration %s", e.Detection, label, k.Duration)
		}
	case OkToBreak:
		if len(e.Alerts.Names) > 0 {
			p.r.add(k.pos.alerts[0], "remove expect.alerts, or make the case not-ok", "ok-to-break %s expects alerts; it must survive without paging", label)
		}
		if e.Detection > 0 {
			p.r.add(k.pos.detection, "remove expect.detection, or make the case not-ok", "ok-to-break %s sets a detection window; only not-ok cases are detected", label)
		}
		if e.SLO != nil {
			p.looserSLO(k.pos.slo, label, *e.SLO, d.SLO)
		}
	}
	w := k.ShortestWindow(d)
	if e.Recovery > 0 {
		switch most := max(d.Recovery, w); {
		case e.Recovery < w:
			p.r.add(k.pos.recovery, fmt.Sprintf("make it at least %s", w), "recovery window %s of %s is shorter than the case's shortest window %s%s", e.Recovery, label, w, k.windowReason(d))
		case e.Recovery > most:
			p.r.add(k.pos.recovery, fmt.Sprintf("at most %s (the default, or 3× the mechanism timer when that is longer)", most), "recovery window %s of %s is looser than the default %s", e.Recovery, label, d.Recovery)
		}
	}
	for _, l := range k.limits(d) {
		if !l.global && l.max < 1 {
			p.r.add(l.pos, l.hint, "%s: %s", label, l.msg)
		}
	}
}

// looserSLO reports every field of an override that is looser than the
// default: a case may tighten the SLO, never loosen it to pass.
func (p *parser) looserSLO(at map[string]Pos, label string, o, d SLO) {
	const hint = "a case may only tighten the default SLO; change the defaults if the whole catalog needs another SLO"
	if o.Success > 0 && o.Success < d.Success {
		p.r.add(at["success"], hint, "%s sets success %g%%, looser than the default %g%%", label, o.Success*100, d.Success*100)
	}
	for _, x := range []struct {
		name     string
		over, de time.Duration
	}{{"p50", o.P50, d.P50}, {"p90", o.P90, d.P90}, {"p99", o.P99, d.P99}, {"p999", o.P999, d.P999}} {
		if x.over > 0 && x.de > 0 && x.over > x.de {
			p.r.add(at[x.name], hint, "%s sets %s %s, looser than the default %s", label, x.name, x.over, x.de)
		}
	}
}
