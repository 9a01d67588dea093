package fault

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/okbreak/okbreak/harness/stack"
)

// expandTargets splits a process or config fault's target into single
// targets: names or globs separated by commas, globs matched against what
// the type may target. Network faults take several links in one fault and
// are not split.
func expandTargets(t Type, target string, def stack.Definition) ([]string, error) {
	if t.Kind == Network || (!strings.Contains(target, ",") && !strings.ContainsAny(target, "*?[")) {
		return []string{target}, nil
	}
	var valid []string
	if t.Targets != nil {
		valid = t.Targets(def)
	}
	seen := map[string]bool{}
	var out []string
	for _, part := range strings.Split(target, ",") {
		part = strings.TrimSpace(part)
		if !strings.ContainsAny(part, "*?[") {
			if !seen[part] {
				seen[part] = true
				out = append(out, part)
			}
			continue
		}
		if _, err := path.Match(part, ""); err != nil {
			return nil, fmt.Errorf("target %q: bad pattern: %w", part, err)
		}
		n := 0
		for _, v := range valid {
			if ok, _ := path.Match(part, v); ok {
				n++
				if !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("target pattern %q matches nothing a %s fault can target: want one of %s", part, t.Name, strings.Join(valid, ", "))
		}
	}
	return out, nil
}

// composite is one fault made of several of the same type on several
// targets (a crash of every backend, say). Each part journals itself.
type composite struct {
	name  string
	parts []Fault
}

// Name implements Fault.
func (c *composite) Name() string { return c.name }

// Inject implements Fault: the parts in order, stopping at the first error
// (Revert takes back the ones in force).
func (c *composite) Inject(ctx context.Context) error {
	for _, p := range c.parts {
		if err := p.Inject(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Revert implements Fault: every part, newest first, past errors.
func (c *composite) Revert(ctx context.Context) error {
	var errs []error
	for i := len(c.parts) - 1; i >= 0; i-- {
		if err := c.parts[i].Revert(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Describe implements Describer.
func (c *composite) Describe() string {
	var ds []string
	for _, p := range c.parts {
		if d, ok := p.(Describer); ok {
			ds = append(ds, d.Describe())
		} else {
			ds = append(ds, p.Name())
		}
	}
	return strings.Join(ds, "; ")
}

// Facts implements Observer: each part's facts, keyed "<part name>: <fact>".
func (c *composite) Facts() Facts {
	out := Facts{}
	for _, p := range c.parts {
		if o, ok := p.(Observer); ok {
			for k, v := range o.Facts() {
				out[p.Name()+": "+k] = v
			}
		}
	}
	return out
}

// Targets lists the single targets spec acts on in def, globs expanded
// (every link of a network fault, every component or registry entry of
// the others): what a blast-radius limit counts. It checks the type, not
// the params.
func Targets(spec Spec, def stack.Definition) ([]string, error) {
	t, err := lookup(spec.Type)
	if err != nil {
		return nil, err
	}
	k := t
	k.Kind = Process // split network targets too: each link counts
	return expandTargets(k, spec.Target, def)
}
