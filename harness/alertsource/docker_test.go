package alertsource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// Prometheus scrapes itself every second and evaluates one rule every
// second: up for 3 s, so that polls see it pending before it fires.
const (
	promConfig = `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [/etc/prometheus/rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{targets: ['alertmanager:9093']}]
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['localhost:9090']}]
`
	promRules = `groups:
  - name: okbreak-alertsource-test
    rules:
      - alert: PrometheusUp
        expr: up{job="prometheus"} == 1
        for: 3s
        labels: {severity: page}
        annotations: {summary: Prometheus scrapes itself}
`
	// A receiver without integrations: Alertmanager notifies nobody and
	// sends nothing anywhere.
	amConfig = `route:
  receiver: nobody
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: nobody
`
)

// The real parts: a Prometheus (okbreak's image) evaluates a rule and
// alerts a real Alertmanager on a network of the test's own. The recorder
// sees the alert pending then firing in Prometheus' API and arriving at
// Alertmanager, and a silence made through Alertmanager's API leaves it a
// page.
func TestRealPrometheusAndAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts Prometheus and Alertmanager containers, and builds their images the first time (minutes)")
	}
	stacktest.RequireDocker(t)
	require.NoError(t, stack.CheckEnvironment())
	start := time.Now()
	ctx := stacktest.Context(t, 40*time.Minute)

	imgs := resolveImages(t, ctx)
	t.Logf("images ready in %v", time.Since(start).Round(time.Millisecond))
	upAt := time.Now()

	runID := stack.NewRunID()
	nw, err := network.New(ctx, network.WithLabels(stack.RunLabels(runID)))
	require.NoError(t, err)
	testcontainers.CleanupNetwork(t, nw)
	amURL := run(t, ctx, nw, runID, imgs[image.Alertmanager], "alertmanager", 9093, "/etc/alertmanager/alertmanager.yml", amConfig, "")
	promURL := run(t, ctx, nw, runID, imgs[image.Prometheus], "prometheus", 9090, "/etc/prometheus/prometheus.yml", promConfig, promRules)
	t.Logf("containers ready in %v", time.Since(upAt).Round(time.Millisecond))

	prom, err := Prometheus(promURL)
	require.NoError(t, err)
	am, err := Alertmanager(amURL)
	require.NoError(t, err)
	promRec, amRec := record(t, ctx, prom), record(t, ctx, am)

	firing := func(r *Recorder) func() bool {
		return func() bool { _, ok := r.Timeline().FirstFired("PrometheusUp"); return ok }
	}
	require.Eventually(t, firing(promRec), time.Minute, 50*time.Millisecond, "PrometheusUp never fired in Prometheus")
	require.Eventually(t, firing(amRec), time.Minute, 50*time.Millisecond, "PrometheusUp never reached Alertmanager")
	t.Logf("fired and reached Alertmanager %v after the containers were ready", time.Since(upAt).Round(time.Millisecond))

	ptl, atl := promRec.Timeline(), amRec.Timeline()
	require.GreaterOrEqual(t, len(ptl), 2, "%v", ptl)
	assert.Equal(t, []alert.State{alert.StateInactive, alert.StatePending}, []alert.State{ptl[0].From, ptl[0].To}, "pending seen first: %v", ptl)
	assert.Equal(t, []alert.State{alert.StatePending, alert.StateFiring}, []alert.State{ptl[1].From, ptl[1].To}, "%v", ptl)
	pendingAt, promFiredAt := ptl[0].At, ptl[1].At
	amFiredAt := atl[0].At
	t.Logf("Prometheus: pending at activeAt %s, firing seen at %s; Alertmanager: startsAt %s",
		pendingAt.Format(time.RFC3339Nano), promFiredAt.Format(time.RFC3339Nano), amFiredAt.Format(time.RFC3339Nano))
	// Alertmanager's startsAt is when Prometheus fired it: past the `for`,
	// and before the poll that saw it firing (same clock: one host). It
	// keeps milliseconds only.
	assert.False(t, amFiredAt.Before(pendingAt.Add(3*time.Second).Truncate(time.Millisecond)), "fired before its for: 3s")
	assert.False(t, amFiredAt.After(promFiredAt.Add(100*time.Millisecond)), "fired after the poll that saw it firing")
	assert.Equal(t, "page", ptl[1].Severity)
	assert.Equal(t, "prometheus", ptl[1].Labels["job"])

	// Silenced, it is still held by Alertmanager, reported with its
	// silence, and still a page.
	id := silence(t, ctx, amURL, "PrometheusUp")
	require.Eventually(t, func() bool {
		got, err := am.Alerts(ctx)
		return err == nil && len(got) == 1 && got[0].Status.Muted() && strings.Join(got[0].Status.SilencedBy, ",") == id
	}, 30*time.Second, 100*time.Millisecond, "the alert did not show its silence %s", id)
	require.Eventually(t, func() bool {
		s := amRec.Seen()
		return len(s) == 1 && len(s[0].Status.SilencedBy) == 1
	}, 10*time.Second, 50*time.Millisecond)
	seen := amRec.Seen()[0]
	assert.Equal(t, "suppressed", seen.Status.State)
	assert.Equal(t, alert.StateFiring, seen.Now)
	assert.Equal(t, []string{"nobody"}, seen.Status.Receivers)

	page := map[string]string{"severity": "page"}
	assert.Equal(t, []string{"PrometheusUp"}, amRec.Timeline().PagesDuring(upAt, time.Now(), page), "silenced, and paged")
	require.Len(t, Pages(amRec.Timeline(), page), 1)
	assert.Equal(t, amFiredAt, Pages(amRec.Timeline(), page)[0].At)
	assert.Equal(t, []string{"PrometheusUp"}, promRec.Timeline().PagesDuring(upAt, time.Now(), page))
	for _, r := range []*Recorder{promRec, amRec} {
		h := r.Health()
		assert.Zero(t, h.Failed, "%s: %+v", r.Source().Name(), h)
		for _, tr := range r.Timeline() {
			assert.NotEqual(t, alert.StateResolved, tr.To, "%s: nothing resolved: %v", r.Source().Name(), tr)
		}
	}
	t.Logf("wall time %v (with the images: %v after they were ready)", time.Since(start).Round(time.Millisecond), time.Since(upAt).Round(time.Millisecond))
}

// resolveImages resolves both images, then again to show the second
// resolve is the cached image.
func resolveImages(t *testing.T, ctx context.Context) map[image.Name]image.Image {
	t.Helper()
	r, err := image.NewResolver(ctx, image.WithLogger(t.Logf))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	imgs := map[image.Name]image.Image{}
	for _, n := range []image.Name{image.Alertmanager, image.Prometheus} {
		t0 := time.Now()
		img, err := r.Resolve(ctx, n)
		require.NoError(t, err)
		t.Logf("%s: %s in %v", n, img, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		again, err := r.Resolve(ctx, n)
		require.NoError(t, err)
		assert.Equal(t, image.SourceLocal, again.Source, "the second resolve of %s reuses the cached image", n)
		assert.Equal(t, img.ID, again.ID)
		assert.Less(t, time.Since(t0), 5*time.Second)
		imgs[n] = img
	}
	return imgs
}

// run starts one container on nw under its name as alias, with its config
// (and Prometheus' rules) copied in and its port published on loopback
// only, and returns its URL on the host.
func run(t *testing.T, ctx context.Context, nw *testcontainers.DockerNetwork, runID string, img image.Image, name string, port int, configPath, config, rules string) string {
	t.Helper()
	p := fmt.Sprintf("%d/tcp", port)
	files := []testcontainers.ContainerFile{{Reader: strings.NewReader(config), ContainerFilePath: configPath, FileMode: 0o644}}
	if rules != "" {
		files = append(files, testcontainers.ContainerFile{Reader: strings.NewReader(rules), ContainerFilePath: "/etc/prometheus/rules.yml", FileMode: 0o644})
	}
	labels := stack.RunLabels(runID)
	labels[stack.LabelComponent] = name
	ctr, err := testcontainers.Run(ctx, img.Ref,
		network.WithNetwork([]string{name}, nw),
		testcontainers.WithName(stack.ContainerName(runID, name)),
		testcontainers.WithLogger(tclog.NewNoopLogger()),
		testcontainers.WithLabels(labels),
		testcontainers.WithFiles(files...),
		testcontainers.WithExposedPorts(p),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = mobynet.PortMap{}
			if mp, err := mobynet.ParsePort(p); err == nil {
				hc.PortBindings[mp] = []mobynet.PortBinding{{HostIP: stack.Loopback, HostPort: "0"}}
			}
		}),
		testcontainers.WithWaitStrategyAndDeadline(time.Minute, wait.ForHTTP("/-/ready").WithPort(p).WithPollInterval(100*time.Millisecond)),
	)
	testcontainers.CleanupContainer(t, ctr)
	require.NoError(t, err, "start %s%s", name, stacktest.LogTail(ctr))
	info, err := ctr.Inspect(ctx)
	require.NoError(t, err)
	for port, bindings := range info.NetworkSettings.Ports {
		for _, b := range bindings {
			require.Equal(t, stack.Loopback, b.HostIP, "%s: %s published on %v: loopback only", name, port, b.HostIP)
		}
	}
	mapped, err := ctr.MappedPort(ctx, p)
	require.NoError(t, err)
	return "http://" + netip.AddrPortFrom(stack.Loopback, mapped.Num()).String()
}

// record runs a recorder on src until the test ends, and checks it
// returned well.
func record(t *testing.T, ctx context.Context, src Source) *Recorder {
	t.Helper()
	r, err := NewRecorder(src, 200*time.Millisecond)
	require.NoError(t, err)
	require.NoError(t, r.Poll(ctx), "the source answers before recording starts")
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "recorder of %s", src.Name())
	})
	return r
}

// silence silences alertname for an hour through Alertmanager's API v2
// and returns the silence's ID.
func silence(t *testing.T, ctx context.Context, amURL, alertname string) string {
	t.Helper()
	now := time.Now().UTC()
	body, err := json.Marshal(map[string]any{
		"matchers":  []map[string]any{{"name": "alertname", "value": alertname, "isRegex": false, "isEqual": true}},
		"startsAt":  now.Format(time.RFC3339),
		"endsAt":    now.Add(time.Hour).Format(time.RFC3339),
		"createdBy": "okbreak alertsource test",
		"comment":   "a silenced page is still a page",
	})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, amURL+"/api/v2/silences", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.NotEmpty(t, out.SilenceID)
	return out.SilenceID
}
