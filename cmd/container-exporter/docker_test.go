package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
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

	"github.com/okbreak/okbreak/fixtures/alerts"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/alertsource"
	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// scale compresses the default rules' times 30-fold: InstanceMissing's
// for: 2m holds 4 s.
const scale = 30

// A real Prometheus evaluates the default rules (common.yml, scaled as
// the embedded engine scales them) over the exporter, which reads the
// engine through the read-only mounted socket: a stopped backend-1
// container makes InstanceMissing pending, then firing once its hold has
// passed.
func TestRealPrometheusEvaluatesTheDefaultRulesOverTheExporter(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts containers, builds the Prometheus image the first time (minutes)")
	}
	stacktest.RequireDocker(t)
	require.NoError(t, stack.CheckEnvironment())
	start := time.Now()
	ctx := stacktest.Context(t, 40*time.Minute)
	imgs := resolve(t, ctx, image.ContainerExporter, image.Prometheus)
	upAt := time.Now()

	runID := stack.NewRunID()
	nw, err := network.New(ctx, network.WithLabels(stack.RunLabels(runID)))
	require.NoError(t, err)
	testcontainers.CleanupNetwork(t, nw)
	exp := imgs[image.ContainerExporter].Ref

	// The victim: any long-running process will do.
	victim, _ := runContainer(t, ctx, nw, runID, exp, "backend-1", 0, nil, nil, "--docker-socket=/nowhere")
	socket := testcontainers.MustExtractDockerSocket(ctx)
	_, expURL := runContainer(t, ctx, nw, runID, exp, "container-exporter", 9417, nil,
		func(hc *container.HostConfig) { hc.Binds = []string{socket + ":/var/run/docker.sock:ro"} },
		"--filter=label="+stack.LabelRun+"="+runID)
	_, body := httpGet(t, ctx, expURL+"/metrics")
	assert.Contains(t, body, `okbreak_container_running{component="backend-1"} 1`)

	tm, err := alert.TimingFor(scale)
	require.NoError(t, err)
	files := []testcontainers.ContainerFile{
		{Reader: strings.NewReader(promConfig(tm)), ContainerFilePath: "/etc/prometheus/prometheus.yml", FileMode: 0o644},
		{Reader: strings.NewReader(scaledRules(t)), ContainerFilePath: "/etc/prometheus/common.yml", FileMode: 0o644},
	}
	_, promURL := runContainer(t, ctx, nw, runID, imgs[image.Prometheus].Ref, "prometheus", 9090, files, nil)
	t.Logf("containers ready in %v", time.Since(upAt).Round(time.Millisecond))

	// Both jobs scraped: okbreak's names and kube-state-metrics's.
	require.Eventually(t, func() bool {
		v, err := queryValue(ctx, promURL, `sum(up{job=~"okbreak-containers|kube-state-metrics"})`)
		return err == nil && v == "2"
	}, time.Minute, 200*time.Millisecond, "Prometheus did not scrape the exporter's two paths")
	assert.Equal(t, "1", query(t, ctx, promURL, `kube_pod_container_status_running{pod="backend-1"}`))

	src, err := alertsource.Prometheus(promURL)
	require.NoError(t, err)
	rec, err := alertsource.NewRecorder(src, 100*time.Millisecond)
	require.NoError(t, err)
	require.NoError(t, rec.Poll(ctx))
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rec.Run(rctx) }()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })

	stopTimeout := 10 * time.Second
	stoppedAt := time.Now()
	require.NoError(t, victim.Stop(ctx, &stopTimeout))
	require.Eventually(t, func() bool { _, ok := rec.Timeline().FirstFired("InstanceMissing"); return ok },
		time.Minute, 100*time.Millisecond, "InstanceMissing never fired: %v", rec.Timeline())
	t.Logf("InstanceMissing fired %v after backend-1 stopped", time.Since(stoppedAt).Round(time.Millisecond))

	tl := rec.Timeline().ForAlert("InstanceMissing")
	require.GreaterOrEqual(t, len(tl), 2, "%v", tl)
	assert.Equal(t, alert.StatePending, tl[0].To)
	assert.Equal(t, alert.StateFiring, tl[1].To)
	assert.Equal(t, "backend-1", tl[1].Labels["component"])
	assert.Equal(t, "page", tl[1].Severity)
	assert.GreaterOrEqual(t, tl[1].At.Sub(tl[0].At), 4*time.Second, "held for 2m/%d", scale)
	assert.True(t, tl[0].At.After(stoppedAt.Add(-time.Second)), "not pending before the stop")
	assert.Equal(t, "0", query(t, ctx, promURL, `okbreak_container_running{component="backend-1"}`))
	t.Logf("wall time %v (%v after the images)", time.Since(start).Round(time.Millisecond), time.Since(upAt).Round(time.Millisecond))
}

// promConfig is the scrape and evaluation timing of the embedded engine
// at tm, but for the scrape timeout: Prometheus refuses one longer than the
// interval, which the engine's floor gives at high scales.
func promConfig(tm alert.Timing) string {
	return fmt.Sprintf(`global:
  scrape_interval: %s
  scrape_timeout: %s
  evaluation_interval: %s
rule_files: [/etc/prometheus/common.yml]
scrape_configs:
  - job_name: okbreak-containers
    static_configs: [{targets: ['container-exporter:9417']}]
  - job_name: kube-state-metrics
    metrics_path: /metrics/kube-state
    static_configs: [{targets: ['container-exporter:9417']}]
`, tm.ScrapeInterval, min(tm.ScrapeTimeout, tm.ScrapeInterval), tm.EvalInterval)
}

// scaledRules is the default common.yml as the embedded engine runs it at
// the test's scale.
func scaledRules(t *testing.T) string {
	t.Helper()
	b, err := alerts.FS.ReadFile("common.yml")
	require.NoError(t, err)
	f, err := alert.ParseRules("common.yml", b)
	require.NoError(t, err)
	scaled, err := alert.ScaleFiles([]alert.RuleFile{f}, scale)
	require.NoError(t, err)
	out, err := scaled[0].Marshal()
	require.NoError(t, err)
	return string(out)
}

func resolve(t *testing.T, ctx context.Context, names ...image.Name) map[image.Name]image.Image {
	t.Helper()
	r, err := image.NewResolver(ctx, image.WithLogger(t.Logf))
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	imgs, err := r.ResolveAll(ctx, names...)
	require.NoError(t, err)
	for n, img := range imgs {
		t.Logf("%s: %s", n, img)
	}
	return imgs
}

// runContainer starts img on nw as name (also its alias), its port (if
// any) published on loopback only, and returns it and its URL.
func runContainer(t *testing.T, ctx context.Context, nw *testcontainers.DockerNetwork, runID, img, name string, port int,
	files []testcontainers.ContainerFile, hostConfig func(*container.HostConfig), cmd ...string) (*testcontainers.DockerContainer, string) {
	t.Helper()
	labels := stack.RunLabels(runID)
	labels[stack.LabelComponent] = name
	p := fmt.Sprintf("%d/tcp", port)
	opts := []testcontainers.ContainerCustomizer{
		network.WithNetwork([]string{name}, nw),
		testcontainers.WithName(stack.ContainerName(runID, name)),
		testcontainers.WithLogger(tclog.NewNoopLogger()),
		testcontainers.WithLabels(labels),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = mobynet.PortMap{}
			if mp, err := mobynet.ParsePort(p); err == nil && port != 0 {
				hc.PortBindings[mp] = []mobynet.PortBinding{{HostIP: stack.Loopback, HostPort: "0"}}
			}
			if hostConfig != nil {
				hostConfig(hc)
			}
		}),
	}
	if len(cmd) > 0 {
		opts = append(opts, testcontainers.WithCmd(cmd...))
	}
	if len(files) > 0 {
		opts = append(opts, testcontainers.WithFiles(files...))
	}
	if port != 0 {
		path := "/-/healthy"
		if name == "prometheus" {
			path = "/-/ready"
		}
		opts = append(opts, testcontainers.WithExposedPorts(p),
			testcontainers.WithWaitStrategyAndDeadline(time.Minute, wait.ForHTTP(path).WithPort(p).WithPollInterval(100*time.Millisecond)))
	}
	ctr, err := testcontainers.Run(ctx, img, opts...)
	testcontainers.CleanupContainer(t, ctr)
	require.NoError(t, err, "start %s%s", name, stacktest.LogTail(ctr))
	if port == 0 {
		return ctr, ""
	}
	info, err := ctr.Inspect(ctx)
	require.NoError(t, err)
	for port, bindings := range info.NetworkSettings.Ports {
		for _, b := range bindings {
			require.Equal(t, stack.Loopback, b.HostIP, "%s: %s published on %v: loopback only", name, port, b.HostIP)
		}
	}
	mapped, err := ctr.MappedPort(ctx, p)
	require.NoError(t, err)
	return ctr, "http://" + netip.AddrPortFrom(stack.Loopback, mapped.Num()).String()
}

func httpGet(t *testing.T, ctx context.Context, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// query returns the value of an instant query with one result ("" for
// none).
func query(t *testing.T, ctx context.Context, promURL, q string) string {
	t.Helper()
	v, err := queryValue(ctx, promURL, q)
	require.NoError(t, err)
	return v
}

// queryValue is query for conditions polled from other goroutines, which
// must not stop the test.
func queryValue(ctx context.Context, promURL, q string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, promURL+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var res struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("query %s: HTTP %s", q, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return "", err
	}
	if len(res.Data.Result) != 1 {
		return "", nil
	}
	return fmt.Sprint(res.Data.Result[0].Value[1]), nil
}
