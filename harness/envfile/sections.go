package envfile

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	toxiproxyKeys = []string{"name", "api"}
	linkKeys      = []string{"name", "toxiproxy", "proxy"}
	probeKeys     = []string{"url", "path", "host", "header", "expect_instances"}
	scrapeKeys    = []string{"job", "instance", "url", "labels"}
)

// toxiproxyList reads toxiproxies: names and APIs, each declared once.
func (p *parser) toxiproxyList(n *yaml.Node) {
	const fix = "list them: - {name: tp-1, api: http://127.0.0.1:8474}"
	apis := map[string]*yaml.Node{}
	for _, it := range p.list(n, "toxiproxies", fix) {
		o := p.fields(it, "a toxiproxy", toxiproxyKeys)
		if o == nil || !p.need(o, "a toxiproxy", fix, toxiproxyKeys...) {
			continue
		}
		name, okName := p.name(o.val["name"], "toxiproxy name", envName, "tp-1")
		api, okAPI := p.url(o.val["api"], "toxiproxy api", baseURL)
		if okName {
			if prev := p.toxiproxies[name]; prev != nil {
				p.r.at(o.val["name"], fmt.Sprintf("keep one: it is first declared at line %d", prev.Line), "toxiproxy %q declared twice", name)
				okName = false
			} else {
				// Registered even when the API is bad, so that links
				// naming it are not also reported.
				p.toxiproxies[name] = o.val["name"]
			}
		}
		if okAPI {
			if prev := apis[api]; prev != nil {
				p.r.at(o.val["api"], fmt.Sprintf("declare each Toxiproxy once (first at line %d) and name that one in links", prev.Line), "toxiproxy api %s declared twice", api)
				okAPI = false
			} else {
				apis[api] = o.val["api"]
			}
		}
		if okName && okAPI {
			p.env.Toxiproxies = append(p.env.Toxiproxies, Toxiproxy{Name: name, API: api, Pos: pos(it)})
		}
	}
}

// linkList reads links: each link once, on a declared Toxiproxy, and each
// proxy carrying one link.
func (p *parser) linkList(n *yaml.Node) {
	const fix = "list them: - {name: edge->backend-1, toxiproxy: tp-1, proxy: edge_backend-1}"
	names := map[string]*yaml.Node{}
	proxies := map[[2]string]*yaml.Node{}
	for _, it := range p.list(n, "links", fix) {
		o := p.fields(it, "a link", linkKeys)
		if o == nil || !p.need(o, "a link", fix, linkKeys...) {
			continue
		}
		name, ok1 := p.name(o.val["name"], "link name", linkName, "edge->backend-1")
		tp, ok2 := p.name(o.val["toxiproxy"], "toxiproxy name", envName, "tp-1")
		proxy, ok3 := p.name(o.val["proxy"], "proxy name", proxyName, "edge_backend-1")
		if ok1 && names[name] != nil {
			p.r.at(o.val["name"], fmt.Sprintf("keep one: it is first declared at line %d", names[name].Line), "link %q declared twice", name)
			ok1 = false
		} else if ok1 {
			names[name] = o.val["name"]
		}
		if ok2 && p.toxiproxies[tp] == nil && len(p.toxiproxies) > 0 {
			declared := sortedKeys(p.toxiproxies)
			p.r.at(o.val["toxiproxy"], suggest(tp, declared)+"name one of toxiproxies ("+strings.Join(declared, ", ")+"), or declare it there", "link %q names toxiproxy %q, which toxiproxies does not declare", name, tp)
			ok2 = false
		}
		if key := [2]string{tp, proxy}; ok2 && ok3 && proxies[key] != nil {
			p.r.at(o.val["proxy"], fmt.Sprintf("a proxy carries one link: it is already given at line %d", proxies[key].Line), "proxy %q of toxiproxy %q given to two links", proxy, tp)
			ok3 = false
		} else if ok2 && ok3 {
			proxies[key] = o.val["proxy"]
		}
		if ok1 && ok2 && ok3 {
			p.env.Proxies = append(p.env.Proxies, Link{Name: name, Toxiproxy: tp, Proxy: proxy, Pos: pos(it)})
		}
	}
}

// probe reads where users' traffic enters.
func (p *parser) probe(n *yaml.Node) {
	o := p.fields(n, "probe", probeKeys)
	if o == nil || !p.need(o, "probe", "give the entry: url: http://127.0.0.1:10000", "url") {
		return
	}
	pr := Probe{Path: "/", Pos: pos(n)}
	pr.URL, _ = p.url(o.val["url"], "probe url", originURL)
	if v := o.val["path"]; v != nil {
		pr.Path = p.probePath(v)
	}
	if v := o.val["host"]; v != nil {
		pr.Host = p.hostHeader(v)
	}
	if v := o.val["header"]; v != nil {
		pr.Header = p.header(v)
	}
	if v := o.val["expect_instances"]; v != nil {
		pr.ExpectInstances = p.names(v, "expect_instances", "list the instances the entry must answer from: [backend-1, backend-2]")
	}
	pr.Target = pr.URL + pr.Path
	p.env.Probe = pr
}

// header reads probe.header. Header names are case-insensitive, so two
// spellings of one name are the same header set twice.
func (p *parser) header(n *yaml.Node) map[string]string {
	seen := map[string]*yaml.Node{}
	return p.stringMap(n, "probe header", `write header: {x-probe: "1"}`, func(k *yaml.Node) bool {
		lower := strings.ToLower(k.Value)
		switch {
		case !token.MatchString(k.Value):
			p.r.at(k, "write a header name such as x-probe", "bad header name %q", k.Value)
		case lower == "host":
			p.r.at(k, "write it as probe.host", "the Host header is set by probe.host, not in header")
		case seen[lower] != nil && seen[lower].Value != k.Value:
			p.r.at(k, fmt.Sprintf("keep one: header names ignore case, and %q is at line %d", seen[lower].Value, seen[lower].Line), "header %q set twice in probe header", k.Value)
		default:
			seen[lower] = k
			return true
		}
		return false
	})
}

func (p *parser) probePath(n *yaml.Node) string {
	const fix = "write a path starting with /, e.g. /healthz or /search?q=x"
	s, ok := p.text(n, "probe path", fix)
	if !ok {
		return "/"
	}
	u, err := url.Parse(s)
	if err != nil || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || u.Fragment != "" || strings.Contains(s, "#") {
		p.r.at(n, fix, "bad probe path %q", s)
		return "/"
	}
	return s
}

// hostHeader reads probe.host, where empty (as in `host: ""`) means the
// URL's own host.
func (p *parser) hostHeader(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Tag == "!!str" && n.Value == "") {
		return ""
	}
	s, ok := p.text(n, "probe host", "write a host name such as shop.example.com, or leave host out")
	if ok && (strings.ContainsAny(s, " /?#@") || strings.Contains(s, "://")) {
		p.r.at(n, "write the host name only, with a port if needed: shop.example.com:8080", "bad probe host %q", s)
		return ""
	}
	return s
}

// scrapeSection checks that scrape targets come with source engine, the
// only one that reads them, and reads them.
func (p *parser) scrapeSection(top *object) {
	v, src := top.val["scrape"], p.env.Alerts.Source
	switch {
	case v == nil && src == SourceEngine:
		p.r.at(p.sourceNode, "add scrape: - {job: backend, instance: backend-1, url: http://127.0.0.1:9101/metrics}", "alerts source engine needs scrape targets: the rule engine reads only what it scrapes")
	case v != nil && src != "" && src != SourceEngine:
		p.r.at(top.key["scrape"], "remove scrape, or set alerts.source: engine", "scrape is read only with alerts source engine, not %s", src)
	case v != nil:
		p.scrape(v)
	}
}

func (p *parser) scrape(n *yaml.Node) {
	const fix = "list them: - {job: backend, instance: backend-1, url: http://127.0.0.1:9101/metrics}"
	seen := map[[2]string]*yaml.Node{}
	for _, it := range p.list(n, "scrape", fix) {
		o := p.fields(it, "a scrape target", scrapeKeys)
		if o == nil || !p.need(o, "a scrape target", fix, "job", "instance", "url") {
			continue
		}
		job, ok1 := p.text(o.val["job"], "job", "write the job, e.g. job: backend")
		inst, ok2 := p.text(o.val["instance"], "instance", "write the instance, e.g. instance: backend-1")
		u, ok3 := p.url(o.val["url"], "scrape url", fullURL)
		var labels map[string]string
		if v := o.val["labels"]; v != nil {
			labels = p.stringMap(v, "labels", "write labels: {zone: a}", p.extraLabel)
		}
		if key := [2]string{job, inst}; ok1 && ok2 && seen[key] != nil {
			p.r.at(it, fmt.Sprintf("keep one: it is first given at line %d", seen[key].Line), "scrape target job %q instance %q given twice", job, inst)
			ok1 = false
		} else if ok1 && ok2 {
			seen[key] = it
		}
		if ok1 && ok2 && ok3 {
			p.env.Scrape = append(p.env.Scrape, ScrapeTarget{Job: job, Instance: inst, URL: u, Labels: labels, Pos: pos(it)})
		}
	}
}

// extraLabel checks the name of a scrape target's extra label: job and
// instance have fields of their own, and __ names are Prometheus's.
func (p *parser) extraLabel(k *yaml.Node) bool {
	switch {
	case !labelName.MatchString(k.Value):
		p.r.at(k, "write a Prometheus label name: letters, digits and _, not starting with a digit", "bad label name %q", k.Value)
	case k.Value == "job" || k.Value == "instance":
		p.r.at(k, "write it as the target's "+k.Value+": field", "label %q set in labels", k.Value)
	case strings.HasPrefix(k.Value, "__"):
		p.r.at(k, "rename it: names starting with __ are reserved to Prometheus", "reserved label name %q", k.Value)
	default:
		return true
	}
	return false
}

// sortedKeys returns a map's keys in order, for messages that list them.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
