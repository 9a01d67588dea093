package harness

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/probe"
)

// Halt says when a game day or a run against a shared environment must stop
// at once and revert everything, whatever the case was meant to show: the
// users' traffic has been failing for too long, or an abort alert fired. A
// zero Halt never halts. Halt is a value: safe for concurrent use.
type Halt struct {
	// MinSuccess is the floor of the probe's success ratio (0 = none).
	MinSuccess float64
	// For is how long the success ratio may stay under the floor.
	For time.Duration
	// Alerts are abort alerts: any of them firing halts.
	Alerts []string
}

// IsZero tells whether h has no condition.
func (h Halt) IsZero() bool { return (h.MinSuccess <= 0 || h.For <= 0) && len(h.Alerts) == 0 }

// String is the conditions for humans.
func (h Halt) String() string {
	var parts []string
	if h.MinSuccess > 0 && h.For > 0 {
		parts = append(parts, fmt.Sprintf("success under %.4g for %s", h.MinSuccess, h.For))
	}
	if len(h.Alerts) > 0 {
		parts = append(parts, "abort alerts "+strings.Join(h.Alerts, ", "))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// Exemption is what a check leaves out: a not-ok case is meant to hurt
// users (no success floor) and to fire its own expected alerts, but never
// an abort alert it does not expect.
type Exemption struct {
	NoFloor bool
	Alerts  []string
}

// Check says which condition holds at now, or "" for none. It is a pure
// function of the probe's samples and the alerts firing at now. The floor
// holds when every second of the last For that has samples is under
// MinSuccess, and the samples reach back over the whole of For: a dip
// shorter than For never halts.
func (h Halt) Check(samples []probe.Sample, firing []string, now time.Time, ex Exemption) string {
	for _, a := range h.Alerts {
		if slices.Contains(firing, a) && !slices.Contains(ex.Alerts, a) {
			return fmt.Sprintf("abort alert %s is firing", a)
		}
	}
	if ex.NoFloor || h.MinSuccess <= 0 || h.For <= 0 {
		return ""
	}
	from := now.Add(-h.For)
	var ok, n int
	covered := false
	sec := time.Time{}
	for _, s := range samples {
		if s.Start.Before(from.Add(-time.Second)) || s.Start.After(now) {
			continue
		}
		if s.Start.Before(from.Add(time.Second)) {
			covered = true
		}
		if s.Start.Before(from) {
			continue
		}
		if b := s.Start.Truncate(time.Second); !b.Equal(sec) {
			if n > 0 && float64(ok)/float64(n) >= h.MinSuccess {
				return ""
			}
			sec, ok, n = b, 0, 0
		}
		n++
		if s.Err == "" {
			ok++
		}
	}
	if n == 0 || float64(ok)/float64(n) >= h.MinSuccess || !covered {
		return ""
	}
	return fmt.Sprintf("the probe's success stayed under %.4g for %s", h.MinSuccess, h.For)
}
