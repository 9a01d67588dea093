package backend_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/okbreak/okbreak/internal/sample/backend"
	"github.com/okbreak/okbreak/internal/sample/internal/backendtest"
	"github.com/okbreak/okbreak/internal/sample/sampleapi"
)

// startTLS serves a backend of service "backend" with TLS on loopback
// (--tls) and returns it with its address.
func startTLS(t *testing.T) (*backend.Backend, string) {
	t.Helper()
	b, err := backend.New(backend.Config{Service: "backend", Instance: "backend-1"})
	require.NoError(t, err)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln, err := b.TLSListener(raw)
	require.NoError(t, err)
	backendtest.Serve(t, b, ln)
	return b, raw.Addr().String()
}

// handshakes reads okbreak_sample_tls_handshakes_total by its resumed label.
func handshakes(t *testing.T, b *backend.Backend) map[string]float64 {
	t.Helper()
	mfs, err := b.Gatherer().Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "okbreak_sample_tls_handshakes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			assert.Equal(t, "backend-1", labels["instance"])
			out[labels["resumed"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

// httpsGet makes one request over a connection of its own (no keep-alive),
// so that each call is a handshake, and reports whether it resumed.
func httpsGet(t *testing.T, addr string, cache tls.ClientSessionCache) bool {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		// The backend's certificate is self-signed in memory: nothing to
		// verify it against.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache},
	}}
	resp, err := c.Get("https://" + addr + "/hello")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.NotNil(t, resp.TLS, "answered over TLS")
	assert.Contains(t, string(body), `"instance":"backend-1"`)
	return resp.TLS.DidResume
}

// A client with a session cache resumes its second connection; one without
// a cache makes a full handshake every time; the backend counts both.
func TestTLSSessionResumption(t *testing.T) {
	b, addr := startTLS(t)
	assert.Equal(t, map[string]float64{"true": 0, "false": 0}, handshakes(t, b), "both series exist at zero from the start")

	cache := tls.NewLRUClientSessionCache(4)
	assert.False(t, httpsGet(t, addr, cache), "the first connection has nothing to resume")
	assert.True(t, httpsGet(t, addr, cache), "the second resumes the session the first was given")
	assert.True(t, httpsGet(t, addr, cache))
	assert.Equal(t, map[string]float64{"true": 2, "false": 1}, handshakes(t, b))

	assert.False(t, httpsGet(t, addr, nil), "no cache: a full handshake")
	assert.False(t, httpsGet(t, addr, nil), "no cache: a full handshake, again")
	assert.Equal(t, map[string]float64{"true": 2, "false": 3}, handshakes(t, b))
}

// The certificate is made at start for the service and instance names.
func TestTLSCertificateNamesTheBackend(t *testing.T) {
	_, addr := startTLS(t)
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	require.NoError(t, err)
	defer conn.Close()
	st := conn.ConnectionState()
	require.Len(t, st.PeerCertificates, 1, "self-signed, no chain")
	assert.Equal(t, []string{"backend", "backend-1"}, st.PeerCertificates[0].DNSNames)
	assert.NoError(t, st.PeerCertificates[0].VerifyHostname("backend-1"))
	assert.Equal(t, "h2", st.NegotiatedProtocol)
}

// Plaintext keeps working on the same port beside TLS: the harness's
// scrape and health check, h2c, and gRPC without TLS; gRPC over TLS works
// too, and only TLS connections are counted.
func TestTLSAndPlaintextShareThePort(t *testing.T) {
	b, addr := startTLS(t)
	plain := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := plain.Get("http://" + addr + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		if path == "/metrics" {
			assert.Contains(t, string(body), `okbreak_sample_tls_handshakes_total{instance="backend-1",resumed="false",service="backend"} 0`)
		}
	}
	got := get(t, h2cClient(), addr, "backend")
	assert.Equal(t, http.StatusOK, got.Code)
	assert.Equal(t, "HTTP/2.0", got.Proto)

	reply, err := sampleapi.Hello(context.Background(), grpcConn(t, addr, "backend"), &structpb.Struct{})
	require.NoError(t, err, "gRPC in plaintext (h2c)")
	assert.Equal(t, "backend-1", reply.GetFields()["instance"].GetStringValue())
	assert.Equal(t, map[string]float64{"true": 0, "false": 0}, handshakes(t, b), "no TLS yet")

	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	require.NoError(t, err)
	defer cc.Close()
	var p peer.Peer
	reply, err = sampleapi.Hello(context.Background(), cc, &structpb.Struct{}, grpc.Peer(&p))
	require.NoError(t, err, "gRPC over TLS")
	assert.Equal(t, "backend-1", reply.GetFields()["instance"].GetStringValue())
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	require.True(t, ok, "the call went over TLS: %T", p.AuthInfo)
	assert.Equal(t, "h2", info.State.NegotiatedProtocol)
	assert.Equal(t, map[string]float64{"true": 0, "false": 1}, handshakes(t, b))
}

// A client that connects and sends nothing is not served and does not hold
// up others: Accept hands on the connections that are ready.
func TestTLSSilentClientDoesNotBlockOthers(t *testing.T) {
	_, addr := startTLS(t)
	silent, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer silent.Close()
	assert.False(t, httpsGet(t, addr, nil))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "ok", strings.TrimSpace(string(body)))
}
