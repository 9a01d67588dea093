package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const (
	defaultCatalog = "../../fixtures/catalog.yaml"
	defaultAlerts  = "../../fixtures/alerts"
)

// rulesCopy copies the default rule files into a temp folder, passing each
// file's groups through edit.
func rulesCopy(t *testing.T, edit func(file string, groups []map[string]any) []map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"common.yml", "envoy.yml", "grpc.yml"} {
		b, err := os.ReadFile(filepath.Join(defaultAlerts, name))
		require.NoError(t, err)
		var doc struct {
			Groups []map[string]any `yaml:"groups"`
		}
		require.NoError(t, yaml.Unmarshal(b, &doc))
		doc.Groups = edit(name, doc.Groups)
		out, err := yaml.Marshal(doc)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), out, 0o644))
	}
	return dir
}

func withoutAlert(name string) func(string, []map[string]any) []map[string]any {
	return func(_ string, groups []map[string]any) []map[string]any {
		for _, g := range groups {
			var kept []any
			for _, r := range g["rules"].([]any) {
				if r.(map[string]any)["alert"] != name {
					kept = append(kept, r)
				}
			}
			g["rules"] = kept
		}
		return groups
	}
}

func TestValidateAcceptsTheDefaultFiles(t *testing.T) {
	out, code := execute(t, "validate", "--catalog", defaultCatalog, "--alerts", defaultAlerts)
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "valid:")
	out, code = execute(t, "validate", "--catalog", defaultCatalog, "--alerts", defaultAlerts, "--strict")
	require.Equal(t, exitOK, code, "the default files hold no warning: %s", out)
}

func TestValidateNamesTheCaseWhoseAlertIsMissing(t *testing.T) {
	dir := rulesCopy(t, withoutAlert("DataPlaneDown"))
	out, code := execute(t, "validate", "--catalog", defaultCatalog, "--alerts", dir)
	require.Equal(t, exitBadInput, code, out)
	assert.Contains(t, out, "data-plane-crash")
	assert.Contains(t, out, "DataPlaneDown")
}

func TestValidateRefusesAnExpectedAlertThatDoesNotPage(t *testing.T) {
	dir := rulesCopy(t, func(_ string, groups []map[string]any) []map[string]any {
		for _, g := range groups {
			for _, r := range g["rules"].([]any) {
				if m := r.(map[string]any); m["alert"] == "DataPlaneDown" {
					m["labels"] = map[string]any{"severity": "warning"}
				}
			}
		}
		return groups
	})
	out, code := execute(t, "validate", "--catalog", defaultCatalog, "--alerts", dir)
	require.Equal(t, exitBadInput, code, out)
	assert.Contains(t, out, `alert "DataPlaneDown" of case "data-plane-crash" is not labelled severity: page`)
	assert.Contains(t, out, "catalog.yaml:104:")
}

func TestValidateListsPageRulesNoCaseExpects(t *testing.T) {
	dir := rulesCopy(t, func(file string, groups []map[string]any) []map[string]any {
		if file == "common.yml" {
			groups = append(groups, map[string]any{"name": "extra", "rules": []any{map[string]any{
				"alert": "NobodyTestsMe", "expr": `up{job="etcd"} == 0`, "for": "5m",
				"labels": map[string]any{"severity": "page"}, "annotations": map[string]any{"summary": "etcd down"},
			}}})
		}
		return groups
	})
	out, code := execute(t, "validate", "--catalog", defaultCatalog, "--alerts", dir)
	require.Equal(t, exitOK, code, "coverage gaps are warnings: %s", out)
	assert.Contains(t, out, "warning: ")
	assert.Contains(t, out, "page rule NobodyTestsMe")
	out, code = execute(t, "validate", "--catalog", defaultCatalog, "--alerts", dir, "--strict")
	require.Equal(t, exitBadInput, code, out)
	assert.Contains(t, out, "--strict")
}

func TestValidateHouseRulesWarnAndLintErrorsRefuse(t *testing.T) {
	house := rulesCopy(t, func(_ string, groups []map[string]any) []map[string]any {
		for _, g := range groups {
			for _, r := range g["rules"].([]any) {
				if m := r.(map[string]any); m["alert"] == "EtcdUnreachable" {
					delete(m["annotations"].(map[string]any), "summary")
					delete(m["annotations"].(map[string]any), "description")
				}
			}
		}
		return groups
	})
	out, code := execute(t, "validate", "--catalog", defaultCatalog, "--alerts", house)
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "no annotations.summary or description: the person paged reads nothing (house rule)")

	lie := rulesCopy(t, func(_ string, groups []map[string]any) []map[string]any {
		for _, g := range groups {
			for _, r := range g["rules"].([]any) {
				if m := r.(map[string]any); m["alert"] == "EtcdUnreachable" {
					m["expr"] = `okbreak_fault_active == 1`
				}
			}
		}
		return groups
	})
	out, code = execute(t, "validate", "--catalog", defaultCatalog, "--alerts", lie)
	require.Equal(t, exitBadInput, code, out)
	assert.Contains(t, out, "okbreak_fault_")
}

func TestListShowsEveryCaseAndTheWallTime(t *testing.T) {
	out, code := execute(t, "list", "--catalog", defaultCatalog, "--alerts", defaultAlerts)
	require.Equal(t, exitOK, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), 18)
	assert.Contains(t, lines[0], "WALL (EST.)")
	assert.Contains(t, out, "etcd-down-2h")
	assert.Contains(t, out, "2h0m0s")
	assert.Contains(t, out, "19 cases; estimated wall time")
	assert.Regexp(t, `\n\s+\+ terminate\s+backend-2 \(1m0s to 10m0s\)`, out, "a compound case's further faults on rows of their own, with their times")
	slow, _ := execute(t, "list", "--catalog", defaultCatalog, "--alerts", defaultAlerts, "--time-scale", "1")
	assert.Regexp(t, `estimated wall time [34]h\d+m`, slow, "real time takes hours: %s", slow)
	_, code = execute(t, "list", "--time-scale", "0")
	assert.Equal(t, exitBadInput, code)
}

// TestBadCompoundCasesExitTwo: a compound case whose faults overlap on one
// target, or run past the case, is bad input for validate and run alike,
// named by file, line and column with the fix.
func TestBadCompoundCasesExitTwo(t *testing.T) {
	const bad = `version: 1
cases:
  - name: overlapping
    class: ok-to-break
    why: two faults on one link at once
    faults:
      - {type: latency, target: edge->backend-2, params: {latency: 2s}}
      - {type: down, target: edge->backend-2, at: 1m}
    duration: 5m
  - name: too-long
    class: ok-to-break
    why: the second fault outlives the case
    faults:
      - {type: stop, target: etcd}
      - {type: crash, target: control-plane, at: 4m, for: 2m}
    duration: 5m
`
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	for _, cmd := range []string{"validate", "run"} {
		out, code := execute(t, cmd, "--catalog", path, "--alerts", defaultAlerts)
		require.Equal(t, exitBadInput, code, "%s: %s", cmd, out)
		assert.Contains(t, out, path+`:8:9: faults 1 and 2 of case "overlapping" overlap on edge->backend-2`, cmd)
		assert.Contains(t, out, "start fault 2 at 5m0s or later", cmd)
		assert.Contains(t, out, path+`:15:59: fault 2 of case "too-long" runs to 6m0s`, cmd)
		assert.Contains(t, out, "make for at most 1m0s", cmd)
	}
}

// Rules as kube-prometheus writes them (severity critical, description and
// runbook_url, no summary) with page_label {severity: critical} validate
// without a finding on style; with the default page label the catalog's
// expected pages are not pages, which is an error.
func TestValidateTakesKubePrometheusStyleRules(t *testing.T) {
	in, err := sample.Inputs(stack.GRPC)
	require.NoError(t, err)
	kube, err := sample.KubePrometheusStyle(in)
	require.NoError(t, err)
	dir := t.TempDir()
	catalogFile := filepath.Join(dir, "catalog.yaml")
	require.NoError(t, os.WriteFile(catalogFile, kube.Catalog.Data, 0o644))
	var args []string
	for i, r := range kube.Rules {
		p := filepath.Join(dir, fmt.Sprintf("rules-%d.yml", i))
		require.NoError(t, os.WriteFile(p, r.Data, 0o644))
		args = append(args, "--alerts", p)
	}
	out, code := execute(t, append([]string{"validate", "--data-plane", "grpc", "--catalog", catalogFile}, args...)...)
	require.Equal(t, exitOK, code, out)
	assert.NotContains(t, out, "house rule")

	out, code = execute(t, append([]string{"validate", "--data-plane", "grpc", "--catalog", defaultCatalog}, args...)...)
	require.Equal(t, exitBadInput, code, out)
	assert.Contains(t, out, "page", "the default page label finds no page among critical rules")
}

// With no --catalog and no --alerts, the embedded sample catalog and rules
// are used: validate and list work from any folder.
func TestValidateAndListFromAnyFolder(t *testing.T) {
	t.Chdir(t.TempDir())
	out, code := execute(t, "validate", "--data-plane", "grpc")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "valid: the embedded catalog and the embedded rules for grpc")
	out, code = execute(t, "list", "--data-plane", "grpc")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "19 cases")
	out, code = execute(t, "validate", "--alerts", "no-such-rules/")
	require.Equal(t, exitBadInput, code, out)
	assert.Contains(t, out, "no-such-rules")
}
