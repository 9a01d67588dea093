package alert

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Factor 60 turns the rules' minutes into seconds: scrape and evaluation
// every 250 ms, lookback 5 s.
const testFactor = 60

func TestSessionRecordsTransitions(t *testing.T) {
	f := newFakeTarget(t)
	f.set(`demo_broken`, 0)
	rules := warningRules(t, "1m", map[string]string{"DemoBroken": `demo_broken == 1`})
	s := startSession(t, Config{Rules: []RuleFile{rules}, Targets: []Target{{Job: "demo", Instance: "demo-1", URL: f.url()}}, Factor: testFactor})
	assert.Equal(t, 250*time.Millisecond, s.Timing().EvalInterval)
	assert.Equal(t, `demo_broken == 1`, s.Rules()[0].Groups[0].Rules[0].Expr)

	waitState(t, s, "DemoBroken", StateInactive, 3*time.Second)

	// A blip shorter than the hold: pending, then back to inactive, never
	// firing.
	f.set(`demo_broken`, 1)
	waitState(t, s, "DemoBroken", StatePending, 3*time.Second)
	f.set(`demo_broken`, 0)
	waitState(t, s, "DemoBroken", StateInactive, 3*time.Second)
	_, fired := s.FirstFired("DemoBroken")
	assert.False(t, fired, "a blip shorter than for: must not fire")

	// Held past the 1 s hold (1m / 60): firing, then resolved.
	injected := time.Now()
	f.set(`demo_broken`, 1)
	waitState(t, s, "DemoBroken", StateFiring, 5*time.Second)
	active := s.Active("DemoBroken")
	require.Len(t, active, 1)
	assert.Equal(t, StateFiring, active[0].State)
	assert.Equal(t, "demo-1", active[0].Labels["instance"])
	assert.Equal(t, "warning", active[0].Severity)
	f.set(`demo_broken`, 0)
	waitState(t, s, "DemoBroken", StateInactive, 3*time.Second)

	tl := s.Timeline().ForAlert("DemoBroken")
	var seq []string
	for _, tr := range tl {
		seq = append(seq, string(tr.From)+">"+string(tr.To))
	}
	assert.Equal(t, []string{">inactive", "inactive>pending", "pending>inactive", "inactive>pending", "pending>firing", "firing>resolved"}, seq, dump(tl))

	firedAt, ok := s.FirstFired("DemoBroken")
	require.True(t, ok)
	detected, ok := s.Timeline().FirstFiredAfter("DemoBroken", injected)
	require.True(t, ok)
	assert.Equal(t, firedAt, detected)
	pendingAt := tl[3].At
	assert.GreaterOrEqual(t, firedAt.Sub(pendingAt), time.Second, "the hold is the scaled for:")
	assert.Less(t, firedAt.Sub(pendingAt), 2*time.Second)
	assert.True(t, pendingAt.After(injected.Add(-s.Timing().EvalInterval)), "pending follows the change")
	resolvedAt := tl[5].At
	assert.Equal(t, []string{"DemoBroken"}, s.FiringAt(firedAt))
	assert.Equal(t, []string{"DemoBroken"}, s.FiringAt(resolvedAt.Add(-time.Millisecond)))
	assert.Empty(t, s.FiringAt(resolvedAt))
	assert.Empty(t, s.FiringAt(pendingAt))
	assert.Equal(t, []string{"DemoBroken"}, s.Timeline().FiringDuring(injected, time.Now(), ""))
	assert.Equal(t, []string{"DemoBroken"}, s.Timeline().FiringDuring(firedAt.Add(time.Millisecond), firedAt.Add(time.Millisecond), "warning"), "already firing at the window's start")
	assert.Empty(t, s.Timeline().FiringDuring(injected, time.Now(), SeverityPage))
	assert.Equal(t, "warning", tl[4].Severity)
	assert.Equal(t, "demo-1", tl[4].Labels["instance"])
	assert.Equal(t, "demo-1", tl[5].Labels["instance"])

	for _, h := range s.RuleHealth() {
		assert.Equal(t, "ok", h.Health, h.LastError)
	}
	v, err := s.Query(context.Background(), `demo_broken`, time.Now())
	require.NoError(t, err)
	require.Len(t, v, 1)
	assert.Equal(t, 0.0, v[0].F)
	assert.Positive(t, s.Evaluations())
}

// A crashed target leaves no fresh samples: Prometheus marks its series
// stale, so x != 1 has nothing to compare and never fires, while up == 0
// and absent() do. The fixture rules rely on exactly this.
func TestCrashedTargetFiresUpAndAbsentRules(t *testing.T) {
	f := newFakeTarget(t)
	f.set(`demo_live`, 1)
	rules := warningRules(t, "1m", map[string]string{
		"TargetDown":      `up{job="demo"} == 0`,
		"NotLiveOrAbsent": `demo_live != 1 or absent(demo_live{job="demo"})`,
		"NotLiveNaive":    `demo_live != 1`,
	})
	s := startSession(t, Config{Rules: []RuleFile{rules}, Targets: []Target{{Job: "demo", Instance: "demo-1", URL: f.url()}}, Factor: testFactor})
	waitState(t, s, "TargetDown", StateInactive, 3*time.Second)
	waitState(t, s, "NotLiveOrAbsent", StateInactive, 3*time.Second)

	for _, tr := range s.Timeline() {
		assert.Empty(t, tr.Instance, "nothing may go pending before the crash (the first evaluation sees a scrape): %v", tr)
	}

	crashed := time.Now()
	f.srv.Close()
	waitState(t, s, "TargetDown", StateFiring, 5*time.Second)
	waitState(t, s, "NotLiveOrAbsent", StateFiring, 5*time.Second)
	at, _ := s.FirstFired("NotLiveOrAbsent")
	assert.Less(t, at.Sub(crashed), s.Timing().Lookback,
		"absent() fires before the lookback ends: the series was marked stale, not left to age out")
	assert.Equal(t, StateInactive, s.State("NotLiveNaive"))
	_, fired := s.FirstFired("NotLiveNaive")
	assert.False(t, fired)
	h := s.Targets()
	require.Len(t, h, 1)
	assert.False(t, h[0].Up)
}

func TestSessionsShareNoState(t *testing.T) {
	a, b := newFakeTarget(t), newFakeTarget(t)
	a.set(`demo_broken`, 1)
	b.set(`demo_broken`, 0)
	rules := warningRules(t, "0s", map[string]string{"DemoBroken": `demo_broken == 1`})
	dir := t.TempDir()
	sa := startSession(t, Config{Rules: []RuleFile{rules}, Targets: []Target{{Job: "demo", Instance: "a", URL: a.url()}}, Factor: testFactor, Dir: dir})
	sb := startSession(t, Config{Rules: []RuleFile{rules}, Targets: []Target{{Job: "demo", Instance: "b", URL: b.url()}}, Factor: testFactor, Dir: dir})
	waitState(t, sa, "DemoBroken", StateFiring, 3*time.Second)
	waitState(t, sb, "DemoBroken", StateInactive, 3*time.Second)

	va, err := sa.Query(context.Background(), `demo_broken`, time.Now())
	require.NoError(t, err)
	vb, err := sb.Query(context.Background(), `demo_broken`, time.Now())
	require.NoError(t, err)
	require.Len(t, va, 1)
	require.Len(t, vb, 1)
	assert.Equal(t, "a", va[0].Metric.Get("instance"))
	assert.Equal(t, "b", vb[0].Metric.Get("instance"))
	_, fired := sb.FirstFired("DemoBroken")
	assert.False(t, fired)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "one TSDB per session")

	require.NoError(t, sa.Stop())
	require.NoError(t, sa.Stop(), "Stop is idempotent")
	_, err = os.Stat(filepath.Join(dir, entries[0].Name()))
	_, err2 := os.Stat(filepath.Join(dir, entries[1].Name()))
	assert.True(t, os.IsNotExist(err) != os.IsNotExist(err2), "the stopped session's TSDB is removed, the other's is not")
	_, err = sa.Query(context.Background(), `up`, time.Now())
	assert.Error(t, err, "no query after stop")
	assert.NotEmpty(t, sa.Timeline(), "the timeline outlives the session")
	assert.Error(t, sa.Start(context.Background()), "a session starts once")

	// A fresh session over the same target starts with an empty timeline.
	sc := startSession(t, Config{Rules: []RuleFile{rules}, Targets: []Target{{Job: "demo", Instance: "a", URL: a.url()}}, Factor: testFactor, Dir: dir})
	assert.Empty(t, sc.Timeline())
	waitState(t, sc, "DemoBroken", StateFiring, 3*time.Second)
}

func TestWaitUntilEndsWithTheSession(t *testing.T) {
	rules := warningRules(t, "0s", map[string]string{"Never": `vector(0) > 1`})
	s, err := NewSession(Config{Rules: []RuleFile{rules}, Factor: testFactor})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	errc := make(chan error, 1)
	go func() { errc <- s.WaitUntil(context.Background(), func() bool { return false }) }()
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, s.Stop())
	select {
	case err := <-errc:
		assert.Error(t, err)
	case <-time.After(3 * time.Second):
		t.Fatal("WaitUntil did not return after Stop")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Error(t, s.WaitUntil(ctx, func() bool { return false }))
}

func TestNewSessionValidates(t *testing.T) {
	rules := warningRules(t, "0s", map[string]string{"X": `up == 0`})
	_, err := NewSession(Config{})
	assert.Error(t, err, "no rules")
	_, err = NewSession(Config{Rules: []RuleFile{rules}, Factor: 0.5})
	assert.Error(t, err, "factor below 1")
	_, err = NewSession(Config{Rules: []RuleFile{rules, rules}})
	assert.Error(t, err, "a rule file twice")
	_, err = NewSession(Config{Rules: []RuleFile{rules}, Targets: []Target{{Job: "a", Instance: "a"}}})
	assert.Error(t, err, "a target without a URL")
	s, err := NewSession(Config{Rules: []RuleFile{rules}})
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Timing().Factor)
	assert.NoError(t, s.Stop(), "stopping a session that never started")
	assert.Error(t, s.Start(context.Background()), "and it cannot start after")
}

func TestInstanceLabelsRoundTrip(t *testing.T) {
	ls := labels.FromStrings("alertname", "InstanceMissing", "instance", "backend-2", "job", "backend", "severity", "page")
	assert.Equal(t, ls.Map(), instanceLabels(ls.String()))
}
