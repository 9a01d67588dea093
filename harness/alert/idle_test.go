package alert

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStopClosesScrapeConnections: a stopped session leaves no connection
// to its targets (an idle keep-alive one would stay open for 90 s, holding
// a file descriptor and two goroutines, case after case).
func TestStopClosesScrapeConnections(t *testing.T) {
	f := &fakeTarget{gauges: map[string]float64{"demo_up": 1}, counters: map[string]*counter{}}
	var open atomic.Int64
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)

	rules := warningRules(t, "0s", map[string]string{"Never": `demo_up == 0`})
	s, err := NewSession(Config{Rules: []RuleFile{rules}, Targets: []Target{{Job: "demo", Instance: "a", URL: f.url()}}, Factor: testFactor})
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	require.Eventually(t, func() bool { return open.Load() > 0 }, 2*time.Second, 10*time.Millisecond, "the session scrapes its target")
	require.NoError(t, s.Stop())
	require.Eventually(t, func() bool { return open.Load() == 0 }, 2*time.Second, 10*time.Millisecond,
		"%d connection(s) to the target still open after Stop", open.Load())
}
