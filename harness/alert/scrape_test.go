package alert

import (
	"context"
	"errors"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testDB is a real TSDB with a real PromQL engine (lookback 1 minute, far
// longer than the test: a series that disappears from instant queries can
// only have been marked stale).
type testDB struct {
	db     *tsdb.DB
	engine *promql.Engine
}

func newTestDB(t *testing.T) *testDB {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return &testDB{db: db, engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second, LookbackDelta: time.Minute})}
}

func (d *testDB) query(t *testing.T, q string) map[string]float64 {
	t.Helper()
	v, err := rules.EngineQueryFunc(d.engine, d.db)(context.Background(), q, time.Now())
	require.NoError(t, err, q)
	out := map[string]float64{}
	for _, s := range v {
		out[s.Metric.String()] = s.F
	}
	return out
}

// rawSamples returns every stored value of a series, stale markers included.
func (d *testDB) rawSamples(t *testing.T, ms ...*labels.Matcher) []float64 {
	t.Helper()
	q, err := d.db.Querier(0, math.MaxInt64)
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, ms...)
	var out []float64
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			_, v := it.At()
			out = append(out, v)
		}
	}
	require.NoError(t, ss.Err())
	return out
}

func TestScraperStoresSamplesWithTargetLabels(t *testing.T) {
	d := newTestDB(t)
	f := newFakeTarget(t)
	// The backend sets its own instance label (a const label): Prometheus
	// keeps it as exported_instance and the target's wins.
	f.set(`okbreak_sample_requests_total{service="backend",instance="backend-1",code="200"}`, 7)
	f.set(`demo_gauge`, 3)
	s, err := NewScraper(d.db, []Target{componentTarget("backend-1", f.url())}, 10*time.Second, 5*time.Second, nil, nil)
	require.NoError(t, err)
	s.ScrapeOnce(context.Background())

	got := d.query(t, `okbreak_sample_requests_total`)
	assert.Equal(t, map[string]float64{
		`{__name__="okbreak_sample_requests_total", code="200", exported_instance="backend-1", instance="backend-1", job="backend", service="backend"}`: 7,
	}, got)
	assert.Equal(t, map[string]float64{`{__name__="up", instance="backend-1", job="backend"}`: 1}, d.query(t, `up`))
	assert.Equal(t, map[string]float64{`{instance="backend-1", job="backend"}`: 2}, d.query(t, `sum by (job, instance) (scrape_samples_scraped)`))
	h := s.Health()
	require.Len(t, h, 1)
	assert.True(t, h[0].Up)
	assert.Equal(t, 2, h[0].Samples)
	assert.Equal(t, 1, h[0].Scrapes)
}

// The scrapes below are called by hand: a generous timeout keeps a loaded
// machine from failing a scrape these tests do not time.
func TestScraperMarksVanishedSeriesStale(t *testing.T) {
	d := newTestDB(t)
	f := newFakeTarget(t)
	f.set(`demo_a`, 1)
	f.set(`demo_b`, 1)
	s, err := NewScraper(d.db, []Target{{Job: "demo", Instance: "demo-1", URL: f.url()}}, 10*time.Second, 5*time.Second, nil, nil)
	require.NoError(t, err)
	ctx := context.Background()
	s.ScrapeOnce(ctx)
	require.Len(t, d.query(t, `demo_b`), 1)

	f.del(`demo_b`)
	time.Sleep(5 * time.Millisecond) // a later scrape timestamp
	s.ScrapeOnce(ctx)
	assert.Empty(t, d.query(t, `demo_b`), "a vanished series must disappear at once, not after the lookback")
	assert.Len(t, d.query(t, `demo_a`), 1)
	b := d.rawSamples(t, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "demo_b"))
	require.Len(t, b, 2)
	assert.True(t, value.IsStaleNaN(b[1]), "second sample of demo_b is a staleness marker")
}

func TestScraperFailedScrape(t *testing.T) {
	d := newTestDB(t)
	f := newFakeTarget(t)
	f.set(`demo_live`, 1)
	s, err := NewScraper(d.db, []Target{{Job: "demo", Instance: "demo-1", URL: f.url()}}, 10*time.Second, 5*time.Second, nil, nil)
	require.NoError(t, err)
	ctx := context.Background()
	s.ScrapeOnce(ctx)

	// A 503 fails the scrape like a crash does.
	f.setDown(true)
	time.Sleep(5 * time.Millisecond)
	s.ScrapeOnce(ctx)
	assert.Equal(t, map[string]float64{`{__name__="up", instance="demo-1", job="demo"}`: 0}, d.query(t, `up`))
	assert.Empty(t, d.query(t, `demo_live`), "series of a failed target are stale")
	assert.Len(t, d.query(t, `absent(demo_live)`), 1)
	assert.Empty(t, d.query(t, `demo_live != 1`), "a bare x != 1 cannot fire for a dead target: rules pair it with up == 0 or absent()")
	h := s.Health()[0]
	assert.False(t, h.Up)
	assert.Equal(t, 1, h.Failures)
	assert.Zero(t, h.Timeouts, "a 503 is the target's answer, not a timeout")
	assert.Contains(t, h.LastError, "503")

	// Back up: the series returns.
	f.setDown(false)
	time.Sleep(5 * time.Millisecond)
	s.ScrapeOnce(ctx)
	assert.Equal(t, map[string]float64{`{__name__="demo_live", instance="demo-1", job="demo"}`: 1}, d.query(t, `demo_live`))
	assert.True(t, s.Health()[0].Up)

	// Closed: connection refused.
	f.srv.Close()
	time.Sleep(5 * time.Millisecond)
	s.ScrapeOnce(ctx)
	assert.Equal(t, map[string]float64{`{__name__="up", instance="demo-1", job="demo"}`: 0}, d.query(t, `up`))
	assert.Empty(t, d.query(t, `demo_live`))
}

func TestScraperTimeout(t *testing.T) {
	d := newTestDB(t)
	block := make(chan struct{})
	defer close(block)
	src := sourceFunc(func(ctx context.Context) ([]byte, string, error) {
		select {
		case <-block:
			return nil, "", errors.New("unblocked")
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	})
	s, err := NewScraper(d.db, []Target{{Job: "slow", Instance: "slow", Source: src}}, 200*time.Millisecond, 50*time.Millisecond, nil, nil)
	require.NoError(t, err)
	start := time.Now()
	s.ScrapeOnce(context.Background())
	// Without the timeout the source would block until the test ends.
	assert.Less(t, time.Since(start), time.Second, "the per-scrape timeout bounds a hung target")
	assert.Equal(t, map[string]float64{`{__name__="up", instance="slow", job="slow"}`: 0}, d.query(t, `up`))
	h := s.Health()[0]
	assert.Equal(t, 1, h.Timeouts)
	assert.Equal(t, 1, h.Failures)
}

type sourceFunc func(ctx context.Context) ([]byte, string, error)

func (f sourceFunc) Scrape(ctx context.Context) ([]byte, string, error) { return f(ctx) }

func TestScraperResolvesURLEachScrape(t *testing.T) {
	d := newTestDB(t)
	a, b := newFakeTarget(t), newFakeTarget(t)
	a.set(`demo_port`, 1)
	b.set(`demo_port`, 2)
	cur := a
	s, err := NewScraper(d.db, []Target{{Job: "demo", Instance: "demo-1", Resolve: func(context.Context) (string, error) { return cur.url(), nil }}},
		time.Second, 500*time.Millisecond, nil, nil)
	require.NoError(t, err)
	s.ScrapeOnce(context.Background())
	assert.Equal(t, map[string]float64{`{__name__="demo_port", instance="demo-1", job="demo"}`: 1}, d.query(t, `demo_port`))
	cur = b // the container restarted on another host port
	time.Sleep(5 * time.Millisecond)
	s.ScrapeOnce(context.Background())
	assert.Equal(t, map[string]float64{`{__name__="demo_port", instance="demo-1", job="demo"}`: 2}, d.query(t, `demo_port`))
}

func TestScraperRunScrapesEveryInterval(t *testing.T) {
	d := newTestDB(t)
	f := newFakeTarget(t)
	f.set(`demo_x`, 1)
	s, err := NewScraper(d.db, []Target{{Job: "demo", Instance: "demo-1", URL: f.url()}}, 50*time.Millisecond, 40*time.Millisecond, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 330*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	n := s.Health()[0].Scrapes
	assert.GreaterOrEqual(t, n, 3, "one scrape at once, then one per interval")
	assert.LessOrEqual(t, n, 8, "never more than one per interval")
}

func TestNewScraperValidates(t *testing.T) {
	var app storage.AppendableV2 = newTestDB(t).db
	good := Target{Job: "a", Instance: "a", URL: "http://127.0.0.1:1/metrics"}
	for name, c := range map[string]struct {
		targets           []Target
		interval, timeout time.Duration
	}{
		"no job":         {[]Target{{Instance: "a", URL: good.URL}}, time.Second, time.Millisecond},
		"no url":         {[]Target{{Job: "a", Instance: "a"}}, time.Second, time.Millisecond},
		"url and source": {[]Target{{Job: "a", Instance: "a", URL: good.URL, Source: sourceFunc(nil)}}, time.Second, time.Millisecond},
		"twice":          {[]Target{good, good}, time.Second, time.Millisecond},
		"no timeout":     {[]Target{good}, time.Second, 0},
	} {
		_, err := NewScraper(app, c.targets, c.interval, c.timeout, nil, nil)
		assert.Error(t, err, name)
	}
	_, err := NewScraper(app, []Target{good}, time.Second, time.Millisecond, nil, nil)
	assert.NoError(t, err)
	_, err = NewScraper(app, []Target{good}, time.Second, 2*time.Second, nil, nil)
	assert.NoError(t, err, "a timeout may exceed the interval")
}

func TestScraperAddsStaticLabels(t *testing.T) {
	d := newTestDB(t)
	f := newFakeTarget(t)
	f.set(`demo_gauge{namespace="theirs"}`, 3)
	target := Target{Job: "api", Instance: "api-0", URL: f.url(), Labels: map[string]string{"namespace": "shop", "pod": "api-0"}}
	s, err := NewScraper(d.db, []Target{target}, time.Second, 500*time.Millisecond, nil, nil)
	require.NoError(t, err)
	s.ScrapeOnce(context.Background())
	assert.Equal(t, map[string]float64{
		`{__name__="demo_gauge", exported_namespace="theirs", instance="api-0", job="api", namespace="shop", pod="api-0"}`: 3,
	}, d.query(t, `demo_gauge`), "a static label wins over a scraped one, which is kept as exported_")
	assert.Equal(t, map[string]float64{`{__name__="up", instance="api-0", job="api", namespace="shop", pod="api-0"}`: 1}, d.query(t, `up`))

	for _, bad := range []map[string]string{{"job": "x"}, {"instance": "x"}, {"__name__": "x"}, {"bad-name": "x"}} {
		_, err := NewScraper(d.db, []Target{{Job: "api", Instance: "api-0", URL: f.url(), Labels: bad}}, time.Second, 500*time.Millisecond, nil, nil)
		assert.Error(t, err, "%v", bad)
	}
}

func TestContainerExporter(t *testing.T) {
	started := time.Unix(1700000000, 500e6)
	src := StateSourceFunc(func(context.Context) ([]ContainerState, error) {
		return []ContainerState{
			{Component: "edge", Image: "okbreak/sample:dev", Running: true, StartedAt: started},
			{Component: "backend-2", Running: false, Restarts: 3, ExitCode: 137, OOMKilled: true, Restarting: true,
				StartedAt: started, FinishedAt: started.Add(time.Second)},
		}, nil
	})
	d := newTestDB(t)
	s, err := NewScraper(d.db, []Target{ContainerTarget(src)}, time.Second, 500*time.Millisecond, nil, nil)
	require.NoError(t, err)
	s.ScrapeOnce(context.Background())

	byComponent := func(q string) map[string]float64 {
		v, err := rules.EngineQueryFunc(d.engine, d.db)(context.Background(), q, time.Now())
		require.NoError(t, err, q)
		out := map[string]float64{}
		for _, smp := range v {
			assert.Equal(t, ContainerJob, smp.Metric.Get("job"))
			out[smp.Metric.Get("component")] = smp.F
		}
		return out
	}
	assert.Equal(t, map[string]float64{"edge": 1, "backend-2": 0}, byComponent(MetricContainerRunning))
	assert.Equal(t, map[string]float64{"edge": 0, "backend-2": 3}, byComponent(MetricContainerRestarts))
	assert.Equal(t, map[string]float64{"edge": 0, "backend-2": 137}, byComponent(MetricContainerExitCode))
	assert.Equal(t, map[string]float64{"edge": 0, "backend-2": 1}, byComponent(MetricContainerOOMKilled))
	assert.Equal(t, map[string]float64{"edge": 0, "backend-2": 1}, byComponent(MetricContainerRestarting))
	assert.Equal(t, map[string]float64{"edge": 1700000000.5, "backend-2": 1700000000.5}, byComponent(MetricContainerStarted))
	assert.Equal(t, map[string]float64{"backend-2": 1700000001.5}, byComponent(MetricContainerFinished), "never finished: no series")

	// A broken source fails the scrape: up == 0, never silence.
	failing := StateSourceFunc(func(context.Context) ([]ContainerState, error) { return nil, errors.New("docker: no engine") })
	s2, err := NewScraper(d.db, []Target{{Job: "x", Instance: "x", Source: NewContainerExporter(failing)}}, time.Second, 500*time.Millisecond, nil, nil)
	require.NoError(t, err)
	s2.ScrapeOnce(context.Background())
	assert.Equal(t, 0.0, d.query(t, `up{job="x"}`)[`{__name__="up", instance="x", job="x"}`])
	assert.Contains(t, s2.Health()[0].LastError, "no engine")

	_, err = RenderContainerStates([]ContainerState{{Component: "a"}, {Component: "a"}})
	assert.Error(t, err)
	_, err = RenderContainerStates([]ContainerState{{}})
	assert.Error(t, err)
	b, err := RenderContainerStates([]ContainerState{{Component: `we"ird\`}})
	require.NoError(t, err)
	samples, err := parseExposition(b, textContentType)
	require.NoError(t, err)
	var comps []string
	for _, smp := range samples {
		comps = append(comps, smp.lset.Get("component"))
	}
	sort.Strings(comps)
	assert.Equal(t, `we"ird\`, comps[0], "label values are escaped and round-trip")
}

// kube-prometheus's KubePodCrashLooping and KubeContainerWaiting select on
// these names, labels and job; they must find the crash-looping component.
func TestKubeStateNamesServeKubePrometheusRules(t *testing.T) {
	d := newTestDB(t)
	now := time.Now()
	states := []ContainerState{
		{Component: "backend-1", Running: true, StartedAt: now},
		{Component: "backend-2", Restarting: true, Restarts: 5, ExitCode: 1, FinishedAt: now},
		{Component: "edge", Namespace: "shop", Pod: "edge-7d9", Container: "envoy", Running: false, ExitCode: 137, OOMKilled: true, FinishedAt: now},
	}
	src := StateSourceFunc(func(context.Context) ([]ContainerState, error) { return states, nil })
	s, err := NewScraper(d.db, []Target{KubeStateTarget(src)}, time.Second, 500*time.Millisecond, nil, nil)
	require.NoError(t, err)
	s.ScrapeOnce(context.Background())

	crashLooping := `max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff", job="kube-state-metrics"}[5m]) >= 1`
	assert.Equal(t, map[string]float64{
		`{container="backend-2", instance="okbreak", job="kube-state-metrics", namespace="okbreak", pod="backend-2", reason="CrashLoopBackOff"}`: 1,
	}, d.query(t, crashLooping))
	assert.Equal(t, map[string]float64{`{container="envoy", namespace="shop", pod="edge-7d9"}`: 1},
		d.query(t, `sum by (namespace, pod, container) (kube_pod_container_status_terminated_reason{reason="OOMKilled"})`))
	assert.Equal(t, map[string]float64{`{pod="backend-2"}`: 5}, d.query(t, `sum by (pod) (kube_pod_container_status_restarts_total) > 0`))
	assert.Equal(t, map[string]float64{`{pod="backend-1"}`: 1}, d.query(t, `sum by (pod) (kube_pod_container_status_running) > 0`))
	assert.Len(t, d.query(t, `kube_pod_container_status_last_terminated_reason`), 2)
}
