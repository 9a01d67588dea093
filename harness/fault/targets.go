package fault

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/okbreak/okbreak/harness/stack"
)

// links resolves a network fault's target: link names or globs
// ("edge->backend-*"), separated by commas. Each part must match at least
// one link; the result is sorted and without duplicates.
func links(target string, def stack.Definition) ([]string, error) {
	valid := def.LinkNames()
	if strings.TrimSpace(target) == "" {
		return nil, fmt.Errorf("no target: want a link (or a glob of links) among %s", strings.Join(valid, ", "))
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(target, ",") {
		part = strings.TrimSpace(part)
		if _, err := path.Match(part, ""); err != nil {
			return nil, fmt.Errorf("target %q: bad pattern: %w", part, err)
		}
		n := 0
		for _, l := range valid {
			if ok, _ := path.Match(part, l); ok {
				seen[l] = true
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("unknown link %q: want one of %s (or a glob such as edge->backend-*)", part, strings.Join(valid, ", "))
		}
	}
	var out []string
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out, nil
}

// component resolves a process fault's target: one component, allowed by
// ok (nil allows every one). why says what ok demands, for the message.
func component(target string, def stack.Definition, ok func(stack.Component) bool, why string) (stack.Component, error) {
	var valid []string
	for _, c := range def.Components {
		if ok == nil || ok(c) {
			valid = append(valid, c.Name)
		}
	}
	sort.Strings(valid)
	c, found := def.Component(target)
	if !found || (ok != nil && !ok(c)) {
		msg := fmt.Sprintf("unknown component %q", target)
		if found {
			msg = fmt.Sprintf("component %q cannot take this fault (%s)", target, why)
		}
		if len(valid) == 0 {
			return stack.Component{}, fmt.Errorf("%s: no component of this stack can", msg)
		}
		return stack.Component{}, fmt.Errorf("%s: want one of %s", msg, strings.Join(valid, ", "))
	}
	return c, nil
}

func linkNames(def stack.Definition) []string { return def.LinkNames() }

// componentsWhere lists the components ok allows (nil: all), sorted.
func componentsWhere(ok func(stack.Component) bool) func(def stack.Definition) []string {
	return func(def stack.Definition) []string {
		var out []string
		for _, c := range def.Components {
			if ok == nil || ok(c) {
				out = append(out, c.Name)
			}
		}
		sort.Strings(out)
		return out
	}
}

// Checker validates faults against a stack definition without a running
// stack. It has the methods harness/catalog's FaultChecker asks for.
type Checker struct {
	Def stack.Definition
}

// Types lists the registered fault types' names.
func (c Checker) Types() []string {
	var out []string
	for _, t := range Types() {
		out = append(out, t.Name)
	}
	return out
}

// Targets lists what a fault of the type may target in the definition
// (nil for an unknown type).
func (c Checker) Targets(typ string) []string {
	t, err := lookup(typ)
	if err != nil || t.Targets == nil {
		return nil
	}
	out := t.Targets(c.Def)
	sort.Strings(out)
	return out
}

// Check validates one fault on one target, params included.
func (c Checker) Check(typ, target string, params map[string]any) error {
	return Validate(Spec{Type: typ, Target: target, Params: params}, c.Def)
}

// Links lists the links a network fault of spec acts on (nil for other
// kinds), for checks of the traffic a fault can touch.
func Links(spec Spec, def stack.Definition) ([]string, error) {
	t, err := lookup(spec.Type)
	if err != nil || t.Kind != Network {
		return nil, err
	}
	return links(spec.Target, def)
}
