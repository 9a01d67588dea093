package harness_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness"
)

func TestReadRulesTakesFilesFoldersAndGlobs(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("groups: []\n"), 0o644))
		return p
	}
	a, b := write("rules/a.yml"), write("rules/b.yaml")
	write("rules/README.md")
	write("rules/nested/c.yml")
	names := func(srcs []harness.Source) []string {
		var out []string
		for _, s := range srcs {
			out = append(out, filepath.Base(s.Name))
		}
		return out
	}

	got, err := harness.ReadRules(filepath.Join(dir, "rules"))
	require.NoError(t, err)
	require.Equal(t, []string{"a.yml", "b.yaml"}, names(got), "a folder: its own rule files, not a README, not a folder below")

	got, err = harness.ReadRules(filepath.Join(dir, "rules", "*"))
	require.NoError(t, err)
	require.Equal(t, []string{"a.yml", "b.yaml"}, names(got), "a glob: the rule files it matches")

	rel, err := filepath.Rel(mustWd(t), a)
	require.NoError(t, err)
	got, err = harness.ReadRules(a, rel, b, filepath.Join(dir, "rules"))
	require.NoError(t, err)
	require.Equal(t, []string{"a.yml", "b.yaml"}, names(got), "a file named twice is read once")

	for _, bad := range []string{filepath.Join(dir, "missing.yml"), filepath.Join(dir, "rules", "*.json"), filepath.Join(dir, "rules", "nested", "[")} {
		_, err := harness.ReadRules(bad)
		require.Error(t, err, bad)
	}
	_, err = harness.ReadRules()
	require.ErrorContains(t, err, "no file, folder or glob")
}

func mustWd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return wd
}
