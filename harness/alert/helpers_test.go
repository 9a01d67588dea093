package alert

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/stretchr/testify/require"
)

// fakeTarget is an in-process /metrics endpoint on loopback whose values the
// test controls: gauges are set, counters grow at a set rate (so that rate()
// sees real increases), and the whole target can fail (503) or be closed
// (connection refused, as after a crash).
type fakeTarget struct {
	srv *httptest.Server

	mu       sync.Mutex
	down     bool
	gauges   map[string]float64 // series (name{labels}) -> value
	counters map[string]*counter
}

type counter struct {
	v, rate float64
	last    time.Time
}

func newFakeTarget(t *testing.T) *fakeTarget {
	t.Helper()
	f := &fakeTarget{gauges: map[string]float64{}, counters: map[string]*counter{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTarget) url() string { return f.srv.URL + "/metrics" }

func (f *fakeTarget) serve(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	now := time.Now()
	var lines []string
	for s, v := range f.gauges {
		lines = append(lines, fmt.Sprintf("%s %v", s, v))
	}
	for s, c := range f.counters {
		c.v += c.rate * now.Sub(c.last).Seconds()
		c.last = now
		lines = append(lines, fmt.Sprintf("%s %v", s, c.v))
	}
	sort.Strings(lines)
	w.Header().Set("Content-Type", textContentType)
	_, _ = fmt.Fprintln(w, strings.Join(lines, "\n"))
}

func (f *fakeTarget) set(series string, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gauges[series] = v
}

func (f *fakeTarget) del(series string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.gauges, series)
	delete(f.counters, series)
}

// setRate makes a counter grow at rate per second from now on (creating it
// at 0).
func (f *fakeTarget) setRate(series string, rate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	c, ok := f.counters[series]
	if !ok {
		c = &counter{last: now}
		f.counters[series] = c
	}
	c.v += c.rate * now.Sub(c.last).Seconds()
	c.last = now
	c.rate = rate
}

// add bumps a counter by n at once.
func (f *fakeTarget) add(series string, n float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.counters[series]
	if !ok {
		c = &counter{last: time.Now()}
		f.counters[series] = c
	}
	c.v += n
}

func (f *fakeTarget) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// fakeContainers is a StateSource whose states the test sets.
type fakeContainers struct {
	mu     sync.Mutex
	states map[string]ContainerState
}

func newFakeContainers(components ...string) *fakeContainers {
	c := &fakeContainers{states: map[string]ContainerState{}}
	for _, name := range components {
		c.states[name] = ContainerState{Component: name, Running: true, StartedAt: time.Now()}
	}
	return c
}

func (c *fakeContainers) ContainerStates(context.Context) ([]ContainerState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ContainerState
	for _, s := range c.states {
		out = append(out, s)
	}
	return out, nil
}

func (c *fakeContainers) update(name string, f func(*ContainerState)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.states[name]
	f(&s)
	c.states[name] = s
}

// warningRules builds a rule file of warning alerts (a hold below the page
// minimum is allowed for warnings), name -> expr, all with hold.
func warningRules(t *testing.T, hold string, exprs map[string]string) RuleFile {
	t.Helper()
	var b strings.Builder
	b.WriteString("groups:\n  - name: test\n    rules:\n")
	names := make([]string, 0, len(exprs))
	for n := range exprs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "      - alert: %s\n        expr: '%s'\n        for: %s\n        labels: {severity: warning}\n        annotations: {summary: test alert %s}\n", n, exprs[n], hold, n)
	}
	f, err := ParseRules("test.yml", []byte(b.String()))
	require.NoError(t, err, b.String())
	return f
}

func startSession(t *testing.T, cfg Config) *Session {
	t.Helper()
	s, err := NewSession(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Stop()) })
	return s
}

// waitState waits until the named alert reaches st (at most d).
func waitState(t *testing.T, s *Session, name string, st State, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.WaitUntil(ctx, func() bool { return s.State(name) == st })
	require.NoError(t, err, "alert %s never reached %s; timeline:\n%s", name, st, dump(s.Timeline()))
}

func dump(tl Timeline) string {
	var b strings.Builder
	for _, tr := range tl {
		fmt.Fprintf(&b, "  %s %s %s %s->%s\n", tr.At.Format("15:04:05.000"), tr.Alert, tr.Instance, tr.From, tr.To)
	}
	return b.String()
}

func groupsOf(files ...RuleFile) []rulefmt.RuleGroup { return Groups(files) }
