package catalog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const compoundCase = `version: 1
cases:
  - name: cp-down-backend-killed
    class: ok-to-break
    why: endpoint updates cannot reach the data plane; retries cover the dead endpoint
    faults:
      - {type: down, target: edge->xds}
      - type: crash
        target: backend-2
        at: 1m
        for: 2m
    duration: 5m
`

func TestParseCompoundCase(t *testing.T) {
	c, err := Parse(testFile, []byte(compoundCase))
	require.NoError(t, err)
	require.Len(t, c.Cases, 1)
	k := c.Cases[0]
	require.True(t, k.Compound())
	require.Len(t, k.Faults, 2)
	assert.Equal(t, "down", k.Faults[0].Type)
	assert.Equal(t, time.Duration(0), k.Faults[0].At)
	assert.Equal(t, 5*time.Minute, k.Faults[0].End(k.Duration), "no for: to the end of the window")
	assert.Equal(t, []string{"backend-2"}, k.Faults[1].Target)
	assert.Equal(t, time.Minute, k.Faults[1].At)
	assert.Equal(t, 3*time.Minute, k.Faults[1].End(k.Duration))

	p, err := k.Plan(60, c.Defaults)
	require.NoError(t, err)
	assert.Less(t, p.Scale, 60.0, "capped: the judged window must stay long enough")
	assert.Equal(t, []Slot{{At: 0}, {At: p.Compress(time.Minute), For: p.Compress(2 * time.Minute)}}, p.Schedule, "at and for are world time, scaled with the case")
	assert.Equal(t, p.Compress(5*time.Minute), p.Fault)
}

func TestParseSingleFaultHasNoSchedule(t *testing.T) {
	c, err := Parse(testFile, []byte(okCase))
	require.NoError(t, err)
	require.Len(t, c.Cases[0].Faults, 1)
	assert.False(t, c.Cases[0].Compound())
	p, err := c.Cases[0].Plan(60, c.Defaults)
	require.NoError(t, err)
	assert.Empty(t, p.Schedule)
}

func TestParseCompoundErrors(t *testing.T) {
	tests := []struct {
		name, src, marker, msg, hint string
	}{
		{"fault and faults", `version: 1
cases:
  - name: both
    class: ok-to-break
    why: w
    fault: {type: stop, target: etcd}
    faults: [{type: stop, target: etcd}]
    duration: 5m
`, "[{type", "has both fault and faults", "move it into the faults: list"},
		{"past the duration", `version: 1
cases:
  - name: long
    class: ok-to-break
    why: w
    faults:
      - {type: stop, target: etcd}
      - {type: crash, target: control-plane, at: 4m, for: 2m}
    duration: 5m
`, "2m}", "fault 2 of case \"long\" runs to 6m0s (at 4m0s + for 2m0s), past the case's duration 5m0s", "make for at most 1m0s"},
		{"starts after the end", `version: 1
cases:
  - name: late
    class: ok-to-break
    why: w
    faults:
      - {type: stop, target: etcd}
      - {type: crash, target: control-plane, at: 5m}
    duration: 5m
`, "5m}", "starts at 5m0s, not inside the case's 5m0s window", "start it before"},
		{"no fault at 0", `version: 1
cases:
  - name: gap
    class: ok-to-break
    why: w
    faults:
      - {type: stop, target: etcd, at: 1m}
      - {type: crash, target: control-plane, at: 2m}
    duration: 5m
`, "{type: stop", `no fault of case "gap" starts at 0`, "give the first fault at: 0s"},
		{"not a list", `version: 1
cases:
  - name: one
    class: ok-to-break
    why: w
    faults: {type: stop, target: etcd}
    duration: 5m
`, "{type", "faults of case \"one\" must be a list", "faults: [{type"},
		{"unknown field in an entry", `version: 1
cases:
  - name: typo
    class: ok-to-break
    why: w
    faults:
      - {type: stop, target: etcd, after: 1m}
    duration: 5m
`, "after", `unknown field "after" in fault 1 of case "typo"`, "valid fields: type, target, params, at, for"},
		{"at and for on a single fault", `version: 1
cases:
  - name: single
    class: ok-to-break
    why: w
    fault: {type: stop, target: etcd, at: 1m}
    duration: 5m
`, "at: 1m", `unknown field "at" in the fault of case "single"`, "valid fields: type, target, params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := parseErrs(t, tt.src)
			require.NotEmpty(t, es)
			e := findErr(t, es, at(t, tt.src, tt.marker, 1), tt.msg)
			assert.Contains(t, e.Hint, tt.hint)
		})
	}
}

func TestValidateRefusesOverlappingFaultsOnOneTarget(t *testing.T) {
	src := `version: 1
cases:
  - name: twice
    class: ok-to-break
    why: w
    faults:
      - {type: latency, target: "edge->backend-*", params: {latency: 2s}, for: 2m}
      - {type: down, target: edge->backend-2, at: 1m}
    duration: 5m
`
	_, es := validateErrs(t, src, Checks{Faults: fakeFaults{}})
	require.NotEmpty(t, es)
	e := findErr(t, es, at(t, src, "{type: down", 1), `faults 1 and 2 of case "twice" overlap on edge->backend-2 (from 1m0s to 2m0s)`)
	assert.Contains(t, e.Hint, "start fault 2 at 2m0s or later")

	// In sequence on the same target is fine.
	seq := `version: 1
cases:
  - name: in-turn
    class: ok-to-break
    why: w
    faults:
      - {type: latency, target: edge->backend-2, params: {latency: 2s}, for: 2m}
      - {type: down, target: edge->backend-2, at: 2m}
    duration: 5m
`
	_, es = validateErrs(t, seq, Checks{Faults: fakeFaults{}})
	assert.Empty(t, es)
}
