package frontend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/internal/sample/backend"
	"github.com/okbreak/okbreak/internal/sample/frontend"
	"github.com/okbreak/okbreak/internal/sample/internal/backendtest"
)

// cutter is a TCP proxy in front of one backend whose connections the test
// can cut, as Toxiproxy's down does in the stack.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func startCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &cutter{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	return c
}

// cut closes every connection through the proxy; new ones are proxied.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// tlsBackends starts n backends of service "backend" with TLS on their port
// (--tls), each behind a cutter, and returns them and their cutters.
func tlsBackends(t *testing.T, n int) ([]sample, []*cutter) {
	t.Helper()
	var out []sample
	var cutters []*cutter
	for i := range n {
		b, err := backend.New(backend.Config{Service: "backend", Instance: fmt.Sprintf("backend-%d", i+1)})
		require.NoError(t, err)
		raw, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ln, err := b.TLSListener(raw)
		require.NoError(t, err)
		backendtest.Serve(t, b, ln)
		c := startCutter(t, raw.Addr().String())
		cutters = append(cutters, c)
		out = append(out, sample{b: b, addr: c.ln.Addr().String()})
	}
	return out, cutters
}

// tlsHandshakes sums the backends' completed handshakes, full and resumed.
func tlsHandshakes(t *testing.T, backends []sample) (full, resumed float64) {
	t.Helper()
	for _, b := range backends {
		f, ok := value(t, b.b.Gatherer(), "okbreak_sample_tls_handshakes_total", map[string]string{"resumed": "false"})
		require.True(t, ok, "the backend exports its handshakes")
		r, _ := value(t, b.b.Gatherer(), "okbreak_sample_tls_handshakes_total", map[string]string{"resumed": "true"})
		full, resumed = full+f, resumed+r
	}
	return full, resumed
}

// The incident no-tls-session-resumption on loopback: a frontend speaking
// TLS to three backends reconnects to each after its connections are cut.
// With a session cache, every reconnect resumes the session its backend
// issued, although gRPC gives all three the same TLS server name (the
// channel's authority); without one, every reconnect is a full handshake.
func TestBackendTLSReconnectsResumeOnlyWithASessionCache(t *testing.T) {
	for _, tc := range []struct {
		cache       int
		wantResumed float64
	}{{cache: 0, wantResumed: 0}, {cache: 64, wantResumed: 3}} {
		t.Run(fmt.Sprintf("cache=%d", tc.cache), func(t *testing.T) {
			backends, cutters := tlsBackends(t, 3)
			serve(t, config(backends))
			cfg := frontend.DefaultConfig()
			cfg.BackendTLS, cfg.TLSSessionCache = true, tc.cache
			fe := startFrontend(t, cfg)
			reachAll := func(what string) {
				eventually(t, 10*time.Second, what, func() bool {
					seen := map[string]bool{}
					for range 30 {
						if r := request(t, fe.url); r.status == http.StatusOK {
							seen[r.answer.Instance] = true
						}
					}
					return len(seen) == 3
				})
			}
			reachAll("every backend answers over TLS")
			full, resumed := tlsHandshakes(t, backends)
			require.Equal(t, [2]float64{3, 0}, [2]float64{full, resumed}, "one full handshake per backend at start")

			for _, c := range cutters {
				c.cut()
			}
			// gRPC reconnects at once, or after its backoff (1 s) when the
			// first attempt raced the cut.
			eventually(t, 10*time.Second, "a handshake per backend after the cut", func() bool {
				full, resumed = tlsHandshakes(t, backends)
				return full+resumed >= 6
			})
			reachAll("every backend answers again")
			full, resumed = tlsHandshakes(t, backends)
			assert.Equal(t, tc.wantResumed, resumed, "resumed handshakes after the reconnects (full: %v)", full)
			assert.Equal(t, 6-tc.wantResumed, full, "full handshakes, the 3 at start included")
		})
	}
}

func TestTLSSessionCacheValidation(t *testing.T) {
	cfg := frontend.DefaultConfig()
	assert.Zero(t, cfg.TLSSessionCache, "no session cache by default, as in Go")
	assert.False(t, cfg.BackendTLS, "plaintext to the backends by default")
	cfg.BackendTLS, cfg.TLSSessionCache = true, 64
	require.NoError(t, cfg.Validate())
	cfg.TLSSessionCache = -1
	assert.ErrorContains(t, cfg.Validate(), "must not be negative")
	cfg.BackendTLS, cfg.TLSSessionCache = false, 8
	assert.ErrorContains(t, cfg.Validate(), "without backend TLS")
	_, err := frontend.New(cfg)
	assert.True(t, err != nil && !errors.Is(err, context.Canceled), "New refuses it: %v", err)
}
