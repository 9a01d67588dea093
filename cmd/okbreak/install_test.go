package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// TestInstalledFromAModuleProxyRunsOutsideACheckout publishes this checkout
// as a module version in a proxy folder (GOPROXY=file://...), installs the
// CLI from it with `go install ...@version`, and runs a case from an empty
// folder: the catalog and rules come embedded, and the images build from
// the module's own source in the module cache.
func TestInstalledFromAModuleProxyRunsOutsideACheckout(t *testing.T) {
	stacktest.RequireDocker(t)
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	// A fresh pseudo-version each run: the module cache never holds a stale
	// copy under it.
	now := time.Now().UTC()
	version := fmt.Sprintf("v0.0.0-%s-%012x", now.Format("20060102150405"), now.UnixNano()&0xffffffffffff)
	proxy := t.TempDir()
	publish(t, proxy, root, version)

	modcache := goEnv(t, "GOMODCACHE")
	t.Cleanup(func() { forget(modcache, version) })
	env := append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(proxy)+","+goEnv(t, "GOPROXY"),
		"GONOSUMDB="+image.ModulePath, "GOWORK=off", "GOFLAGS=-mod=mod",
		"GOBIN="+filepath.Join(proxy, "bin"))
	empty := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "go", "install", image.ModulePath+"/cmd/okbreak@"+version)
	install.Dir, install.Env = empty, env
	out, err := install.CombinedOutput()
	require.NoError(t, err, "go install: %s", out)
	bin := filepath.Join(proxy, "bin", "okbreak")

	v := exec.CommandContext(ctx, bin, "version")
	v.Dir, v.Env = empty, env
	out, err = v.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), version, "the installed binary knows its version")

	run := exec.CommandContext(ctx, bin, "run", "--only", "^control-plane-down-5m$", "--data-plane", "grpc", "--json")
	run.Dir, run.Env = empty, append(env, "CI=true")
	out, err = run.Output()
	require.NoError(t, err, "okbreak run from %s: %s", empty, out)
	require.Contains(t, string(out), `"verdict": "survived"`)
	entries, _ := os.ReadDir(empty)
	require.Len(t, entries, 1, "only okbreak-reports/ is written where it runs")
}

// publish writes root as module version into a GOPROXY folder.
func publish(t *testing.T, proxy, root, version string) {
	t.Helper()
	dir := filepath.Join(proxy, image.ModulePath, "@v")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, version+".mod"), gomod, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, version+".info"),
		fmt.Appendf(nil, `{"Version":%q,"Time":%q}`, version, time.Now().UTC().Format(time.RFC3339)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "list"), []byte(version+"\n"), 0o644))
	f, err := os.Create(filepath.Join(dir, version+".zip"))
	require.NoError(t, err)
	defer f.Close()
	// The checkout's local folders (reports, binaries) are not the module.
	require.NoError(t, zip.CreateFromDir(f, module.Version{Path: image.ModulePath, Version: version}, root))
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// forget removes the test's version from the module cache (read-only
// there).
func forget(modcache, version string) {
	for _, p := range []string{
		filepath.Join(modcache, "github.com", "okbreak", "okbreak@"+version),
		filepath.Join(modcache, "cache", "download", "github.com", "okbreak", "okbreak", "@v"),
	} {
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err == nil {
				_ = os.Chmod(path, 0o755)
			}
			return nil
		})
	}
	_ = os.RemoveAll(filepath.Join(modcache, "github.com", "okbreak", "okbreak@"+version))
	matches, _ := filepath.Glob(filepath.Join(modcache, "cache", "download", "github.com", "okbreak", "okbreak", "@v", version+".*"))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}
