package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// BenchmarkClassify is the probe's own work per answer: judging the body.
func BenchmarkClassify(b *testing.B) {
	r := &vegeta.Result{Timestamp: time.Now(), Code: 200, Latency: time.Millisecond,
		Body: []byte(`{"service":"backend","instance":"backend-2","attempts":1}` + "\n")}
	b.ReportAllocs()
	for b.Loop() {
		if s := classify(r, backendCheck, nil, time.Second); s.Outcome != OK {
			b.Fatal(s.Err)
		}
	}
}

// BenchmarkCompute is one window's summary at the default rate: 30 s of
// samples (3000).
func BenchmarkCompute(b *testing.B) {
	ss := steady(3000, func(i int) Sample { return ok(time.Duration(i%97) * time.Millisecond) })
	b.ReportAllocs()
	for b.Loop() {
		Compute(ss, time.Time{}, time.Time{})
	}
}

// benchServer answers like a healthy backend.
func benchServer(b *testing.B) *httptest.Server {
	body := []byte(`{"service":"backend","instance":"backend-1","attempts":1}` + "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runFor runs a probe at rate for d against srv and returns its stats and
// the CPU and allocations the whole process (probe and loopback server)
// spent.
func runFor(b *testing.B, srv *httptest.Server, rate int, d time.Duration) (Stats, time.Duration, uint64) {
	p, err := New(Config{URL: srv.URL, Rate: rate, Timeout: time.Second, Host: "backend", Check: backendCheck})
	if err != nil {
		b.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0 := cpuTime(b)
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Second)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	t := time.NewTimer(d)
	<-t.C
	p.Stop()
	cpu := cpuTime(b) - c0
	runtime.ReadMemStats(&m1)
	from := p.Started()
	return p.Stats(from, from.Add(d)), cpu, m1.Mallocs - m0.Mallocs
}

// BenchmarkProbe100 reports what the default probe costs: CPU milliseconds
// per second of probing and allocations per request, for the probe and the
// loopback server together (an upper bound on the probe's own share).
func BenchmarkProbe100(b *testing.B) {
	srv := benchServer(b)
	const d = 3 * time.Second
	st, cpu, allocs := runFor(b, srv, 100, d)
	if st.Count == 0 {
		b.Fatal("no samples")
	}
	b.ReportMetric(float64(cpu.Milliseconds())/d.Seconds(), "cpu-ms/s")
	b.ReportMetric(float64(allocs)/float64(st.Count), "allocs/req")
	b.ReportMetric(st.Rate, "req/s")
	b.ReportMetric(float64(st.P99.Microseconds()), "p99-µs")
}

// BenchmarkMaxRate steps the rate up on loopback and reports the highest
// rate the probe held: at least 98 % of the asked-for arrivals, every answer
// OK, p99 under 50 ms. On a 2-core machine the loopback server shares the
// cores, so this is a floor for the probe alone.
func BenchmarkMaxRate(b *testing.B) {
	srv := benchServer(b)
	best := 0
	for _, rate := range []int{500, 1000, 2000, 4000, 8000} {
		st, cpu, _ := runFor(b, srv, rate, 2*time.Second)
		held := st.Rate >= 0.98*float64(rate) && st.OK == st.Count && st.P99 < 50*time.Millisecond
		b.Logf("rate %5d/s: got %7.1f/s ok %d/%d p99 %8s cpu %5.0f%% held=%v",
			rate, st.Rate, st.OK, st.Count, st.P99.Round(time.Microsecond), 100*cpu.Seconds()/2, held)
		if !held {
			break
		}
		best = rate
	}
	b.ReportMetric(float64(best), "max-req/s")
}
