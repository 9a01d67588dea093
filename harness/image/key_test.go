package image

import (
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRepoKeyFollowsTheMainPackagesSources(t *testing.T) {
	root := writeFixture(t, fixtureFiles)
	r := newTestResolver(t, newFakeEngine(), WithRepoRoot(root))
	key := func() string {
		t.Helper()
		k, ref, err := r.Key(t.Context(), SampleService)
		require.NoError(t, err)
		require.Len(t, k, 64)
		require.Equal(t, "okbreak/sample-service:"+k[:12], ref)
		return k
	}
	base := key()
	require.Equal(t, base, key(), "same sources, same key")

	unchanged := []struct{ name, file, body string }{
		{"test file of a dependency", "internal/a/a_test.go", "package a\n// edited\n"},
		{"package no main imports", "internal/unrelated/u.go", "package unrelated\n\nfunc U() { println(1) }\n"},
		{"package imported only by tests", "internal/testonly/t.go", "package testonly\n\nfunc T() { println(2) }\n"},
		{"package imported only by a windows file", "internal/winonly/w.go", "package winonly\n\nvar X = 1\n"},
		{"testdata", "internal/b/testdata/x.go", "package ignored\n\nvar Y = 2\n"},
		{"a new test file", "internal/b/b_test.go", "package b\n"},
		{"a new package", "internal/newpkg/n.go", "package newpkg\n"},
	}
	for _, c := range unchanged {
		old, readErr := os.ReadFile(filepath.Join(root, c.file))
		writeFile(t, root, c.file, c.body)
		assert.Equal(t, base, key(), "changing %s (%s) must not change the key", c.name, c.file)
		if readErr == nil {
			writeFile(t, root, c.file, string(old))
		} else {
			require.NoError(t, os.Remove(filepath.Join(root, c.file)))
		}
	}
	require.Equal(t, base, key(), "fixture restored")

	changed := []struct{ name, file, body string }{
		{"main package", "cmd/sample-service/main.go", fixtureFiles["cmd/sample-service/main.go"] + "\n// edited\n"},
		{"direct dependency", "internal/a/a.go", fixtureFiles["internal/a/a.go"] + "\nvar extra = 1\n"},
		{"indirect dependency", "internal/b/b.go", "package b\n\nfunc Hello(s string) { println(s, s) }\n"},
		{"embedded file", "internal/a/data.txt", "bonjour\n"},
		{"new file in a dependency", "internal/b/more.go", "package b\n\nvar More = 1\n"},
		{"go.mod", "go.mod", fixtureFiles["go.mod"] + "\n// edited\n"},
		{"go.sum", "go.sum", "example.com/x v1.0.0 h1:abc=\n"},
	}
	for _, c := range changed {
		old, readErr := os.ReadFile(filepath.Join(root, c.file))
		writeFile(t, root, c.file, c.body)
		assert.NotEqual(t, base, key(), "changing the %s (%s) must change the key", c.name, c.file)
		if readErr == nil {
			writeFile(t, root, c.file, string(old))
		} else {
			require.NoError(t, os.Remove(filepath.Join(root, c.file)))
		}
	}
	require.Equal(t, base, key(), "fixture restored")

	cp, _, err := r.Key(t.Context(), ControlPlane)
	require.NoError(t, err)
	assert.NotEqual(t, base, cp, "each main has its own key")
}

func TestRepoKeyDoesNotDependOnTheCheckoutPath(t *testing.T) {
	a := writeFixture(t, fixtureFiles)
	b := writeFixture(t, fixtureFiles)
	ka, _, err := newTestResolver(t, newFakeEngine(), WithRepoRoot(a)).Key(t.Context(), SampleService)
	require.NoError(t, err)
	kb, _, err := newTestResolver(t, newFakeEngine(), WithRepoRoot(b)).Key(t.Context(), SampleService)
	require.NoError(t, err)
	assert.Equal(t, ka, kb)
}

func TestRepoKeyCoversLocalReplacements(t *testing.T) {
	files := map[string]string{}
	for k, v := range fixtureFiles {
		files[k] = v
	}
	files["go.mod"] += "\nreplace example.com/dep => ./third_party/dep\n"
	files["third_party/dep/go.mod"] = "module example.com/dep\n"
	files["third_party/dep/d.go"] = "package dep\n"
	root := writeFixture(t, files)
	r := newTestResolver(t, newFakeEngine(), WithRepoRoot(root))
	base, _, err := r.Key(t.Context(), SampleService)
	require.NoError(t, err)
	writeFile(t, root, "third_party/dep/d.go", "package dep\n\nvar Changed = true\n")
	after, _, err := r.Key(t.Context(), SampleService)
	require.NoError(t, err)
	assert.NotEqual(t, base, after)
}

func TestExternalKey(t *testing.T) {
	in := keyInputs{tc: toolchain{version: "go1.26.8"}, arch: "amd64"}
	rc := recipes[Toxiproxy]
	k := externalKey(rc, "v2.12.0", in)
	assert.Equal(t, k, externalKey(rc, "v2.12.0", in))
	assert.NotEqual(t, k, externalKey(rc, "v2.12.1", in), "version")
	assert.NotEqual(t, k, externalKey(rc, "v2.12.0", keyInputs{tc: in.tc, arch: "arm64"}), "arch")
	assert.NotEqual(t, k, externalKey(rc, "v2.12.0", keyInputs{tc: toolchain{version: "go1.26.9"}, arch: "amd64"}), "go version")
	assert.NotEqual(t, k, externalKey(recipes[Etcd], "v2.12.0", in), "recipe")
}

// goListModuleDirs asks the go command which directories of the module
// rooted at root the main package depends on, for linux without cgo.
func goListModuleDirs(t *testing.T, root, mainPkg string) []string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "list", "-deps",
		"-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}`, mainPkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var dirs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			dirs = append(dirs, l)
		}
	}
	sort.Strings(dirs)
	return dirs
}

// walkedDirs is the set of package directories packageFiles visits.
func walkedDirs(t *testing.T, root, mainPkg string) []string {
	t.Helper()
	files, err := packageFiles(root, ModulePath, mainPkg, runtime.GOARCH)
	require.NoError(t, err)
	set := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, ".go") {
			set[filepath.Dir(f)] = true
		}
	}
	var dirs []string
	for d := range set {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// The walker stands in for `go list -deps`: it must visit exactly the
// module's packages the go command would compile.
func TestPackageWalkMatchesGoList(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not in PATH")
	}
	root := writeFixture(t, fixtureFiles)
	for _, main := range []string{"./cmd/sample-service", "./cmd/control-plane"} {
		assert.Equal(t, goListModuleDirs(t, root, main), walkedDirs(t, root, main), "fixture %s", main)
	}

	// Every main of the real checkout that exists yet.
	repo, err := findRepoRoot()
	require.NoError(t, err)
	mains, err := filepath.Glob(filepath.Join(repo, "cmd", "*"))
	require.NoError(t, err)
	compared := 0
	for _, dir := range mains {
		main := "./cmd/" + filepath.Base(dir)
		if !mainExists(repo, main) {
			t.Logf("%s has no Go files yet", main)
			continue
		}
		assert.Equal(t, goListModuleDirs(t, repo, main), walkedDirs(t, repo, main), "checkout %s", main)
		compared++
	}
	t.Logf("compared %d mains of the checkout", compared)
}

// The key of a repository image is computed on every Resolve: it must stay
// cheap. Measured on the real checkout when its mains exist.
func TestRepoKeyIsFast(t *testing.T) {
	repo, err := findRepoRoot()
	require.NoError(t, err)
	r := newTestResolver(t, newFakeEngine(), WithRepoRoot(repo))
	for _, name := range []Name{SampleService, ControlPlane} {
		if !mainExists(repo, recipes[name].mainPkg) {
			t.Logf("%s not in the checkout yet", recipes[name].mainPkg)
			continue
		}
		_, _, err := r.Key(t.Context(), name) // warm: go env, file cache
		require.NoError(t, err)
		start := time.Now()
		_, _, err = r.Key(t.Context(), name)
		require.NoError(t, err)
		d := time.Since(start)
		t.Logf("warm cache key of %s: %v", name, d)
		assert.Less(t, d, time.Second)
	}
}

// mainExists reports whether the checkout has Go files for main yet (other
// engineers write the mains while this package is being written).
func mainExists(repo, main string) bool {
	_, err := build.ImportDir(filepath.Join(repo, main), 0)
	return err == nil
}
