package fault

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/okbreak/okbreak/harness/stack"
)

// Directions of a network fault, in Toxiproxy's words: upstream is the data
// the link's client sends, downstream the answers it receives.
const (
	Upstream   = "upstream"
	Downstream = "downstream"
	Both       = "both"
)

// commonNetworkParams are accepted by every toxic type.
var commonNetworkParams = []string{"direction", "toxicity"}

func streams(direction string) []string {
	if direction == Both {
		return []string{Upstream, Downstream}
	}
	return []string{direction}
}

// toxicFault adds one toxic of a type to every stream of every link it
// targets, and removes them on revert.
type toxicFault struct {
	base
	links     []string
	streams   []string
	toxicType string
	toxicity  float64
	attrs     map[string]any
}

// registerToxic registers a network fault type made of one Toxiproxy toxic.
// parse reads the type's own params into the toxic's attributes and a
// one-line description of them.
func registerToxic(name, doc string, own []string, parse func(p *params) (attrs map[string]any, describe string)) {
	known := append(append([]string{}, own...), commonNetworkParams...)
	sort.Strings(known)
	mustRegister(Type{
		Name: name, Kind: Network, Doc: doc, Params: known, Targets: linkNames,
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			ls, err := links(spec.Target, def)
			if err != nil {
				return nil, err
			}
			p := newParams(spec.Params, known...)
			direction := p.choice("direction", Downstream, Upstream, Downstream, Both)
			toxicity := p.ratio("toxicity", 1)
			attrs, what := parse(p)
			if err := p.err(); err != nil {
				return nil, err
			}
			var access Access
			if access.Toxiproxies, err = toxiproxyAccess(env, ls); err != nil {
				return nil, err
			}
			desc := fmt.Sprintf("%s %s on %s, toxicity %g", what, direction, strings.Join(ls, ","), toxicity)
			return &toxicFault{
				base:  newBase(spec, env, access, desc),
				links: ls, streams: streams(direction), toxicType: name, toxicity: toxicity, attrs: attrs,
			}, nil
		},
	})
}

func (f *toxicFault) toxicName(id, stream string) string {
	suffix := f.toxicType + "-" + id + "-" + stream
	if n, ok := f.env.(ToxicNamer); ok {
		return n.ToxicName(suffix)
	}
	return "okbreak-" + suffix
}

// Inject implements Fault.
func (f *toxicFault) Inject(ctx context.Context) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	id := newID()
	var undo []Undo
	for _, l := range f.links {
		for _, s := range f.streams {
			undo = append(undo, Undo{Action: UndoRemoveToxic, Proxy: l, Toxic: f.toxicName(id, s)})
		}
	}
	// Each link's Toxiproxy API is looked up (for a stack's container, a
	// Docker inspect: a read, which changes nothing) while the journal
	// syncs; the toxics wait until the entry is on disk. A lookup that fails
	// here is tried again, and reported, by addToxic.
	var lookups sync.WaitGroup
	for _, l := range f.links {
		tp := f.x.toxiproxy(l)
		lookups.Go(func() { _, _ = tp.url(ctx, false) })
	}
	err := f.begin(id, undo)
	lookups.Wait()
	if err != nil {
		return f.wrapInject(err)
	}
	for _, l := range f.links {
		for _, s := range f.streams {
			tx := apiToxic{Name: f.toxicName(id, s), Type: f.toxicType, Stream: s, Toxicity: f.toxicity, Attributes: f.attrs}
			if err := f.x.toxiproxy(l).addToxic(ctx, f.x.proxyName(l), tx); err != nil {
				return f.wrapInject(err)
			}
		}
	}
	return nil
}
