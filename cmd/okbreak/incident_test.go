package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/incident"
)

// A scaffolded incident reads back, is listed as to do, and a second one of
// the same name is refused.
func TestIncidentNewThenList(t *testing.T) {
	dir := t.TempDir()
	out, code := execute(t, "incident", "new", "no-connect-retry", "--title", "No retry on failed connections", "--date", "2018-11-11", "--dir", dir)
	require.Zero(t, code, out)
	in, err := incident.Load(filepath.Join(dir, "no-connect-retry.yaml"))
	require.NoError(t, err)
	require.True(t, in.Identical(), "a scaffold's before and after are the same")
	require.Equal(t, "client->edge", in.Cases[0].Faults[0].Target[0], "the scaffolded case targets the stack's entry link")

	out, code = execute(t, "incident", "new", "etcd-away", "--title", "etcd away", "--date", "2019-02-01", "--case", "etcd-down-2h", "--dir", dir)
	require.Zero(t, code, out)
	out, code = execute(t, "incident", "list", dir)
	require.Zero(t, code, out)
	require.Contains(t, out, "no-connect-retry")
	require.Contains(t, out, "to do: identical")
	require.Contains(t, out, "etcd-down-2h")

	out, code = execute(t, "incident", "new", "etcd-away", "--title", "again", "--date", "2019-02-01", "--dir", dir)
	require.Equal(t, exitBadInput, code, out)
	require.Contains(t, out, "exists")
}

func TestIncidentBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"incident", "new", "Bad_Name", "--title", "t", "--date", "2018-11-11", "--dir", dir},
		{"incident", "new", "x", "--title", "t", "--date", "11/11/2018", "--dir", dir},
		{"incident", "new", "x", "--date", "2018-11-11", "--dir", dir},
		{"incident", "list", filepath.Join(dir, "missing")},
	} {
		out, code := execute(t, args...)
		require.Equal(t, exitBadInput, code, "okbreak %v: %s", args, out)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("version: 1\ntitle: t\ndate: someday\n"), 0o644))
	out, code := execute(t, "incident", "list", dir)
	require.Equal(t, exitBadInput, code, out)
	require.True(t, strings.Contains(out, "broken.yaml:3:7: bad date"), out)
}

// The repository's incidents list, from the checkout and from the binary.
func TestIncidentListShowsTheDefaultIncidents(t *testing.T) {
	out, code := execute(t, "incident", "list", "../../fixtures/incidents")
	require.Zero(t, code, out)
	for _, name := range []string{"data-plane-crash-in-stats", "etcd-away-for-hours", "control-plane-serves-incorrect-data"} {
		require.Contains(t, out, name)
	}
	t.Chdir(t.TempDir())
	embedded, code := execute(t, "incident", "list")
	require.Zero(t, code, embedded)
	require.Equal(t, out, embedded, "the binary carries the same incidents")
}
