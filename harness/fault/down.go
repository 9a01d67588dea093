package fault

import (
	"context"
	"fmt"
	"strings"

	"github.com/okbreak/okbreak/harness/stack"
)

func init() {
	known := []string{"direction", "toxicity"}
	mustRegister(Type{
		Name: "down", Kind: Network, Params: known, Targets: linkNames,
		Doc: "takes links down: the proxy is disabled, live connections drop and new ones are refused",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			ls, err := links(spec.Target, def)
			if err != nil {
				return nil, err
			}
			p := newParams(spec.Params, known...)
			// A disabled proxy is all or nothing: accepted only as the
			// values that say so, so that a catalog cannot believe it asked
			// for half a link down.
			if d := p.choice("direction", Both, Upstream, Downstream, Both); d != Both {
				p.fail("param direction: down takes the whole link down: want both (or leave it out)")
			}
			if t := p.ratio("toxicity", 1); t != 1 {
				p.fail("param toxicity: down takes every connection down: want 1 (or leave it out); use timeout or reset_peer with a toxicity for a share of connections")
			}
			if err := p.err(); err != nil {
				return nil, err
			}
			var access Access
			if access.Toxiproxies, err = toxiproxyAccess(env, ls); err != nil {
				return nil, err
			}
			return &downFault{
				base:  newBase(spec, env, access, "down: "+strings.Join(ls, ",")+" disabled"),
				links: ls,
			}, nil
		},
	})
}

// downFault disables proxies, and re-enables the ones that were enabled.
type downFault struct {
	base
	links []string
}

// Inject implements Fault.
func (f *downFault) Inject(ctx context.Context) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	var undo []Undo
	for _, l := range f.links {
		p, err := f.x.toxiproxy(l).proxy(ctx, f.x.proxyName(l))
		if err != nil {
			return f.wrapInject(fmt.Errorf("read proxy %s: %w", l, err))
		}
		prev := p.Enabled
		undo = append(undo, Undo{Action: UndoSetProxy, Proxy: l, Enabled: &prev})
	}
	if err := f.begin(newID(), undo); err != nil {
		return f.wrapInject(err)
	}
	for _, l := range f.links {
		if err := f.x.toxiproxy(l).setEnabled(ctx, f.x.proxyName(l), false); err != nil {
			return f.wrapInject(err)
		}
	}
	return nil
}
