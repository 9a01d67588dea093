package alert

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/fixtures/alerts"
)

// The alert names the catalog's cases refer to (README, "The catalog").
var (
	requiredPages    = []string{"DataPlaneDown", "UpstreamErrorRateHigh", "NoHealthyUpstream", "WrongServiceAnswers", "EtcdDownTooLong", "LatencySLOBreach", "CrashLooping", "InstanceMissing"}
	requiredWarnings = []string{"XDSConfigRejected", "ControlPlaneDisconnected"}
	dataPlanes       = []string{"grpc", "envoy"}
)

func TestFixtureRulesParseLintAndName(t *testing.T) {
	for _, dp := range dataPlanes {
		t.Run(dp, func(t *testing.T) {
			files, err := loadFixtureRules(dp)
			require.NoError(t, err)
			require.Len(t, files, 2)
			assert.Empty(t, LintFiles(files, nil))

			severity := map[string]map[string]bool{}
			for _, a := range Alerts(files) {
				assert.Contains(t, []string{SeverityPage, SeverityWarning, SeverityInfo}, a.Severity, a.Name)
				assert.NotEmpty(t, a.Summary, a.Name)
				if severity[a.Name] == nil {
					severity[a.Name] = map[string]bool{}
				}
				severity[a.Name][a.Severity] = true
			}
			for _, name := range requiredPages {
				assert.Equal(t, map[string]bool{SeverityPage: true}, severity[name], "%s must exist and page", name)
			}
			for _, name := range requiredWarnings {
				assert.Equal(t, map[string]bool{SeverityWarning: true}, severity[name], "%s must exist as a warning", name)
			}

			for _, factor := range []float64{1, 15, 60, 240, 1800} {
				_, err := ScaleFiles(files, factor)
				assert.NoError(t, err, "factor %v", factor)
			}
			max, err := MaxFactor(Groups(files))
			require.NoError(t, err)
			assert.GreaterOrEqual(t, max, 600.0, "the shortest fixture window is 5m")
		})
	}
	_, err := loadFixtureRules("nginx")
	assert.Error(t, err)
}

// Both data-plane files express the same alerts, so that a catalog case
// names one alert whatever the data plane.
func TestFixtureDataPlaneParity(t *testing.T) {
	names := map[string][]string{}
	for _, dp := range dataPlanes {
		b, err := fs.ReadFile(alerts.FS, dp+".yml")
		require.NoError(t, err)
		f, err := ParseRules(dp+".yml", b)
		require.NoError(t, err)
		for _, a := range Alerts([]RuleFile{f}) {
			names[dp] = append(names[dp], a.Name)
		}
	}
	assert.Equal(t, names["grpc"], names["envoy"])
}

// Every rule says why its thresholds are what they are: a comment between
// "- alert:" and "expr:".
func TestFixtureRulesAreCommented(t *testing.T) {
	entries, err := fs.Glob(alerts.FS, "*.yml")
	require.NoError(t, err)
	require.Len(t, entries, 3)
	for _, name := range entries {
		b, err := fs.ReadFile(alerts.FS, name)
		require.NoError(t, err)
		sc := bufio.NewScanner(bytes.NewReader(b))
		alert, commented := "", false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "- alert:"):
				alert, commented = strings.TrimSpace(strings.TrimPrefix(line, "- alert:")), false
			case strings.HasPrefix(line, "#") && alert != "":
				commented = true
			case strings.HasPrefix(line, "expr:") && alert != "":
				assert.True(t, commented, "%s: alert %s has no comment explaining its thresholds", name, alert)
				alert = ""
			}
		}
	}
}

// fakeStack serves the metrics of the default stack from loopback
// endpoints: a healthy steady state at 100 requests/s that each scenario
// then breaks the way a fault would.
type fakeStack struct {
	dataPlane  string
	edge, cp   *fakeTarget
	etcd       *fakeTarget
	samples    map[string]*fakeTarget // backend-1..3, other-1
	containers *fakeContainers
	ctx        context.Context
	wg         sync.WaitGroup
}

var sampleComponents = []string{"backend-1", "backend-2", "backend-3", "other-1"}

func newFakeStack(t *testing.T, ctx context.Context, dataPlane string) *fakeStack {
	st := &fakeStack{
		dataPlane: dataPlane, edge: newFakeTarget(t), cp: newFakeTarget(t), etcd: newFakeTarget(t),
		samples:    map[string]*fakeTarget{},
		containers: newFakeContainers(append([]string{"edge", "control-plane", "etcd", "toxiproxy"}, sampleComponents...)...),
		ctx:        ctx,
	}
	t.Cleanup(st.wg.Wait)
	for _, c := range sampleComponents {
		f := newFakeTarget(t)
		svc := jobOf(c)
		f.setRate(fmt.Sprintf(`okbreak_sample_requests_total{service=%q,instance=%q,protocol="grpc",code="OK"}`, svc, c), 33)
		if svc == "other" {
			f.setRate(`okbreak_sample_requests_total{service="other",instance="other-1",protocol="grpc",code="OK"}`, 0)
		}
		st.samples[c] = f
	}
	st.cp.set(`okbreak_controlplane_up`, 1)
	st.cp.set(`okbreak_controlplane_etcd_reachable`, 1)
	st.cp.set(`okbreak_controlplane_connected_streams`, 1)
	st.etcd.set(`etcd_server_has_leader`, 1)
	switch dataPlane {
	case "grpc":
		st.edge.set(`okbreak_frontend_up`, 1)
		st.edge.set(`okbreak_frontend_ready`, 1)
		st.edge.set(`okbreak_frontend_xds_connected{server="toxiproxy:10001"}`, 1)
		for _, typ := range []string{"lds", "rds", "cds", "eds"} {
			st.edge.setRate(fmt.Sprintf(`okbreak_frontend_xds_resource_updates_total{type=%q,result="valid"}`, typ), 0)
			st.edge.setRate(fmt.Sprintf(`okbreak_frontend_xds_resource_updates_total{type=%q,result="invalid"}`, typ), 0)
		}
	case "envoy":
		st.edge.set(`envoy_server_live`, 1)
		st.edge.set(`envoy_control_plane_connected_state`, 1)
		// The admin listener's own requests (the scrapes) must not count.
		st.edge.setRate(`envoy_http_downstream_rq_xx{envoy_http_conn_manager_prefix="admin",envoy_response_code_class="5"}`, 4)
		st.edge.setRate(`envoy_http_downstream_rq_completed{envoy_http_conn_manager_prefix="admin"}`, 4)
		for cluster, n := range map[string]float64{"backend": 3, "other": 1, "xds_cluster": 1} {
			st.edge.set(fmt.Sprintf(`envoy_cluster_membership_healthy{envoy_cluster_name=%q}`, cluster), n)
			st.edge.set(fmt.Sprintf(`envoy_cluster_membership_total{envoy_cluster_name=%q}`, cluster), n)
			st.edge.setRate(fmt.Sprintf(`envoy_cluster_upstream_cx_none_healthy{envoy_cluster_name=%q}`, cluster), 0)
			st.edge.setRate(fmt.Sprintf(`envoy_cluster_update_rejected{envoy_cluster_name=%q}`, cluster), 0)
		}
		for _, m := range []string{`envoy_cluster_manager_cds_update_rejected`, `envoy_listener_manager_lds_update_rejected`,
			`envoy_http_rds_update_rejected{envoy_http_conn_manager_prefix="ingress_http",envoy_rds_route_config="backend"}`} {
			st.edge.setRate(m, 0)
		}
	}
	st.traffic(100, 0, 0, 0, 0.01)
	return st
}

// traffic sets the edge's request rates by outcome and the latency of all
// requests (seconds).
func (st *fakeStack) traffic(ok, unavailable, deadline, denied, latency float64) {
	total := ok + unavailable + deadline + denied
	switch st.dataPlane {
	case "grpc":
		for code, r := range map[string]float64{"OK": ok, "Unavailable": unavailable, "DeadlineExceeded": deadline, "PermissionDenied": denied} {
			st.edge.setRate(fmt.Sprintf(`okbreak_frontend_requests_total{code=%q}`, code), r)
			st.edge.setRate(fmt.Sprintf(`okbreak_frontend_upstream_attempts_total{code=%q}`, code), r)
		}
		for _, le := range []string{"0.05", "0.25", "1", "1.5", "5", "+Inf"} {
			r := total
			if le == "0.05" && latency > 0.05 || le == "0.25" && latency > 0.25 || le == "1" && latency > 1 || le == "1.5" && latency > 1.5 {
				r = 0
			}
			st.edge.setRate(fmt.Sprintf(`okbreak_frontend_request_duration_seconds_bucket{le=%q}`, le), r)
		}
		st.edge.setRate(`okbreak_frontend_request_duration_seconds_count`, total)
		st.edge.setRate(`okbreak_frontend_request_duration_seconds_sum`, total*latency)
	case "envoy":
		hcm := `envoy_http_conn_manager_prefix="ingress_http"`
		st.edge.setRate(fmt.Sprintf(`envoy_http_downstream_rq_xx{%s,envoy_response_code_class="2"}`, hcm), ok)
		st.edge.setRate(fmt.Sprintf(`envoy_http_downstream_rq_xx{%s,envoy_response_code_class="4"}`, hcm), denied)
		st.edge.setRate(fmt.Sprintf(`envoy_http_downstream_rq_xx{%s,envoy_response_code_class="5"}`, hcm), unavailable+deadline)
		st.edge.setRate(fmt.Sprintf(`envoy_http_downstream_rq_completed{%s}`, hcm), total)
		st.edge.setRate(`envoy_cluster_upstream_rq{envoy_cluster_name="backend",envoy_response_code="200"}`, ok)
		st.edge.setRate(`envoy_cluster_upstream_rq{envoy_cluster_name="backend",envoy_response_code="504"}`, deadline)
		ms := latency * 1000
		for _, le := range []string{"50", "250", "1000", "2500", "+Inf"} {
			r := total
			if le == "50" && ms > 50 || le == "250" && ms > 250 || le == "1000" && ms > 1000 || le == "2500" && ms > 2500 {
				r = 0
			}
			st.edge.setRate(fmt.Sprintf(`envoy_http_downstream_rq_time_bucket{%s,le=%q}`, hcm, le), r)
		}
		st.edge.setRate(fmt.Sprintf(`envoy_http_downstream_rq_time_count{%s}`, hcm), total)
		st.edge.setRate(fmt.Sprintf(`envoy_http_downstream_rq_time_sum{%s}`, hcm), total*ms)
	}
}

func (st *fakeStack) targets() []Target {
	ts := []Target{
		componentTarget("edge", st.edge.url()),
		componentTarget("control-plane", st.cp.url()),
		componentTarget("etcd", st.etcd.url()),
		ContainerTarget(st.containers),
	}
	for _, c := range sampleComponents {
		ts = append(ts, componentTarget(c, st.samples[c].url()))
	}
	return ts
}

// kill takes a component down: its container stops, its endpoint fails.
func (st *fakeStack) kill(component string) {
	st.containers.update(component, func(s *ContainerState) { s.Running, s.ExitCode, s.FinishedAt = false, 137, time.Now() })
	st.target(component).setDown(true)
}

// start brings it back; restarted says whether the restart policy did it.
func (st *fakeStack) start(component string, restarted bool) {
	st.containers.update(component, func(s *ContainerState) {
		s.Running, s.StartedAt = true, time.Now()
		if restarted {
			s.Restarts++
		}
	})
	st.target(component).setDown(false)
}

// crashAndRestart is a crash answered by the restart policy within gap.
func (st *fakeStack) crashAndRestart(component string, gap time.Duration) {
	st.kill(component)
	st.after(gap, func() { st.start(component, true) })
}

func (st *fakeStack) after(d time.Duration, f func()) {
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		select {
		case <-time.After(d):
			f()
		case <-st.ctx.Done():
		}
	}()
}

// every runs f every d until the stack's context ends.
func (st *fakeStack) every(d time.Duration, f func()) {
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				f()
			case <-st.ctx.Done():
				return
			}
		}
	}()
}

func (st *fakeStack) target(component string) *fakeTarget {
	switch component {
	case "edge":
		return st.edge
	case "control-plane":
		return st.cp
	case "etcd":
		return st.etcd
	}
	return st.samples[component]
}

// scenario is one catalog case played at the metric level against the
// fixture rules.
type scenario struct {
	name      string
	dataPlane string
	factor    float64
	inject    func(st *fakeStack)
	// okToBreak scenarios are watched for watch: no page may fire from
	// injection on. not-ok scenarios wait up to watch for every alert in
	// mustFire to fire after injection.
	okToBreak bool
	mustFire  []string
	watch     time.Duration
}

type scenarioResult struct {
	attempts  int
	timeline  Timeline
	injected  time.Time
	ended     time.Time
	baseline  []string // alerts firing before injection
	unhealthy []RuleHealth
	targets   []TargetHealth
	err       error
}

// baselineFor lets the rate windows fill before the fault: 1.5 s is more
// than a minute of production time at any factor used here.
const baselineFor = 1500 * time.Millisecond

func (sc scenario) run(t *testing.T) scenarioResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := newFakeStack(t, ctx, sc.dataPlane)
	files, err := loadFixtureRules(sc.dataPlane)
	if err != nil {
		return scenarioResult{err: err}
	}
	s, err := NewSession(Config{Rules: files, Targets: st.targets(), Factor: sc.factor})
	if err != nil {
		return scenarioResult{err: err}
	}
	if err := s.Start(ctx); err != nil {
		return scenarioResult{err: err}
	}
	defer s.Stop()
	var res scenarioResult
	select {
	case <-time.After(baselineFor):
	case <-ctx.Done():
	}
	res.injected = time.Now()
	res.baseline = s.FiringAt(res.injected)
	sc.inject(st)
	if sc.okToBreak {
		time.Sleep(sc.watch)
	} else {
		wctx, wcancel := context.WithTimeout(ctx, sc.watch)
		res.err = s.WaitUntil(wctx, func() bool {
			tl := s.Timeline()
			for _, name := range sc.mustFire {
				if _, ok := tl.FirstFiredAfter(name, res.injected); !ok {
					return false
				}
			}
			return true
		})
		wcancel()
	}
	res.ended = time.Now()
	res.timeline = s.Timeline()
	res.targets = s.Targets()
	for _, h := range s.RuleHealth() {
		if h.Health != "ok" {
			res.unhealthy = append(res.unhealthy, h)
		}
	}
	return res
}

// runValid replays a run whose measurements cannot be trusted (a scrape
// timed out: the shared machine was too busy to measure, which says
// nothing about the rules), as the harness judges such a case invalid
// rather than failed. Three tries at most.
func (sc scenario) runValid(t *testing.T) scenarioResult {
	var res scenarioResult
	for attempt := 1; attempt <= 3; attempt++ {
		res = sc.run(t)
		res.attempts = attempt
		timeouts := 0
		for _, h := range res.targets {
			timeouts += h.Timeouts
		}
		if timeouts == 0 {
			return res
		}
		t.Logf("%s/%s: attempt %d invalid: %d scrape timeouts", sc.dataPlane, sc.name, attempt, timeouts)
	}
	return res
}

// TestFixtureScenarios plays the catalog's cases at the metric level: the
// ok-to-break ones must not page, the not-ok ones must raise their alert.
// Scenarios run concurrently (they mostly wait), each with its own session.
func TestFixtureScenarios(t *testing.T) {
	const ok = true
	scenarios := []scenario{
		{name: "healthy", inject: func(*fakeStack) {}, okToBreak: ok, watch: 3 * time.Second},
		{name: "one-backend-killed", okToBreak: ok, watch: 3500 * time.Millisecond, inject: func(st *fakeStack) {
			st.crashAndRestart("backend-2", 400*time.Millisecond)
			// Its in-flight attempts fail and are retried on another host.
			st.edge.setRate(`okbreak_frontend_upstream_attempts_total{code="Unavailable"}`, 30)
			st.after(400*time.Millisecond, func() { st.edge.setRate(`okbreak_frontend_upstream_attempts_total{code="Unavailable"}`, 0) })
		}},
		{name: "one-backend-resets", okToBreak: ok, watch: 3500 * time.Millisecond, inject: func(st *fakeStack) {
			st.traffic(99.5, 0.5, 0, 0, 0.02)
			st.edge.setRate(`okbreak_frontend_upstream_attempts_total{code="Unavailable"}`, 33)
		}},
		{name: "one-backend-slow", okToBreak: ok, watch: 3500 * time.Millisecond, inject: func(st *fakeStack) {
			st.traffic(99.8, 0, 0.2, 0, 0.3)
		}},
		{name: "control-plane-and-etcd-away", okToBreak: ok, watch: 4 * time.Second, inject: func(st *fakeStack) {
			// etcd stopped (4 minutes of the tolerated 10) while the edge
			// is cut off from the control plane (the tolerated 5 minutes).
			st.kill("etcd")
			st.cp.set(`okbreak_controlplane_etcd_reachable`, 0)
			st.edge.set(`okbreak_frontend_xds_connected{server="toxiproxy:10001"}`, 0)
		}},
		{name: "control-plane-restart", okToBreak: ok, watch: 3 * time.Second, inject: func(st *fakeStack) {
			st.crashAndRestart("control-plane", 300*time.Millisecond)
		}},
		{name: "xds-rejected-push", okToBreak: ok, watch: 3 * time.Second, inject: func(st *fakeStack) {
			st.edge.add(`okbreak_frontend_xds_resource_updates_total{type="eds",result="invalid"}`, 1)
		}},
		{name: "data-plane-crash", mustFire: []string{"DataPlaneDown"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.kill("edge")
		}},
		{name: "data-plane-crash-restarted", mustFire: []string{"DataPlaneDown"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.crashAndRestart("edge", 300*time.Millisecond)
		}},
		{name: "xds-incomplete-data", mustFire: []string{"NoHealthyUpstream", "UpstreamErrorRateHigh"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.edge.set(`okbreak_frontend_ready`, 0)
			st.traffic(0, 100, 0, 0, 0.001)
		}},
		{name: "xds-incorrect-data", mustFire: []string{"WrongServiceAnswers", "UpstreamErrorRateHigh"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.samples["other-1"].setRate(`okbreak_sample_refused_total{service="other",instance="other-1",wanted="backend"}`, 100)
			st.traffic(0, 0, 0, 100, 0.002)
		}},
		{name: "all-backends-slow", mustFire: []string{"LatencySLOBreach"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.traffic(0, 0, 100, 0, 0.8) // every attempt times out; the frontend gives up at 0.8 s
		}},
		{name: "backend-crash-loop", mustFire: []string{"CrashLooping"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.kill("backend-1")
			st.every(300*time.Millisecond, func() {
				st.start("backend-1", true)
				st.kill("backend-1")
			})
		}},
		{name: "backend-terminated", mustFire: []string{"InstanceMissing"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.kill("backend-3")
		}},
		// At the fixtures' MaxFactor (600) an hour of etcd outage is 6 s.
		{name: "etcd-down-2h", factor: 600, mustFire: []string{"EtcdDownTooLong"}, watch: 12 * time.Second, inject: func(st *fakeStack) {
			st.kill("etcd")
			st.cp.set(`okbreak_controlplane_etcd_reachable`, 0)
		}},
		{name: "xds-rejected-push-warns", mustFire: []string{"XDSConfigRejected"}, watch: 4 * time.Second, inject: func(st *fakeStack) {
			st.edge.add(`okbreak_frontend_xds_resource_updates_total{type="eds",result="invalid"}`, 1)
		}},
	}
	envoy := []scenario{
		{name: "healthy", inject: func(*fakeStack) {}, okToBreak: ok, watch: 3 * time.Second},
		{name: "one-backend-resets", okToBreak: ok, watch: 3 * time.Second, inject: func(st *fakeStack) {
			st.traffic(99.5, 0.5, 0, 0, 0.02)
			st.edge.set(`envoy_cluster_membership_healthy{envoy_cluster_name="backend"}`, 2) // one host ejected
		}},
		{name: "data-plane-crash", mustFire: []string{"DataPlaneDown"}, watch: 8 * time.Second, inject: func(st *fakeStack) { st.kill("edge") }},
		{name: "xds-incomplete-data", mustFire: []string{"NoHealthyUpstream", "UpstreamErrorRateHigh"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.edge.set(`envoy_cluster_membership_healthy{envoy_cluster_name="backend"}`, 0)
			st.edge.setRate(`envoy_cluster_upstream_cx_none_healthy{envoy_cluster_name="backend"}`, 100)
			st.traffic(0, 100, 0, 0, 0.001)
		}},
		{name: "xds-incorrect-data", mustFire: []string{"WrongServiceAnswers", "UpstreamErrorRateHigh"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.samples["other-1"].setRate(`okbreak_sample_refused_total{service="other",instance="other-1",wanted="backend"}`, 100)
			st.traffic(0, 0, 0, 100, 0.002) // 421 Misdirected Request
		}},
		{name: "all-backends-slow", mustFire: []string{"LatencySLOBreach"}, watch: 8 * time.Second, inject: func(st *fakeStack) {
			st.traffic(0, 0, 100, 0, 0.95)
		}},
		{name: "xds-rejected-push-warns", mustFire: []string{"XDSConfigRejected"}, watch: 4 * time.Second, inject: func(st *fakeStack) {
			st.edge.add(`envoy_cluster_manager_cds_update_rejected`, 1)
		}},
		{name: "control-plane-down-5m", okToBreak: ok, watch: 4 * time.Second, inject: func(st *fakeStack) {
			st.edge.set(`envoy_control_plane_connected_state`, 0)
		}},
	}
	for i := range scenarios {
		scenarios[i].dataPlane = "grpc"
	}
	for i := range envoy {
		envoy[i].dataPlane = "envoy"
	}
	all := append(scenarios, envoy...)
	if testing.Short() {
		var some []scenario
		for _, sc := range all {
			if sc.name == "healthy" || sc.name == "one-backend-killed" || sc.name == "data-plane-crash" {
				some = append(some, sc)
			}
		}
		all = some
	}

	results := make([]scenarioResult, len(all))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range all {
		if all[i].factor == 0 {
			all[i].factor = testFactor
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = all[i].runValid(t)
		}()
	}
	wg.Wait()

	for i, sc := range all {
		res := results[i]
		t.Run(sc.dataPlane+"/"+sc.name, func(t *testing.T) {
			if res.err != nil && res.timeline == nil {
				require.NoError(t, res.err)
			}
			assert.Empty(t, res.unhealthy, "every rule evaluates without error")
			for _, h := range res.targets {
				assert.Zero(t, h.Timeouts, "target %s/%s timed out in every attempt (%d): the machine is too busy to measure", h.Job, h.Instance, res.attempts)
			}
			assert.Empty(t, res.baseline, "nothing fires in the steady state before the fault:\n%s", dump(res.timeline))
			pages := res.timeline.FiringDuring(res.injected, res.ended, SeverityPage)
			if sc.okToBreak {
				assert.Empty(t, pages, "an ok-to-break case must not page:\n%s", dump(res.timeline))
				return
			}
			assert.NoError(t, res.err, "waiting for %v", sc.mustFire)
			for _, name := range sc.mustFire {
				at, fired := res.timeline.FirstFiredAfter(name, res.injected)
				assert.True(t, fired, "%s did not fire:\n%s", name, dump(res.timeline))
				if fired {
					t.Logf("%s fired %s after injection (%.0fs of production time)", name, at.Sub(res.injected).Round(time.Millisecond),
						at.Sub(res.injected).Seconds()*sc.factor)
				}
			}
		})
	}
}

// jobOf is the sample system's job for a component: its service, the name
// without an instance number ("backend-2" -> "backend").
func jobOf(component string) string {
	return regexp.MustCompile(`-[0-9]+$`).ReplaceAllString(component, "")
}

func componentTarget(component, url string) Target {
	return Target{Job: jobOf(component), Instance: component, URL: url}
}

// loadFixtureRules reads the sample system's rule files for a data plane
// (common.yml plus <data plane>.yml, the sample's convention).
func loadFixtureRules(dp string) ([]RuleFile, error) {
	var files []RuleFile
	for _, name := range []string{"common.yml", dp + ".yml"} {
		b, err := fs.ReadFile(alerts.FS, name)
		if err != nil {
			return nil, err
		}
		f, err := ParseRules(name, b)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}
