package alertsource

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/alert"
)

// script is a Source that answers each poll with the next step.
type script struct {
	mu    sync.Mutex
	steps []step
}

type step struct {
	alerts []Alert
	err    error
}

func (s *script) Name() string { return "script" }

func (s *script) Alerts(context.Context) ([]Alert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.steps) == 0 {
		return nil, errors.New("script: no more steps")
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	return st.alerts, st.err
}

// clockedRecorder polls src at t0+1s, t0+2s, ... as Poll is called.
func clockedRecorder(t *testing.T, src Source, t0 time.Time) *Recorder {
	t.Helper()
	r, err := NewRecorder(src, time.Second)
	require.NoError(t, err)
	n := 0
	r.now = func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }
	return r
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func promUp(state alert.State, since time.Time) Alert {
	return Alert{Name: "PromUp", Labels: map[string]string{"alertname": "PromUp", "severity": "page"}, State: state, Since: since, Value: 1}
}

const upInstance = `{alertname="PromUp", severity="page"}`

// The Prometheus path: pending at activeAt, firing at the first poll that
// saw it, a failed poll that changes nothing, resolved at the first poll
// without it; and the judge's methods read the result.
func TestRecorderBuildsTheTimelineOfPrometheus(t *testing.T) {
	src := &script{steps: []step{
		{}, // 1s
		{alerts: []Alert{promUp(alert.StatePending, sec(1.5))}}, // 2s
		{alerts: []Alert{promUp(alert.StateFiring, sec(1.5))}},  // 3s
		{err: errors.New("connection refused")},                 // 4s
		{alerts: []Alert{promUp(alert.StateFiring, sec(1.5))}},  // 5s
		{}, // 6s
	}}
	r := clockedRecorder(t, src, t0)
	for i := range 6 {
		err := r.Poll(t.Context())
		assert.Equal(t, i == 3, err != nil, "poll %d", i+1)
	}

	labels := map[string]string{"alertname": "PromUp", "severity": "page"}
	tr := func(from, to alert.State, at time.Time, v float64) alert.Transition {
		return alert.Transition{Alert: "PromUp", Severity: "page", Instance: upInstance, Labels: labels, From: from, To: to, At: at, Value: v}
	}
	tl := r.Timeline()
	assert.Equal(t, alert.Timeline{
		tr(alert.StateInactive, alert.StatePending, sec(1.5), 1),
		tr(alert.StatePending, alert.StateFiring, sec(3), 1),
		tr(alert.StateFiring, alert.StateResolved, sec(6), 0),
	}, tl)

	at, ok := tl.FirstFiredAfter("PromUp", sec(1))
	assert.True(t, ok)
	assert.Equal(t, sec(3), at)
	assert.Equal(t, []string{"PromUp"}, tl.FiringAt(sec(4)))
	assert.Empty(t, tl.FiringAt(sec(6)))
	assert.Equal(t, []string{"PromUp"}, tl.PagesDuring(sec(0), sec(10), map[string]string{"severity": "page"}))

	h := r.Health()
	assert.Equal(t, 6, h.Polls)
	assert.Equal(t, 1, h.Failed)
	assert.NoError(t, h.LastErr)
	assert.Equal(t, sec(6), h.LastOK)
	assert.Equal(t, []Gap{{From: sec(3), To: sec(5), Failed: 1, Err: "connection refused"}}, h.Gaps)

	seen := r.Seen()
	require.Len(t, seen, 1)
	assert.Equal(t, sec(3), seen[0].FiredAt, "the poll's, where the source does not say")
	assert.Equal(t, alert.StateResolved, seen[0].Now)
	assert.Equal(t, sec(2), seen[0].FirstSeen)
	assert.Equal(t, sec(5), seen[0].LastSeen)
}

// Alertmanager's alerts fire at startsAt, without a pending step, and a
// silence (a status change) is no transition.
func TestRecorderBuildsTheTimelineOfAlertmanager(t *testing.T) {
	fired := promUp(alert.StateFiring, sec(0.5))
	fired.FiredAt = sec(0.5)
	silenced := fired
	silenced.Status = Status{State: "suppressed", SilencedBy: []string{"s-1"}}
	src := &script{steps: []step{{alerts: []Alert{fired}}, {alerts: []Alert{silenced}}, {}}}
	r := clockedRecorder(t, src, t0)
	for range 3 {
		require.NoError(t, r.Poll(t.Context()))
	}
	tl := r.Timeline()
	require.Len(t, tl, 2)
	assert.Equal(t, []alert.State{alert.StateInactive, alert.StateFiring}, []alert.State{tl[0].From, tl[0].To})
	assert.Equal(t, sec(0.5), tl[0].At, "startsAt, not the poll")
	assert.Equal(t, []alert.State{alert.StateFiring, alert.StateResolved}, []alert.State{tl[1].From, tl[1].To})
	assert.Equal(t, sec(3), tl[1].At)

	seen := r.Seen()
	require.Len(t, seen, 1)
	assert.Equal(t, []string{"s-1"}, seen[0].Status.SilencedBy, "the last status seen")
	assert.Equal(t, sec(0.5), seen[0].FiredAt)
	assert.Equal(t, []Page{{Alert: "PromUp", Instance: upInstance, Labels: fired.Labels, At: sec(0.5), Times: 1}},
		Pages(tl, map[string]string{"severity": "page"}), "silenced, and still a page")
}

// An alert first seen firing was pending from its activeAt; one that ended
// and came back between two polls is two episodes; a pending one that
// clears goes back to inactive.
func TestRecorderEdges(t *testing.T) {
	other := Alert{Name: "Slow", Labels: map[string]string{"alertname": "Slow"}, State: alert.StatePending, Since: sec(0.2)}
	src := &script{steps: []step{
		{alerts: []Alert{promUp(alert.StateFiring, sec(0.1)), other}}, // 1s
		{alerts: []Alert{promUp(alert.StateFiring, sec(1.7))}},        // 2s: came back since 1.7s; Slow cleared
	}}
	r := clockedRecorder(t, src, t0)
	require.NoError(t, r.Poll(t.Context()))
	require.NoError(t, r.Poll(t.Context()))

	type step struct {
		alert    string
		from, to alert.State
		at       time.Time
	}
	var got []step
	for _, tr := range r.Timeline() {
		got = append(got, step{tr.Alert, tr.From, tr.To, tr.At})
	}
	assert.Equal(t, []step{
		{"PromUp", alert.StateInactive, alert.StatePending, sec(0.1)},
		{"PromUp", alert.StatePending, alert.StateFiring, sec(1)},
		{"Slow", alert.StateInactive, alert.StatePending, sec(0.2)},
		{"PromUp", alert.StateFiring, alert.StateResolved, sec(1.7)},
		{"PromUp", alert.StateResolved, alert.StatePending, sec(1.7)},
		{"PromUp", alert.StatePending, alert.StateFiring, sec(2)},
		{"Slow", alert.StatePending, alert.StateInactive, sec(2)},
	}, got)
	assert.Equal(t, []Page{{Alert: "PromUp", Instance: upInstance, Labels: promUp("", time.Time{}).Labels, At: sec(1), Times: 2}},
		Pages(r.Timeline(), map[string]string{"severity": "page"}))
	assert.Empty(t, Pages(r.Timeline(), map[string]string{"severity": "critical"}))
}

func TestSeenAndTimelineAreCopies(t *testing.T) {
	a := promUp(alert.StateFiring, sec(0.1))
	a.Status.SilencedBy = []string{"s"}
	r := clockedRecorder(t, &script{steps: []step{{alerts: []Alert{a}}}}, t0)
	require.NoError(t, r.Poll(t.Context()))
	r.Seen()[0].Labels["severity"] = "changed"
	r.Seen()[0].Status.SilencedBy[0] = "changed"
	r.Timeline()[0].Labels["severity"] = "changed"
	assert.Equal(t, "page", r.Seen()[0].Labels["severity"])
	assert.Equal(t, "s", r.Seen()[0].Status.SilencedBy[0])
	assert.Equal(t, "page", r.Timeline()[0].Labels["severity"])
}

// Run polls a real HTTP source until ctx ends; a recording no poll of
// which succeeded is an error, not an empty timeline.
func TestRunPollsUntilTheContextEnds(t *testing.T) {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) < 3 {
			_, _ = w.Write([]byte(`{"status":"success","data":{"alerts":[]}}`))
			return
		}
		_, _ = w.Write([]byte(promBody))
	}))
	t.Cleanup(srv.Close)
	src, err := Prometheus(srv.URL)
	require.NoError(t, err)
	r, err := NewRecorder(src, 20*time.Millisecond)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return len(r.Timeline()) >= 3 }, 5*time.Second, 10*time.Millisecond)
	// Readers run while Run polls (go test -race).
	_, _ = r.Seen(), r.Health()
	cancel()
	require.NoError(t, <-done)
	n := polls.Load()
	time.Sleep(60 * time.Millisecond)
	assert.Equal(t, n, polls.Load(), "no poll after Run returned")

	var names []string
	for _, tr := range r.Timeline() {
		names = append(names, tr.Alert+" "+string(tr.To))
	}
	assert.Equal(t, []string{"PromUp pending", "PromUp firing", "Slow pending"}, names)

	down, err := Prometheus("http://127.0.0.1:1")
	require.NoError(t, err)
	r2, err := NewRecorder(down, 20*time.Millisecond)
	require.NoError(t, err)
	ctx2, cancel2 := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel2()
	err = r2.Run(ctx2)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "polls succeeded")
	assert.Contains(t, err.Error(), "is Prometheus running")
	h := r2.Health()
	assert.Positive(t, h.Failed)
	require.Len(t, h.Gaps, 1)
	assert.True(t, h.Gaps[0].To.IsZero(), "still failing")
}

func TestNewRecorderChecksItsArguments(t *testing.T) {
	_, err := NewRecorder(nil, time.Second)
	assert.Error(t, err)
	_, err = NewRecorder(&script{}, time.Millisecond)
	assert.ErrorContains(t, err, "below")
}
