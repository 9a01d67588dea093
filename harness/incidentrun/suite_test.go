package incidentrun_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/incidentrun"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
	"github.com/okbreak/okbreak/sample"
)

// fixturesConfig is the repository's incidents on the sample system, as
// scenarios' TestIncidents and `okbreak run --incidents` run them.
func fixturesConfig(t *testing.T, dp stack.DataPlane) incidentrun.Config {
	t.Helper()
	files, err := sample.StackFiles(dp)
	if err != nil {
		t.Fatal(err)
	}
	return incidentrun.Config{Dir: fixtures.IncidentsDir, FS: fixtures.FS(), StackFiles: files,
		Options: stackfile.Options{FS: fixtures.FS()}, Adjust: sample.AddAnswerCheck, DataPlane: string(dp)}
}

// The repository's incidents load and check without Docker on either data
// plane, the cases alone first, then those with before and after; an
// incident for the other data plane is skipped with the reason, and not
// checked.
func TestFixturesLoadAndCheck(t *testing.T) {
	ctx := context.Background()
	for _, dp := range []stack.DataPlane{stack.GRPC, stack.Envoy} {
		s, err := incidentrun.Load(ctx, fixturesConfig(t, dp))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.Names(), "etcd-away-for-hours") || !slices.Contains(s.Names(), "no-connect-retry") {
			t.Fatalf("%s: incidents %v", dp, s.Names())
		}
		variants := false
		for _, in := range s.Incidents {
			if !in.HasVariants() && variants {
				t.Errorf("%s: %s, a case alone, runs after an incident with before and after: %v", dp, in.Name, s.Names())
			}
			variants = in.HasVariants()
			why := s.Skip(in)
			if needs := len(in.Requires) > 0 && !slices.Contains(in.Requires, string(dp)); needs != (why != "") {
				t.Errorf("%s: %s (requires %v) skipped %q", dp, in.Name, in.Requires, why)
			}
			if err := s.Check(ctx, in); err != nil {
				t.Errorf("%s: %v", dp, err)
			}
		}
	}
	envoy, err := incidentrun.Load(ctx, fixturesConfig(t, stack.Envoy))
	if err != nil {
		t.Fatal(err)
	}
	in := envoy.Incidents[slices.Index(envoy.Names(), "no-connect-retry")]
	if why := envoy.Skip(in); why != "incident no-connect-retry needs the grpc data plane (this run uses envoy)" {
		t.Errorf("on envoy: skip %q", why)
	}
}

// writeIncident writes an incident file into dir.
func writeIncident(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(provenance+body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A team's incidents on its own stack file, from disk: a to-do file is
// skipped, and mistakes found before any stack comes up name the
// incident's file and line.
func TestCheckNamesTheIncidentFile(t *testing.T) {
	dir := t.TempDir()
	writeIncident(t, dir, "todo", "case: etcd-down-2h\nbefore: {services: {}}\nafter: {services: {}}\nexpect_before: {alert_not_fired: EtcdDownTooLong}\n")
	writeIncident(t, dir, "unknown-case", "case: no-such-case\n")
	writeIncident(t, dir, "new-service", "case: etcd-down-2h\nbefore:\n  services:\n    nosuch: {image: x}\nafter: {services: {}}\nexpect_before: {alert_not_fired: EtcdDownTooLong}\n")
	ctx := context.Background()
	s, err := incidentrun.Load(ctx, incidentrun.Config{Dir: dir, StackFiles: []string{"../../fixtures/stacks/default/stack.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"unknown-case": `unknown-case.yaml: case "no-such-case" is not in the catalog`,
		"new-service":  "new-service.yaml:8:",
	} {
		i := slices.Index(s.Names(), name)
		err := s.Check(ctx, s.Incidents[i])
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "incident "+name) {
			t.Errorf("%s: %v, want an error with %q", name, err, want)
		}
	}
	todo := s.Incidents[slices.Index(s.Names(), "todo")]
	if why := s.Skip(todo); why != "to do: before and after are identical" {
		t.Errorf("todo: skip %q", why)
	}
	out := s.Run(ctx, todo, incidentrun.Hooks{})
	if out.Status != incidentrun.Skipped || len(out.Runs) != 0 {
		t.Errorf("a to-do incident runs nothing: %+v", out)
	}
}

func TestLoadNamesTheBrokenFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("version: 1\ntitle: t\ndate: someday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := incidentrun.Load(context.Background(), incidentrun.Config{Dir: dir, StackFiles: []string{"../../fixtures/stacks/default/stack.yaml"}})
	if err == nil || !strings.Contains(err.Error(), "broken.yaml:3:7: bad date") {
		t.Errorf("Load: %v", err)
	}
}
