package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/stack"
)

const incidentHead = `version: 1
title: t
date: 2018-11-11
provenance: {summary: s, link: l, broke: b, detected: d, remediation: r, source: s}
`

// Every mistake is found before Docker is touched: exit 2, and an
// incident file's mistake names the file and line.
func TestRunIncidentsBadInputExitsTwo(t *testing.T) {
	broken := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, "broken.yaml"), []byte("version: 1\ntitle: t\ndate: someday\n"), 0o644))
	overlay := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(overlay, "adds-a-service.yaml"), []byte(incidentHead+
		"case: etcd-down-2h\nbefore:\n  services:\n    nosuch: {image: x}\nafter: {services: {}}\nexpect_before: {alert_not_fired: EtcdDownTooLong}\n"), 0o644))
	unknown := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(unknown, "unknown-case.yaml"), []byte(incidentHead+"case: no-such-case\n"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--incidents", broken}, "broken.yaml:3:7: bad date"},
		{[]string{"run", "--incidents", overlay, "--data-plane", "grpc"}, "adds-a-service.yaml:8:"},
		{[]string{"run", "--incidents", unknown, "--data-plane", "grpc"}, `unknown-case.yaml: case "no-such-case" is not in the catalog`},
		{[]string{"run", "--incidents", t.TempDir()}, "no incident files"},
		{[]string{"run", "--incidents", filepath.Join(broken, "missing")}, "missing"},
		{[]string{"run", "--incidents", "--incident", "no-such-incident", "--data-plane", "grpc"}, "matches no incident; incidents: "},
		{[]string{"run", "--incidents", "--incident", "("}, "--incident"},
		{[]string{"run", "--incidents", "--only", "etcd"}, "--only selects catalog cases"},
		{[]string{"run", "--incidents", "--json"}, "--json"},
		{[]string{"run", "--incidents", "--catalog", "c.yaml"}, "--catalog and --alerts"},
		{[]string{"run", "--incidents", "--time-scale", "0"}, "--time-scale"},
		{[]string{"run", "--incidents", "--data-plane", "nginx"}, "want envoy, grpc or auto"},
		{[]string{"run", "--incidents", "a", "b"}, "one folder at most"},
		{[]string{"run", "somewhere"}, "after --incidents"},
		{[]string{"run", "--incident", "etcd"}, "add --incidents"},
	} {
		out, code := execute(t, tc.args...)
		require.Equal(t, exitBadInput, code, "okbreak %v: %s", tc.args, out)
		require.Contains(t, out, tc.want, "okbreak %v", tc.args)
	}
}

func TestRunHelpShowsIncidents(t *testing.T) {
	out, code := execute(t, "run", "--help")
	require.Equal(t, exitOK, code, out)
	for _, want := range []string{
		"run [--incidents [DIR]]",
		"okbreak run --incidents --incident etcd-away-for-hours --data-plane grpc",
		"--incidents ",
		"--incident string",
		"before must fail as its expect_before says",
	} {
		require.True(t, strings.Contains(out, want), "run --help lacks %q:\n%s", want, out)
	}
}

// Incidents read from a folder on disk and laid over the embedded default
// stack find the files their overlays name beside them (a seed), and an
// error names the file as the user wrote its folder.
func TestIncidentsFromDiskOverTheEmbeddedStack(t *testing.T) {
	for _, dp := range []stack.DataPlane{stack.GRPC, stack.Envoy} {
		r := incidentRun{dir: "../../fixtures/incidents", dataPlane: string(dp), scale: 240}
		suite, ins, err := r.load(context.Background(), dp)
		require.NoError(t, err, "data plane %s", dp)
		require.NotEmpty(t, ins)
		for _, in := range suite.Incidents {
			require.NoError(t, suite.Check(context.Background(), in), "%s on %s", in.Name, dp)
		}
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seeded.yaml"), []byte(incidentHead+
		"case: etcd-down-2h\nbefore:\n  x-okbreak: {seed: nosuch.json}\nafter: {services: {}}\nexpect_before: {alert_not_fired: EtcdDownTooLong}\n"), 0o644))
	out, code := execute(t, "run", "--incidents", dir, "--data-plane", "grpc")
	require.Equal(t, exitBadInput, code, out)
	require.Contains(t, out, "nosuch.json")
	require.Contains(t, out, "seeded.yaml")
}

// A folder from disk takes the embedded incidents' place and nothing
// else's: the default stack's files stay readable beside it.
func TestMountIncidentsReplacesOnlyTheIncidents(t *testing.T) {
	base := fstest.MapFS{"alerts/common.yml": {Data: []byte("groups: []")}, "incidents/old.yaml": {Data: []byte("old")}}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("x"), 0o644))
	fsys := mountIncidents(base, dir, "incidents")
	b, err := fs.ReadFile(fsys, "incidents/x.yaml")
	require.NoError(t, err)
	require.Equal(t, "x", string(b))
	_, err = fs.ReadFile(fsys, "incidents/old.yaml")
	require.Error(t, err, "the embedded incidents are replaced")
	b, err = fs.ReadFile(fsys, "alerts/common.yml")
	require.NoError(t, err, "the embedded files stay readable")
	require.Equal(t, "groups: []", string(b))
}
