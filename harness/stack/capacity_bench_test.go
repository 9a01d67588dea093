package stack_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/probe"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// BenchmarkProbeCapacity is the probe's capacity through the data plane:
// the default stack (grpc) up once, then the probe at a rising constant
// rate through the real entry (client->edge: Toxiproxy, the edge, Toxiproxy
// again, a backend), a few seconds a step. A rate is held when at least
// 98 % of the asked-for arrivals were sent, every answer was OK and p99 met
// the default SLO. It reports the highest rate held and the probe's own
// CPU there: this process's user+system time (getrusage), which counts
// none of the stack's, the containers being other processes. It reports
// the stack's CPU per 1,000 req/s too, and each step's log line gives the
// stack's CPU by component (the containers' cgroups, through Docker), the
// engine's docker-proxy (the published entry port's userland proxy, which
// is in no container) and the whole machine's, to tell which side a limit
// is on.
//
// OKBREAK_CAPACITY_RATES (comma separated) and OKBREAK_CAPACITY_STEP
// (a duration) change the steps.
func BenchmarkProbeCapacity(b *testing.B) {
	stacktest.RequireDocker(b)
	rates := []int{250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000}
	if v := os.Getenv("OKBREAK_CAPACITY_RATES"); v != "" {
		rates = rates[:0]
		for _, f := range strings.Split(v, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || r <= 0 || r > probe.MaxRate {
				b.Fatalf("OKBREAK_CAPACITY_RATES %q: want rates in 1..%d, comma separated", v, probe.MaxRate)
			}
			rates = append(rates, r)
		}
	}
	step := 5 * time.Second
	if v := os.Getenv("OKBREAK_CAPACITY_STEP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			b.Fatalf("OKBREAK_CAPACITY_STEP %q: want a duration of at least 1s", v)
		}
		step = d
	}
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	b.Cleanup(cancel)
	s := stacktest.Up(b, ctx, stack.GRPC)
	entry, err := s.EntryURL(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cli, err := stack.Docker(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ids := map[string]string{}
	for _, c := range s.Def.Components {
		ctr, err := s.Container(c.Name)
		if err != nil {
			b.Fatal(err)
		}
		ids[c.Name] = ctr.GetContainerID()
	}

	best, bestCPU, bestStack := 0, 0.0, 0.0
	for _, rate := range rates {
		r := capacityStep(ctx, b, s.Def.Entry, entry, rate, step, cli, ids)
		held := r.st.Rate >= 0.98*float64(rate) && r.st.OK == r.st.Count && r.st.P99 < probe.DefaultSLO.P99
		b.Logf("rate %5d/s: sent %7.1f/s ok %d/%d p99 %8s; cpu (%% of one core) probe %5.1f (%4.1f per 1000 req/s), stack %5.1f (%s), docker-proxy %4.1f, machine %5.1f of %d00; held=%v",
			rate, r.st.Rate, r.st.OK, r.st.Count, r.st.P99.Round(time.Microsecond),
			r.probeCPU, r.probeCPU/(r.st.Rate/1000), r.stackCPU, r.byComponent, r.proxyCPU, r.machineCPU, r.cores, held)
		if !held {
			if r.st.OK != r.st.Count {
				b.Logf("rate %d/s: first answers not OK: %s", rate, firstErrors(r.samples, 3))
			}
			break
		}
		best, bestCPU, bestStack = rate, r.probeCPU, r.stackCPU+r.proxyCPU
	}
	b.ReportMetric(float64(best), "max-req/s")
	if best > 0 {
		b.ReportMetric(bestCPU, "probe-cpu-%-at-max")
		b.ReportMetric(bestCPU/(float64(best)/1000), "probe-cpu-%-per-1000req/s")
		b.ReportMetric(bestStack/(float64(best)/1000), "stack-cpu-%-per-1000req/s")
	}
}

// stepResult is one rate's outcome and what the CPUs spent on it, in % of
// one core over the step's wall time.
type stepResult struct {
	st                                       probe.Stats
	samples                                  []probe.Sample
	probeCPU, stackCPU, proxyCPU, machineCPU float64
	byComponent                              string
	cores                                    int
}

// capacityStep runs a fresh probe at rate for d through entryURL.
func capacityStep(ctx context.Context, b *testing.B, e stack.Entry, entryURL string, rate int, d time.Duration, cli *client.Client, ids map[string]string) stepResult {
	p, err := probe.New(probe.Config{URL: entryURL, Path: e.Path, Host: e.Host, Check: e.Check, Header: e.Header, Rate: rate})
	if err != nil {
		b.Fatal(err)
	}
	stack0 := stackCPU(ctx, b, cli, ids)
	proxy0 := dockerProxyCPU(b)
	busy0, all0, cores := machineCPU(b)
	self0, t0 := selfCPU(b), time.Now()
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		b.Fatalf("rate %d/s: %v", rate, ctx.Err())
	}
	p.Stop()
	self, wall := selfCPU(b)-self0, time.Since(t0)
	busy1, all1, _ := machineCPU(b)
	proxy := dockerProxyCPU(b) - proxy0
	stack1 := stackCPU(ctx, b, cli, ids)
	from := p.Started()
	ss := p.Samples()
	pct := func(c time.Duration) float64 { return 100 * c.Seconds() / wall.Seconds() }
	r := stepResult{
		st:         probe.Compute(ss, from, from.Add(d)),
		samples:    ss,
		probeCPU:   pct(self),
		proxyCPU:   pct(proxy),
		machineCPU: 100 * float64(cores) * float64(busy1-busy0) / float64(max(all1-all0, 1)),
		cores:      cores,
	}
	names := slices.Sorted(maps.Keys(ids))
	slices.SortStableFunc(names, func(x, y string) int { return cmp.Compare(stack1[y]-stack0[y], stack1[x]-stack0[x]) })
	var parts []string
	for _, n := range names {
		c := pct(stack1[n] - stack0[n])
		r.stackCPU += c
		parts = append(parts, fmt.Sprintf("%s %.1f", n, c))
	}
	r.byComponent = strings.Join(parts, ", ")
	return r
}

// selfCPU is this process's user+system CPU time so far: the probe's, the
// stack being other processes.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stackCPU is the CPU time each component's container has used so far, as
// its cgroup counts it.
func stackCPU(ctx context.Context, b *testing.B, cli *client.Client, ids map[string]string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, id := range ids {
		res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{})
		if err != nil {
			b.Fatalf("stats of %s: %v", name, err)
		}
		var st container.StatsResponse
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil {
			b.Fatalf("stats of %s: %v", name, err)
		}
		out[name] = time.Duration(st.CPUStats.CPUUsage.TotalUsage)
	}
	return out
}

// dockerProxyCPU is the CPU time the engine's docker-proxy processes have
// used so far: each published port's userland proxy, outside the
// containers' cgroups, which the probe's traffic crosses on its way in.
// Only one Docker user runs at a time here, so they are this stack's.
func dockerProxyCPU(b *testing.B) time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatalf("docker-proxy CPU: %v", err)
	}
	var total time.Duration
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + d.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "docker-proxy" {
			continue
		}
		raw, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// utime and stime are fields 14 and 15, counted after the
		// command in parentheses (which may hold spaces).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		total += time.Duration(ut+st) * time.Second / clockTicks
	}
	return total
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// this runs on.
const clockTicks = 100

// machineCPU reads the busy and total jiffies of all cores from /proc/stat
// and the number of cores.
func machineCPU(b *testing.B) (busy, total uint64, cores int) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatalf("machine CPU: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "cpu":
			for i, v := range f[1:] {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					b.Fatalf("machine CPU: /proc/stat %q: %v", line, err)
				}
				total += n
				// idle and iowait are the 4th and 5th fields.
				if i != 3 && i != 4 {
					busy += n
				}
			}
		case len(f) > 0 && strings.HasPrefix(f[0], "cpu"):
			cores++
		}
	}
	return busy, total, cores
}

// firstErrors describes the first n samples that were not OK.
func firstErrors(ss []probe.Sample, n int) string {
	var out []string
	for _, s := range ss {
		if s.Outcome != probe.OK {
			out = append(out, fmt.Sprintf("%s %s", s.Outcome, s.Err))
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, "; ")
}
