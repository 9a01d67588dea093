package envfile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	alertsKeys = []string{"source", "rules", "prometheus", "alertmanager", "page"}
	sources    = []string{string(SourceEngine), string(SourcePrometheus), string(SourceAlertmanager)}
)

// alerts reads where alerts come from. Each source needs its own input:
// rules for the engine, a URL for the others.
func (p *parser) alerts(n *yaml.Node) {
	o := p.fields(n, "alerts", alertsKeys)
	if o == nil || !p.need(o, "alerts", "write source: engine (okbreak evaluates rules), prometheus or alertmanager", "source") {
		return
	}
	a := &p.env.Alerts
	a.Page = map[string]string{"severity": "page"}
	if s, ok := p.text(o.val["source"], "alerts source", "write source: "+strings.Join(sources, ", ")); ok {
		if !slices.Contains(sources, s) {
			p.r.at(o.val["source"], suggest(s, sources)+"write one of "+strings.Join(sources, ", "), "unknown alerts source %q", s)
		} else {
			a.Source, p.sourceNode = Source(s), o.val["source"]
		}
	}
	if v := o.val["prometheus"]; v != nil {
		a.Prometheus, _ = p.url(v, "alerts prometheus", baseURL)
	}
	if v := o.val["alertmanager"]; v != nil {
		a.Alertmanager, _ = p.url(v, "alerts alertmanager", baseURL)
	}
	switch {
	case a.Source == SourcePrometheus && o.val["prometheus"] == nil:
		p.r.at(o.val["source"], "add prometheus: http://127.0.0.1:9090 under alerts", "alerts source prometheus needs alerts.prometheus, the Prometheus to ask")
	case a.Source == SourceAlertmanager && o.val["alertmanager"] == nil:
		p.r.at(o.val["source"], "add alertmanager: http://127.0.0.1:9093 under alerts", "alerts source alertmanager needs alerts.alertmanager, the Alertmanager to ask")
	}
	switch {
	case a.Source == SourceEngine && o.val["rules"] == nil:
		p.r.at(o.val["source"], "add rules: [rules/*.yml], paths relative to this file", "alerts source engine needs rules, the rule files to evaluate")
	case o.val["rules"] != nil:
		// With prometheus or alertmanager the environment evaluates its
		// own rules; the files, when given, let okbreak check that every
		// alert the catalog expects exists in them.
		p.rulePatterns(o.val["rules"])
	}
	if v := o.val["page"]; v != nil {
		if page := p.stringMap(v, "alerts page", "write page: {severity: page}", p.pageLabel); len(page) > 0 {
			a.Page = page
		}
	}
}

func (p *parser) pageLabel(k *yaml.Node) bool {
	if !labelName.MatchString(k.Value) {
		p.r.at(k, "write a Prometheus label name such as severity", "bad label name %q", k.Value)
		return false
	}
	return true
}

// rulePatterns reads alerts.rules: globs relative to the file's folder,
// checked for syntax here and against the disk by Load.
func (p *parser) rulePatterns(n *yaml.Node) {
	const fix = "write rules: [rules/*.yml], paths or globs relative to this file"
	for _, it := range p.list(n, "rules", fix) {
		s, ok := p.text(it, "a rule pattern", fix)
		if !ok {
			continue
		}
		if _, err := filepath.Match(s, ""); err != nil {
			p.r.at(it, "globs use *, ? and [a-z]; ** is not supported", "bad rule pattern %q: %v", s, err)
			continue
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(p.env.Dir, filepath.FromSlash(s))
		}
		p.env.Alerts.Rules = append(p.env.Alerts.Rules, s)
		p.rules = append(p.rules, it)
	}
}

// ruleFiles expands the rule patterns on disk: each must match a file.
func (p *parser) ruleFiles() {
	seen := map[string]bool{}
	for i, pat := range p.env.Alerts.Rules {
		at := p.rules[i]
		matches, err := filepath.Glob(pat)
		if err != nil {
			p.r.at(at, "globs use *, ? and [a-z]", "bad rule pattern %q: %v", at.Value, err)
			continue
		}
		files := 0
		for _, m := range matches {
			if st, err := os.Stat(m); err != nil || st.IsDir() {
				continue
			}
			files++
			if !seen[m] {
				seen[m] = true
				p.env.Alerts.RuleFiles = append(p.env.Alerts.RuleFiles, m)
			}
		}
		if files == 0 {
			p.r.at(at, fmt.Sprintf("check the path: it is relative to this file's folder (%s)", p.env.Dir), "rule pattern %q matches no file", at.Value)
		}
	}
	slices.Sort(p.env.Alerts.RuleFiles)
}
