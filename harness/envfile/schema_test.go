package envfile

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// schemaNode is the part of a JSON Schema the structural checks read.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Properties           map[string]*schemaNode `json:"properties"`
	AdditionalProperties any                    `json:"additionalProperties"`
	Items                *schemaNode            `json:"items"`
	Required             []string               `json:"required"`
	Enum                 []string               `json:"enum"`
	Pattern              string                 `json:"pattern"`
	PropertyNames        *schemaNode            `json:"propertyNames"`
	Default              any                    `json:"default"`
	DependentRequired    map[string][]string    `json:"dependentRequired"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

func loadSchema(t *testing.T) *schemaNode {
	t.Helper()
	b, err := os.ReadFile("../../fixtures/env.schema.json")
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", raw["$schema"])
	var s schemaNode
	require.NoError(t, json.Unmarshal(b, &s))
	return &s
}

// at follows a path of property names ("[]" for a list's items) from the
// root, resolving local $defs references.
func (s *schemaNode) at(t *testing.T, path ...string) *schemaNode {
	t.Helper()
	n := s
	for _, p := range append(path, "") {
		for n.Ref != "" {
			name, ok := strings.CutPrefix(n.Ref, "#/$defs/")
			require.True(t, ok, "only local $defs references: %s", n.Ref)
			require.Contains(t, s.Defs, name)
			n = s.Defs[name]
		}
		switch p {
		case "":
		case "[]":
			require.NotNil(t, n.Items, "items at %v", path)
			n = n.Items
		default:
			require.Contains(t, n.Properties, p, "path %v", path)
			n = n.Properties[p]
		}
	}
	return n
}

// The schema's objects have exactly the keys the parser reads, are closed
// as the parser is strict, and require what the parser requires.
func TestSchemaMatchesParser(t *testing.T) {
	s := loadSchema(t)
	for _, tc := range []struct {
		path           []string
		keys, required []string
	}{
		{nil, topKeys, topRequired},
		{[]string{"toxiproxies", "[]"}, toxiproxyKeys, toxiproxyKeys},
		{[]string{"links", "[]"}, linkKeys, linkKeys},
		{[]string{"probe"}, probeKeys, []string{"url"}},
		{[]string{"scrape", "[]"}, scrapeKeys, []string{"job", "instance", "url"}},
		{[]string{"alerts"}, alertsKeys, []string{"source"}},
		{[]string{"docker"}, dockerKeys, dockerKeys},
		{[]string{"docker", "containers", "[]"}, containerKeys, containerKeys},
		{[]string{"limits"}, limitsKeys, nil},
		{[]string{"halt"}, haltKeys, nil},
	} {
		o := s.at(t, tc.path...)
		assert.ElementsMatch(t, tc.keys, sortedKeys(o.Properties), "keys at %v", tc.path)
		assert.Equal(t, false, o.AdditionalProperties, "the object at %v is closed, as the parser is strict", tc.path)
		assert.ElementsMatch(t, tc.required, o.Required, "required at %v", tc.path)
	}
	assert.ElementsMatch(t, sources, s.at(t, "alerts", "source").Enum)
	assert.Equal(t, map[string][]string{"min_success": {"for"}, "for": {"min_success"}}, s.at(t, "halt").DependentRequired)
	// A default sits beside a $ref, which at would follow.
	d, _ := s.at(t, "limits").Properties["max_fault_duration"].Default.(string)
	if got, err := time.ParseDuration(d); err != nil || got != DefaultMaxFaultDuration {
		t.Errorf("max_fault_duration's default in the schema is %q, the parser's %s", d, DefaultMaxFaultDuration)
	}
	assert.Equal(t, float64(DefaultMaxTargets), s.at(t, "limits", "max_targets").Default)
	// Names are checked with the parser's own patterns.
	for _, tc := range []struct {
		path []string
		re   string
	}{
		{[]string{"name"}, envName.String()},
		{[]string{"toxiproxies", "[]", "name"}, envName.String()},
		{[]string{"links", "[]", "name"}, linkName.String()},
		{[]string{"links", "[]", "toxiproxy"}, envName.String()},
		{[]string{"links", "[]", "proxy"}, proxyName.String()},
		{[]string{"docker", "containers", "[]", "component"}, dockerName.String()},
		{[]string{"docker", "containers", "[]", "container"}, dockerName.String()},
	} {
		assert.Equal(t, tc.re, s.at(t, tc.path...).Pattern, "pattern at %v", tc.path)
	}
	assert.Equal(t, token.String(), s.at(t, "probe", "header").PropertyNames.Pattern)
	assert.Equal(t, labelName.String(), s.at(t, "scrape", "[]", "labels").PropertyNames.Pattern)
	assert.Equal(t, labelName.String(), s.at(t, "alerts", "page").PropertyNames.Pattern)
}

// Every key of the docs example is one the schema declares at that place.
func TestDocsExampleMatchesSchema(t *testing.T) {
	s := loadSchema(t)
	data, err := os.ReadFile(docsExample)
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc))
	seen := 0
	var walk func(n *yaml.Node, path []string)
	walk = func(n *yaml.Node, path []string) {
		o := s.at(t, path...)
		switch n.Kind {
		case yaml.DocumentNode:
			walk(n.Content[0], path)
		case yaml.MappingNode:
			if o.Properties == nil {
				return // free-form: header, labels, page
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if assert.Contains(t, o.Properties, k, "%v.%s (line %d) is not in the schema", path, k, n.Content[i].Line) {
					seen++
					walk(n.Content[i+1], append(path[:len(path):len(path)], k))
				}
			}
		case yaml.SequenceNode:
			for _, it := range n.Content {
				walk(it, append(path[:len(path):len(path)], "[]"))
			}
		}
	}
	walk(&doc, nil)
	assert.Greater(t, seen, 40, "the walk saw the example's keys")
}
