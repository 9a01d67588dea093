package stackfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/module"
	"gopkg.in/yaml.v3"
)

// maxSeed bounds the seed file read: etcd's own request limit is 1.5 MiB,
// and a path such as /dev/zero must not hang the reader.
const maxSeed = 16 << 20

// linkList reads x-okbreak.links.
func (x *xdecoder) linkList(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		got := "empty"
		if n.Kind != yaml.SequenceNode {
			got = describe(n)
		}
		x.r.at(n, "list the links: - {to: SERVICE, port: PORT, from: CALLER}", "links must be a list of links, not be %s", got)
		return
	}
	for _, it := range n.Content {
		fs := x.fields(it, "in a link", linkKeys)
		if fs == nil {
			continue
		}
		l, nodes, ok := x.link(it, fs)
		if ok {
			x.f.Links = append(x.f.Links, l)
			x.links = append(x.links, nodes)
		}
	}
}

func (x *xdecoder) link(it *yaml.Node, fs map[string]*yaml.Node) (Link, linkNodes, bool) {
	l := Link{From: Any, File: x.r.file, Line: it.Line, Col: it.Column}
	nodes := linkNodes{to: fs["to"], port: fs["port"], from: fs["from"]}
	if nodes.to == nil || nodes.port == nil {
		x.r.at(it, "give the callee and its container port: {to: cart-a, port: 8080}", "a link needs `to` and `port`")
		return l, nodes, false
	}
	var ok [4]bool
	l.To, ok[0] = x.endName(nodes.to, "link target", false)
	l.Port, ok[1] = x.number(nodes.port, "link port", 1, 65535)
	ok[2], ok[3] = true, true
	if nodes.from != nil {
		l.From, ok[2] = x.endName(nodes.from, "link caller", true)
	}
	l.Name = l.From + "->" + l.To
	if n := fs["name"]; n != nil {
		if l.Name, ok[3] = x.text(n, "link name"); ok[3] && !linkName.MatchString(l.Name) {
			x.r.at(n, "use letters, digits, '.', '_', '-' and '>', e.g. gateway->cart-a", "bad link name %q", l.Name)
			ok[3] = false
		}
	}
	return l, nodes, ok == [4]bool{true, true, true, true}
}

// endName reads a link's end: a service name, or for a caller also client
// or any.
func (x *xdecoder) endName(n *yaml.Node, what string, caller bool) (string, bool) {
	s, ok := x.text(n, what)
	if !ok {
		return "", false
	}
	if !caller && (s == Client || s == Any) {
		x.r.at(n, "name the service called", "%s %q is not a service", what, s)
		return "", false
	}
	return s, true
}

// probe reads x-okbreak.probe.
func (x *xdecoder) probe(n *yaml.Node) {
	fs := x.fields(n, "in probe", probeKeys)
	if fs == nil {
		return
	}
	p := Probe{Method: "GET", Path: "/", Status: 200, File: x.r.file, Line: n.Line, Col: n.Column}
	ln, ok := fs["link"]
	if !ok {
		x.r.at(n, "add `link:` naming a link from client, e.g. client->gateway", "the probe needs a link")
		return
	}
	if p.Link, ok = x.text(ln, "probe link"); ok {
		x.probeLink = ln
	}
	if m, has := fs["method"]; has {
		if s, ok := x.text(m, "method"); ok && httpMethod.MatchString(s) {
			p.Method = s
		} else if ok {
			x.r.at(m, "write an HTTP method in capitals, e.g. GET or POST", "bad method %q", s)
		}
	}
	if pa, has := fs["path"]; has {
		if s, ok := x.text(pa, "path"); ok && strings.HasPrefix(s, "/") {
			p.Path = s
		} else if ok {
			x.r.at(pa, "start the path with /", "bad probe path %q", s)
		}
	}
	if h, has := fs["host"]; has {
		p.Host, _ = x.text(h, "host")
	}
	if s, has := fs["status"]; has {
		p.Status, _ = x.number(s, "status", 100, 599)
	}
	if c, has := fs["check"]; has {
		p.Check = x.check(c)
	}
	x.f.Probe = p
}

// check reads a probe's check: a header or a JSON field.
func (x *xdecoder) check(n *yaml.Node) *Check {
	fs := x.fields(n, "in check", checkKeys)
	if fs == nil {
		return nil
	}
	if len(fs) != 1 {
		x.r.at(n, "give one of header: {name, matches} and json: {field, equals}", "a check needs exactly one of header and json")
		return nil
	}
	if h, ok := fs["header"]; ok {
		return x.headerCheck(h)
	}
	return x.jsonCheck(fs["json"])
}

func (x *xdecoder) headerCheck(n *yaml.Node) *Check {
	fs := x.fields(n, "in a header check", headerKeys)
	if fs == nil || fs["name"] == nil || fs["matches"] == nil {
		if fs != nil {
			x.r.at(n, "give {name: X-Instance, matches: \"^cart-\"}", "a header check needs name and matches")
		}
		return nil
	}
	name, ok1 := x.text(fs["name"], "header name")
	if ok1 && !token.MatchString(name) {
		x.r.at(fs["name"], "write a header name such as X-Instance", "bad header name %q", name)
		ok1 = false
	}
	re, ok2 := x.text(fs["matches"], "matches")
	if ok2 {
		if _, err := regexp.Compile(re); err != nil {
			x.r.at(fs["matches"], "write a Go regular expression (RE2 syntax)", "bad regular expression %q: %s", re, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			ok2 = false
		}
	}
	if !ok1 || !ok2 {
		return nil
	}
	return &Check{Header: &HeaderCheck{Name: name, Matches: re}}
}

func (x *xdecoder) jsonCheck(n *yaml.Node) *Check {
	fs := x.fields(n, "in a json check", jsonKeys)
	if fs == nil || fs["field"] == nil || fs["equals"] == nil {
		if fs != nil {
			x.r.at(n, "give {field: service, equals: cart}", "a json check needs field and equals")
		}
		return nil
	}
	field, ok := x.text(fs["field"], "field")
	if ok && slices.Contains(strings.Split(field, "."), "") {
		x.r.at(fs["field"], "write a field name, or names joined by dots: meta.service", "bad field %q", field)
		ok = false
	}
	eq := fs["equals"]
	if !plainScalar(eq) {
		x.r.at(eq, "write the value the field must have", "equals must be a single value, not %s", describe(eq))
		ok = false
	}
	if !ok {
		return nil
	}
	return &Check{JSON: &JSONCheck{Field: field, Equals: eq.Value}}
}

// componentMap reads x-okbreak.components.
func (x *xdecoder) componentMap(n *yaml.Node) {
	for _, e := range x.names(n, "components") {
		fs := x.fields(e.val, fmt.Sprintf("in component %q", e.key.Value), componentKeys)
		if fs == nil {
			continue
		}
		c := Component{File: x.r.file, Line: e.key.Line, Col: e.key.Column}
		nodes := &componentNodes{key: e.key, fields: fs}
		if m := fs["metrics"]; m != nil {
			c.Metrics = x.endpoint(m, "metrics", "/metrics")
		}
		if r := fs["ready"]; r != nil {
			c.Ready = x.endpoint(r, "ready", "/")
		}
		if j := fs["job"]; j != nil {
			c.Job, _ = x.text(j, "job")
		}
		if l := fs["labels"]; l != nil {
			c.Labels = x.labels(l)
		}
		if x.f.Components == nil {
			x.f.Components = map[string]Component{}
		}
		x.f.Components[e.key.Value] = c
		x.components[e.key.Value] = nodes
	}
}

func (x *xdecoder) endpoint(n *yaml.Node, what, path string) *Endpoint {
	fs := x.fields(n, "in "+what, endpointKeys)
	if fs == nil {
		return nil
	}
	p, ok := fs["port"]
	if !ok {
		x.r.at(n, "add `port:` with the container port", "%s needs a port", what)
		return nil
	}
	e := &Endpoint{Path: path}
	if e.Port, ok = x.number(p, what+" port", 1, 65535); !ok {
		return nil
	}
	if pa, has := fs["path"]; has {
		s, ok := x.text(pa, what+" path")
		if ok && !strings.HasPrefix(s, "/") {
			x.r.at(pa, "start the path with /", "bad %s path %q", what, s)
			return nil
		}
		e.Path = s
	}
	return e
}

// labels reads static scrape labels; job and instance are Prometheus's own.
func (x *xdecoder) labels(n *yaml.Node) map[string]string {
	out := map[string]string{}
	for _, e := range x.names(n, "labels") {
		k := e.key.Value
		switch {
		case !labelName.MatchString(k) || strings.HasPrefix(k, "__"):
			x.r.at(e.key, "use letters, digits and _, not starting with __", "bad label name %q", k)
		case k == "job" || k == "instance":
			x.r.at(e.key, "set the job with `job:`; Prometheus sets instance", "label %q cannot be set here", k)
		default:
			if v, ok := x.text(e.val, "label "+k); ok {
				out[k] = v
			}
		}
	}
	return out
}

// seed reads the etcd seed: a JSON list of {"key", "value"}.
func (x *xdecoder) seed(n *yaml.Node) {
	raw, p, ok := x.relPath(n, "seed")
	if !ok || !x.fl.check(x.r, n, "seed", raw, p, false, "point it at a JSON file") {
		return
	}
	data, err := x.fl.read(p, maxSeed)
	switch {
	case errors.Is(err, errTooLarge):
		x.r.at(n, "keep the seed under 16 MiB", "seed %q is too large", raw)
		return
	case err != nil:
		x.r.at(n, "check the file's permissions", "seed %q cannot be read", raw)
		return
	}
	x.f.Seed = x.seedKVs(n, raw, data)
}

func (x *xdecoder) seedKVs(n *yaml.Node, raw string, data []byte) []KV {
	const fix = `write a JSON list: [{"key": "/config/x", "value": "..."}]`
	var items []struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&items); err != nil {
		x.r.at(n, fix, "seed %q: %s", raw, jsonProblem(data, err))
		return nil
	}
	var out []KV
	seen := map[string]int{}
	for i, it := range items {
		switch {
		case it.Key == nil || it.Value == nil || *it.Key == "":
			x.r.at(n, fix, "seed %q: entry %d needs a non-empty \"key\" and a \"value\"", raw, i+1)
		case seen[*it.Key] > 0:
			x.r.at(n, "keep one", "seed %q: key %q set twice (entries %d and %d)", raw, *it.Key, seen[*it.Key], i+1)
		default:
			seen[*it.Key] = i + 1
			out = append(out, KV{Key: *it.Key, Value: *it.Value})
		}
	}
	return out
}

// jsonProblem says where in the seed file its JSON goes wrong.
func jsonProblem(data []byte, err error) string {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if off < 0 || off > int64(len(data)) {
		return msg
	}
	// Offset counts the bytes read, the bad one included.
	off = max(off-1, 0)
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d column %d: %s", line, col, msg)
}

// rules reads the alert rule files: paths, folders or globs.
func (x *xdecoder) rules(n *yaml.Node) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, it := range items {
		raw, p, ok := x.relPath(it, "rules entry")
		if !ok {
			continue
		}
		if !strings.ContainsAny(raw, "*?[") {
			if _, err := x.fl.stat(p); err != nil {
				x.r.at(it, relFix, "rules %q do not exist", raw)
				continue
			}
			x.f.Rules = append(x.f.Rules, p)
			continue
		}
		matches, err := x.fl.glob(p)
		switch {
		case err != nil:
			x.r.at(it, "write a glob such as rules/*.yml", "bad rules glob %q", raw)
		case len(matches) == 0:
			x.r.at(it, relFix, "rules glob %q matches nothing", raw)
		default:
			x.f.Rules = append(x.f.Rules, matches...)
		}
	}
}

// catalog reads the catalog file's path.
func (x *xdecoder) catalog(n *yaml.Node) {
	raw, p, ok := x.relPath(n, "catalog")
	if ok && x.fl.check(x.r, n, "catalog", raw, p, false, "point it at the catalog file") {
		x.f.Catalog = p
	}
}

// rolesMap reads x-okbreak.roles.
func (x *xdecoder) rolesMap(n *yaml.Node) {
	fs := x.fields(n, "in roles", roleKeys)
	for _, k := range []string{"data_plane", "etcd"} {
		if v := fs[k]; v != nil {
			if s, ok := x.text(v, k); ok {
				x.roles = append(x.roles, roleRef{s, v, "roles." + k})
				if k == "etcd" {
					x.f.Roles.Etcd = s
				} else {
					x.f.Roles.DataPlane = s
				}
			}
		}
	}
	if in := fs["instances"]; in != nil {
		x.instances(in)
	}
}

func (x *xdecoder) instances(n *yaml.Node) {
	owner := map[string]string{}
	for _, e := range x.names(n, "instances") {
		group := e.key.Value
		if e.val.Kind != yaml.SequenceNode || len(e.val.Content) == 0 {
			x.r.at(e.val, "list the services: [cart-a, cart-b]", "instances of %q must be a list of services, not %s", group, describe(e.val))
			continue
		}
		var list []string
		for _, it := range e.val.Content {
			s, ok := x.text(it, "instance")
			switch {
			case !ok:
			case owner[s] != "":
				x.r.at(it, "list each service in one group", "%q is already an instance of %q", s, owner[s])
			default:
				owner[s] = group
				list = append(list, s)
				x.roles = append(x.roles, roleRef{s, it, "roles.instances." + group})
			}
		}
		if x.f.Roles.Instances == nil {
			x.f.Roles.Instances = map[string][]string{}
		}
		x.f.Roles.Instances[group] = list
	}
}

// buildMap reads x-okbreak.build: the images okbreak builds itself.
func (x *xdecoder) buildMap(n *yaml.Node) {
	for _, e := range x.names(n, "build") {
		fs := x.fields(e.val, fmt.Sprintf("in the build of %q", e.key.Value), buildXKeys)
		if fs == nil {
			continue
		}
		if len(fs) != 1 {
			x.r.at(e.key, "give one of go: ./cmd/x and dockerfile: ./folder", "the build of %q needs exactly one of go and dockerfile", e.key.Value)
			continue
		}
		b := Build{File: x.r.file, Line: e.key.Line, Col: e.key.Column}
		ok := false
		if g := fs["go"]; g != nil {
			b.Go, b.GoDir, ok = x.goPackage(g)
		} else {
			b.Dockerfile, ok = x.dockerfileDir(fs["dockerfile"])
		}
		x.builds[e.key.Value] = e.key
		if ok {
			if x.f.Builds == nil {
				x.f.Builds = map[string]Build{}
			}
			x.f.Builds[e.key.Value] = b
		}
	}
}

// goPackage reads a Go main package: a folder when it starts with . (as the
// go command tells them apart), else an import path.
func (x *xdecoder) goPackage(n *yaml.Node) (string, bool, bool) {
	s, ok := x.text(n, "go package")
	if !ok {
		return "", false, false
	}
	if s == "." || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") {
		raw, p, ok := x.relPath(n, "go package")
		return p, true, ok && x.fl.check(x.r, n, "go package folder", raw, p, true, "")
	}
	if err := module.CheckImportPath(s); err != nil {
		x.r.at(n, "write an import path (example.com/team/cmd/cart) or a folder starting with ./", "bad go package %q", s)
		return "", false, false
	}
	return s, false, true
}

func (x *xdecoder) dockerfileDir(n *yaml.Node) (string, bool) {
	raw, p, ok := x.relPath(n, "dockerfile folder")
	if !ok || !x.fl.check(x.r, n, "dockerfile folder", raw, p, true, "") {
		return "", false
	}
	if !x.fl.check(x.r, n, "Dockerfile", path.Join(filepath.ToSlash(raw), "Dockerfile"), x.fl.join(p, "Dockerfile"), false, "") {
		return "", false
	}
	return p, true
}
