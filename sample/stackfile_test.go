package sample_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/sample"
)

// TestDefaultStackFileMatchesTheSample keeps fixtures/stacks/default (the
// sample system as a stack file, prepared to replace the Go definition)
// describing the same system as sample.Definition on both data planes: the
// same services with the same images, commands, environment, ports,
// readiness, metrics, jobs and start-up order; the same links to the same
// callee ports; the same registry, its endpoints named by service name
// instead of a Toxiproxy port; the same entry and evidence.
func TestDefaultStackFileMatchesTheSample(t *testing.T) {
	for dp, files := range map[stack.DataPlane][]string{
		stack.GRPC:  {"../fixtures/stacks/default/stack.yaml"},
		stack.Envoy: {"../fixtures/stacks/default/stack.yaml", "../fixtures/stacks/default/envoy.yaml"},
	} {
		t.Run(string(dp), func(t *testing.T) {
			f, err := stackfile.LoadFiles(context.Background(), files, stackfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Definition()
			if err != nil {
				t.Fatal(err)
			}
			want := sample.Definition(dp, fixtures.EnvoyBootstrap())
			if got.DataPlane != dp {
				t.Errorf("data plane %s, want %s", got.DataPlane, dp)
			}
			sameComponents(t, got, want)
			sameLinks(t, got, want)
			sameSeed(t, got, want)
			if got.Entry.Link != want.Entry.Link || got.Entry.Host != want.Entry.Host || !slices.Equal(got.Entry.Instances, want.Entry.Instances) {
				t.Errorf("entry %+v, want %+v", got.Entry, want.Entry)
			}
			if len(got.Evidence) != 1 || got.Evidence[0].Path != want.Evidence[0].Path || got.Evidence[0].Component != want.Evidence[0].Component {
				t.Errorf("evidence %+v, want %+v", got.Evidence, want.Evidence)
			}
		})
	}
}

func sameComponents(t *testing.T, got, want stack.Definition) {
	t.Helper()
	for _, w := range want.Components {
		if w.Name == stack.Toxiproxy {
			continue // the file has one per callee instead
		}
		g, ok := got.Component(w.Name)
		if !ok {
			t.Errorf("no service %s", w.Name)
			continue
		}
		ref := string(g.Image)
		if g.ImageRef != "" {
			ref = g.ImageRef
		}
		wcmd := byServiceName(want, w.Cmd)
		if !strings.Contains(ref, string(w.Image)) || !slices.Equal(g.Cmd, wcmd) || g.Stage != w.Stage || g.JobOf() != w.JobOf() || g.Restart != w.Restart {
			t.Errorf("%s: image %s cmd %q stage %d job %s restart %s; want %s %q %d %s %s", w.Name, ref, g.Cmd, g.Stage, g.JobOf(), g.Restart, w.Image, wcmd, w.Stage, w.JobOf(), w.Restart)
		}
		for k, v := range w.Env {
			if g.Env[k] != v {
				t.Errorf("%s: env %s=%q, want %q", w.Name, k, g.Env[k], v)
			}
		}
		for _, p := range w.Ports {
			if !slices.ContainsFunc(g.Ports, func(q stack.Port) bool { return q.Number == p.Number }) {
				t.Errorf("%s: no port %d", w.Name, p.Number)
			}
		}
		if g.Ready.Path != w.Ready.Path || g.Metrics.Path != w.Metrics.Path {
			t.Errorf("%s: ready %s metrics %s, want %s %s", w.Name, g.Ready.Path, g.Metrics.Path, w.Ready.Path, w.Metrics.Path)
		}
		for _, wf := range w.Files {
			i := slices.IndexFunc(g.Files, func(f stack.File) bool { return f.Path == wf.Path })
			if i < 0 {
				t.Errorf("%s: no file %s", w.Name, wf.Path)
			}
		}
	}
}

func sameLinks(t *testing.T, got, want stack.Definition) {
	t.Helper()
	if !slices.Equal(got.LinkNames(), want.LinkNames()) {
		t.Errorf("links %v, want %v", got.LinkNames(), want.LinkNames())
	}
	for _, w := range want.Links {
		if g, _ := got.Link(w.Name); g.Upstream != stackfile.RealPrefix+w.Upstream {
			t.Errorf("link %s forwards to %s, want the real %s", w.Name, g.Upstream, w.Upstream)
		}
	}
}

// byServiceName rewrites the Go definition's "toxiproxy:<listen>" (its
// one Toxiproxy) as the name the stack file uses: the link's callee.
func byServiceName(def stack.Definition, args []string) []string {
	out := slices.Clone(args)
	for i := range out {
		for _, l := range def.Links {
			out[i] = strings.ReplaceAll(out[i], fmt.Sprintf("%s:%d", stack.Toxiproxy, l.Listen), l.Upstream)
		}
	}
	return out
}

// sameSeed compares the registries, endpoints up to where they point.
func sameSeed(t *testing.T, got, want stack.Definition) {
	t.Helper()
	g, w := got.SeedMap(), want.SeedMap()
	for k, wv := range w {
		gv, ok := g[k]
		if !ok {
			t.Errorf("no seed key %s", k)
			continue
		}
		if strings.Contains(k, "/endpoints/") {
			gv, wv = withoutAddress(t, gv), withoutAddress(t, wv)
		}
		if gv != wv {
			t.Errorf("seed %s = %s, want %s", k, gv, wv)
		}
	}
	if len(g) != len(w) {
		t.Errorf("%d seed keys, want %d", len(g), len(w))
	}
}

func withoutAddress(t *testing.T, v string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "address")
	delete(m, "port")
	b, _ := json.Marshal(m)
	return string(b)
}
