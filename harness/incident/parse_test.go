package incident_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
	"github.com/okbreak/okbreak/harness/stackfile"
)

const defaultStack = "../../fixtures/stacks/default/stack.yaml"

// Every incident of fixtures/incidents reads, has its provenance, and names
// a case the default catalog has.
func TestFixturesLoad(t *testing.T) {
	cat, err := catalog.Parse(fixtures.CatalogFile, fixtures.Catalog())
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob("../../fixtures/incidents/*.yaml")
	if err != nil || len(paths) < 5 {
		t.Fatalf("incident files %v (%v), want at least 5", paths, err)
	}
	for _, p := range paths {
		in, err := incident.Load(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if in.Provenance.Link == "" || in.Provenance.Source == "" || in.Date.IsZero() {
			t.Errorf("%s: provenance %+v, date %s", p, in.Provenance, in.Date)
		}
		if in.Case != "" {
			if _, ok := cat.Case(in.Case); !ok {
				t.Errorf("%s: case %q is not in the default catalog", p, in.Case)
			}
		}
	}
}

func TestInlineCasesAndVariants(t *testing.T) {
	in, err := incident.Load("testdata/retry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if in.Name != "retry" || len(in.Cases) != 1 || in.Cases[0].Name != "one-backend-resets-mid-request" || in.Cases[0].Class != catalog.OkToBreak {
		t.Fatalf("incident %+v", in)
	}
	if e := in.ExpectBefore; e == nil || e.Kind != incident.SLOBreached || e.Window != incident.WindowDuring {
		t.Fatalf("expect_before %+v", in.ExpectBefore)
	}
	if in.Identical() {
		t.Error("before and after differ, Identical says not")
	}
	for v, want := range map[incident.Variant]string{incident.Before: "off", incident.After: "on"} {
		f, err := in.Stack(context.Background(), v, []string{defaultStack}, stackfile.Options{})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		edge, _ := f.Service("edge")
		if got := edge.Environment["OKBREAK_RETRY"]; got != want {
			t.Errorf("%s: edge's OKBREAK_RETRY = %q, want %q", v, got, want)
		}
		if got := edge.Environment["GRPC_XDS_BOOTSTRAP"]; got == "" {
			t.Errorf("%s: the overlay dropped the base's environment", v)
		}
	}
}

// changes: reads in order, with the syntax the data plane's diff writes
// (map keys quoted, Any content under the Any's field, xdstp:// names).
func TestChanges(t *testing.T) {
	const head = "version: 1\ntitle: t\ndate: 2026-12-07\nprovenance: {summary: s, link: l, broke: b, detected: d, remediation: r, source: s}\ncase: a\nbefore: {}\nafter: {}\nexpect_before: {slo_breached: during}\n"
	want := []string{
		"cluster backend: health_checks",
		"listener ingress_http: filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.respect_expected_rq_timeout",
		`cluster backend: typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config`,
		"cluster xdstp://authority/envoy.config.cluster.v3.Cluster/backend: lb_policy",
		"endpoint other",
	}
	body := head + "changes:\n"
	for _, w := range want {
		body += "  - '" + w + "'\n"
	}
	in, err := incident.Parse("x.yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Changes, want) {
		t.Errorf("changes %q\nwant %q", in.Changes, want)
	}
	plain, err := incident.Parse("x.yaml", []byte(head))
	if err != nil || plain.Changes != nil {
		t.Errorf("without changes: %v, %q", err, plain.Changes)
	}
}

func TestIdenticalIsToDo(t *testing.T) {
	in, err := incident.Load("testdata/todo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !in.Identical() {
		t.Error("before and after are the same, Identical says not")
	}
}

// A stack-file error in an overlay points into the incident file.
func TestOverlayErrorsPointIntoTheIncident(t *testing.T) {
	in, err := incident.Load("testdata/bad-overlay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.Stack(context.Background(), incident.Before, []string{defaultStack}, stackfile.Options{})
	if err == nil || !strings.Contains(err.Error(), "testdata/bad-overlay.yaml:9:7") || !strings.Contains(err.Error(), "privileged") {
		t.Fatalf("err = %v, want privileged at testdata/bad-overlay.yaml:9:7", err)
	}
	if _, err := in.Stack(context.Background(), incident.After, []string{defaultStack}, stackfile.Options{}); err != nil {
		t.Errorf("after: %v", err)
	}
}

func TestBadIncidents(t *testing.T) {
	const head = "version: 1\ntitle: t\ndate: 2026-12-07\nprovenance: {summary: s, link: l, broke: b, detected: d, remediation: r, source: s}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"empty", "", []string{"x.yaml:1:1: the incident file is empty"}},
		{"no case", head, []string{"x.yaml:1:1: the incident has no case"}},
		{"both", head + "case: a\ncases: []\n", []string{"x.yaml:6:1: both case and cases are set"}},
		{"unknown field", head + "case: a\nseverity: high\n", []string{`x.yaml:6:1: unknown field "severity"`}},
		{"bad date", strings.Replace(head, "2026-12-07", "7/12/2026", 1) + "case: a\n", []string{`x.yaml:3:7: bad date "7/12/2026"`, "YYYY-MM-DD"}},
		{"provenance", "version: 1\ntitle: t\ndate: 2026-12-07\nprovenance: {summary: s}\ncase: a\n", []string{"x.yaml:4:13: the provenance has no link", "no remediation", "no source"}},
		{"before alone", head + "case: a\nbefore: {services: {}}\n", []string{"x.yaml:6:1: the incident has no after"}},
		{"no expectation", head + "case: a\nbefore: {services: {}}\nafter: {services: {}}\n", []string{"x.yaml:6:1: before without expect_before"}},
		{"two expectations", head + "case: a\nbefore: {}\nafter: {}\nexpect_before: {slo_breached: during, page_fired: P}\n", []string{"x.yaml:8:16: expect_before names 2 failures"}},
		{"window", head + "case: a\nbefore: {}\nafter: {}\nexpect_before: {slo_breached: before}\n", []string{`x.yaml:8:31: unknown window "before"`}},
		{"expectation alone", head + "case: a\nexpect_before: {page_fired: P}\n", []string{"x.yaml:6:1: expect_before without before and after"}},
		{"data plane", head + "case: a\nrequires: [linkerd]\n", []string{`x.yaml:6:12: unknown data plane "linkerd"`}},
		{"catalog schema", head + "cases:\n  - name: c\n    class: ok-to-break\n    fault: {type: latency, target: x}\n    duration: forever\n", []string{`x.yaml:9:15: bad duration "forever"`, `x.yaml:6:5: case "c" has no "why"`}},
		{"alert of an ok case", head + "cases:\n  - name: c\n    class: ok-to-break\n    why: w\n    fault: {type: latency, target: x}\n    duration: 2m\nbefore: {}\nafter: {}\nexpect_before: {alert_not_fired: A}\n",
			[]string{"x.yaml:13:16: case c does not expect alert A"}},
		{"flow style", "{version: 1, title: t}\n", []string{"x.yaml:1:1: the incident is written in flow style"}},
		{"syntax", head + "case: a\nbefore:\n  services: [\n", []string{"x.yaml:7:1: YAML syntax: did not find expected node content"}},
		{"changes alone", head + "case: a\nchanges: [\"cluster backend: health_checks\"]\n", []string{"x.yaml:6:1: changes without before and after"}},
		{"changes not a list", head + "case: a\nbefore: {}\nafter: {}\nexpect_before: {slo_breached: during}\nchanges: cluster backend\n", []string{"x.yaml:9:10: changes must be a non-empty list"}},
		{"changes empty", head + "case: a\nbefore: {}\nafter: {}\nexpect_before: {slo_breached: during}\nchanges: []\n", []string{"x.yaml:9:10: changes must be a non-empty list"}},
		{"change syntax", head + "case: a\nbefore: {}\nafter: {}\nexpect_before: {slo_breached: during}\nchanges:\n  - 'clusters backend: health_checks'\n  - \"cluster backend:\"\n  - 'cluster backend: healthChecks'\n  - \"cluster backend: a..b\"\n  - 'cluster backend: a[x]'\n  - cluster backend: health_checks\n",
			[]string{`x.yaml:10:5: change "clusters backend: health_checks" is not TYPE NAME`, "listener, route, cluster, endpoint", `x.yaml:11:5: change "cluster backend:"`, `x.yaml:12:5: change "cluster backend: healthChecks"`, `x.yaml:13:5: change "cluster backend: a..b"`, `x.yaml:14:5: change "cluster backend: a[x]"`, `x.yaml:15:5: a change is a mapping, not text`, "quote it"}},
		{"change twice", head + "case: a\nbefore: {}\nafter: {}\nexpect_before: {slo_breached: during}\nchanges:\n  - cluster backend\n  - cluster backend\n", []string{`x.yaml:11:5: change "cluster backend" listed twice`, "first listed at line 10"}},
		{"version 2 is the incident's error only", strings.Replace(head, "version: 1", "version: 2", 1) + "cases:\n  - name: c\n    class: ok-to-break\n    why: w\n    fault: {type: latency, target: x}\n    duration: 2m\n",
			[]string{`x.yaml:1:10: unsupported incident version "2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := incident.Parse("x.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/*.yaml", "../../fixtures/incidents/*.yaml"} {
		paths, _ := filepath.Glob(dir)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := incident.Parse("fuzz.yaml", data)
		if (in == nil) == (err == nil) {
			t.Fatalf("Parse gave %v and %v: want exactly one", in, err)
		}
		if in != nil && in.Before != nil {
			if _, err := in.Overlay(incident.Before); err != nil {
				t.Fatal(err)
			}
		}
	})
}
