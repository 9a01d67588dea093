package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/probe"
)

// samplesAt makes 10 samples a second from t0 for d, failing where bad says.
func samplesAt(t0 time.Time, d time.Duration, bad func(time.Duration) bool) []probe.Sample {
	var out []probe.Sample
	for off := time.Duration(0); off < d; off += 100 * time.Millisecond {
		s := probe.Sample{Start: t0.Add(off), Code: 200}
		if bad(off) {
			s.Code, s.Err = 503, "503"
		}
		out = append(out, s)
	}
	return out
}

func TestHaltCheck(t *testing.T) {
	t0 := time.Unix(10_000, 0)
	h := Halt{MinSuccess: 0.5, For: 5 * time.Second, Alerts: []string{"EdgeDown"}}
	allBad := func(time.Duration) bool { return true }
	cases := []struct {
		name    string
		samples []probe.Sample
		firing  []string
		now     time.Time
		ex      Exemption
		want    string
	}{
		{"healthy", samplesAt(t0, 20*time.Second, func(time.Duration) bool { return false }), nil, t0.Add(20 * time.Second), Exemption{}, ""},
		{"failing longer than For", samplesAt(t0, 20*time.Second, allBad), nil, t0.Add(20 * time.Second), Exemption{}, "success stayed under 0.5 for 5s"},
		{"failing shorter than For", samplesAt(t0, 20*time.Second, func(o time.Duration) bool { return o > 17*time.Second }), nil, t0.Add(20 * time.Second), Exemption{}, ""},
		{"one good second inside For", samplesAt(t0, 20*time.Second, func(o time.Duration) bool { return o < 17*time.Second || o >= 18*time.Second }), nil, t0.Add(20 * time.Second), Exemption{}, ""},
		{"samples do not reach back over For", samplesAt(t0, 3*time.Second, allBad), nil, t0.Add(3 * time.Second), Exemption{}, ""},
		{"not-ok case: no floor", samplesAt(t0, 20*time.Second, allBad), nil, t0.Add(20 * time.Second), Exemption{NoFloor: true}, ""},
		{"abort alert", nil, []string{"Other", "EdgeDown"}, t0, Exemption{}, "abort alert EdgeDown is firing"},
		{"abort alert a not-ok case expects", nil, []string{"EdgeDown"}, t0, Exemption{NoFloor: true, Alerts: []string{"EdgeDown"}}, ""},
		{"abort alert not exempt for a not-ok case", nil, []string{"EdgeDown"}, t0, Exemption{NoFloor: true, Alerts: []string{"Other"}}, "abort alert EdgeDown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := h.Check(c.samples, c.firing, c.now, c.ex)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("Check = %q, want %q", got, c.want)
			}
		})
	}
	if !(Halt{}).IsZero() || h.IsZero() {
		t.Fatal("IsZero wrong")
	}
}
