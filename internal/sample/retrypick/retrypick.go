// Package retrypick makes a retried request land on a host it has not tried.
//
// gRPC's xDS load balancing gives no per-request memory: under concurrent
// traffic, the round-robin pick for a retry is whichever host is next for
// anybody, so a retry after a per-attempt timeout on a slow host goes back to
// that host about 1/N of the time. Importing this package wraps two of gRPC's
// balancers by name — "round_robin" (the leaf policy xDS builds for
// LbPolicy ROUND_ROBIN) and "weighted_target_experimental" (which picks a
// locality) — so that, for an RPC whose context carries a Tracker, a pick that
// returns a host already picked under that Tracker is re-done, up to
// MaxRepicks times. RPCs without a Tracker are passed through untouched, so
// the wrappers change nothing for other channels.
//
// What "certain" means here: within a locality, round robin cycles through
// every ready host, so the re-pick finds an untried host whenever one is
// ready. Across localities the weighted pick is random, so the re-pick finds
// an untried locality with high probability (MaxRepicks tries). When every
// ready host has been tried, the last pick is used.
//
// The wrappers identify hosts by the SubConn the leaf policy returns; no
// address comparison is needed (endpoints behind Toxiproxy share one IP).
package retrypick

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/roundrobin"
	"google.golang.org/grpc/balancer/weightedtarget"
	"google.golang.org/grpc/serviceconfig"
)

// MaxRepicks bounds how often one pick is re-done to avoid tried hosts.
const MaxRepicks = 8

// Wrapped are the balancer names whose pickers this package wraps.
var Wrapped = []string{roundrobin.Name, weightedtarget.Name}

func init() {
	for _, name := range Wrapped {
		inner := balancer.Get(name)
		if inner == nil {
			continue
		}
		if p, ok := inner.(balancer.ConfigParser); ok {
			balancer.Register(parsingBuilder{builder{inner}, p})
		} else {
			balancer.Register(builder{inner})
		}
	}
}

// Tracker remembers the hosts picked for one request across its attempts. It
// is safe for concurrent use.
type Tracker struct {
	mu     sync.Mutex
	picked []balancer.SubConn
}

type trackerKey struct{}

// nestedKey marks a pick made on behalf of an outer wrapped picker, so that
// only the outermost records the host.
type nestedKey struct{}

// WithTracker returns ctx carrying a new Tracker, and the Tracker. Every RPC
// made with ctx (or a context derived from it) avoids the hosts picked by the
// earlier ones.
func WithTracker(ctx context.Context) (context.Context, *Tracker) {
	t := &Tracker{}
	return context.WithValue(ctx, trackerKey{}, t), t
}

// Hosts returns how many distinct hosts were picked under t.
func (t *Tracker) Hosts() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.picked)
}

func (t *Tracker) seen(sc balancer.SubConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.picked {
		if p == sc {
			return true
		}
	}
	return false
}

func (t *Tracker) add(sc balancer.SubConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.picked {
		if p == sc {
			return
		}
	}
	t.picked = append(t.picked, sc)
}

type builder struct{ inner balancer.Builder }

// Name is the wrapped balancer's name, so that the wrapper replaces it.
func (b builder) Name() string { return b.inner.Name() }

// Build builds the wrapped balancer on a ClientConn that wraps its pickers.
func (b builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	return b.inner.Build(&clientConn{ClientConn: cc}, opts)
}

type parsingBuilder struct {
	builder
	parser balancer.ConfigParser
}

// ParseConfig delegates to the wrapped balancer's parser.
func (b parsingBuilder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return b.parser.ParseConfig(js)
}

type clientConn struct {
	balancer.ClientConn
}

// UpdateState wraps the picker before handing the state on.
func (c *clientConn) UpdateState(s balancer.State) {
	if s.Picker != nil {
		s.Picker = &picker{inner: s.Picker}
	}
	c.ClientConn.UpdateState(s)
}

type picker struct{ inner balancer.Picker }

var errDiscarded = errors.New("retrypick: pick discarded to avoid a host this request already tried")

// Pick re-picks while the inner picker returns a host the request's Tracker
// has seen.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	t, _ := info.Ctx.Value(trackerKey{}).(*Tracker)
	if t == nil {
		return p.inner.Pick(info)
	}
	outer := info.Ctx.Value(nestedKey{}) == nil
	if outer {
		info.Ctx = context.WithValue(info.Ctx, nestedKey{}, true)
	}
	res, err := p.inner.Pick(info)
	if err != nil {
		return res, err
	}
	for i := 0; i < MaxRepicks && res.SubConn != nil && t.seen(res.SubConn); i++ {
		next, err := p.inner.Pick(info)
		if err != nil {
			break
		}
		if res.Done != nil {
			res.Done(balancer.DoneInfo{Err: errDiscarded})
		}
		res = next
	}
	if outer && res.SubConn != nil {
		t.add(res.SubConn)
	}
	return res, nil
}
