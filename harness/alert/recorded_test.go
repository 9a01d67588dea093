package alert

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The series rules write are not recorded as input: a replay computes
// them again, and a recorded one would stand in for a deleted rule.
func TestWrittenByRulesNamesRecordingRulesAndAlerts(t *testing.T) {
	f, err := ParseRules("r.yml", []byte(`groups:
  - name: g
    rules:
      - record: job:up:min
        expr: min by (job) (up)
      - alert: JobDown
        expr: job:up:min == 0
`))
	require.NoError(t, err)
	w := writtenByRules([]RuleFile{f})
	assert.Equal(t, map[string]bool{"ALERTS": true, "ALERTS_FOR_STATE": true, "job:up:min": true}, w)
	sels, err := ruleSelectors([]RuleFile{f})
	require.NoError(t, err)
	assert.Len(t, sels, 2, "up and job:up:min are read")
}
