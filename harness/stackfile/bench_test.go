package stackfile

import (
	"context"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/tree"
)

// BenchmarkLoad reads, parses and checks the realistic stack: the YAML
// walk, two compose-go loads (interpolated and raw), x-okbreak and the
// cross checks, with the file checks they do on disk.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(context.Background(), "testdata/ok/shop.yaml", Options{Env: shopEnv()}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSupportedKeysAreCompose keeps the supported subset a subset: every
// key the walk accepts must be one the Compose Specification (as the
// compose-go in go.mod embeds it) declares at that place.
func TestSupportedKeysAreCompose(t *testing.T) {
	m := tree.NewMatcher(schema.AttributePaths()...)
	groups := []struct {
		ctx  string
		keys []string
	}{
		{"", topKeys},
		{"services.*", serviceKeys},
		{"services.*.build", buildKeys},
		{"services.*.ports.[]", portKeys},
		{"services.*.volumes.[]", volumeKeys},
		{"services.*.configs.[]", serviceCfgKeys},
		{"services.*.depends_on.*", dependsOnKeys},
		{"services.*.healthcheck", healthcheckKeys},
		{"configs.*", configKeys},
	}
	for _, g := range groups {
		for _, k := range g.keys {
			p := tree.NewPath(k)
			if g.ctx != "" {
				p = tree.Path(g.ctx).Next(k)
			}
			if !m.Matches(p) {
				t.Errorf("%s is not a Compose attribute", p)
			}
		}
	}
	// And the check can fail: a key Compose does not have.
	if m.Matches("services.*.imagee") || !slices.Contains(serviceKeys, "image") {
		t.Errorf("matcher accepts anything")
	}
}
