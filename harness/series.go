package harness

import (
	"time"

	"github.com/okbreak/okbreak/harness/probe"
)

// Point is one second of the probe: the success ratio and p99 latency of the
// requests that started in it, at T seconds after injection (negative:
// before it). Reports draw a case's timeline from these.
type Point struct {
	T            float64 `json:"t_s"`
	Count        int     `json:"count"`
	SuccessRatio float64 `json:"success_ratio"`
	P99Ms        float64 `json:"p99_ms"`
}

// Marks are a case's moments, in seconds after injection, and the windows
// its judgement used: the fault was in force from 0 to RevertS; the first
// GraceS after injection and after revert were not judged; recovery was
// allowed up to RevertS+RecoveryS.
type Marks struct {
	Injected  time.Time `json:"injected"`
	StartS    float64   `json:"start_s"`
	RevertS   float64   `json:"revert_s"`
	EndS      float64   `json:"end_s"`
	GraceS    float64   `json:"grace_s"`
	RecoveryS float64   `json:"recovery_s"`
}

// SeriesStep is the width of one Point: a report draws each Point as a
// step this wide.
const SeriesStep = time.Second

// series cuts the samples of [from, to) into seconds relative to inject,
// aligned on it: no second straddles the injection, so a chart never shows
// a drop starting before the fault did.
func series(samples []probe.Sample, from, to, inject time.Time) []Point {
	if lead := inject.Sub(from); lead > 0 {
		from = inject.Add(-(lead + SeriesStep - 1) / SeriesStep * SeriesStep)
	}
	buckets := probe.Buckets(samples, from, to, SeriesStep)
	out := make([]Point, 0, len(buckets))
	for _, b := range buckets {
		out = append(out, Point{
			T:            b.Start.Sub(inject).Seconds(),
			Count:        b.Count,
			SuccessRatio: b.SuccessRatio,
			P99Ms:        float64(b.P99) / float64(time.Millisecond),
		})
	}
	return out
}
