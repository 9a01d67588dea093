package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeEngine is an in-memory Engine: a set of local images, a set of refs a
// "registry" can serve, and a record of every pull and build.
type fakeEngine struct {
	mu         sync.Mutex
	images     map[string]ImageInfo
	pullable   map[string]bool
	pulls      []string
	builds     []BuildRequest
	dockerfile map[string]string // ref -> Dockerfile of its build
	inspectErr error
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{images: map[string]ImageInfo{}, pullable: map[string]bool{}, dockerfile: map[string]string{}}
}

func (f *fakeEngine) Inspect(_ context.Context, ref string) (ImageInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inspectErr != nil {
		return ImageInfo{}, false, f.inspectErr
	}
	info, ok := f.images[ref]
	return info, ok, nil
}

func (f *fakeEngine) Pull(_ context.Context, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls = append(f.pulls, ref)
	if !f.pullable[ref] {
		return fmt.Errorf("pull %s: dial tcp: lookup registry: no such host", ref)
	}
	f.images[ref] = ImageInfo{ID: "sha256:pulled-" + ref}
	return nil
}

func (f *fakeEngine) Build(_ context.Context, req BuildRequest) error {
	// Read the context like the daemon would, so a broken tar fails here.
	tr := tar.NewReader(req.Context)
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read build context: %w", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		files[hdr.Name] = b
	}
	if _, ok := files["Dockerfile"]; !ok {
		return errors.New("build context has no Dockerfile")
	}
	sum := sha256.Sum256(files["Dockerfile"])
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds = append(f.builds, req)
	f.dockerfile[req.Ref] = string(files["Dockerfile"])
	f.images[req.Ref] = ImageInfo{ID: "sha256:" + hex.EncodeToString(sum[:]), Labels: req.Labels}
	return nil
}

func (f *fakeEngine) Arch(context.Context) (string, error) { return runtime.GOARCH, nil }
func (f *fakeEngine) Close() error                         { return nil }

func (f *fakeEngine) counts() (pulls []string, builds int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.pulls...), len(f.builds)
}

// envMap is a WithLookupEnv source.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// fixtureFiles is a tiny copy of this module's shape: two mains, a chain of
// internal packages with an embedded file, test-only code, a file excluded
// by a build constraint, and a package no main imports.
var fixtureFiles = map[string]string{
	"go.mod": "module github.com/okbreak/okbreak\n\ngo 1.24\n",
	"go.sum": "",
	"cmd/sample-service/main.go": `package main

import "github.com/okbreak/okbreak/internal/a"

func main() { a.Run() }
`,
	"cmd/control-plane/main.go": `package main

import "github.com/okbreak/okbreak/internal/unrelated"

func main() { unrelated.U() }
`,
	"internal/a/a.go": `package a

import (
	_ "embed"

	"github.com/okbreak/okbreak/internal/b"
)

//go:embed data.txt
var data string

// Run prints the embedded data.
func Run() { b.Hello(data) }
`,
	"internal/a/data.txt": "hello\n",
	"internal/a/a_test.go": `package a

import (
	"testing"

	"github.com/okbreak/okbreak/internal/testonly"
)

func TestA(t *testing.T) { testonly.T() }
`,
	"internal/a/gen.go": `//go:build ignore

package main

import "github.com/okbreak/okbreak/internal/unrelated"

func main() { unrelated.U() }
`,
	"internal/a/a_windows.go": `package a

import _ "github.com/okbreak/okbreak/internal/winonly"
`,
	"internal/b/b.go": `package b

// Hello prints s.
func Hello(s string) { println(s) }
`,
	"internal/unrelated/u.go":  "package unrelated\n\n// U does nothing.\nfunc U() {}\n",
	"internal/testonly/t.go":   "package testonly\n\n// T does nothing.\nfunc T() {}\n",
	"internal/winonly/w.go":    "package winonly\n",
	"internal/b/testdata/x.go": "package ignored\n",
}

func writeFixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		writeFile(t, dir, name, body)
	}
	return dir
}

func writeFile(t *testing.T, root, name, body string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
}

func newTestResolver(t *testing.T, eng Engine, opts ...Option) *Resolver {
	t.Helper()
	opts = append([]Option{WithEngine(eng), WithLookupEnv(envMap(nil)), WithLogger(t.Logf)}, opts...)
	r, err := NewResolver(t.Context(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}
