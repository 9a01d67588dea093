package xdsbootstrap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/internal/sample/xdsbootstrap"
)

const good = `{
  "xds_servers": [{"server_uri": "toxiproxy:10001", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
  "node": {"id": "edge", "cluster": "edge", "locality": {"zone": "z"}}
}`

func TestValidateAcceptsGoodBootstraps(t *testing.T) {
	for _, b := range []string{
		good,
		strings.Replace(good, "toxiproxy:10001", "dns:///control-plane:18000", 1),
		strings.Replace(good, `[{"type": "insecure"}]`, `[{"type": "mtls-of-the-future"}, {"type": "insecure"}]`, 1),
		strings.Replace(good, `"node"`, `"authorities": {"a": {}}, "node"`, 1),
	} {
		assert.NoError(t, xdsbootstrap.Validate([]byte(b)), b)
	}
}

func TestValidateRejectsBadBootstraps(t *testing.T) {
	for _, tc := range []struct{ contents, reason string }{
		{``, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`[1]`, "not a JSON object"},
		{strings.Replace(good, `"id": "edge"`, `"id": " "`, 1), "node.id is empty"},
		{`{"xds_servers": [{"server_uri": "a:1", "channel_creds": [{"type": "insecure"}]}]}`, "node is missing"},
		{`{"node": {"id": "x"}}`, "xds_servers is missing"},
		{strings.Replace(good, "toxiproxy:10001", "", 1), "server_uri: is empty"},
		{strings.Replace(good, "toxiproxy:10001", ":10001", 1), "has no host"},
		{strings.Replace(good, "toxiproxy:10001", "toxiproxy:http", 1), "no valid port"},
		{strings.Replace(good, "toxiproxy:10001", "toxiproxy:70000", 1), "no valid port"},
		{strings.Replace(good, `[{"type": "insecure"}]`, `[]`, 1), "channel_creds is empty"},
		{strings.Replace(good, `"insecure"`, `"Insecure"`, 1), `no type gRPC knows: "Insecure"`},
		{strings.Replace(good, `"node"`, `"xds_server": [], "node"`, 1), `unknown top-level field(s) "xds_server"`},
		{strings.Replace(good, `"node"`, `"authorities": {"a": {"xds_servers": []}}, "node"`, 1), `authorities["a"].xds_servers is empty`},
	} {
		err := xdsbootstrap.Validate([]byte(tc.contents))
		if assert.Error(t, err, tc.contents) {
			assert.Contains(t, err.Error(), tc.reason, tc.contents)
		}
	}
}

func TestLoadNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"node": {}}`), 0o600))
	_, err := xdsbootstrap.Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	require.NoError(t, os.WriteFile(path, []byte(good), 0o600))
	got, err := xdsbootstrap.Load(path)
	require.NoError(t, err)
	assert.Equal(t, good, string(got))
}

func TestInEffectAndExecEnv(t *testing.T) {
	contents := []byte(good)
	env := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	assert.False(t, xdsbootstrap.InEffect(contents, env(nil)))
	assert.True(t, xdsbootstrap.InEffect(contents, env(map[string]string{xdsbootstrap.EnvContents: good})))

	dir := t.TempDir()
	same, other := filepath.Join(dir, "same.json"), filepath.Join(dir, "other.json")
	require.NoError(t, os.WriteFile(same, contents, 0o600))
	require.NoError(t, os.WriteFile(other, []byte(`{}`), 0o600))
	assert.True(t, xdsbootstrap.InEffect(contents, env(map[string]string{xdsbootstrap.EnvFile: same})))
	// gRPC prefers the file: contents in the other variable do not count.
	assert.False(t, xdsbootstrap.InEffect(contents, env(map[string]string{xdsbootstrap.EnvFile: other, xdsbootstrap.EnvContents: good})))

	out := xdsbootstrap.ExecEnv([]string{"A=1", "GRPC_XDS_BOOTSTRAP=/x", "GRPC_XDS_BOOTSTRAP_CONFIG=old", "B=2=3"}, contents)
	assert.Equal(t, []string{"A=1", "B=2=3", "GRPC_XDS_BOOTSTRAP_CONFIG=" + good}, out)
}

func TestServerURIIsTheFirstServersHostPort(t *testing.T) {
	for _, tc := range []struct{ uri, want string }{
		{"toxiproxy:10001", "toxiproxy:10001"},
		{"dns:///control-plane:18000", "control-plane:18000"},
		{"passthrough:///127.0.0.1:18000", "127.0.0.1:18000"},
		{"[::1]:18000", "[::1]:18000"},
	} {
		b := strings.Replace(good, "toxiproxy:10001", tc.uri, 1)
		require.NoError(t, xdsbootstrap.Validate([]byte(b)), b)
		got, err := xdsbootstrap.ServerURI([]byte(b))
		if assert.NoError(t, err, tc.uri) {
			assert.Equal(t, tc.want, got, tc.uri)
		}
	}
	// Only the first server counts: it is the one gRPC talks to.
	two := strings.Replace(good, `[{"server_uri": "toxiproxy:10001"`,
		`[{"server_uri": "dns:///first:1", "channel_creds": [{"type": "insecure"}]}, {"server_uri": "second:2"`, 1)
	require.NoError(t, xdsbootstrap.Validate([]byte(two)), two)
	got, err := xdsbootstrap.ServerURI([]byte(two))
	require.NoError(t, err)
	assert.Equal(t, "first:1", got)
}

func TestServerURIRejectsBootstrapsWithoutAServer(t *testing.T) {
	for _, tc := range []struct{ contents, reason string }{
		{strings.Replace(good, `[{"server_uri": "toxiproxy:10001", "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}]`, `[]`, 1), "xds_servers is empty"},
		{`{"node": {"id": "x"}}`, "xds_servers is empty"},
		{`{"xds_servers": [`, "unexpected end of JSON input"},
		{``, "unexpected end of JSON input"},
		{`{"xds_servers": {"server_uri": "a:1"}}`, "cannot unmarshal"},
	} {
		got, err := xdsbootstrap.ServerURI([]byte(tc.contents))
		if assert.Error(t, err, tc.contents) {
			assert.Contains(t, err.Error(), tc.reason, tc.contents)
		}
		assert.Empty(t, got, tc.contents)
	}
}
