package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func execute(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		out.WriteString(err.Error())
	}
	return out.String(), exitCode(err)
}

func TestBadInputExitsTwo(t *testing.T) {
	for _, args := range [][]string{
		{"up", "--data-plane", "nginx"},
		{"compose", "--data-plane", "auto"},
		{"up", "--no-such-flag"},
		{"no-such-command"},
		{"up", "extra-arg"},
	} {
		out, code := execute(t, args...)
		require.Equal(t, exitBadInput, code, "okbreak %v: %s", args, out)
		require.NotEmpty(t, out, "okbreak %v says nothing", args)
	}
}

func TestBadDataPlaneNamesTheValidOnes(t *testing.T) {
	out, _ := execute(t, "compose", "--data-plane", "nginx")
	require.Contains(t, out, "want envoy, grpc or auto")
}

func TestHelpListsTheCommands(t *testing.T) {
	out, code := execute(t, "--help")
	require.Equal(t, exitOK, code)
	for _, c := range []string{"up", "images", "compose"} {
		require.Contains(t, out, c)
	}
}

func TestRunRejectsBadInputBeforeTouchingDocker(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/catalog.yaml"
	require.NoError(t, os.WriteFile(bad, []byte("version: 1\ncases:\n  - name: x\n    class: ok-to-break\n    durration: 5m\n"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--time-scale", "0"}, "--time-scale"},
		{[]string{"run", "--only", "("}, "--only"},
		{[]string{"run", "--catalog", dir + "/missing.yaml"}, "missing.yaml"},
		{[]string{"run", "--catalog", bad, "--alerts", "../../fixtures/alerts"}, "catalog.yaml:5:5"},
		{[]string{"run", "--data-plane", "nginx"}, "want envoy, grpc or auto"},
	} {
		out, code := execute(t, tc.args...)
		require.Equal(t, exitBadInput, code, "okbreak %v: %s", tc.args, out)
		require.Contains(t, out, tc.want, "okbreak %v", tc.args)
	}
}
