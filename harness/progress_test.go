package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/catalog"
)

func TestEstimateLeftCountsEachCaseAndTheRest(t *testing.T) {
	d := catalog.BuiltinDefaults()
	cases := []catalog.Case{
		{Name: "a", Class: catalog.OkToBreak, Duration: 2 * time.Minute},
		{Name: "b", Class: catalog.NotOK, Duration: 5 * time.Minute},
	}
	var walls []time.Duration
	for _, c := range cases {
		p, err := c.Plan(60, d)
		require.NoError(t, err)
		walls = append(walls, EstimateWall(c.Class, p))
	}
	left := EstimateLeft(cases, d, 60)
	assert.Equal(t, []time.Duration{walls[0] + walls[1], walls[1]}, left)
	assert.Empty(t, EstimateLeft(nil, d, 60))
}
