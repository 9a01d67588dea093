package fault_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// fakeToxiproxy is a Toxiproxy API that accepts everything and counts the
// connections open to it.
func fakeToxiproxy(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &open
}

// requireNoConnection waits a little for the server to see every
// connection closed: an idle keep-alive one would stay open for 90 s,
// holding a file descriptor and two goroutines.
func requireNoConnection(t *testing.T, open *atomic.Int64, after string) {
	t.Helper()
	require.Eventually(t, func() bool { return open.Load() == 0 }, 2*time.Second, 10*time.Millisecond,
		"%d connection(s) still open to the Toxiproxy API after %s", open.Load(), after)
}

// toxiEnv is a unit env whose Toxiproxy API is a fake.
type toxiEnv struct {
	*unitEnv
	api string
}

func (e *toxiEnv) ToxiproxyAPI(context.Context, string) (string, error) { return e.api, nil }

func TestToxiproxyClientsLeaveNoConnection(t *testing.T) {
	srv, open := fakeToxiproxy(t)
	ctx := context.Background()

	_, err := fault.InspectToxiproxy(ctx, srv.URL)
	require.NoError(t, err)
	requireNoConnection(t, open, "InspectToxiproxy")
	_, err = fault.ResetToxiproxy(ctx, srv.URL)
	require.NoError(t, err)
	requireNoConnection(t, open, "ResetToxiproxy")
	require.NoError(t, fault.RemoveToxic(ctx, srv.URL, "a->b", "t"))
	requireNoConnection(t, open, "RemoveToxic")
	_, err = fault.ListProxies(ctx, srv.URL)
	require.NoError(t, err)
	requireNoConnection(t, open, "ListProxies")

	// A fault's client keeps its connection while the fault is in force
	// (an inject is one round trip) and closes it once reverted.
	env := &toxiEnv{unitEnv: &unitEnv{def: defs()[stack.GRPC], dir: t.TempDir()}, api: srv.URL}
	f, err := fault.New(fault.Spec{Type: "latency", Target: "edge->backend-1", Params: map[string]any{"latency": "2s"}}, env)
	require.NoError(t, err)
	require.NoError(t, fault.Apply(ctx, f, func(context.Context) error { return nil }))
	requireNoConnection(t, open, "the fault's revert")

	// A journaled injection reverted from the journal alone, too.
	e := fault.Entry{ID: "unit-1", Run: "unit", Fault: "latency", Undo: []fault.Undo{{Action: fault.UndoRemoveToxic, Proxy: "a->b", Toxic: "t"}},
		Access: fault.Access{Toxiproxies: map[string]*fault.Endpoint{"a->b": {URL: srv.URL}}}}
	require.NoError(t, fault.RevertEntry(ctx, fault.OpenJournal(t.TempDir()), e, "unit test"))
	requireNoConnection(t, open, "RevertEntry")
}
