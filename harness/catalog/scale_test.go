package catalog

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanCap(t *testing.T) {
	d := BuiltinDefaults()
	// The cap logic at a finer scrape floor than the builtin 250ms, so that
	// the window caps, not the interval cap, decide most rows.
	d.MinScrapeInterval = 50 * time.Millisecond
	okCase := func(dur, timer time.Duration) Case {
		return Case{Name: "c", Class: OkToBreak, Duration: dur, Mechanism: Mechanism{What: "m", Timer: timer}}
	}
	notOK := func(dur, det, timer time.Duration) Case {
		return Case{Name: "c", Class: NotOK, Duration: dur, Mechanism: Mechanism{What: "m", Timer: timer},
			Expect: Expect{Detection: det, Alerts: Alerts{Match: AllOf, Names: []string{"A"}}}}
	}
	tests := []struct {
		name      string
		c         Case
		requested float64
		scale     float64 // the effective scale
		fault     time.Duration
		detection time.Duration
		judged    time.Duration
		recovery  time.Duration
		capped    string
	}{
		{"etcd-down-2h at 240: uncapped", notOK(2*time.Hour, 0, 0), 240, 240, 30 * time.Second, 30 * time.Second, 0, 30 * time.Second, ""},
		{"real time", notOK(2*time.Hour, 0, 0), 1, 1, 2 * time.Hour, 2 * time.Hour, 0, 30 * time.Second, ""},
		{"5m ok-to-break at 1000: window after grace stays 5s", okCase(5*time.Minute, 0), 1000, 300.0 / 7, 7 * time.Second, 0, 5 * time.Second, 30 * time.Second, "the fault window after the 2s grace period must stay at least 5s long"},
		{"5m not-ok at 1000: detection stays 5s", notOK(5*time.Minute, 0, 0), 1000, 60, 5 * time.Second, 5 * time.Second, 0, 30 * time.Second, "the detection window must stay at least 5s long"},
		{"30s mechanism timer: windows of 90s", okCase(5*time.Minute, 30*time.Second), 240, 300.0 / 92, 92 * time.Second, 0, 90 * time.Second, 90 * time.Second, "at least 1m30s long"},
		{"30s mechanism timer, not-ok", notOK(10*time.Minute, 0, 30*time.Second), 240, 600.0 / 90, 90 * time.Second, 90 * time.Second, 0, 90 * time.Second, "the detection window must stay at least 1m30s long"},
		{"detection shorter than the fault keeps its ratio", notOK(2*time.Hour, time.Hour, 0), 1000, 300, 24 * time.Second, 12 * time.Second, 0, 30 * time.Second, "scrape and evaluation intervals must stay at least 50ms"},
		{"intervals cap a long case", notOK(24*time.Hour, 0, 0), 1000, 300, 288 * time.Second, 288 * time.Second, 0, 30 * time.Second, "scrape and evaluation intervals"},
		{"scrape points cap an ok-to-break case", okCase(70*time.Second, 0), 240, 5, 14 * time.Second, 0, 12 * time.Second, 30 * time.Second, "must span 4 scrape intervals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.c.Plan(tt.requested, d)
			require.NoError(t, err)
			assert.InDelta(t, tt.scale, p.Scale, 1e-9)
			assert.Equal(t, tt.requested, p.Requested)
			assert.Equal(t, tt.fault, p.Fault)
			assert.Equal(t, tt.detection, p.Detection)
			assert.Equal(t, tt.judged, p.Judged)
			assert.Equal(t, tt.recovery, p.Recovery)
			if tt.capped == "" {
				assert.Empty(t, p.CappedBy)
			} else {
				assert.Contains(t, p.CappedBy, tt.capped)
			}
			assert.Equal(t, 2*time.Second, p.Grace, "grace is real time")
			assert.Equal(t, 5*time.Second, p.Before, "the steady-state window is real time")
			assert.Equal(t, compress(15*time.Second, p.Scale), p.ScrapeInterval)
			assert.Equal(t, compress(5*time.Minute, p.Scale), p.Lookback)
			checkPlanInvariants(t, tt.c, d, p)
		})
	}
}

// checkPlanInvariants asserts what every plan must hold: no measured window
// under the case's shortest window, intervals at or above the floor, and
// the ratios between the case's world durations kept (to the millisecond
// rounding).
func checkPlanInvariants(t *testing.T, c Case, d Defaults, p Plan) {
	t.Helper()
	w := c.ShortestWindow(d)
	assert.LessOrEqual(t, p.Scale, p.Requested)
	assert.GreaterOrEqual(t, p.Scale, 1.0)
	assert.GreaterOrEqual(t, p.Recovery, w, "recovery")
	switch c.Class {
	case OkToBreak:
		assert.GreaterOrEqual(t, p.Judged, w, "judged window")
		assert.GreaterOrEqual(t, p.Judged, time.Duration(d.MinScrapePoints)*max(p.ScrapeInterval, p.EvalInterval)-time.Duration(d.MinScrapePoints)*time.Millisecond, "scrape points")
	case NotOK:
		assert.GreaterOrEqual(t, p.Detection, w, "detection window")
		assert.LessOrEqual(t, p.Detection, p.Fault)
		ratio := float64(c.DetectionWindow()) / float64(c.Duration)
		assert.InDelta(t, ratio, float64(p.Detection)/float64(p.Fault), 2e-3/p.Fault.Seconds()+1e-9, "detection/fault ratio")
	}
	if p.Scale > 1 {
		assert.GreaterOrEqual(t, p.ScrapeInterval, d.MinScrapeInterval)
		assert.GreaterOrEqual(t, p.EvalInterval, d.MinScrapeInterval)
	}
	// Every world duration is divided by the same scale.
	for _, world := range []time.Duration{c.Duration, d.ScrapeInterval, d.Lookback, time.Hour} {
		got := p.Compress(world)
		want := float64(world) / p.Scale
		assert.InDelta(t, want, float64(got), float64(time.Millisecond), "compress %s", world)
	}
}

func TestPlanRejects(t *testing.T) {
	d := BuiltinDefaults()
	c := Case{Name: "c", Class: OkToBreak, Duration: 5 * time.Minute}
	for _, s := range []float64{0, 0.5, -3, math.NaN(), math.Inf(1)} {
		p, err := c.Plan(s, d)
		require.Error(t, err, "scale %v", s)
		assert.Contains(t, err.Error(), "want a number ≥ 1")
		assert.Equal(t, 1.0, p.Scale, "the plan falls back to real time")
		assert.Equal(t, 5*time.Minute, p.Fault)
	}
	short := Case{Name: "short", Class: OkToBreak, Duration: 6 * time.Second}
	p, err := short.Plan(10, d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "case short: duration 6s leaves 4s after the 2s grace period")
	assert.Equal(t, 1.0, p.Scale)
}

func TestCompress(t *testing.T) {
	assert.Equal(t, 30*time.Second, compress(2*time.Hour, 240))
	assert.Equal(t, 63*time.Millisecond, compress(15*time.Second, 240), "rounded up to the millisecond")
	assert.Equal(t, 7*time.Second, compress(5*time.Minute, 300.0/7), "float error does not add a millisecond")
	assert.Equal(t, time.Millisecond, compress(time.Nanosecond, 1000), "a positive duration stays positive")
	assert.Equal(t, time.Duration(0), compress(0, 240))
	assert.Equal(t, 5*time.Minute, compress(5*time.Minute, 1))
}

func TestPlanString(t *testing.T) {
	c := Case{Name: "etcd-down-2h", Class: NotOK, Duration: 2 * time.Hour}
	p, err := c.Plan(240, BuiltinDefaults())
	require.NoError(t, err)
	s := p.String()
	for _, want := range []string{"scale 60 (requested 240; capped: scrape and evaluation intervals must stay at least 250ms)", "fault 2m0s", "detection 2m0s", "recovery 30s", "scrape 250ms", "lookback 5s"} {
		assert.Contains(t, s, want)
	}
	d := BuiltinDefaults()
	d.MinScrapeInterval = 50 * time.Millisecond
	p, err = c.Plan(240, d)
	require.NoError(t, err)
	s = p.String()
	for _, want := range []string{"scale 240 (requested 240)", "fault 30s", "detection 30s", "recovery 30s", "scrape 63ms", "lookback 1.25s"} {
		assert.Contains(t, s, want)
	}
	assert.False(t, strings.Contains(s, "capped"))
}
