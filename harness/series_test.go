package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/probe"
)

func TestSeriesIsAlignedOnInjection(t *testing.T) {
	inject := time.Unix(1000, 0)
	start := inject.Add(-2300 * time.Millisecond)
	var samples []probe.Sample
	for at := start; at.Before(inject.Add(2 * time.Second)); at = at.Add(10 * time.Millisecond) {
		s := probe.Sample{Start: at, Latency: 5 * time.Millisecond, Code: 200, Outcome: probe.OK}
		if !at.Before(inject) {
			s.Code, s.Outcome, s.Err = 503, probe.Error, "503"
		}
		samples = append(samples, s)
	}
	pts := series(samples, start, inject.Add(2*time.Second), inject)
	require.Len(t, pts, 5)
	assert.Equal(t, []float64{-3, -2, -1, 0, 1}, []float64{pts[0].T, pts[1].T, pts[2].T, pts[3].T, pts[4].T})
	assert.Equal(t, 1.0, pts[2].SuccessRatio, "the second before injection holds no failure")
	assert.Equal(t, 0.0, pts[3].SuccessRatio)
	assert.Equal(t, 30, pts[0].Count, "the first second holds what the probe sent of it")
	assert.Equal(t, 5.0, pts[1].P99Ms)
}
