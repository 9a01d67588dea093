package catalog

import (
	"errors"
	"testing"
)

// FuzzParse proves that no input makes the parser (or the validator, or the
// time scale, on what the parser accepts) panic, that every error carries a
// position, and that a case the parser accepts always has a plan.
//
//	go test -fuzz=FuzzParse -fuzztime=30s ./harness/catalog
func FuzzParse(f *testing.F) {
	f.Add(readFixture(f))
	f.Add([]byte(okCase))
	f.Add([]byte(""))
	f.Add([]byte("version: 1\ncases: []\n"))
	f.Add([]byte("version: 1\ncases:\n  - name: a\n    class: not-ok\n    why: w\n    fault: {type: latency, target: \"edge->backend-*\", params: {latency: 2s}}\n    duration: 2h\n    expect: {alerts: {any_of: [A, DataPlaneDown]}, detection: 1h}\n    mechanism: {what: m, timer: 30s}\n"))
	f.Add([]byte("version: 1\ndefaults: {slo: {success: 99.9%, p99: 1s}, probe: {rate: 100/s}, prometheus: {scrape_interval: 1s}}\ncases:\n  - &a {name: x}\n  - *a\n"))
	f.Add([]byte("version: 1\ncases:\n  - name: a\n\tclass: x\n---\nfoo"))
	checks := Checks{Faults: fakeFaults{}, Alerts: pagingAlerts()}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if c == nil {
			t.Fatal("Parse returned no catalog")
		}
		checkPositioned(t, err)
		if err := c.Validate(checks); err != nil {
			checkPositioned(t, err)
		}
		for _, k := range c.Cases {
			for _, scale := range []float64{1, 240, 1e6} {
				p, err := k.Plan(scale, c.Defaults)
				if err != nil {
					t.Fatalf("case %q parsed cleanly but has no plan at scale %v: %v", k.Name, scale, err)
				}
				if p.Scale < 1 || p.Scale > scale {
					t.Fatalf("case %q: scale %v out of [1, %v]", k.Name, p.Scale, scale)
				}
				w := k.ShortestWindow(c.Defaults)
				if k.Class == NotOK && p.Detection < w || k.Class == OkToBreak && p.Judged < w {
					t.Fatalf("case %q at scale %v: a window under %s: %+v", k.Name, scale, w, p)
				}
			}
		}
	})
}

func checkPositioned(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("error is not a non-empty Errors: %v", err)
	}
	for i, e := range es {
		if e.File != "f.yaml" || e.Line < 1 || e.Column < 1 || e.Msg == "" {
			t.Fatalf("error without a position or message: %#v", e)
		}
		if i > 0 && (es[i-1].Line > e.Line || es[i-1].Line == e.Line && es[i-1].Column > e.Column) {
			t.Fatalf("errors not sorted: %v", es)
		}
	}
}
