package cli_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/internal/sample/cli"
)

func TestParseTLSFlags(t *testing.T) {
	assert.Equal(t, "OKBREAK_TLS", cli.EnvName("tls"))
	assert.Equal(t, "OKBREAK_BACKEND_TLS", cli.EnvName("backend-tls"))
	assert.Equal(t, "OKBREAK_TLS_SESSION_CACHE", cli.EnvName("tls-session-cache"))

	o, err := cli.Parse([]string{"--role", "backend"}, env(nil))
	require.NoError(t, err)
	assert.False(t, o.TLS, "plaintext only by default")
	o, err = cli.Parse([]string{"--role", "backend", "--tls"}, env(nil))
	require.NoError(t, err)
	assert.True(t, o.TLS)
	o, err = cli.Parse([]string{"--role", "backend"}, env(map[string]string{"OKBREAK_TLS": "true"}))
	require.NoError(t, err)
	assert.True(t, o.TLS, "set from the environment")
	o, err = cli.Parse([]string{"--role", "backend", "--tls=false"}, env(map[string]string{"OKBREAK_TLS": "true"}))
	require.NoError(t, err)
	assert.False(t, o.TLS, "the flag wins over the environment")

	o, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json"}, env(nil))
	require.NoError(t, err)
	assert.False(t, o.Frontend.BackendTLS, "plaintext to the backends by default")
	assert.Zero(t, o.Frontend.TLSSessionCache, "no session cache by default: Go's default, the configuration of the day")

	o, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json", "--backend-tls", "--tls-session-cache=64"},
		env(map[string]string{"OKBREAK_TLS_SESSION_CACHE": "8"}))
	require.NoError(t, err)
	assert.True(t, o.Frontend.BackendTLS)
	assert.Equal(t, 64, o.Frontend.TLSSessionCache, "the flag wins over the environment")
	o, err = cli.Parse([]string{"--role", "frontend", "--bootstrap", "/b.json"},
		env(map[string]string{"OKBREAK_BACKEND_TLS": "true", "OKBREAK_TLS_SESSION_CACHE": "8", "OKBREAK_TLS": "not a bool"}))
	require.NoError(t, err, "a backend-only variable does not concern a frontend")
	assert.True(t, o.Frontend.BackendTLS)
	assert.Equal(t, 8, o.Frontend.TLSSessionCache)

	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--role", "frontend", "--bootstrap", "b", "--tls"}, nil, "--tls does not apply to role frontend"},
		{[]string{"--role", "backend", "--backend-tls"}, nil, "--backend-tls does not apply to role backend"},
		{[]string{"--role", "backend", "--tls-session-cache", "4"}, nil, "--tls-session-cache does not apply to role backend"},
		{[]string{"--role", "backend"}, map[string]string{"OKBREAK_TLS": "maybe"}, "OKBREAK_TLS"},
		{[]string{"--role", "frontend", "--bootstrap", "b", "--backend-tls", "--tls-session-cache", "-1"}, nil, "must not be negative"},
		{[]string{"--role", "frontend", "--bootstrap", "b", "--tls-session-cache", "64"}, nil, "without backend TLS"},
		{[]string{"--role", "frontend", "--bootstrap", "b"}, map[string]string{"OKBREAK_TLS_SESSION_CACHE": "lots"}, "OKBREAK_TLS_SESSION_CACHE"},
	} {
		_, err := cli.Parse(tc.args, env(tc.env))
		if assert.Error(t, err, "%v %v", tc.args, tc.env) {
			assert.Contains(t, err.Error(), tc.want, "%v %v", tc.args, tc.env)
		}
	}

	var help bytes.Buffer
	cli.Usage(&help)
	for _, want := range []string{"-tls\n", "-backend-tls", "-tls-session-cache", "test-only mechanism check"} {
		assert.Contains(t, help.String(), want)
	}
}

// The real command line: a backend with OKBREAK_TLS serves TLS and
// plaintext on its one port, and counts the TLS handshakes.
func TestBackendServesTLSBesidePlaintext(t *testing.T) {
	addr := freeAddr(t)
	stderr := start(t, nil, "OKBREAK_ROLE=backend", "OKBREAK_LISTEN="+addr, "OKBREAK_INSTANCE=backend-4", "OKBREAK_TLS=true")
	body := answersOK(t, addr, "backend answers in plaintext", stderr)
	assert.Equal(t, "backend-4", body["instance"])

	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		// Self-signed at start: nothing to verify it against.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	resp, err := c.Get("https://" + addr + "/healthz")
	require.NoError(t, err, "stderr:\n%s", stderr)
	resp.Body.Close()
	require.NotNil(t, resp.TLS)
	assert.Equal(t, []string{"backend", "backend-4"}, resp.TLS.PeerCertificates[0].DNSNames, "the certificate names the service and instance")

	resp, err = http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(metrics), `okbreak_sample_tls_handshakes_total{instance="backend-4",resumed="false",service="backend"} 1`)
	assert.Contains(t, stderr.String(), "backend serving TLS beside plaintext")
}
