package main

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/sample"
)

// BenchmarkGameDayInjectRevert measures, on a stack of okbreak up --detach,
// the time from starting `okbreak inject` (the command, end to end: a new
// process that finds the stack, attaches, journals and injects) to the
// fault seen through the data plane (the first request through client->edge
// that takes the 300 ms of latency), and from starting `okbreak revert
// --all` to the first fast request after it. It reports the medians and
// the worst of the iterations:
//
//	go test ./cmd/okbreak -run '^$' -bench GameDayInjectRevert -benchtime 20x
func BenchmarkGameDayInjectRevert(b *testing.B) {
	stacktest.RequireDocker(b)
	bin := buildOkbreak(b)
	g := &gameDay{bin: bin, env: append(os.Environ(), "OKBREAK_STATE_DIR="+b.TempDir(), "OKBREAK_DATA_PLANE=grpc")}
	out, err := g.cmd(context.Background(), "up", "--detach", "--probe-rate", "20").CombinedOutput()
	m := regexp.MustCompile(`run (\w+) is up in the background`).FindSubmatch(out)
	if err != nil || m == nil {
		b.Fatalf("okbreak up --detach: %v: %s", err, out)
	}
	run := string(m[1])
	b.Cleanup(func() { _ = g.cmd(context.Background(), "down", "--run", run).Run() })
	ctx := context.Background()
	s, err := stack.Attach(ctx, run, sample.Definition(stack.GRPC))
	if err != nil {
		b.Fatal(err)
	}
	entry, err := s.EntryURL(ctx)
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	// firstAfter sends requests one after another from t until one's
	// latency satisfies want, and returns when that request started.
	firstAfter := func(t time.Time, want func(time.Duration) bool) time.Time {
		for time.Since(t) < 30*time.Second {
			start := time.Now()
			resp, err := hc.Get(entry + "/")
			if err == nil {
				resp.Body.Close()
			}
			if want(time.Since(start)) {
				return start
			}
		}
		b.Fatalf("no request satisfied the condition within 30 s")
		return time.Time{}
	}
	var injects, reverts []time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		inj := g.cmd(ctx, "inject", "latency", "--link", "client->edge", "--param", "latency=300ms", "--for", "1m", "--run", run)
		if err := inj.Start(); err != nil {
			b.Fatal(err)
		}
		seen := firstAfter(t0, func(d time.Duration) bool { return d >= 300*time.Millisecond })
		injects = append(injects, seen.Sub(t0))
		time.Sleep(500 * time.Millisecond) // let the injector settle into its wait
		t1 := time.Now()
		if out, err := g.cmd(ctx, "revert", "--all", "--run", run).CombinedOutput(); err != nil {
			b.Fatalf("okbreak revert: %v: %s", err, out)
		}
		gone := firstAfter(t1, func(d time.Duration) bool { return d < 150*time.Millisecond })
		reverts = append(reverts, gone.Sub(t1))
		if err := inj.Wait(); err != nil {
			b.Fatalf("okbreak inject after revert: %v", err)
		}
	}
	b.StopTimer()
	slices.Sort(injects)
	slices.Sort(reverts)
	b.ReportMetric(float64(injects[len(injects)/2].Milliseconds()), "inject-to-seen-median-ms")
	b.ReportMetric(float64(injects[len(injects)-1].Milliseconds()), "inject-to-seen-max-ms")
	b.ReportMetric(float64(reverts[len(reverts)/2].Milliseconds()), "revert-to-gone-median-ms")
	b.ReportMetric(float64(reverts[len(reverts)-1].Milliseconds()), "revert-to-gone-max-ms")
}
