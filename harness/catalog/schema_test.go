package catalog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// schemaNode is the part of a JSON Schema the structural checks read.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Type                 any                    `json:"type"`
	Properties           map[string]*schemaNode `json:"properties"`
	AdditionalProperties any                    `json:"additionalProperties"`
	Items                *schemaNode            `json:"items"`
	AnyOf                []*schemaNode          `json:"anyOf"`
	OneOf                []*schemaNode          `json:"oneOf"`
	Enum                 []string               `json:"enum"`
	Required             []string               `json:"required"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

func loadSchema(t *testing.T) *schemaNode {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "catalog.schema.json"))
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", raw["$schema"])
	var s schemaNode
	require.NoError(t, json.Unmarshal(b, &s))
	return &s
}

// resolve follows a "#/$defs/x" reference.
func (s *schemaNode) resolve(t *testing.T, root *schemaNode) *schemaNode {
	t.Helper()
	if s.Ref == "" {
		return s
	}
	name, ok := strings.CutPrefix(s.Ref, "#/$defs/")
	require.True(t, ok, "only local $defs references: %s", s.Ref)
	d, ok := root.Defs[name]
	require.True(t, ok, "undefined %s", s.Ref)
	return d.resolve(t, root)
}

// objectBranch is the object schema of s, looking into anyOf/oneOf.
func (s *schemaNode) objectBranch(t *testing.T, root *schemaNode) *schemaNode {
	t.Helper()
	s = s.resolve(t, root)
	if s.Properties != nil || s.Type == "object" {
		return s
	}
	for _, b := range append(s.AnyOf, s.OneOf...) {
		if o := b.objectBranch(t, root); o != nil {
			return o
		}
	}
	return nil
}

func (s *schemaNode) arrayItems(t *testing.T, root *schemaNode) *schemaNode {
	t.Helper()
	s = s.resolve(t, root)
	if s.Items != nil {
		return s.Items
	}
	for _, b := range append(s.AnyOf, s.OneOf...) {
		if it := b.arrayItems(t, root); it != nil {
			return it
		}
	}
	return nil
}

func keys(m map[string]*schemaNode) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSchemaMatchesParser: the schema's objects have exactly the fields the
// parser knows, and are closed (additionalProperties: false) like the parser.
func TestSchemaMatchesParser(t *testing.T) {
	root := loadSchema(t)
	obj := func(path ...string) *schemaNode {
		s := root
		for _, p := range path {
			if p == "[]" {
				s = s.arrayItems(t, root)
				require.NotNil(t, s, "items at %v", path)
				continue
			}
			o := s.objectBranch(t, root)
			require.NotNil(t, o, "object at %v", path)
			require.Contains(t, o.Properties, p, "path %v", path)
			s = o.Properties[p]
		}
		o := s.objectBranch(t, root)
		require.NotNil(t, o, "object at %v", path)
		return o
	}
	for _, tt := range []struct {
		path   []string
		fields []string
	}{
		{nil, topFields},
		{[]string{"defaults"}, defaultsFields},
		{[]string{"defaults", "probe"}, probeFields},
		{[]string{"defaults", "slo"}, sloFields},
		{[]string{"defaults", "prometheus"}, prometheusFields},
		{[]string{"cases", "[]"}, caseFields},
		{[]string{"cases", "[]", "fault"}, faultFields},
		{[]string{"cases", "[]", "faults", "[]"}, faultsFields},
		{[]string{"cases", "[]", "mechanism"}, mechanismFields},
		{[]string{"cases", "[]", "expect"}, expectFields},
		{[]string{"cases", "[]", "expect", "slo"}, sloFields},
		{[]string{"cases", "[]", "expect", "alerts"}, alertsFields},
		{[]string{"cases", "[]", "provenance"}, provenanceFields},
	} {
		o := obj(tt.path...)
		assert.ElementsMatch(t, tt.fields, keys(o.Properties), "fields at %v", tt.path)
		assert.Equal(t, false, o.AdditionalProperties, "the object at %v is closed, as the parser is strict", tt.path)
	}
	assert.ElementsMatch(t, []string{"name", "class", "why", "duration"}, obj("cases", "[]").Required)
	var oneOf [][]string
	for _, b := range obj("cases", "[]").OneOf {
		oneOf = append(oneOf, b.Required)
	}
	assert.ElementsMatch(t, [][]string{{"fault"}, {"faults"}}, oneOf, "a case holds fault or faults, not both")
	assert.ElementsMatch(t, []string{string(OkToBreak), string(NotOK)}, obj("cases", "[]").Properties["class"].Enum)
	assert.ElementsMatch(t, knownRequires, obj("cases", "[]").Properties["requires"].Items.Enum)
	assert.ElementsMatch(t, fakeFaults{}.Types(), obj("cases", "[]", "fault").Properties["type"].Enum, "the fault types the fault package registers")
}

// TestFixtureMatchesSchema walks the fixture and checks every field it uses
// is one the schema declares at that place.
func TestFixtureMatchesSchema(t *testing.T) {
	root := loadSchema(t)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(readFixture(t), &doc))
	var walk func(n *yaml.Node, s *schemaNode, path string)
	seen := 0
	walk = func(n *yaml.Node, s *schemaNode, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			walk(n.Content[0], s, path)
		case yaml.MappingNode:
			o := s.objectBranch(t, root)
			require.NotNil(t, o, "%s: the fixture has a mapping where the schema has none", path)
			if o.Properties == nil {
				return // free-form: page_label, params
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				p, ok := o.Properties[k]
				if !assert.True(t, ok, "%s.%s (line %d) is not in the schema", path, k, n.Content[i].Line) {
					continue
				}
				seen++
				walk(n.Content[i+1], p, path+"."+k)
			}
		case yaml.SequenceNode:
			items := s.arrayItems(t, root)
			require.NotNil(t, items, "%s: the fixture has a list where the schema has none", path)
			for _, e := range n.Content {
				walk(e, items, path+"[]")
			}
		}
	}
	walk(&doc, root, "$")
	assert.Greater(t, seen, 100, "the walk saw the fixture's fields")
}
