package harness

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/stack"
)

func laneCases(t *testing.T) []catalog.Case {
	t.Helper()
	var cs []catalog.Case
	for i, d := range []time.Duration{5 * time.Minute, 2 * time.Hour, 5 * time.Minute, 10 * time.Minute, 5 * time.Minute, 2 * time.Minute, 5 * time.Minute} {
		cs = append(cs, catalog.Case{Name: string(rune('a' + i)), Class: catalog.OkToBreak, Duration: d})
	}
	return cs
}

func TestLanesKeepCatalogOrderAndBalance(t *testing.T) {
	cs := laneCases(t)
	d := catalog.BuiltinDefaults()
	lanes := Lanes(cs, d, 240, 2)
	require.Len(t, lanes, 2)
	var all []int
	load := make([]time.Duration, len(lanes))
	for l, lane := range lanes {
		require.True(t, slices.IsSorted(lane), "lane %d keeps the catalog's order: %v", l, lane)
		all = append(all, lane...)
		for _, i := range lane {
			p, err := cs[i].Plan(240, d)
			require.NoError(t, err)
			load[l] += EstimateWall(cs[i].Class, p)
		}
	}
	slices.Sort(all)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6}, all, "every case in exactly one lane")
	// The last case goes last wherever it lands.
	for _, lane := range lanes {
		if slices.Contains(lane, 6) {
			require.Equal(t, 6, lane[len(lane)-1])
		}
	}
	// Greedy in order: no lane longer than the other by more than its
	// longest case.
	var longest time.Duration
	for _, c := range cs {
		p, _ := c.Plan(240, d)
		longest = max(longest, EstimateWall(c.Class, p))
	}
	require.LessOrEqual(t, max(load[0], load[1])-min(load[0], load[1]), longest)
}

func TestLanesNeverEmpty(t *testing.T) {
	cs := laneCases(t)[:2]
	require.Len(t, Lanes(cs, catalog.BuiltinDefaults(), 240, 5), 2)
	require.Len(t, Lanes(cs, catalog.BuiltinDefaults(), 240, 0), 1)
	require.Len(t, Lanes(nil, catalog.BuiltinDefaults(), 240, 3), 0)
}

// skipSystem is a test double for a unit test of RunLanes' bookkeeping:
// a grpc system on which every case that requires envoy is skipped
// before it touches anything.
type skipSystem struct{}

func (skipSystem) Definition() stack.Definition { return stack.Definition{DataPlane: stack.GRPC} }
func (skipSystem) Run() string                  { return "test" }
func (skipSystem) StateDir() string             { return "" }
func (skipSystem) EntryURL(context.Context) (string, error) {
	return "", nil
}
func (skipSystem) WaitServing(context.Context) error { return nil }
func (skipSystem) MetricsURL(context.Context, string) (string, error) {
	return "", nil
}
func (skipSystem) HostAddr(context.Context, string, string) (string, error) {
	return "", nil
}

func TestRunLanesReturnsCatalogOrderFromEveryLane(t *testing.T) {
	cs := laneCases(t)
	for i := range cs {
		cs[i].Requires = []string{catalog.RequireEnvoy}
	}
	d := catalog.BuiltinDefaults()
	var lanes []Lane
	for _, l := range Lanes(cs, d, 240, 3) {
		lanes = append(lanes, Lane{Runner: &Runner{System: skipSystem{}, Defaults: d, TimeScale: 240}, Cases: l})
	}
	require.Len(t, lanes, 3)
	var mu sync.Mutex
	var order []string
	res := RunLanes(context.Background(), lanes, cs, func(i int, c catalog.Case, run func(context.Context) Result) {
		r := run(context.Background())
		mu.Lock()
		order = append(order, r.Name)
		mu.Unlock()
		require.Equal(t, cs[i].Name, c.Name)
	})
	require.Len(t, res, len(cs))
	for i, r := range res {
		require.Equal(t, cs[i].Name, r.Name, "results in catalog order")
		require.Equal(t, Skipped, r.Verdict)
	}
	require.Len(t, order, len(cs))
}

func TestRunLanesStopsEveryLaneWhenCtxEnds(t *testing.T) {
	cs := laneCases(t)
	for i := range cs {
		cs[i].Requires = []string{catalog.RequireEnvoy}
	}
	d := catalog.BuiltinDefaults()
	lanes := []Lane{
		{Runner: &Runner{System: skipSystem{}, Defaults: d}, Cases: []int{0, 2, 4}},
		{Runner: &Runner{System: skipSystem{}, Defaults: d}, Cases: []int{1, 3, 5, 6}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started1 := make(chan struct{})
	res := RunLanes(ctx, lanes, cs, func(i int, c catalog.Case, run func(context.Context) Result) {
		run(ctx)
		switch i {
		case 0:
			<-started1 // both lanes are in a case when the run ends
			cancel()
		case 1:
			close(started1)
			<-ctx.Done()
		default:
			t.Errorf("case %s started after the run's ctx ended", c.Name)
		}
	})
	require.Len(t, res, 2)
	require.Equal(t, []string{"a", "b"}, []string{res[0].Name, res[1].Name})
}

func TestRunLanesRaisesALanesPanicInTheCaller(t *testing.T) {
	cs := laneCases(t)[:2]
	lanes := []Lane{
		{Runner: &Runner{System: skipSystem{}}, Cases: []int{0}},
		{Runner: &Runner{System: skipSystem{}}, Cases: []int{1}},
	}
	require.PanicsWithValue(t, "boom", func() {
		RunLanes(context.Background(), lanes, cs, func(i int, _ catalog.Case, _ func(context.Context) Result) {
			if i == 1 {
				panic("boom")
			}
		})
	})
}

func TestLaneLeftCountsToTheEndOfItsLane(t *testing.T) {
	cs := laneCases(t)
	d := catalog.BuiltinDefaults()
	lanes := Lanes(cs, d, 240, 2)
	left := LaneLeft(cs, lanes, d, 240)
	for _, lane := range lanes {
		var sum time.Duration
		for _, i := range lane {
			p, err := cs[i].Plan(240, d)
			require.NoError(t, err)
			sum += EstimateWall(cs[i].Class, p)
		}
		require.Equal(t, sum, left[lane[0]], "a lane's first case holds the whole lane")
		last := lane[len(lane)-1]
		p, _ := cs[last].Plan(240, d)
		require.Equal(t, EstimateWall(cs[last].Class, p), left[last])
	}
}
