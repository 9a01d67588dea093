package probe

import (
	"testing"
	"time"
)

func TestForgetDropsOnlyOlderSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := &Probe{}
	for i := range 10 {
		p.samples = append(p.samples, Sample{Start: t0.Add(time.Duration(i) * time.Second), Code: 200})
	}
	if n := p.Forget(t0.Add(4 * time.Second)); n != 4 {
		t.Fatalf("Forget dropped %d samples, want 4", n)
	}
	got := p.Samples()
	if len(got) != 6 || !got[0].Start.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("kept %d samples from %v, want 6 from %v", len(got), got[0].Start, t0.Add(4*time.Second))
	}
	if n := p.Forget(t0); n != 0 {
		t.Fatalf("Forget before every sample dropped %d", n)
	}
}
