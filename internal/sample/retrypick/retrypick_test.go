package retrypick

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/balancer/weightedtarget"
)

type fakeSubConn struct {
	balancer.SubConn
	id int
}

// rr is a round robin picker over scs, like the leaf policy's.
type rr struct {
	scs  []balancer.SubConn
	next atomic.Uint64
}

func (p *rr) Pick(balancer.PickInfo) (balancer.PickResult, error) {
	i := p.next.Add(1) - 1
	return balancer.PickResult{SubConn: p.scs[i%uint64(len(p.scs))]}, nil
}

// random picks a child at random, like weighted_target across localities.
type random struct{ children []balancer.Picker }

func (p *random) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	return p.children[rand.IntN(len(p.children))].Pick(info)
}

func hosts(n int) []balancer.SubConn {
	var out []balancer.SubConn
	for i := range n {
		out = append(out, &fakeSubConn{id: i})
	}
	return out
}

func TestBuildersAreWrapped(t *testing.T) {
	for _, name := range []string{roundrobin.Name, weightedtarget.Name} {
		b := balancer.Get(name)
		require.NotNil(t, b, name)
		switch b.(type) {
		case builder, parsingBuilder:
		default:
			t.Errorf("balancer %q is %T, not wrapped", name, b)
		}
	}
	_, ok := balancer.Get(weightedtarget.Name).(balancer.ConfigParser)
	assert.True(t, ok, "weighted_target must keep its config parser")
}

func TestRetryAvoidsTriedHostsUnderInterleaving(t *testing.T) {
	scs := hosts(3)
	p := &picker{inner: &rr{scs: scs}}
	for range 200 {
		ctx, tr := WithTracker(context.Background())
		seen := map[balancer.SubConn]bool{}
		for attempt := range 3 {
			// Other requests' picks in between shift round robin arbitrarily.
			for range rand.IntN(4) {
				_, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
				require.NoError(t, err)
			}
			res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
			require.NoError(t, err)
			require.False(t, seen[res.SubConn], "attempt %d went back to a tried host", attempt+1)
			seen[res.SubConn] = true
		}
		assert.Equal(t, 3, tr.Hosts())
		// Every host tried: the pick still succeeds.
		res, err := p.Pick(balancer.PickInfo{Ctx: ctx})
		require.NoError(t, err)
		assert.NotNil(t, res.SubConn)
	}
}

func TestWithoutTrackerPicksAreUntouched(t *testing.T) {
	scs := hosts(3)
	p := &picker{inner: &rr{scs: scs}}
	for i := range 9 {
		res, err := p.Pick(balancer.PickInfo{Ctx: context.Background()})
		require.NoError(t, err)
		assert.Same(t, scs[i%3], res.SubConn)
	}
}

func TestNestedWrappersRecordOnceAndAvoidAcrossLocalities(t *testing.T) {
	// Three localities of one host each: the outer (locality) pick is random,
	// the inner (host) pick is round robin over one host.
	scs := hosts(3)
	var children []balancer.Picker
	for _, sc := range scs {
		children = append(children, &picker{inner: &rr{scs: []balancer.SubConn{sc}}})
	}
	outer := &picker{inner: &random{children: children}}
	failures, baseline := 0, 0
	for range 300 {
		ctx, tr := WithTracker(context.Background())
		first, err := outer.Pick(balancer.PickInfo{Ctx: ctx})
		require.NoError(t, err)
		require.Equal(t, 1, tr.Hosts(), "the inner wrapper must not record on its own")
		second, err := outer.Pick(balancer.PickInfo{Ctx: ctx})
		require.NoError(t, err)
		if second.SubConn == first.SubConn {
			failures++
		}
		// The same two picks without a tracker: no avoidance.
		a, _ := outer.Pick(balancer.PickInfo{Ctx: context.Background()})
		b, _ := outer.Pick(balancer.PickInfo{Ctx: context.Background()})
		if a.SubConn == b.SubConn {
			baseline++
		}
	}
	// Without re-picks a third of retries repeat a host (about 100 here);
	// with MaxRepicks random re-picks it is (1/3)^9 per retry, so more
	// than 2 in 300 is practically impossible.
	assert.Greater(t, baseline, 50)
	assert.LessOrEqual(t, failures, 2)
}
