package alertsource

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/alert"
)

// serve answers every request with status and body, and keeps the last
// request for the test to look at.
func serve(t *testing.T, status int, body string) (*httptest.Server, func() *http.Request) {
	t.Helper()
	reqs := make(chan *http.Request, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- r
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() *http.Request {
		select {
		case r := <-reqs:
			return r
		default:
			t.Fatal("no request reached the server")
			return nil
		}
	}
}

// From a Prometheus 3 server, shortened: one firing, one pending, one
// resolved that Prometheus still resends.
const promBody = `{"status":"success","data":{"alerts":[
 {"labels":{"alertname":"PromUp","job":"prometheus","severity":"page"},"annotations":{"summary":"up"},
  "state":"firing","activeAt":"2026-03-01T10:00:01.5Z","value":"1e+00"},
 {"labels":{"alertname":"Slow","severity":"ticket"},"annotations":{},
  "state":"pending","activeAt":"2026-03-01T10:00:02Z","value":"0.25"},
 {"labels":{"alertname":"Old"},"annotations":{},"state":"inactive","activeAt":"2026-03-01T09:00:00Z","value":"0"}
]}}`

func TestPrometheusReadsAlertsOfTheAPI(t *testing.T) {
	srv, last := serve(t, http.StatusOK, promBody)
	src, err := Prometheus(srv.URL+"/prom/", WithHeader("X-Scope-OrgID", "team-a"))
	require.NoError(t, err)
	assert.Equal(t, "Prometheus at "+srv.URL+"/prom/", src.Name())

	got, err := src.Alerts(t.Context())
	require.NoError(t, err)
	req := last()
	assert.Equal(t, "/prom/api/v1/alerts", req.URL.Path, "below the base URL's path prefix")
	assert.Equal(t, "team-a", req.Header.Get("X-Scope-OrgID"))
	assert.Equal(t, "application/json", req.Header.Get("Accept"))

	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	assert.Equal(t, []Alert{
		{Name: "PromUp", Labels: map[string]string{"alertname": "PromUp", "job": "prometheus", "severity": "page"},
			Annotations: map[string]string{"summary": "up"}, State: alert.StateFiring, Since: at("2026-03-01T10:00:01.5Z"), Value: 1},
		{Name: "Slow", Labels: map[string]string{"alertname": "Slow", "severity": "ticket"},
			Annotations: map[string]string{}, State: alert.StatePending, Since: at("2026-03-01T10:00:02Z"), Value: 0.25},
	}, got, "the inactive one is left out; the firing one has no FiredAt: Prometheus does not say")
}

// From Alertmanager v0.31: one alert silenced, one inhibited, one active.
const amBody = `[
 {"annotations":{"summary":"up"},"endsAt":"2026-03-01T10:04:01Z","fingerprint":"a1","receivers":[{"name":"pager"}],
  "startsAt":"2026-03-01T10:00:05Z","status":{"inhibitedBy":[],"silencedBy":["s-1"],"mutedBy":[],"state":"suppressed"},
  "updatedAt":"2026-03-01T10:00:05Z","generatorURL":"http://prometheus:9090/graph","labels":{"alertname":"PromUp","severity":"page"}},
 {"annotations":{},"endsAt":"2026-03-01T10:04:01Z","fingerprint":"b2","receivers":[{"name":"pager"},{"name":"chat"}],
  "startsAt":"2026-03-01T10:00:06Z","status":{"inhibitedBy":["c3"],"silencedBy":[],"mutedBy":[],"state":"suppressed"},
  "updatedAt":"2026-03-01T10:00:06Z","labels":{"alertname":"Inhibited","severity":"page"}},
 {"annotations":{},"endsAt":"2026-03-01T10:04:01Z","fingerprint":"c3","receivers":[{"name":"pager"}],
  "startsAt":"2026-03-01T10:00:07Z","status":{"inhibitedBy":[],"silencedBy":[],"mutedBy":[],"state":"active"},
  "updatedAt":"2026-03-01T10:00:07Z","labels":{"alertname":"Outage","severity":"page"}}
]`

func TestAlertmanagerAsksForEveryAlertAndReportsTheirStatus(t *testing.T) {
	srv, last := serve(t, http.StatusOK, amBody)
	src, err := Alertmanager(srv.URL)
	require.NoError(t, err)
	got, err := src.Alerts(t.Context())
	require.NoError(t, err)
	req := last()
	assert.Equal(t, "/api/v2/alerts", req.URL.Path)
	for _, p := range []string{"active", "silenced", "inhibited", "unprocessed"} {
		assert.Equal(t, "true", req.URL.Query().Get(p), "a silenced or inhibited alert still paged: %s must be asked for", p)
	}

	require.Len(t, got, 3)
	start := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	assert.Equal(t, Alert{Name: "PromUp", Labels: map[string]string{"alertname": "PromUp", "severity": "page"},
		Annotations: map[string]string{"summary": "up"}, State: alert.StateFiring, Since: start, FiredAt: start,
		Status: Status{State: "suppressed", SilencedBy: []string{"s-1"}, InhibitedBy: []string{}, MutedBy: []string{}, Receivers: []string{"pager"}}}, got[0])
	assert.True(t, got[0].Status.Muted())
	assert.True(t, got[1].Status.Muted())
	assert.Equal(t, []string{"c3"}, got[1].Status.InhibitedBy)
	assert.Equal(t, []string{"pager", "chat"}, got[1].Status.Receivers)
	assert.False(t, got[2].Status.Muted())
}

func TestErrorsSayTheURLAndTheFix(t *testing.T) {
	// A port nothing listens on: listen, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	notFound, _ := serve(t, http.StatusNotFound, "404 page not found\n")
	promErr, _ := serve(t, http.StatusServiceUnavailable, `{"status":"error","errorType":"unavailable","error":"rules not loaded"}`)
	login, _ := serve(t, http.StatusOK, "<html><body>Sign in</body></html>")
	denied, _ := serve(t, http.StatusUnauthorized, "Unauthorized")
	hasNoName, _ := serve(t, http.StatusOK, `[{"labels":{"severity":"page"},"startsAt":"2026-03-01T10:00:05Z"}]`)

	for _, tc := range []struct {
		name, url string
		am        bool
		want      []string
	}{
		{"unreachable", closed, false, []string{"alerts from Prometheus at " + closed, closed + "/api/v1/alerts", "is Prometheus running, and is the URL right"}},
		{"not the API", notFound.URL, true, []string{"alerts from Alertmanager", "HTTP 404", "base URL"}},
		{"Prometheus error", promErr.URL, false, []string{"HTTP 503", "unavailable: rules not loaded"}},
		{"not JSON", login.URL, false, []string{"not the Prometheus API's JSON", "Sign in"}},
		{"credentials", denied.URL, true, []string{"HTTP 401", "WithHeader"}},
		{"odd alert", hasNoName.URL, true, []string{"without an alertname"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var src Source
			if tc.am {
				src, err = Alertmanager(tc.url)
			} else {
				src, err = Prometheus(tc.url)
			}
			require.NoError(t, err)
			_, err := src.Alerts(t.Context())
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestPasswordsStayOutOfMessages(t *testing.T) {
	src, err := Prometheus("http://okbreak:s3cret@127.0.0.1:1")
	require.NoError(t, err)
	assert.NotContains(t, src.Name(), "s3cret")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = src.Alerts(ctx)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestBadURLs(t *testing.T) {
	for url, want := range map[string]string{
		"127.0.0.1:9090":                       "want http://host:port",
		"ftp://prometheus:9090":                "want http://host:port",
		"http://prometheus:9090/?x=1":          "without a query",
		"http://prometheus:9090/api/v1/alerts": "",
		"http://[::1":                          "Prometheus URL",
		"http://okbreak:s3cret@[::1":           "missing ']'",
	} {
		_, err := Prometheus(url)
		if want == "" {
			// Accepted as a prefix: a 404 later says it is wrong.
			assert.NoError(t, err, url)
			continue
		}
		require.Error(t, err, url)
		assert.Contains(t, err.Error(), want, url)
		assert.NotContains(t, err.Error(), "s3cret")
	}
}

func TestContextEndsARequest(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	src, err := Alertmanager(srv.URL)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = src.Alerts(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.False(t, strings.Contains(err.Error(), "is Alertmanager running"), "the caller ended it: no hint about the server")
}
