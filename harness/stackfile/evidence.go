package stackfile

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// evidenceList reads x-okbreak.evidence: the HTTP endpoints whose answers a
// failed case keeps. Whether the component and port exist is checked with
// the services (see checker.evidence), once the files are merged.
func (x *xdecoder) evidenceList(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		x.r.at(n, "list the endpoints: - {name: data_plane_config, component: edge, port: 9901, path: /config_dump}", "evidence must be a list, not %s", describe(n))
		return
	}
	first := map[string]*yaml.Node{}
	for _, it := range n.Content {
		fs := x.fields(it, "in an evidence endpoint", evidenceKeys)
		if fs == nil {
			continue
		}
		e, nodes, ok := x.evidence1(it, fs)
		if !ok {
			continue
		}
		if prev, dup := first[e.Name]; dup {
			// The answers are kept by name: a second would overwrite the first.
			x.r.at(fs["name"], fmt.Sprintf("give each endpoint a name of its own; the first is at line %d", prev.Line), "evidence %q named twice", e.Name)
			continue
		}
		first[e.Name] = fs["name"]
		x.f.Evidence = append(x.f.Evidence, e)
		x.evidence = append(x.evidence, nodes)
	}
}

// evidence1 reads one evidence endpoint; its path defaults to /, as a
// ready endpoint's does.
func (x *xdecoder) evidence1(it *yaml.Node, fs map[string]*yaml.Node) (Evidence, evidenceNodes, bool) {
	e := Evidence{Path: "/", File: x.r.file, Line: it.Line, Col: it.Column}
	nodes := evidenceNodes{component: fs["component"], port: fs["port"]}
	if fs["name"] == nil || nodes.component == nil || nodes.port == nil {
		x.r.at(it, "give {name: data_plane_config, component: edge, port: 9901, path: /config_dump}", "an evidence endpoint needs name, component and port")
		return e, nodes, false
	}
	var ok [4]bool
	if e.Name, ok[0] = x.text(fs["name"], "evidence name"); ok[0] && !composeName.MatchString(e.Name) {
		// Names key the answers in reports, and may become file names.
		x.r.at(fs["name"], "use letters, digits, '.', '_' and '-', e.g. data_plane_config", "bad evidence name %q", e.Name)
		ok[0] = false
	}
	e.Component, ok[1] = x.text(nodes.component, "evidence component")
	e.Port, ok[2] = x.number(nodes.port, "evidence port", 1, 65535)
	ok[3] = true
	if p := fs["path"]; p != nil {
		if e.Path, ok[3] = x.text(p, "evidence path"); ok[3] && !strings.HasPrefix(e.Path, "/") {
			x.r.at(p, "start the path with /, e.g. /config_dump", "bad evidence path %q", e.Path)
			ok[3] = false
		}
	}
	return e, nodes, ok == [4]bool{true, true, true, true}
}
