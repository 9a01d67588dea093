package sample_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/internal/controlplane/translate"
	"github.com/okbreak/okbreak/internal/envoyconfig"
	"github.com/okbreak/okbreak/internal/registry"
	"github.com/okbreak/okbreak/sample"
)

// TestEnvoyIncidentChanges checks, without Docker, the embedded incidents
// that need Envoy and have before and after: no Envoy runs here, so this
// is where their configurations are held to account. For each, each
// configuration's stack (the default stack for Envoy with the overlay laid
// over it, as TestIncidents builds it) must load and its cases validate
// against it; its seed must decode into a registry that the control plane
// translates into resources Envoy's validation rules accept; and the
// places where before's and after's resources differ must be exactly the
// incident's `changes:`, neither fewer nor more.
func TestEnvoyIncidentChanges(t *testing.T) {
	ctx := context.Background()
	ins, err := incident.LoadFS(fixtures.FS(), fixtures.IncidentsDir)
	if err != nil {
		t.Fatalf("embedded incidents: %v", err)
	}
	paths, err := sample.StackFiles(stack.Envoy)
	if err != nil {
		t.Fatal(err)
	}
	opts := stackfile.Options{FS: fixtures.FS()}
	var checked []string
	for _, in := range ins {
		if !in.HasVariants() || !slices.Contains(in.Requires, catalog.RequireEnvoy) {
			continue
		}
		checked = append(checked, in.Name)
		t.Run(in.Name, func(t *testing.T) {
			res := map[incident.Variant]translate.Resources{}
			for _, v := range []incident.Variant{incident.Before, incident.After} {
				r, err := envoyConfig(ctx, in, v, paths, opts)
				if err != nil {
					t.Fatalf("%s: %v", v, err)
				}
				res[v] = r
			}
			got, err := translate.Diff(res[incident.Before], res[incident.After])
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(in.Changes))
			if !slices.Equal(got, want) {
				t.Errorf("%s: before and after differ in\n\t%s\nits changes: say\n\t%s\nchanged but not listed: %q\nlisted but not changed: %q",
					in.Path, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"), minus(got, want), minus(want, got))
			}
		})
	}
	// Not vacuous: these two must be among the incidents checked.
	for _, name := range []string{"active-health-checks-overload", "envoy-ignores-retry-and-timeout-headers"} {
		if !slices.Contains(checked, name) {
			t.Errorf("incident %s was not checked (checked: %v)", name, checked)
		}
	}
}

// envoyConfig builds one configuration of an incident on the Envoy stack
// and returns what the control plane would serve an Envoy node from its
// seed, each resource checked against Envoy's validation rules.
func envoyConfig(ctx context.Context, in *incident.Incident, v incident.Variant, paths []string, opts stackfile.Options) (translate.Resources, error) {
	f, err := in.Stack(ctx, v, paths, opts)
	if err != nil {
		return nil, err
	}
	def, err := f.Definition()
	if err != nil {
		return nil, err
	}
	if def.DataPlane != stack.Envoy {
		return nil, fmt.Errorf("data plane %s, want %s", def.DataPlane, stack.Envoy)
	}
	// The cases as RunIncidents checks them before it runs them.
	inputs, err := f.Inputs()
	if err != nil {
		return nil, err
	}
	cat, _, _, err := inputs.Load(def)
	if err != nil {
		return nil, err
	}
	if _, err := inputs.ValidateCases(def, in.Path, in.Cases, cat.Defaults); err != nil {
		return nil, err
	}

	kvs := make([]registry.KV, 0, len(f.Seed))
	for _, kv := range f.Seed {
		kvs = append(kvs, registry.KV{Key: kv.Key, Value: []byte(kv.Value)})
	}
	reg, errs := registry.Decode(kvs)
	if len(errs) > 0 {
		// The control plane would skip these keys and serve the rest: a
		// configuration other than the one written.
		return nil, fmt.Errorf("seed: %w", errors.Join(errs...))
	}
	// Envoy takes only IP literals in EDS; the control plane resolves the
	// registry's host names. Documentation addresses stand in for the
	// resolver's answers, the same in both configurations.
	addrs := map[string]string{}
	for i, h := range translate.EndpointHosts(reg) {
		addrs[h] = fmt.Sprintf("192.0.2.%d", i+1)
	}
	res, err := translate.Envoy(reg, translate.EnvoyOptions{Addresses: addrs})
	if err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	if err := translate.Check(res); err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	for _, typ := range translate.Types {
		for _, r := range res[typ] {
			if err := envoyconfig.ValidateMessage(r); err != nil {
				return nil, fmt.Errorf("envoy would reject %s %s: %w", translate.ShortType(typ), cache.GetResourceName(r), err)
			}
		}
	}
	return res, nil
}

// minus is what a has and b has not.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
