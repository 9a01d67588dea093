package fault_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// benchCase is one network fault type as the benchmark puts it on
// client->edge: params small enough that the effect shows at once, and
// what a client must see for the effect to count as there (in force) and
// gone.
type benchCase struct {
	typ    string
	params map[string]any
	in     func(r raw) bool
	gone   func(r raw) bool
	// at, when set, says when within the request the effect showed (else
	// at the request's end).
	at func(r raw) time.Duration
}

// BenchmarkNetworkFaults measures, for each network fault type, how fast a
// fault is in force as a client sees it through the containerized
// Toxiproxy, and how fast it is gone again. The fault is on the link
// edge->backend-1; the client is this process, asking backend-1 for
// /healthz through that link's Toxiproxy listener on the Toxiproxy
// container's address (the host routes to Docker's bridge network, so
// docker-proxy's extra hop and its noise stay out), one request per TCP
// connection. The first request after Inject (Revert) goes on a connection
// dialed just before, the others on new ones. One iteration measures
//
//   - inject-observed: from the start of Inject (the journal's fsync
//     included) until a request first shows the effect;
//   - revert-gone: from the start of Revert until a request first shows
//     no effect.
//
// Requests are sent back to back once Inject (Revert) has returned. What
// counts as the effect, per type (params chosen so that it shows within one
// request):
//
//   - latency 2ms: the answer takes ≥ 2 ms (gone: < 2 ms);
//   - bandwidth at a rate that makes the answer take ~3 ms: it takes
//     ≥ 2.5 ms (gone: < 2 ms);
//   - slow_close 2ms: the close comes ≥ 1.5 ms after the last byte (gone:
//     < 1 ms);
//   - timeout 1ms, reset_peer, limit_data 10 bytes, down: the answer does
//     not arrive whole (gone: a whole 200 answer);
//   - slicer 8±4 bytes, 200µs apart: the answer arrives in ≥ 4 reads,
//     observed at the 4th (gone: whole, in ≤ 2 reads).
//
// Once Inject has returned the toxic acts on every connection, so no
// request after it can miss the effect; noise (a slow answer without any
// fault) can only delay "gone", never fake "observed".
// The delays are part of what is measured: latency, bandwidth and slow_close
// cannot show sooner than the delay they add. Medians are reported as
// ms/inject-observed and ms/revert-gone, 90th percentiles as ms/inject-p90
// and ms/revert-p90; ms/inject-call is the median of Inject alone (journal
// write and fsync, then the Toxiproxy API call). Run:
//
//	go test ./harness/fault -run '^$' -bench .
func BenchmarkNetworkFaults(b *testing.B) {
	ctx, h := benchSUT(b)
	const link = benchLink
	addr := h.linkAddr(b, ctx, link)
	probe := func(conn net.Conn) raw { return rawOn(ctx, conn, addr, "backend-1", "/healthz", 2*time.Second, true) }
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil // a link that is down: the probe dials (and fails) itself
		}
		return c
	}

	base := probe(nil)
	if !base.complete() {
		b.Fatalf("no steady answer on %s: %q %v", link, base.Data, base.Err)
	}
	var rtts []time.Duration
	for range 200 {
		rtts = append(rtts, probe(dial()).LastByte)
	}
	b.Logf("baseline over 200 requests on %s: median %s, p99 %s, max %s (answer %d bytes)",
		link, quantile(rtts, 0.5), quantile(rtts, 0.99), slices.Max(rtts), len(base.Data))
	rate := max(1, len(base.Data)/3) // KB/s: the answer takes ~3 ms

	for _, c := range networkBenchCases(rate) {
		b.Run(c.typ, func(b *testing.B) {
			f := h.fault(b, fault.Spec{Type: c.typ, Target: link, Params: c.params})
			// Warm up: the API URL is looked up once per fault.
			if err := f.Inject(ctx); err != nil {
				b.Fatal(err)
			}
			if err := f.Revert(ctx); err != nil {
				b.Fatal(err)
			}
			var ins, outs, calls []time.Duration
			b.ResetTimer()
			for range b.N {
				d, call, err := timeToCall(ctx, f.Inject, dial, probe, c.in, c.at)
				calls = append(calls, call)
				if err != nil {
					_ = f.Revert(ctx)
					b.Fatalf("inject %s: %v", c.typ, err)
				}
				ins = append(ins, d)
				d, err = timeTo(ctx, f.Revert, dial, probe, c.gone, nil)
				if err != nil {
					b.Fatalf("revert %s: %v", c.typ, err)
				}
				outs = append(outs, d)
			}
			b.StopTimer()
			b.ReportMetric(ms(quantile(ins, 0.5)), "ms/inject-observed")
			b.ReportMetric(ms(quantile(outs, 0.5)), "ms/revert-gone")
			b.ReportMetric(ms(quantile(ins, 0.9)), "ms/inject-p90")
			b.ReportMetric(ms(quantile(outs, 0.9)), "ms/revert-p90")
			b.ReportMetric(ms(quantile(calls, 0.5)), "ms/inject-call")
		})
	}
}

// benchLink is the link the benchmarks put network faults on.
const benchLink = "edge->backend-1"

// benchSUT brings up the default stack (grpc data plane) once for a
// benchmark, with the run's journal in a temporary folder, and registers its
// teardown.
func benchSUT(b *testing.B) (context.Context, *sut) {
	b.Helper()
	requireDocker(b)
	ctx := context.Background()
	b.Setenv(stack.EnvStateDir, b.TempDir())
	s := stacktest.Up(b, ctx, stack.GRPC)
	return ctx, newSUT(b, ctx, s)
}

// networkBenchCases are the network fault types with the params and effects
// BenchmarkNetworkFaults observes (see there); rate is bandwidth's, in KB/s.
func networkBenchCases(rate int) []benchCase {
	whole := func(r raw) bool { return r.complete() }
	broken := func(r raw) bool { return !r.complete() }
	return []benchCase{
		{"latency", map[string]any{"latency": "2ms"},
			func(r raw) bool { return r.LastByte >= 2*time.Millisecond },
			func(r raw) bool { return r.complete() && r.LastByte < 2*time.Millisecond }, nil},
		{"bandwidth", map[string]any{"rate": rate},
			func(r raw) bool { return r.LastByte >= 2500*time.Microsecond },
			func(r raw) bool { return r.complete() && r.LastByte < 2*time.Millisecond }, nil},
		{"slow_close", map[string]any{"delay": "2ms"},
			func(r raw) bool { return r.End-r.LastByte >= 1500*time.Microsecond },
			func(r raw) bool { return r.complete() && r.End-r.LastByte < time.Millisecond }, nil},
		{"timeout", map[string]any{"timeout": "1ms"}, broken, whole, nil},
		{"reset_peer", nil, broken, whole, nil},
		{"slicer", map[string]any{"average_size": 8, "size_variation": 4, "delay": "200us"},
			func(r raw) bool { return len(r.Reads) >= 4 },
			func(r raw) bool { return r.complete() && len(r.Reads) <= 2 },
			func(r raw) time.Duration { return r.ReadAt[3] }},
		{"limit_data", map[string]any{"bytes": 10}, broken, whole, nil},
		{"down", nil, broken, whole, nil},
	}
}

// timeTo runs act, then sends requests until seen holds, and returns the
// time from the start of act to the end of that request (or to at within
// it). The first request goes on a connection dialed before act starts,
// so that the time to connect (through Toxiproxy, which dials the upstream
// on accept) is not counted; toxics act on live connections too.
func timeTo(ctx context.Context, act func(context.Context) error, dial func() net.Conn, probe func(net.Conn) raw, seen func(raw) bool, at func(raw) time.Duration) (time.Duration, error) {
	d, _, err := timeToCall(ctx, act, dial, probe, seen, at)
	return d, err
}

// timeToCall is timeTo that also returns how long act itself took.
func timeToCall(ctx context.Context, act func(context.Context) error, dial func() net.Conn, probe func(net.Conn) raw, seen func(raw) bool, at func(raw) time.Duration) (time.Duration, time.Duration, error) {
	conn := dial()
	t0 := time.Now()
	if err := act(ctx); err != nil {
		if conn != nil {
			conn.Close()
		}
		return 0, 0, err
	}
	call := time.Since(t0)
	for time.Since(t0) < 5*time.Second {
		p0 := time.Now()
		r := probe(conn)
		conn = nil
		if seen(r) {
			if at != nil {
				return p0.Sub(t0) + at(r), call, nil
			}
			return time.Since(t0), call, nil
		}
	}
	return 0, call, fmt.Errorf("not observed within 5s")
}

// quantile is the q-quantile of ds by nearest rank: the smallest value that
// at least q of the values do not exceed (the median of an even count is the
// lower middle one; p99 of fewer than 100 values is the largest).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
