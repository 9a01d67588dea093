package alert

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTimingFor(t *testing.T) {
	tests := []struct {
		factor                 float64
		scrape, eval, lookback time.Duration
	}{
		{1, 15 * time.Second, 15 * time.Second, 5 * time.Minute},
		{15, time.Second, time.Second, 20 * time.Second},
		{60, 250 * time.Millisecond, 250 * time.Millisecond, 5 * time.Second},
		// Beyond 60 the intervals are pinned at their floor and the
		// lookback outlasts a scrape that takes its whole timeout.
		{240, 250 * time.Millisecond, 250 * time.Millisecond, 1250 * time.Millisecond},
		{6000, 250 * time.Millisecond, 250 * time.Millisecond, 1250 * time.Millisecond},
	}
	for _, tt := range tests {
		tm, err := TimingFor(tt.factor)
		require.NoError(t, err)
		assert.Equal(t, tt.scrape, tm.ScrapeInterval, "factor %v scrape", tt.factor)
		assert.Equal(t, tt.eval, tm.EvalInterval, "factor %v eval", tt.factor)
		assert.Equal(t, tt.lookback, tm.Lookback, "factor %v lookback", tt.factor)
		assert.Equal(t, max(tt.scrape*2/3, time.Second), tm.ScrapeTimeout, "factor %v timeout", tt.factor)
	}
	for _, bad := range []float64{0, 0.5, -3, math.NaN(), math.Inf(1)} {
		_, err := TimingFor(bad)
		assert.Error(t, err, "factor %v", bad)
	}
}

func TestScaleExpr(t *testing.T) {
	tests := []struct {
		name   string
		factor float64
		in     string
		want   string
	}{
		{"range", 60, `rate(x[5m])`, `rate(x[5s])`},
		{"nested ranges keep their ratio", 60,
			`sum(rate(a{code!="OK"}[10m])) / sum(rate(a[1h]))`,
			`sum(rate(a{code!="OK"}[10s])) / sum(rate(a[1m]))`},
		{"subquery range, step and offset", 60,
			`max_over_time(rate(x[5m])[30m:1m] offset 1h)`,
			`max_over_time(rate(x[5s])[30s:1s] offset 1m)`},
		{"subquery without step keeps no step", 60,
			`max_over_time(deriv(x[10m])[1h:])`,
			`max_over_time(deriv(x[10s])[1m:])`},
		{"offset on a selector", 60, `x offset 10m`, `x offset 10s`},
		{"negative offset", 60, `x offset -5m`, `x offset -5s`},
		{"offset on a range selector", 60, `increase(x[10m] offset 1h)`, `increase(x[10s] offset 1m)`},
		{"duration literal as a number", 60, `time() - x > 1h`, `time() - x > 1m`},
		{"plain numbers are not durations", 60, `increase(x[10m]) > 3`, `increase(x[10s]) > 3`},
		{"absent and or", 60, `up == 0 or absent(up{job="edge"}) or x != 1`, `up == 0 or absent(up{job="edge"}) or x != 1`},
		{"factor 1 is the identity", 1, `rate(x[5m]) > 0.05`, `rate(x[5m]) > 0.05`},
		{"sub-second windows", 240, `rate(x[5m])`, `rate(x[1s250ms])`},
		// At 600 the scrape interval is pinned at 250 ms: a 1m window would
		// scale to 100 ms (no scrape at all) and is floored at two scrapes;
		// a 20s window had 1.33 scrapes in production and keeps that.
		{"floor at two scrapes", 600, `rate(x[1m])`, `rate(x[500ms])`},
		{"floor keeps production scrape count", 600, `rate(x[20s])`, `rate(x[333ms])`},
		{"subquery step floored at one scrape", 600, `max_over_time(x[1h:15s])`, `max_over_time(x[6s:250ms])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScaleExpr(tt.in, tt.factor)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestScaleExprRejectsWhatCannotScale(t *testing.T) {
	for _, in := range []string{
		`rate(x[5m + 1m])`,
		`x offset (1h * 2)`,
		`rate(x[5m] @ 100)`,
		`max_over_time(x[1h:1m] @ 100)`,
		`rate(x[5m]`, // a parse error
	} {
		_, err := ScaleExpr(in, 60)
		assert.Error(t, err, in)
	}
}

func TestScaleRules(t *testing.T) {
	qo := model.Duration(time.Minute)
	groups := []rulefmt.RuleGroup{{
		Name: "g", Interval: model.Duration(time.Minute), QueryOffset: &qo,
		Rules: []rulefmt.Rule{
			{Alert: "A", Expr: `rate(x[5m]) > 0`, For: model.Duration(10 * time.Minute), KeepFiringFor: model.Duration(5 * time.Minute),
				Labels: map[string]string{"severity": "page"}},
			{Record: "job:x:rate5m", Expr: `sum by (job) (rate(x[5m]))`},
			{Alert: "B", Expr: `up == 0`},
		},
	}}
	out, err := ScaleRules(groups, 60)
	require.NoError(t, err)
	require.Len(t, out, 1)
	g := out[0]
	assert.Equal(t, model.Duration(time.Second), g.Interval)
	require.NotNil(t, g.QueryOffset)
	assert.Equal(t, model.Duration(time.Second), *g.QueryOffset)
	assert.Equal(t, `rate(x[5s]) > 0`, g.Rules[0].Expr)
	assert.Equal(t, model.Duration(10*time.Second), g.Rules[0].For)
	assert.Equal(t, model.Duration(5*time.Second), g.Rules[0].KeepFiringFor)
	assert.Equal(t, "page", g.Rules[0].Labels["severity"])
	assert.Equal(t, `sum by (job) (rate(x[5s]))`, g.Rules[1].Expr)
	assert.Equal(t, model.Duration(0), g.Rules[2].For, "for: 0 stays 0")

	// The input is left as written.
	assert.Equal(t, `rate(x[5m]) > 0`, groups[0].Rules[0].Expr)
	assert.Equal(t, model.Duration(10*time.Minute), groups[0].Rules[0].For)
	assert.Equal(t, model.Duration(time.Minute), *groups[0].QueryOffset)

	// A group interval never goes below the evaluation floor.
	out, err = ScaleRules(groups, 6000)
	require.NoError(t, err)
	assert.Equal(t, model.Duration(MinEvalInterval), out[0].Interval)

	_, err = ScaleRules([]rulefmt.RuleGroup{{Name: "g", Rules: []rulefmt.Rule{{Alert: "C", Expr: `rate(x[1m] @ 5)`}}}}, 60)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rule "C"`)
	_, err = ScaleRules(groups, 0.5)
	assert.Error(t, err)
}

func TestMaxFactor(t *testing.T) {
	mk := func(exprs ...string) []rulefmt.RuleGroup {
		g := rulefmt.RuleGroup{Name: "g"}
		for _, e := range exprs {
			g.Rules = append(g.Rules, rulefmt.Rule{Alert: "A", Expr: e})
		}
		return []rulefmt.RuleGroup{g}
	}
	f, err := MaxFactor(mk(`rate(x[5m])`, `increase(y[10m])`))
	require.NoError(t, err)
	assert.Equal(t, 600.0, f) // 5m / (2 x 250ms)
	f, err = MaxFactor(mk(`rate(x[5m])`, `max_over_time(x[1m:])`))
	require.NoError(t, err)
	assert.Equal(t, 120.0, f)
	f, err = MaxFactor(mk(`rate(x[20s])`))
	require.NoError(t, err)
	assert.InDelta(t, 60.0, f, 1e-9, "never below the factor at which the scrape floor starts")
	f, err = MaxFactor(mk(`up == 0`))
	require.NoError(t, err)
	assert.True(t, math.IsInf(f, 1))

	// At MaxFactor nothing is floored: the scaled window is exactly w/f.
	got, err := ScaleExpr(`rate(x[1m])`, 120)
	require.NoError(t, err)
	assert.Equal(t, `rate(x[500ms])`, got)
}
