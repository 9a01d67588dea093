package envfile

import (
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic; a failure
// must be Errors whose entries point into the file and say how to fix it;
// a success must be an Env whose parts agree with each other. The seeds are
// the docs example, the minimal file and every bad case.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(docsExample); err == nil {
		f.Add(data)
	}
	f.Add([]byte(minimal))
	for _, tc := range badCases {
		f.Add([]byte(tc.src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse("fuzz.yaml", data)
		if err != nil {
			if env != nil {
				t.Fatalf("an Env with errors: %v", err)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			for _, e := range es {
				if e.Line < 1 || e.Col < 1 || e.File != "fuzz.yaml" || e.Msg == "" || e.Fix == "" {
					t.Fatalf("bad problem %#v", e)
				}
			}
			return
		}
		checkEnv(t, env)
	})
}

// checkEnv checks what any good Env promises.
func checkEnv(t *testing.T, e *Env) {
	t.Helper()
	if e == nil || e.Name == "" || e.Scale < 1 || len(e.Toxiproxies) == 0 || len(e.Proxies) == 0 || e.Probe.Target == "" || e.Alerts.Source == "" {
		t.Fatalf("no error, but env %+v", e)
	}
	for _, l := range e.Links() {
		api, proxy, ok := e.ProxyOf(l)
		if !ok || e.AllowURL(api) != nil || e.AllowProxy(api, proxy) != nil {
			t.Fatalf("link %s: %q %q %v not allowed", l, api, proxy, ok)
		}
	}
	for _, u := range []string{e.Probe.Target, e.Alerts.Prometheus, e.Alerts.Alertmanager} {
		if u != "" && e.AllowURL(u) != nil {
			t.Fatalf("declared %q refused: %v", u, e.AllowURL(u))
		}
	}
	for _, s := range e.Scrape {
		if err := e.AllowURL(s.URL); err != nil {
			t.Fatalf("scrape %q refused: %v", s.URL, err)
		}
	}
	for _, c := range e.Components() {
		ctr, _ := e.ContainerOf(c)
		if err := e.AllowContainer(ctr); err != nil {
			t.Fatalf("container %q refused: %v", ctr, err)
		}
	}
	atLimit := e.CheckLimits(e.Limits.MaxFaultDuration, e.Limits.MaxTargets)
	over := e.CheckLimits(e.Limits.MaxFaultDuration+time.Nanosecond, e.Limits.MaxTargets+1)
	if atLimit != nil || !errors.Is(over, ErrRefused) {
		t.Fatalf("limits %+v not enforced at their edge: %v, %v", e.Limits, atLimit, over)
	}
	if n := e.ToxicName("run", "fault"); !e.OwnToxic(n, "run") || e.OwnToxic(n, "other") {
		t.Fatalf("toxic %q not its run's alone", n)
	}
}
