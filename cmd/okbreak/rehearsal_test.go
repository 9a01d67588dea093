package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// rehearsalScale is the time scale of the rehearsal's Prometheus: its
// scrape interval (15 s / 20 = 750 ms) is also its scrape timeout, which
// stays clear of the false up == 0 that shorter timeouts give on 2 cores.
const rehearsalScale = "20"

// TestStagingRehearsal is a game day against an environment okbreak did not
// start: the default stack comes up with docker-compose from okbreak's own
// rendering, with the monitoring profile (a real Prometheus evaluating the
// default rules rewritten for the scale, a real Alertmanager). okbreak run
// --env then judges one ok-to-break and two not-ok cases from the
// Prometheus API, and again from Alertmanager's; both must give each case
// its class's verdict, the verdicts the embedded engine gives the same
// cases in the scenarios.
func TestStagingRehearsal(t *testing.T) {
	stacktest.RequireDocker(t)
	if testing.Short() {
		t.Skip("-short: brings a compose stack up")
	}
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker-compose is needed (make deps installs it): %v", err)
		}
		t.Skip("no docker-compose: `make deps` installs it")
	}
	g := &gameDay{t: t, bin: buildOkbreak(t), env: append(os.Environ(), "OKBREAK_STATE_DIR="+t.TempDir(), "OKBREAK_REPORT_DIR="+t.TempDir())}
	out, code := g.okbreak("images", "--monitoring")
	require.Equal(t, 0, code, out)
	dir := t.TempDir()
	out, code = g.okbreak("compose", "--data-plane", "grpc", "--dir", dir, "--monitoring", "--time-scale", rehearsalScale)
	require.Equal(t, 0, code, out)

	project := fmt.Sprintf("okbreak-rehearsal-%d", time.Now().UnixNano()%1_000_000)
	dc := func(args ...string) (string, error) {
		c := exec.Command(compose, append([]string{"-p", project, "--profile", "monitoring"}, args...)...)
		c.Dir = dir
		b, err := c.CombinedOutput()
		return string(b), err
	}
	t.Cleanup(func() {
		if out, err := dc("down", "-v", "--remove-orphans", "-t", "2"); err != nil {
			t.Errorf("docker-compose down: %v: %s", err, out)
		}
	})
	out, err = dc("up", "-d")
	require.NoError(t, err, out)
	waitTargetsUp(t, "http://127.0.0.1:9090")

	for _, source := range []string{"prometheus", "alertmanager"} {
		t.Run(source, func(t *testing.T) {
			env := rehearsalEnv(t, project, source)
			rep := t.TempDir()
			out, code := g.okbreak("run", "--env", env, "--catalog", "testdata/rehearsal-catalog.yaml", "--report", rep)
			require.Equal(t, 0, code, out)
			r := readReport(t, rep)
			require.Len(t, r.Cases, 3)
			for _, c := range r.Cases {
				require.Equal(t, string(harness.Expected(c.Class)), string(c.Verdict), "%s: %s", c.Name, c.Reason)
			}
		})
	}
}

// rehearsalEnv writes the environment file of the compose stack: its
// Toxiproxy, the links the catalog uses, the entry, the alert source, the
// default rules (to check the catalog's expected alerts), and backend-2's
// container for the terminate fault.
func rehearsalEnv(t *testing.T, project, source string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"common.yml", "grpc.yml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "alerts", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nname: rehearsal\nscale: %s\ntoxiproxies:\n  - {name: toxiproxy, api: \"http://127.0.0.1:8474\"}\nlinks:\n", rehearsalScale)
	for _, l := range []string{"edge->backend-1", "edge->backend-2", "edge->backend-3", "edge->xds"} {
		fmt.Fprintf(&b, "  - {name: %q, toxiproxy: toxiproxy, proxy: %q}\n", l, l)
	}
	b.WriteString("probe:\n  url: \"http://127.0.0.1:8080\"\nalerts:\n  source: " + source + "\n")
	b.WriteString("  prometheus: \"http://127.0.0.1:9090\"\n  alertmanager: \"http://127.0.0.1:9093\"\n  rules: [common.yml, grpc.yml]\n")
	fmt.Fprintf(&b, "docker:\n  engine: local\n  containers:\n    - {component: backend-2, container: %s_okbreak-real-backend-2_1}\n", project)
	path := filepath.Join(dir, "env.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// waitTargetsUp waits until the Prometheus at api scrapes every target.
func waitTargetsUp(t *testing.T, api string) {
	t.Helper()
	var last string
	require.Eventually(t, func() bool {
		resp, err := http.Get(api + "/api/v1/targets")
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				ActiveTargets []struct {
					Labels map[string]string `json:"labels"`
					Health string            `json:"health"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			last = err.Error()
			return false
		}
		var down []string
		for _, tg := range body.Data.ActiveTargets {
			if tg.Health != "up" {
				down = append(down, tg.Labels["instance"])
			}
		}
		last = fmt.Sprintf("%d targets, down: %v", len(body.Data.ActiveTargets), down)
		return len(body.Data.ActiveTargets) > 0 && len(down) == 0
	}, 2*time.Minute, 500*time.Millisecond, "Prometheus scrapes every target: %s", last)
}
