package probe

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// steady returns n samples 10 ms apart from t0 (100/s), each from f(i).
func steady(n int, f func(i int) Sample) []Sample {
	out := make([]Sample, n)
	for i := range out {
		s := f(i)
		s.Start = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		out[i] = s
	}
	return out
}

func ok(lat time.Duration) Sample {
	return Sample{Latency: lat, Code: 200, Service: "backend", Instance: "backend-1", Outcome: OK}
}

func failed(lat time.Duration) Sample {
	return Sample{Latency: lat, Code: 503, Err: "503: Unavailable: down", Outcome: Error}
}

func TestPercentilesAreNearestRank(t *testing.T) {
	for _, n := range []int{100, 1000, 500} {
		// Latencies 1..n ms, shuffled: p99 of 1..n is ceil(0.99 n) ms.
		lats := rand.New(rand.NewPCG(1, 2)).Perm(n)
		ss := steady(n, func(i int) Sample { return ok(time.Duration(lats[i]+1) * time.Millisecond) })
		st := Compute(ss, time.Time{}, time.Time{})
		ms := func(k int) time.Duration { return time.Duration(k) * time.Millisecond }
		assert.Equal(t, ms((n+1)/2), st.P50, "n=%d", n)
		assert.Equal(t, ms((9*n+9)/10), st.P90, "n=%d", n)
		assert.Equal(t, ms((99*n+99)/100), st.P99, "n=%d", n)
		assert.Equal(t, ms(n), st.Max)
	}
	one := Compute([]Sample{ok(7 * time.Millisecond)}, time.Time{}, time.Time{})
	assert.Equal(t, 7*time.Millisecond, one.P50)
	assert.Equal(t, 7*time.Millisecond, one.P99)
	empty := Compute(nil, t0, t0.Add(time.Second))
	assert.Zero(t, empty.Count)
	assert.Zero(t, empty.SuccessRatio)
}

func TestFailuresCountInLatency(t *testing.T) {
	// 98 fast successes and 2 timeouts at 2 s: p99 is the timeout.
	ss := steady(100, func(i int) Sample {
		if i%50 == 7 {
			return Sample{Latency: 2 * time.Second, Err: "context deadline exceeded", Outcome: Timeout}
		}
		return ok(time.Millisecond)
	})
	st := Compute(ss, time.Time{}, time.Time{})
	assert.Equal(t, 2*time.Second, st.P99)
	assert.Equal(t, 2, st.Timeouts)
	assert.Equal(t, 0.98, st.SuccessRatio)
	assert.Equal(t, []ErrorCount{{Err: "context deadline exceeded", Count: 2}}, st.TopErrors)
}

func TestSplitByStartTimeWithGrace(t *testing.T) {
	// 10 s at 100/s; fault from 3 s to 6 s; grace 1 s; end at 10 s.
	ss := steady(1000, func(i int) Sample {
		if i >= 300 && i < 600 {
			return failed(time.Millisecond)
		}
		return ok(time.Millisecond)
	})
	// Shuffle: windows must not depend on the order samples completed in.
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	w := Split(ss, t0, at(3*time.Second), at(6*time.Second), at(10*time.Second), time.Second)

	assert.Equal(t, 300, w.Before.Count) // [0, 3 s)
	assert.Equal(t, 300, w.Before.OK)
	assert.Equal(t, 200, w.During.Count) // [4 s, 6 s): the sample at exactly 4 s is in, 6 s is out
	assert.Equal(t, 200, w.During.Errors)
	assert.Equal(t, 300, w.After.Count) // [7 s, 10 s)
	assert.Equal(t, 300, w.After.OK)
	assert.Equal(t, at(4*time.Second), w.During.Start)
	assert.Equal(t, at(6*time.Second), w.During.End)
	assert.InDelta(t, 100, w.During.Rate, 1e-9)

	// A sample sent just before inject and answered after it was reached
	// by the fault: not steady state, so not in Before.
	late := ok(50 * time.Millisecond)
	late.Start = at(3*time.Second - 10*time.Millisecond)
	early := ok(5 * time.Millisecond)
	early.Start = late.Start
	w = Split([]Sample{late, early}, t0, at(3*time.Second), at(6*time.Second), at(10*time.Second), time.Second)
	assert.Equal(t, 1, w.Before.Count)
	assert.Equal(t, 5*time.Millisecond, w.Before.Max)

	// A grace longer than the fault leaves During empty: too thin to judge.
	w = Split(ss, t0, at(3*time.Second), at(4*time.Second), at(10*time.Second), 2*time.Second)
	assert.Zero(t, w.During.Count)
	ok, why := w.During.Meets(DefaultSLO, 500)
	assert.False(t, ok)
	assert.ErrorIs(t, why, ErrTooFewSamples)
}

func TestMeets(t *testing.T) {
	good := Compute(steady(500, func(int) Sample { return ok(10 * time.Millisecond) }), time.Time{}, time.Time{})
	met, why := good.Meets(DefaultSLO, DefaultMinSamples)
	assert.True(t, met)
	assert.NoError(t, why)

	thin := Compute(steady(499, func(int) Sample { return ok(10 * time.Millisecond) }), t0, t0.Add(5*time.Second))
	met, why = thin.Meets(DefaultSLO, DefaultMinSamples)
	assert.False(t, met)
	assert.ErrorIs(t, why, ErrTooFewSamples)
	assert.NotErrorIs(t, why, ErrSLOMissed)
	assert.Contains(t, why.Error(), "499 in 5s, need 500")

	// 6 failures in 500 is 98.8 %: missed; 5 is exactly 99 %: met.
	for failures, want := range map[int]bool{5: true, 6: false} {
		st := Compute(steady(500, func(i int) Sample {
			if i < failures {
				return failed(time.Millisecond)
			}
			return ok(time.Millisecond)
		}), time.Time{}, time.Time{})
		met, why = st.Meets(DefaultSLO, DefaultMinSamples)
		assert.Equal(t, want, met, "%d failures: %v", failures, why)
		if !want {
			assert.ErrorIs(t, why, ErrSLOMissed)
		}
	}

	slow := Compute(steady(500, func(i int) Sample {
		if i < 10 {
			return ok(1500 * time.Millisecond)
		}
		return ok(time.Millisecond)
	}), time.Time{}, time.Time{})
	met, why = slow.Meets(DefaultSLO, DefaultMinSamples)
	assert.False(t, met)
	assert.ErrorIs(t, why, ErrSLOMissed)
	assert.Contains(t, why.Error(), "p99 1.5s > 1s")

	for _, bad := range []SLO{{}, {Success: 1.5, P99: time.Second}, {Success: 0.99}} {
		met, why = good.Meets(bad, 1)
		assert.False(t, met)
		assert.ErrorIs(t, why, ErrInvalidSLO)
	}
}

func TestRecovered(t *testing.T) {
	// 20 s at 100/s: errors until 8 s, slow (1.5 s, yet OK) until 12 s,
	// healthy after. A 2 s window holds 200 samples; p99 and 99 % both
	// tolerate 2 bad ones, so the first good window starts at 11.98 s.
	ss := steady(2000, func(i int) Sample {
		switch {
		case i < 800:
			return failed(time.Millisecond)
		case i < 1200:
			return ok(1500 * time.Millisecond)
		}
		return ok(time.Millisecond)
	})
	at, w, ok := Recovered(ss, t0.Add(5*time.Second), DefaultSLO, 2*time.Second, 150)
	require.True(t, ok)
	assert.Equal(t, t0.Add(11980*time.Millisecond), at)
	assert.Equal(t, 200, w.Count)
	assert.Equal(t, 2, w.Count-len(filter(ss, at, 2*time.Second, time.Second)))

	// Starting the search later than the recovery returns the start.
	at, _, ok = Recovered(ss, t0.Add(15*time.Second), DefaultSLO, 2*time.Second, 150)
	require.True(t, ok)
	assert.Equal(t, t0.Add(15*time.Second), at)

	// Healthy only in a tail shorter than the window: not recovered.
	_, _, ok = Recovered(ss[:1300], t0, DefaultSLO, 2*time.Second, 150)
	assert.False(t, ok, "a truncated window cannot prove recovery")

	// Too few samples per window: not recovered however good they are.
	_, _, ok = Recovered(ss, t0, DefaultSLO, 2*time.Second, 201)
	assert.False(t, ok)
	_, _, ok = Recovered(nil, t0, DefaultSLO, time.Second, 1)
	assert.False(t, ok)
	_, _, ok = Recovered(ss, t0, SLO{}, time.Second, 1)
	assert.False(t, ok)
}

// filter returns the samples in [from, from+d) faster than max.
func filter(ss []Sample, from time.Time, d, max time.Duration) []Sample {
	var out []Sample
	for _, s := range ss {
		if !s.Start.Before(from) && s.Start.Before(from.Add(d)) && s.Latency <= max && s.Outcome == OK {
			out = append(out, s)
		}
	}
	return out
}

// TestRecoveredMatchesBruteForce checks the prefix-sum search against
// Compute+Meets on every candidate window, over random mixes.
func TestRecoveredMatchesBruteForce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for round := range 30 {
		badUntil := rng.IntN(400)
		pBad := rng.Float64() * 0.05
		ss := steady(600, func(i int) Sample {
			bad := i < badUntil || rng.Float64() < pBad
			switch {
			case !bad:
				return ok(time.Duration(rng.IntN(50)) * time.Millisecond)
			case rng.IntN(2) == 0:
				return failed(time.Millisecond)
			default:
				return ok(time.Duration(1000+rng.IntN(1000)) * time.Millisecond)
			}
		})
		window := time.Duration(50+rng.IntN(200)) * 10 * time.Millisecond
		min := rng.IntN(100)
		after := t0.Add(time.Duration(rng.IntN(200)) * 10 * time.Millisecond)

		var want time.Time
		found := false
		last := ss[len(ss)-1].Start
		for _, s := range ss {
			if s.Start.Before(after) || s.Start.Add(window).After(last) {
				continue
			}
			if met, _ := Compute(ss, s.Start, s.Start.Add(window)).Meets(DefaultSLO, min); met {
				want, found = s.Start, true
				break
			}
		}
		got, _, ok := Recovered(ss, after, DefaultSLO, window, min)
		require.Equal(t, found, ok, "round %d (seed %d)", round, seed)
		assert.Equal(t, want, got, "round %d (seed %d)", round, seed)
	}
}

func TestBuckets(t *testing.T) {
	ss := steady(250, func(int) Sample { return ok(time.Millisecond) })
	b := Buckets(ss, t0, t0.Add(2500*time.Millisecond), time.Second)
	require.Len(t, b, 3)
	assert.Equal(t, []int{100, 100, 50}, []int{b[0].Count, b[1].Count, b[2].Count})
	assert.Equal(t, t0.Add(2500*time.Millisecond), b[2].End)
	assert.Nil(t, Buckets(ss, t0, t0, time.Second))
	assert.Nil(t, Buckets(ss, t0, t0.Add(time.Second), 0))
}

func TestJSON(t *testing.T) {
	ss := steady(100, func(i int) Sample {
		if i == 0 {
			return failed(1234567 * time.Microsecond)
		}
		s := ok(time.Duration(i) * time.Millisecond)
		s.Attempts = 2
		return s
	})
	st := Compute(ss, t0, t0.Add(time.Second))
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	assert.Equal(t, 0.099, raw["p99_s"])
	assert.Equal(t, 1.234567, raw["max_s"])
	assert.Equal(t, 0.99, raw["success_ratio"])
	assert.Equal(t, 99.0, raw["retried"])
	assert.Equal(t, map[string]any{"200": 99.0, "503": 1.0}, raw["by_code"])
	var back Stats
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, back.Start.Equal(st.Start))
	back.Start, back.End = st.Start, st.End
	assert.Equal(t, st, back)

	w := Split(ss, t0, t0.Add(300*time.Millisecond), t0.Add(600*time.Millisecond), t0.Add(time.Second), 100*time.Millisecond)
	b, err = json.Marshal(w)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"grace_s":0.1`)
	var wb Windows
	require.NoError(t, json.Unmarshal(b, &wb))
	assert.Equal(t, w.Grace, wb.Grace)
	assert.Equal(t, w.During.P99, wb.During.P99)

	b, err = json.Marshal(ss[0])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"latency_s":1.234567`)
	var sb Sample
	require.NoError(t, json.Unmarshal(b, &sb))
	assert.Equal(t, ss[0].Latency, sb.Latency)
	assert.Equal(t, ss[0].Outcome, sb.Outcome)
}

func TestClassify(t *testing.T) {
	const to = 2 * time.Second
	res := func(code uint16, body string, err string, lat time.Duration) *vegeta.Result {
		return &vegeta.Result{Timestamp: t0, Code: code, Body: []byte(body), Error: err, Latency: lat}
	}
	for _, c := range []struct {
		name    string
		r       *vegeta.Result
		outcome Outcome
		err     string
	}{
		{"200", res(200, `anything`, "", time.Millisecond), OK, ""},
		{"envoy 503", res(503, "no healthy upstream", "503 Service Unavailable", time.Millisecond), Error, "503: no healthy upstream"},
		{"empty 500", res(500, "", "500 Internal Server Error", time.Millisecond), Error, "status 500"},
		{"204", res(204, "", "", time.Millisecond), Error, "status 204"},
		{"refused", res(0, "", `Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`, time.Millisecond), Error, "refused"},
		{"deadline", res(0, "", `Get "http://127.0.0.1:1/": context deadline exceeded`, to), Timeout, "deadline"},
		{"late reset", res(0, "", `read: connection reset by peer`, to+time.Millisecond), Timeout, "reset"},
	} {
		s := classify(c.r, StatusOK, nil, to)
		assert.Equal(t, c.outcome, s.Outcome, c.name)
		assert.Contains(t, s.Err, c.err, c.name)
		assert.Equal(t, t0, s.Start, c.name)
		assert.Equal(t, int(c.r.Code), s.Code, c.name)
	}
	long := classify(res(503, string(make([]byte, 10000)), "", 0), StatusOK, nil, to)
	assert.LessOrEqual(t, len(long.Err), maxErrLen+3)

	// A check that calls a 204 OK is overruled: only a 200 is a success.
	lenient := func(int, []byte) Answer { return Answer{Outcome: OK} }
	assert.Equal(t, Error, classify(res(204, "", "", time.Millisecond), lenient, nil, to).Outcome)
	assert.Equal(t, Error, classify(res(200, "", "", time.Millisecond), func(int, []byte) Answer { return Answer{} }, nil, to).Outcome, "no outcome is no success")

	// A header check judges only what the answer check found OK.
	wantA := func(h http.Header) Answer {
		if h.Get("X-Instance") != "a" {
			return Answer{Outcome: WrongService, Err: "not a"}
		}
		return Answer{Outcome: OK}
	}
	withHeader := func(code uint16, v string) *vegeta.Result {
		r := res(code, "", "", time.Millisecond)
		r.Headers = http.Header{"X-Instance": {v}}
		return r
	}
	assert.Equal(t, OK, classify(withHeader(200, "a"), StatusOK, wantA, to).Outcome)
	wrong := classify(withHeader(200, "b"), StatusOK, wantA, to)
	assert.Equal(t, WrongService, wrong.Outcome)
	assert.Equal(t, "not a", wrong.Err)
	assert.Equal(t, Error, classify(withHeader(503, "a"), StatusOK, wantA, to).Outcome, "a failed answer stays failed")
}
