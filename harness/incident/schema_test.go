package incident

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// The editors' schema (fixtures/incident.schema.json) names the fields the
// parser reads, no more and no fewer.
func TestSchemaMatchesParser(t *testing.T) {
	b, err := os.ReadFile("../../fixtures/incident.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		Properties        map[string]*node    `json:"properties"`
		Required          []string            `json:"required"`
		Ref               string              `json:"$ref"`
		Items             *node               `json:"items"`
		Pattern           string              `json:"pattern"`
		DependentRequired map[string][]string `json:"dependentRequired"`
	}
	var s node
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	keys := func(n *node) []string {
		var out []string
		for k := range n.Properties {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	for _, tc := range []struct {
		where string
		n     *node
		want  []string
	}{
		{"top level", &s, topFields},
		{"provenance", s.Properties["provenance"], provenanceFields},
		{"expect_before", s.Properties["expect_before"], expectFields},
	} {
		if tc.n == nil || !slices.Equal(keys(tc.n), sorted(tc.want)) {
			t.Errorf("%s: schema has %v, the parser reads %v", tc.where, keys(tc.n), sorted(tc.want))
		}
	}
	if got := sorted(s.Properties["provenance"].Required); !slices.Equal(got, sorted(provenanceFields)) {
		t.Errorf("provenance requires %v, the parser %v", got, sorted(provenanceFields))
	}
	if got := s.Properties["cases"]; got == nil {
		t.Error("no cases in the schema")
	}
	// Editors check a change's syntax with the parser's own pattern, and
	// know that changes need before and after.
	if c := s.Properties["changes"]; c == nil || c.Items == nil || c.Items.Pattern != changeSyntax.String() {
		t.Errorf("changes' item pattern in the schema is not the parser's %s", changeSyntax)
	}
	if got := s.DependentRequired["changes"]; !slices.Equal(sorted(got), []string{"after", "before"}) {
		t.Errorf("changes requires %v in the schema, want before and after", got)
	}
}
