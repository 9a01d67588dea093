package incident

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness/catalog"
)

var (
	topFields        = []string{"version", "title", "date", "provenance", "requires", "case", "cases", "before", "after", "expect_before", "changes"}
	provenanceFields = []string{"summary", "link", "broke", "detected", "remediation", "source"}
	expectFields     = []string{string(SLOBreached), string(AlertNotFired), string(PageFired)}
	dataPlanes       = []string{catalog.RequireEnvoy, catalog.RequireGRPC}
	changeTypes      = []string{"listener", "route", "cluster", "endpoint"}
)

// changeField is one field of a change's path: a proto field name, then
// any [0] list indices and ["key"] map keys.
const changeField = `[a-z_][a-z0-9_]*(?:\[(?:[0-9]+|"(?:[^"\\]|\\.)*")\])*`

// changeSyntax is one item of `changes:` (Incident.Changes): a resource
// type, the resource's name (no space; it may hold colons, as xdstp://
// names do, but not end with one), and optionally ": " and a field path.
var changeSyntax = regexp.MustCompile(`^(` + strings.Join(changeTypes, "|") + `) (\S*[^\s:])(?:: (` + changeField + `(?:\.` + changeField + `)*))?$`)

// Load reads and checks the incident file at path.
func Load(path string) (*Incident, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read incident: %w", err)
	}
	return Parse(path, data)
}

// Parse checks an incident file already read; name is what messages call
// it, and its base name without .yaml is the incident's name. The error,
// if any, is a catalog.Errors holding every problem, each at its
// file:line:column with a hint; the Incident is then nil. Parse is safe for
// concurrent use.
func Parse(name string, data []byte) (*Incident, error) {
	p := &parser{file: name, data: data}
	in := &Incident{Path: name, Name: strings.TrimSuffix(path.Base(filepath.ToSlash(name)), path.Ext(name))}
	root := p.document()
	if root != nil {
		p.incident(root, in)
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool {
			if p.errs[i].Line != p.errs[j].Line {
				return p.errs[i].Line < p.errs[j].Line
			}
			return p.errs[i].Column < p.errs[j].Column
		})
		return nil, p.errs
	}
	return in, nil
}

type parser struct {
	file string
	data []byte
	errs catalog.Errors
}

func (p *parser) add(n *yaml.Node, hint, format string, args ...any) {
	line, col := 1, 1
	if n != nil && n.Line > 0 {
		line, col = n.Line, max(n.Column, 1)
	}
	p.errs = append(p.errs, &catalog.Error{File: p.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// document decodes the one YAML document of the file.
func (p *parser) document() (root *yaml.Node) {
	defer func() {
		// yaml.v3 has panicked on hostile input before; an incident file
		// is user input.
		if v := recover(); v != nil {
			p.add(nil, "", "the YAML parser failed on this file: %v", v)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(p.data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(nil, "run `okbreak incident new NAME` for a file to fill in", "the incident file is empty")
			return nil
		}
		p.syntax(err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.add(&extra, "keep one incident a file", "a second YAML document; an incident is one document")
	case !errors.Is(err, io.EOF):
		p.syntax(err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		p.add(&doc, "start with \"version: 1\", a title and a date", "an incident file is a mapping")
		return nil
	}
	root = doc.Content[0]
	// Parts of the file go to other parsers with the other lines blanked:
	// that needs one top-level key a line, which block style guarantees.
	if root.Style&yaml.FlowStyle != 0 {
		p.add(root, "write one field a line (block style), as okbreak incident new does", "the incident is written in flow style {...}")
		return nil
	}
	return root
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntax reports a YAML syntax error at the line the YAML parser names.
func (p *parser) syntax(err error) {
	msg := err.Error()
	at := &yaml.Node{Line: 1, Column: 1}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		at.Line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(msg, m[0])
	}
	p.add(at, "", "YAML syntax: %s", strings.TrimPrefix(msg, "yaml: "))
}

// fields reads a mapping with a fixed set of keys; keys maps each known key
// to its key node, for positions.
func (p *parser) fields(n *yaml.Node, where string, valid []string) (vals, keys map[string]*yaml.Node) {
	vals, keys = map[string]*yaml.Node{}, map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		p.add(n, "write it as a mapping of "+strings.Join(valid, ", "), "%s must be a mapping", where)
		return vals, keys
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(valid, k.Value):
			p.add(k, "valid fields: "+strings.Join(valid, ", "), "unknown field %q %s", k.Value, where)
		case keys[k.Value] != nil:
			p.add(k, fmt.Sprintf("it was first set at line %d", keys[k.Value].Line), "field %q set twice %s", k.Value, where)
		default:
			vals[k.Value], keys[k.Value] = v, k
		}
	}
	return vals, keys
}

func (p *parser) text(n *yaml.Node, what string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		p.add(n, "write it as text", "%s must be text, and not empty", what)
		return ""
	}
	return n.Value
}

func (p *parser) incident(root *yaml.Node, in *Incident) {
	f, keys := p.fields(root, "in an incident", topFields)
	for _, k := range []string{"version", "title", "date", "provenance"} {
		if f[k] == nil {
			p.add(root, "see `okbreak incident new` for a complete file", "the incident has no %s", k)
		}
	}
	if v := f["version"]; v != nil && v.Value != "1" {
		p.add(v, "this okbreak reads version 1", "unsupported incident version %q", v.Value)
	}
	in.Title = p.text(f["title"], "title")
	if v := f["date"]; v != nil {
		d, err := time.Parse(time.DateOnly, v.Value)
		if err != nil {
			p.add(v, "write the date as YYYY-MM-DD, e.g. 2018-11-11", "bad date %q", v.Value)
		}
		in.Date = d
	}
	if v := f["provenance"]; v != nil {
		p.provenance(v, &in.Provenance)
	}
	if v := f["requires"]; v != nil {
		p.requires(v, in)
	}
	p.cases(root, f, keys, in)
	p.variants(root, f, keys, in)
}

func (p *parser) provenance(n *yaml.Node, pv *Provenance) {
	f, _ := p.fields(n, "in the provenance", provenanceFields)
	for _, k := range provenanceFields {
		if n.Kind == yaml.MappingNode && f[k] == nil {
			p.add(n, "the provenance says "+strings.Join(provenanceFields, ", "), "the provenance has no %s", k)
		}
	}
	pv.Summary, pv.Link = p.text(f["summary"], "provenance summary"), p.text(f["link"], "provenance link")
	pv.Broke, pv.Detected = p.text(f["broke"], "provenance broke"), p.text(f["detected"], "provenance detected")
	pv.Remediation, pv.Source = p.text(f["remediation"], "provenance remediation"), p.text(f["source"], "provenance source")
}

func (p *parser) requires(n *yaml.Node, in *Incident) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		if !slices.Contains(dataPlanes, it.Value) {
			p.add(it, "valid data planes: "+strings.Join(dataPlanes, ", "), "unknown data plane %q in requires", it.Value)
			continue
		}
		in.Requires = append(in.Requires, it.Value)
	}
}

// cases reads `case:` (a catalog case by name) or `cases:` (cases in the
// catalog's schema, read by the catalog's own parser from the file with
// every other line blanked, so that its errors point into this file).
func (p *parser) cases(root *yaml.Node, f, keys map[string]*yaml.Node, in *Incident) {
	switch {
	case f["case"] != nil && f["cases"] != nil:
		p.add(keys["cases"], "keep one: case names a catalog case, cases writes them out", "both case and cases are set")
	case f["case"] != nil:
		in.Case = p.text(f["case"], "case")
	case f["cases"] != nil:
		// The catalog's own version line, after the file's last: every
		// line of the file keeps its number, and the incident's version
		// is the incident's business.
		doc := append(blank(p.data, [][2]int{region(root, keys["cases"], len(lines(p.data)))}, nil), "version: 1\n"...)
		c, err := catalog.Parse(p.file, doc)
		var es catalog.Errors
		if errors.As(err, &es) {
			p.errs = append(p.errs, es...)
		} else if err != nil {
			p.add(f["cases"], "", "%v", err)
		}
		if c != nil {
			in.Cases = c.Cases
		}
	default:
		p.add(root, "name a catalog case (case: one-backend-resets) or write cases: in the catalog's schema", "the incident has no case")
	}
}

// variants reads before, after, expect_before and changes, which go
// together.
func (p *parser) variants(root *yaml.Node, f, keys map[string]*yaml.Node, in *Incident) {
	b, a, e := f["before"], f["after"], f["expect_before"]
	switch {
	case b == nil && a == nil:
		if e != nil {
			p.add(keys["expect_before"], "remove it, or add before: and after:", "expect_before without before and after")
		}
		if f["changes"] != nil {
			p.add(keys["changes"], "remove it, or add before: and after:", "changes without before and after: there is nothing to compare")
		}
		return
	case b == nil || a == nil:
		at, missing := keys["before"], "after"
		if b == nil {
			at, missing = keys["after"], "before"
		}
		p.add(at, "give both the configuration of the day (before) and the remediated one (after)", "the incident has no %s", missing)
		return
	case e == nil:
		p.add(keys["before"], "add expect_before: {slo_breached: during}, {alert_not_fired: NAME} or {page_fired: NAME}", "before without expect_before: name the failure the incident had")
	}
	in.Before, in.After = p.overlay(root, keys["before"], b), p.overlay(root, keys["after"], a)
	if e != nil {
		in.ExpectBefore = p.expectation(e)
		p.fits(e, in)
	}
	if c := f["changes"]; c != nil {
		in.Changes = p.changes(c)
	}
}

// changes reads the list of Envoy configuration fields before and after
// differ in; each item's syntax is checked here, whether the list is right
// is a test's business (it needs the system's translation).
func (p *parser) changes(n *yaml.Node) []string {
	const hint = `write items such as "cluster backend: health_checks" or "listener ingress_http: filter_chains[0].filters[0].typed_config.use_remote_address"`
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.add(n, hint+"; leave changes out when before and after differ in no Envoy field", "changes must be a non-empty list")
		return nil
	}
	var out []string
	seen := map[string]*yaml.Node{}
	for _, it := range n.Content {
		if it.Kind == yaml.MappingNode {
			// The likeliest slip: unquoted, "cluster backend: health_checks"
			// is a YAML mapping.
			p.add(it, `quote it: - "cluster backend: health_checks"`, "a change is a mapping, not text: YAML reads an unquoted \"TYPE NAME: PATH\" as KEY: VALUE")
			continue
		}
		s := p.text(it, "a change")
		switch {
		case s == "":
		case seen[s] != nil:
			p.add(it, fmt.Sprintf("it was first listed at line %d", seen[s].Line), "change %q listed twice", s)
		case !changeSyntax.MatchString(s):
			p.add(it, hint+"; the type is one of "+strings.Join(changeTypes, ", "), "change %q is not TYPE NAME or TYPE NAME: FIELD.PATH", s)
		default:
			seen[s] = it
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) overlay(root, key, val *yaml.Node) *Overlay {
	if val.Kind != yaml.MappingNode {
		p.add(val, "write an overlay on the stack file: services: and x-okbreak: as in the stack file", "%s must be a mapping", key.Value)
		return nil
	}
	r := region(root, key, len(lines(p.data)))
	var v any
	if err := val.Decode(&v); err != nil {
		p.add(val, "", "%s: %v", key.Value, err)
		return nil
	}
	return &Overlay{Line: val.Line, data: blank(p.data, [][2]int{{val.Line, r[1]}}, val), value: v}
}

func (p *parser) expectation(n *yaml.Node) *Expectation {
	f, _ := p.fields(n, "in expect_before", expectFields)
	if n.Kind == yaml.MappingNode && len(f) != 1 {
		p.add(n, "write one of "+strings.Join(expectFields, ", "), "expect_before names %d failures, want exactly one", len(f))
		return nil
	}
	for k, v := range f {
		e := &Expectation{Kind: ExpectKind(k)}
		if e.Kind == SLOBreached {
			e.Window = v.Value
			if e.Window != WindowDuring && e.Window != WindowAfter {
				p.add(v, "write slo_breached: during or slo_breached: after", "unknown window %q", v.Value)
			}
			return e
		}
		e.Alert = p.text(v, k)
		return e
	}
	return nil
}

// fits checks expect_before against cases written in the file, each of
// which must show it under before: an alert that did not fire is one a
// not-ok case expects; a breached SLO or a page belongs to an ok-to-break
// case. A catalog case by name is checked when the incident runs
// (Reproduced).
func (p *parser) fits(n *yaml.Node, in *Incident) {
	e := in.ExpectBefore
	if e == nil {
		return
	}
	for _, c := range in.Cases {
		switch {
		case e.Kind == AlertNotFired && (c.Class != catalog.NotOK || !slices.Contains(c.Expect.Alerts.Names, e.Alert)):
			p.add(n, "name an alert every case of the incident expects, or keep one case", "case %s does not expect alert %s", c.Name, e.Alert)
		case e.Kind != AlertNotFired && c.Class != catalog.OkToBreak:
			p.add(n, "a breached SLO or a page is the failure of an ok-to-break case", "case %s is %s: it cannot show %s", c.Name, c.Class, e)
		}
	}
}

// region is the lines [from, to] of a top-level key and its value: to the
// line before the next top-level key, or the end of the file.
func region(root, key *yaml.Node, last int) [2]int {
	to := last
	for i := 0; i < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Line > key.Line && k.Line-1 < to {
			to = k.Line - 1
		}
	}
	return [2]int{key.Line, to}
}

// blank keeps the lines in keep (1-based, inclusive) and empties every
// other, so that what is kept parses alone with its positions unchanged.
// When at is set, its first line keeps only what starts at its column.
func blank(data []byte, keep [][2]int, at *yaml.Node) []byte {
	ls := lines(data)
	var out bytes.Buffer
	for i, l := range ls {
		n := i + 1
		kept := false
		for _, k := range keep {
			kept = kept || (n >= k[0] && n <= k[1])
		}
		switch {
		case !kept:
		case at != nil && n == at.Line && at.Column-1 <= len(l):
			out.WriteString(strings.Repeat(" ", at.Column-1))
			out.WriteString(l[at.Column-1:])
		default:
			out.WriteString(l)
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func lines(data []byte) []string {
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// LoadDir reads every incident file (*.yaml) in dir, sorted by name. The
// error holds every problem of every file.
func LoadDir(dir string) ([]*Incident, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("incidents in %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	return loadAll(paths, os.ReadFile)
}

// LoadFS is LoadDir for a folder of fsys (the incidents embedded in a
// binary); files are named by their slash path in fsys.
func LoadFS(fsys fs.FS, dir string) ([]*Incident, error) {
	paths, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("incidents in %s: %w", dir, err)
	}
	return loadAll(paths, func(p string) ([]byte, error) { return fs.ReadFile(fsys, p) })
}

func loadAll(paths []string, read func(string) ([]byte, error)) ([]*Incident, error) {
	sort.Strings(paths)
	var out []*Incident
	var all catalog.Errors
	for _, p := range paths {
		data, err := read(p)
		if err != nil {
			return nil, fmt.Errorf("read incident: %w", err)
		}
		in, err := Parse(p, data)
		var es catalog.Errors
		switch {
		case errors.As(err, &es):
			all = append(all, es...)
		case err != nil:
			return nil, err
		default:
			out = append(out, in)
		}
	}
	if len(all) > 0 {
		return out, all
	}
	return out, nil
}
