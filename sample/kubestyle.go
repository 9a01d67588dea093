package sample

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness"
)

// KubePrometheusStyle rewrites inputs the way the ecosystem's most used rule
// sets (kube-prometheus, etcd-mixin) write rules: severity critical instead
// of page, a description and a runbook_url instead of a summary; and the
// catalog's page_label becomes {severity: critical}. Verdicts must not
// depend on okbreak's own house style: the scenarios run the catalog with
// both.
func KubePrometheusStyle(in harness.Inputs) (harness.Inputs, error) {
	const from, to = "page_label: {severity: page}", "page_label: {severity: critical}"
	if !bytes.Contains(in.Catalog.Data, []byte(from)) {
		return in, fmt.Errorf("%s: no %q to rewrite", in.Catalog.Name, from)
	}
	out := harness.Inputs{Catalog: harness.Source{
		Name: in.Catalog.Name + " (kube-prometheus style)",
		Data: bytes.Replace(in.Catalog.Data, []byte(from), []byte(to), 1),
	}}
	for _, r := range in.Rules {
		b, err := kubeStyleRules(r.Data)
		if err != nil {
			return in, fmt.Errorf("%s: %w", r.Name, err)
		}
		out.Rules = append(out.Rules, harness.Source{Name: r.Name + " (kube-prometheus style)", Data: b})
	}
	return out, nil
}

func kubeStyleRules(data []byte) ([]byte, error) {
	var doc struct {
		Groups []struct {
			Name  string           `yaml:"name"`
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	n := 0
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			name, ok := r["alert"].(string)
			if !ok {
				continue
			}
			labels, _ := r["labels"].(map[string]any)
			if labels["severity"] == "page" {
				labels["severity"] = "critical"
				n++
			}
			ann, _ := r["annotations"].(map[string]any)
			if ann == nil {
				ann = map[string]any{}
				r["annotations"] = ann
			}
			if _, ok := ann["description"]; !ok {
				ann["description"] = ann["summary"]
			}
			delete(ann, "summary")
			ann["runbook_url"] = "https://runbooks.example.invalid/okbreak/" + strings.ToLower(name)
		}
	}
	if n == 0 && bytes.Contains(data, []byte("severity: page")) {
		return nil, errors.New("no page rule rewritten")
	}
	return yaml.Marshal(doc)
}
