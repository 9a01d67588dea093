package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve starts a loopback server that answers like the edge would: it refuses
// requests without the probe's Host and path, so a probe that sent them wrong
// could not score a single OK.
func serve(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int64)) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "backend" || r.URL.Path != "/" || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = fmt.Fprintf(w, `{"code":"misdirected","message":"host %q path %q"}`, r.Host, r.URL.Path)
			return
		}
		h(w, r, n.Add(1)-1)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// reply writes a sample-service answer.
func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// sleepCtx waits d or until the client goes away, so a test server never
// outlives its test by a slow handler.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// run starts a probe on url, lets it send for d, stops it and returns it.
func run(t *testing.T, cfg Config, d time.Duration) *Probe {
	t.Helper()
	if cfg.Check == nil {
		cfg.Check, cfg.Host = backendCheck, "backend"
	}
	p, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	defer cancel()
	require.NoError(t, p.Start(ctx))
	timer := time.NewTimer(d)
	defer timer.Stop()
	<-timer.C
	p.Stop()
	return p
}

func TestCorrectAnswersFromEveryInstance(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
		reply(w, 200, map[string]any{"service": "backend", "instance": fmt.Sprintf("backend-%d", n%3+1), "attempts": 1})
	})
	p := run(t, Config{URL: srv.URL, Rate: 100}, time.Second)
	samples := p.Samples()
	st := Compute(samples, time.Time{}, time.Time{})
	require.GreaterOrEqual(t, st.Count, 50, "100/s for 1 s")
	assert.LessOrEqual(t, st.Count, 105)
	assert.Equal(t, st.Count, st.OK, "every answer came from backend: %+v", st.TopErrors)
	assert.Equal(t, 1.0, st.SuccessRatio)
	assert.Equal(t, map[int]int{200: st.Count}, st.ByCode)
	require.Len(t, st.ByInstance, 3)
	for i := 1; i <= 3; i++ {
		got := st.ByInstance[fmt.Sprintf("backend-%d", i)]
		assert.InDelta(t, float64(st.Count)/3, got, 1, "round robin over three instances")
	}
	assert.False(t, samples[0].Start.Before(p.Started()), "the first sample is in the Before window")
	for i, s := range samples {
		assert.Equal(t, OK, s.Outcome)
		assert.Equal(t, "backend", s.Service)
		assert.Empty(t, s.Err)
		assert.Positive(t, s.Latency)
		if i > 0 {
			assert.False(t, s.Start.Before(samples[i-1].Start), "sorted by start")
		}
	}
	ok, why := st.Meets(DefaultSLO, 50)
	assert.True(t, ok, "%v", why)
}

func TestWrongServiceIsAFailure(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		reply(w, 200, map[string]any{"service": "other", "instance": "other-1"})
	})
	p := run(t, Config{URL: srv.URL, Rate: 100}, 500*time.Millisecond)
	st := p.Stats(time.Time{}, time.Time{})
	require.Positive(t, st.Count)
	assert.Equal(t, st.Count, st.Wrong)
	assert.Zero(t, st.OK)
	assert.Zero(t, st.Errors)
	assert.Equal(t, 0.0, st.SuccessRatio)
	assert.Equal(t, map[string]int{"other-1": st.Count}, st.ByInstance)
	require.NotEmpty(t, st.TopErrors)
	assert.Contains(t, st.TopErrors[0].Err, `"other"`)
	ok, why := st.Meets(DefaultSLO, 1)
	assert.False(t, ok)
	assert.ErrorIs(t, why, ErrSLOMissed)
	assert.NotErrorIs(t, why, ErrTooFewSamples)
	assert.Contains(t, why.Error(), "wrong service")
}

func TestEdgeFailureIsAnError(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		reply(w, 503, map[string]any{"code": "Unavailable", "message": "no children to pick from", "attempts": 3})
	})
	p := run(t, Config{URL: srv.URL, Rate: 100}, 500*time.Millisecond)
	st := p.Stats(time.Time{}, time.Time{})
	require.Positive(t, st.Count)
	assert.Equal(t, st.Count, st.Errors)
	assert.Equal(t, map[int]int{503: st.Count}, st.ByCode)
	require.Len(t, st.TopErrors, 1)
	assert.Equal(t, "503: Unavailable: no children to pick from", st.TopErrors[0].Err)
	assert.Equal(t, 3, p.Samples()[0].Attempts)
}

// TestLatencyAndTimeouts: 5 % of requests outlast the timeout, 20 % take
// 300 ms, the rest are fast. Every share is known exactly from the server's
// own tally, so the counts are compared exactly; the latency bands are wide
// apart so that a loaded machine does not move a sample across them.
func TestLatencyAndTimeouts(t *testing.T) {
	const timeout = time.Second
	var hung atomic.Int64
	srv := serve(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		switch {
		case n%20 == 0:
			hung.Add(1)
			sleepCtx(r.Context(), 3*time.Second)
		case n%20 <= 4:
			sleepCtx(r.Context(), 300*time.Millisecond)
		}
		reply(w, 200, map[string]any{"service": "backend", "instance": "backend-1"})
	})
	start := time.Now()
	p := run(t, Config{URL: srv.URL, Rate: 200, Timeout: timeout}, 1500*time.Millisecond)
	stopped := time.Since(start)
	assert.Less(t, stopped, 1500*time.Millisecond+timeout+700*time.Millisecond, "Stop waits at most about one timeout")

	st := p.Stats(time.Time{}, time.Time{})
	require.GreaterOrEqual(t, st.Count, 100)
	assert.Equal(t, int(hung.Load()), st.Timeouts, "every hung request is a timeout")
	assert.Equal(t, st.Count-st.Timeouts, st.OK)
	assert.InDelta(t, 0.95, st.SuccessRatio, 0.01)
	assert.Equal(t, st.Timeouts, st.ByCode[0])

	assert.Less(t, st.P50, 300*time.Millisecond, "p50 is a fast answer")
	assert.GreaterOrEqual(t, st.P90, 300*time.Millisecond, "p90 falls in the 300 ms band")
	assert.Less(t, st.P90, timeout)
	assert.GreaterOrEqual(t, st.P99, timeout, "p99 falls in the timeout band")
	assert.Less(t, st.Max, timeout+700*time.Millisecond, "a timeout resolves at the timeout")
	for _, s := range p.Samples() {
		if s.Outcome == Timeout {
			assert.GreaterOrEqual(t, s.Latency, timeout)
			assert.Contains(t, s.Err, "deadline exceeded")
		}
	}
	ok, why := st.Meets(SLO{Success: 0.99, P99: 2 * time.Second}, 100)
	assert.False(t, ok)
	assert.ErrorIs(t, why, ErrSLOMissed)
	assert.Contains(t, why.Error(), "timeouts")
	assert.NotContains(t, why.Error(), "p99", "p99 is under two seconds")
	ok, why = st.Meets(SLO{Success: 0.9, P99: 500 * time.Millisecond}, 100)
	assert.False(t, ok)
	assert.Contains(t, why.Error(), "p99")
	assert.NotContains(t, why.Error(), "success")
}

// TestOpenModel: every answer takes 300 ms; the arrivals must stay at the
// rate anyway (a closed model with 10 workers would manage ~33/s).
func TestOpenModel(t *testing.T) {
	var inFlight, peak atomic.Int64
	srv := serve(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		sleepCtx(r.Context(), 300*time.Millisecond)
		reply(w, 200, map[string]any{"service": "backend", "instance": "backend-1"})
	})
	p := run(t, Config{URL: srv.URL, Rate: 100}, 2*time.Second)
	samples := p.Samples()
	require.NotEmpty(t, samples)
	from := p.Started()
	buckets := Buckets(samples, from, from.Add(2*time.Second), time.Second)
	require.Len(t, buckets, 2)
	total := 0
	for i, b := range buckets {
		// A closed model would manage ~33 a second; a stall of the pacer
		// on a loaded machine moves a few starts to the next second.
		assert.InDelta(t, 100, b.Count, 12, "starts in second %d", i)
		total += b.Count
		assert.Equal(t, b.Count, b.OK)
		assert.GreaterOrEqual(t, b.P50, 300*time.Millisecond)
	}
	assert.InDelta(t, 200, total, 3, "the pacer catches up: arrivals over 2 s hold")
	assert.GreaterOrEqual(t, peak.Load(), int64(25), "about rate x latency requests in flight")
}

// TestPartitionResolvesAsTimeouts: a peer that accepts and never answers,
// like a partition behind Toxiproxy.
func TestPartitionResolvesAsTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	const timeout = 300 * time.Millisecond
	p := run(t, Config{URL: "http://" + ln.Addr().String(), Rate: 50, Timeout: timeout}, time.Second)
	st := p.Stats(time.Time{}, time.Time{})
	require.GreaterOrEqual(t, st.Count, 45)
	assert.Equal(t, st.Count, st.Timeouts)
	assert.GreaterOrEqual(t, st.P50, timeout)
	assert.Less(t, st.Max, timeout+700*time.Millisecond, "resolved at the timeout, give or take a loaded machine")
}

func TestConnectionRefusedIsAnErrorNotATimeout(t *testing.T) {
	t.Parallel()
	// A port just freed on 127.0.0.1 can be taken again at once: Docker
	// publishes okbreak's containers there, and a stack of another test
	// once answered on it. 127.0.0.2 is loopback too, and nothing of
	// okbreak's publishes there.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this loopback: %v", err)
	}
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	p := run(t, Config{URL: "http://" + addr, Rate: 50}, 300*time.Millisecond)
	st := p.Stats(time.Time{}, time.Time{})
	require.Positive(t, st.Count)
	assert.Equal(t, st.Count, st.Errors)
	assert.Equal(t, map[int]int{0: st.Count}, st.ByCode)
	assert.Contains(t, st.TopErrors[0].Err, "refused")
}

func TestContextEndsTheProbe(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		sleepCtx(r.Context(), time.Second)
		reply(w, 200, map[string]any{"service": "backend", "instance": "backend-1"})
	})
	for name, end := range map[string]func() (context.Context, context.CancelFunc){
		"cancel": func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, cancel
		},
		// A parent's deadline cuts requests off with "deadline exceeded":
		// they must not pass for timeouts of the system.
		"deadline": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := New(Config{URL: srv.URL, Rate: 100, Timeout: 5 * time.Second, Host: "backend", Check: backendCheck})
			require.NoError(t, err)
			ctx, cancel := end()
			defer cancel()
			require.NoError(t, p.Start(ctx))
			select {
			case <-p.Done():
			case <-time.After(2 * time.Second):
				t.Fatal("probe still running 1.7 s after its context ended")
			}
			assert.Empty(t, p.Samples(), "requests cut off by the abort are not measurements")
			assert.Greater(t, p.Abandoned(), 20)
			p.Stop() // a no-op that must not block
			assert.ErrorContains(t, p.Start(context.Background()), "already started")
		})
	}
}

// TestStopLeavesNothingRunning is not parallel: it counts goroutines.
func TestStopLeavesNothingRunning(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		reply(w, 200, map[string]any{"service": "backend", "instance": "backend-1"})
	})
	before := runtime.NumGoroutine()
	p := run(t, Config{URL: srv.URL, Rate: 200}, 300*time.Millisecond)
	require.Positive(t, len(p.Samples()))
	// Not assert.Eventually: it runs the condition on a goroutine of its own.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		tick := time.NewTimer(10 * time.Millisecond)
		<-tick.C
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after Stop")
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		http.Redirect(w, r, other.URL+"/", http.StatusFound)
	})
	p := run(t, Config{URL: srv.URL, Rate: 50}, 300*time.Millisecond)
	st := p.Stats(time.Time{}, time.Time{})
	require.Positive(t, st.Count)
	assert.Equal(t, st.Count, st.Errors)
	assert.Equal(t, map[int]int{302: st.Count}, st.ByCode)
	assert.Zero(t, elsewhere.Load(), "the probe sends only to its URL")
}

func TestMarksAndWindowsOnALiveProbe(t *testing.T) {
	var failing atomic.Bool
	srv := serve(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if failing.Load() {
			reply(w, 503, map[string]any{"code": "Unavailable", "message": "down"})
			return
		}
		reply(w, 200, map[string]any{"service": "backend", "instance": "backend-1"})
	})
	p, err := New(Config{URL: srv.URL, Rate: 200, Host: "backend", Check: backendCheck})
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background()))
	defer p.Stop()
	step := func(d time.Duration) {
		tm := time.NewTimer(d)
		defer tm.Stop()
		<-tm.C
	}
	step(500 * time.Millisecond)
	inject := time.Now()
	failing.Store(true)
	p.Mark(MarkInject, inject)
	step(600 * time.Millisecond)
	revert := time.Now()
	require.Len(t, p.Marks(), 1)
	failing.Store(false)
	p.Mark(MarkRevert, revert)
	step(600 * time.Millisecond)
	p.Stop()
	end := time.Now()

	it, ok := p.MarkTime(MarkInject)
	require.True(t, ok)
	assert.Equal(t, inject, it)
	assert.Equal(t, []string{MarkInject, MarkRevert}, []string{p.Marks()[0].Name, p.Marks()[1].Name})

	// A grace of 100 ms keeps the samples in flight across each switch out.
	w := p.Windows(inject, revert, end, 100*time.Millisecond)
	// Timers fire late on a loaded machine: expect the rate over the
	// windows as they really were, give or take a stall of the pacer
	// (after one, it catches up in a burst).
	expect := func(from, to time.Time) float64 { return 200 * to.Sub(from).Seconds() }
	const slack = 25
	assert.Equal(t, w.Before.Count, w.Before.OK, "samples in flight at inject are not in Before")
	assert.InDelta(t, expect(p.Started(), inject), w.Before.Count, slack)
	assert.InDelta(t, expect(inject.Add(100*time.Millisecond), revert), w.During.Count, slack)
	// A request sent just before the revert may reach the server after it
	// (hundreds of ms later on a loaded machine), so only the majority of
	// During is sure to fail; the part well before the revert all does.
	assert.Greater(t, w.During.Errors, w.During.Count/2)
	early := p.Stats(inject.Add(100*time.Millisecond), revert.Add(-300*time.Millisecond))
	assert.Positive(t, early.Count)
	assert.Equal(t, early.Count, early.Errors)
	assert.Equal(t, w.After.Count, w.After.OK)
	assert.InDelta(t, expect(revert.Add(100*time.Millisecond), end), w.After.Count, slack)
	at, _, ok := p.Recovered(revert, DefaultSLO, 200*time.Millisecond, 30)
	require.True(t, ok)
	assert.False(t, at.Before(revert))
	assert.Less(t, at.Sub(revert), 50*time.Millisecond, "the fake edge recovers at once")
}

func TestConfig(t *testing.T) {
	p, err := New(Config{URL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	c := p.Config()
	assert.Equal(t, DefaultRate, c.Rate)
	assert.Equal(t, DefaultTimeout, c.Timeout)
	assert.Empty(t, c.Host, "the URL's host")
	assert.NotNil(t, c.Check, "StatusOK")
	assert.Equal(t, "/", c.Path)
	assert.Equal(t, "http://127.0.0.1:1/", p.target.URL)

	for _, bad := range []Config{
		{URL: ""},
		{URL: "127.0.0.1:80"},
		{URL: "ftp://127.0.0.1"},
		{URL: "http://user:pw@127.0.0.1"},
		{URL: "http://127.0.0.1/?q=1"},
		{URL: "http://127.0.0.1", Path: "x"},
		{URL: "http://127.0.0.1", Rate: -1},
		{URL: "http://127.0.0.1", Rate: MaxRate + 1},
		{URL: "http://127.0.0.1", Timeout: -time.Second},
		{URL: "http://192.0.2.1:8080"},
		{URL: "http://example.com"},
	} {
		_, err := New(bad)
		assert.Error(t, err, "%+v", bad)
	}
	for _, good := range []Config{
		{URL: "http://localhost:8080"},
		{URL: "http://[::1]:8080"},
		{URL: "https://127.0.0.2"},
		{URL: "http://edge.example:8080", AllowRemote: true},
	} {
		_, err := New(good)
		assert.NoError(t, err, "%+v", good)
	}
	var never *Probe
	never, err = New(Config{URL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	never.Stop() // before Start: a no-op
	assert.Nil(t, never.Done())
	assert.Empty(t, p.target.Header.Get("Host"), "no Host set: the URL's")
	withHost, err := New(Config{URL: "http://127.0.0.1:1", Host: "backend"})
	require.NoError(t, err)
	assert.Equal(t, "backend", withHost.target.Header.Get("Host"))
}
