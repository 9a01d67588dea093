package probe

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// helperEnv makes the test binary a server for BenchmarkProbeAlone.
const helperEnv = "OKBREAK_PROBE_BENCH_SERVER"

// TestHelperServer is not a test: BenchmarkProbeAlone runs this binary
// again as the server it probes, so that the server's CPU is another
// process's. It prints its address, answers like a healthy backend, and
// exits when its standard input closes (the benchmark ended or died).
func TestHelperServer(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the server process of BenchmarkProbeAlone")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"service":"backend","instance":"backend-1","attempts":1}` + "\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	os.Stdout.WriteString("addr " + ln.Addr().String() + "\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // EOF when the benchmark is done
	_ = srv.Close()
}

// helperServer starts TestHelperServer in a process of its own and returns
// its URL.
func helperServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServer$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("server process: %v", err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		b.Fatalf("server process: want its address, got %q (%v)", line, err)
	}
	return "http://" + addr
}

// BenchmarkProbeAlone steps the rate up against a server in another
// process and reports the probe's own CPU: this process's user+system time
// (getrusage), which holds the probe and nothing else. A rate is held as in
// BenchmarkMaxRate (98 % of the arrivals, every answer OK, p99 under 50
// ms). It reports the highest rate held, and the probe's CPU at 2,000 req/s
// (the capacity goal) and per 1,000 req/s at the highest rate held, in %
// of one core. The two processes share the machine's cores, so a busy
// machine lowers the rate held, not the CPU counted.
func BenchmarkProbeAlone(b *testing.B) {
	url := helperServer(b)
	best := 0
	var bestCPU float64
	for _, rate := range []int{500, 1000, 2000, 3000, 4000, 6000} {
		p, err := New(Config{URL: url, Rate: rate, Timeout: time.Second, Host: "backend", Check: backendCheck})
		if err != nil {
			b.Fatal(err)
		}
		const d = 3 * time.Second
		c0, t0 := cpuTime(b), time.Now()
		if err := p.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		time.Sleep(d)
		p.Stop()
		cpu := 100 * (cpuTime(b) - c0).Seconds() / time.Since(t0).Seconds()
		from := p.Started()
		st := p.Stats(from, from.Add(d))
		held := st.Rate >= 0.98*float64(rate) && st.OK == st.Count && st.P99 < 50*time.Millisecond
		b.Logf("rate %5d/s: got %7.1f/s ok %d/%d p99 %8s probe cpu %5.1f%% of one core (%4.1f per 1000 req/s) held=%v",
			rate, st.Rate, st.OK, st.Count, st.P99.Round(time.Microsecond), cpu, cpu/(st.Rate/1000), held)
		if rate == 2000 {
			b.ReportMetric(cpu, "probe-cpu-%-at-2000")
		}
		if !held {
			break
		}
		best, bestCPU = rate, cpu
	}
	b.ReportMetric(float64(best), "max-req/s")
	if best > 0 {
		b.ReportMetric(bestCPU/(float64(best)/1000), "probe-cpu-%-per-1000req/s")
	}
}
