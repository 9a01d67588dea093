package sample_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/internal/controlplane/translate"
	"github.com/okbreak/okbreak/internal/registry"
	"github.com/okbreak/okbreak/internal/sample/backend"
	"github.com/okbreak/okbreak/internal/sample/cli"
	"github.com/okbreak/okbreak/sample"
)

// ejectionIncident is the incident whose design TestEjectionIncidentDesign
// holds, without Docker, to what it claims.
const ejectionIncident = "ejection-removes-up-but-slow-hosts"

// TestEjectionIncidentDesign checks what ejection-removes-up-but-slow-hosts
// rests on, so that an edit that takes the mechanism away fails here and
// not as a puzzling result after minutes of Docker: each configuration
// loads on the grpc stack and its cases validate; the backends' capacity,
// as the sample service reads it from the overlay, is the same in both and
// such that three carry the probe easily, two only just and one cannot; the
// configurations differ in max_ejection_percent alone (the incident's
// `changes:`), unbounded before and one host of three after.
func TestEjectionIncidentDesign(t *testing.T) {
	ctx := context.Background()
	ins, err := incident.LoadFS(fixtures.FS(), fixtures.IncidentsDir)
	if err != nil {
		t.Fatalf("embedded incidents: %v", err)
	}
	i := slices.IndexFunc(ins, func(in *incident.Incident) bool { return in.Name == ejectionIncident })
	if i < 0 {
		t.Fatalf("incident %s is not embedded", ejectionIncident)
	}
	in := ins[i]
	paths, err := sample.StackFiles(stack.GRPC)
	if err != nil {
		t.Fatal(err)
	}

	caps := map[incident.Variant][]backend.Knobs{}
	res := map[incident.Variant]translate.Resources{}
	od := map[incident.Variant]*registry.OutlierDetection{}
	var rate float64
	for _, v := range []incident.Variant{incident.Before, incident.After} {
		f, err := in.Stack(ctx, v, paths, stackfile.Options{FS: fixtures.FS()})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		def, err := f.Definition()
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		inputs, err := f.Inputs()
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		cat, _, _, err := inputs.Load(def)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if _, err := inputs.ValidateCases(def, in.Path, in.Cases, cat.Defaults); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		rate = cat.Defaults.ProbeRate

		for _, name := range []string{"backend-1", "backend-2", "backend-3"} {
			k, err := backendKnobs(f, name)
			if err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			caps[v] = append(caps[v], k)
		}

		reg, err := seedRegistry(f)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		od[v] = reg.Services["backend"].OutlierDetection
		if res[v], err = translate.GRPC(reg, nil); err != nil {
			t.Fatalf("%s: translate: %v", v, err)
		}
	}

	if !slices.Equal(caps[incident.Before], caps[incident.After]) {
		t.Errorf("the backends differ between before %+v and after %+v: the fix is the registry's alone", caps[incident.Before], caps[incident.After])
	}
	for i, k := range caps[incident.Before] {
		if k != caps[incident.Before][0] {
			t.Errorf("backend-%d has %+v, backend-1 %+v: the backends are alike", i+1, k, caps[incident.Before][0])
		}
	}
	k := caps[incident.Before][0]
	if k.MaxConcurrency == 0 || k.Work == 0 {
		t.Fatalf("the backends have no capacity limit (%+v): nothing would saturate", k)
	}
	// Requests a second one backend serves, each request holding one of
	// its slots for its work on average.
	perHost := float64(k.MaxConcurrency) / k.Work.Seconds()
	switch {
	case 3*perHost < 1.4*rate:
		t.Errorf("three backends serve %.0f/s against the probe's %.0f/s: the steady state is already near capacity", 3*perHost, rate)
	case 2*perHost <= rate:
		t.Errorf("two backends serve %.0f/s against the probe's %.0f/s: after, with one ejected, cannot carry the load", 2*perHost, rate)
	case 2*perHost > 1.1*rate:
		t.Errorf("two backends serve %.0f/s against the probe's %.0f/s: with that much room they never miss a deadline, and before would not cascade", 2*perHost, rate)
	case perHost >= rate:
		t.Errorf("one backend serves %.0f/s against the probe's %.0f/s: ejecting the others would not hurt", perHost, rate)
	}
	if k.Work+k.WorkJitter+k.QueueWait >= 250*time.Millisecond {
		t.Errorf("the slowest served request (work %s + jitter %s after a queue wait of %s) misses the frontend's 250 ms attempt deadline with no overload at all", k.Work, k.WorkJitter, k.QueueWait)
	}

	// gRPC ejects a host only while fewer than max_ejection_percent of the
	// hosts are ejected (grpc-go's outlierdetection: ejected/total*100 >=
	// max stops it), so 33 bounds three hosts to one and 34 would allow two.
	for v, want := range map[incident.Variant]int{incident.Before: 3, incident.After: 1} {
		if od[v] == nil || od[v].FailurePercentageThreshold == 0 {
			t.Fatalf("%s: no failure-percentage ejection in the backend service's outlier detection: %+v", v, od[v])
		}
		if got := grpcMaxEjected(od[v].MaxEjectionPercent, 3); got != want {
			t.Errorf("%s: max_ejection_percent %d lets gRPC eject %d of 3 hosts, want %d", v, od[v].MaxEjectionPercent, got, want)
		}
		if od[v].FailurePercentageMinimumHosts > 2 {
			t.Errorf("%s: failure_percentage_minimum_hosts %d: with one host ejected gRPC would judge no other, and nothing could cascade", v, od[v].FailurePercentageMinimumHosts)
		}
	}

	got, err := translate.Diff(res[incident.Before], res[incident.After])
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(in.Changes))
	if !slices.Equal(got, want) {
		t.Errorf("before and after differ in\n\t%s\nits changes: say\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// grpcMaxEjected is how many of n hosts gRPC's outlier detection ejects at
// most under max_ejection_percent pct: it checks before each ejection that
// the share already ejected is below pct.
func grpcMaxEjected(pct uint32, n int) int {
	ejected := 0
	for ejected < n && float64(ejected)/float64(n)*100 < float64(pct) {
		ejected++
	}
	return ejected
}

// backendKnobs reads a backend service's knobs the way the sample service
// does: its command line, then its OKBREAK_* environment.
func backendKnobs(f *stackfile.File, name string) (backend.Knobs, error) {
	i := slices.IndexFunc(f.Services, func(s stackfile.Service) bool { return s.Name == name })
	if i < 0 {
		return backend.Knobs{}, errors.New("no service " + name)
	}
	s := f.Services[i]
	o, err := cli.Parse(s.Command, func(k string) (string, bool) { v, ok := s.Environment[k]; return v, ok })
	if err != nil {
		return backend.Knobs{}, err
	}
	return o.Backend.Knobs, nil
}

// seedRegistry decodes the stack's seed as the control plane reads it.
func seedRegistry(f *stackfile.File) (registry.Registry, error) {
	kvs := make([]registry.KV, 0, len(f.Seed))
	for _, kv := range f.Seed {
		kvs = append(kvs, registry.KV{Key: kv.Key, Value: []byte(kv.Value)})
	}
	reg, errs := registry.Decode(kvs)
	return reg, errors.Join(errs...)
}
