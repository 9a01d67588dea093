package stackfile

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// copyFS copies folders of testdata into a MapFS under the same slash
// paths, so that a load from it and one from disk name the same paths.
func copyFS(t testing.TB, dirs ...string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			m[filepath.ToSlash(p)] = &fstest.MapFile{Data: data, Mode: 0o644}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// sameFile compares what a load from an FS and one from disk made.
func sameFile(t *testing.T, got, want *File) {
	t.Helper()
	if !reflect.DeepEqual(got.Services, want.Services) {
		t.Errorf("services differ:\n%+v\nwant\n%+v", got.Services, want.Services)
	}
	if !reflect.DeepEqual(got.Raw, want.Raw) {
		t.Errorf("raw services differ:\n%+v\nwant\n%+v", got.Raw, want.Raw)
	}
	g, w := *got, *want
	g.Services, g.Raw, g.fl = nil, nil, files{}
	w.Services, w.Raw, w.fl = nil, nil, files{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("files differ:\n%+v\nwant\n%+v", g, w)
	}
}

// TestFSLoadsLikeDisk loads the shop from a copy in a MapFS, from a
// working folder where no testdata is: whatever it read, it read from the
// FS.
func TestFSLoadsLikeDisk(t *testing.T) {
	fsys := copyFS(t, "testdata/ok")
	disk := loadShop(t)
	want, _ := os.ReadFile("testdata/ok/catalog/shop.yaml")
	t.Chdir(t.TempDir())
	f, err := LoadFiles(context.Background(), []string{shopBase}, Options{FS: fsys, Env: shopEnv()})
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, f, disk)
	for _, s := range f.Services {
		for _, m := range append(s.Files, s.Configs...) {
			if len(m.Content) == 0 {
				t.Errorf("%s: mount at %s has no content", s.Name, m.Target)
			}
		}
	}
	got, err := f.ReadFile(f.Catalog)
	if err != nil || string(got) != string(want) {
		t.Errorf("ReadFile(%q) = %q, %v", f.Catalog, got, err)
	}
	// The FS is what is read: a file changed in it is seen.
	fsys["testdata/ok/conf/envoy.yaml"] = &fstest.MapFile{Data: []byte("from the FS\n")}
	f, err = LoadFiles(context.Background(), []string{shopBase}, Options{FS: fsys, Env: shopEnv()})
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := f.Service("gateway"); string(g.Files[0].Content) != "from the FS\n" {
		t.Errorf("gateway's file %q: not read from the FS", g.Files[0].Content)
	}
}

func TestFSOverlayLoadsLikeDisk(t *testing.T) {
	fsys := copyFS(t, "testdata/ok", "testdata/overlay")
	disk := loadShopDev(t, Options{})
	t.Chdir(t.TempDir())
	sameFile(t, loadShopDev(t, Options{FS: fsys}), disk)
}

func TestFSMissingFile(t *testing.T) {
	fsys := copyFS(t, "testdata/ok")
	delete(fsys, "testdata/ok/conf/envoy.yaml")
	delete(fsys, "testdata/ok/catalog/shop.yaml")
	_, err := LoadFiles(context.Background(), []string{shopBase}, Options{FS: fsys, Env: shopEnv()})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("LoadFiles: %v", err)
	}
	checkProblems(t, es, []fileWant{
		{shopBase + ":57:9", []string{`bind source "./conf/envoy.yaml" does not exist`}},
		{shopBase + ":123:12", []string{`catalog "catalog/shop.yaml" does not exist`}},
	})
	// A stack file missing from the FS is no problem in a file: there is
	// no file.
	_, err = LoadFiles(context.Background(), []string{"testdata/ok/nope.yaml"}, Options{FS: fsys})
	if err == nil || errors.As(err, &es) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing stack file: %v, want a plain read error", err)
	}
}

// TestFSOutside checks that a stack file read from an FS names only files
// inside it: no absolute path, no ~, no climbing out of its root.
func TestFSOutside(t *testing.T) {
	fsys := copyFS(t, "testdata/ok")
	fsys["x.conf"] = &fstest.MapFile{Data: []byte("x")}
	src := `services:
  web:
    image: nginx
    ports: ["80"]
    volumes:
      - /etc/hosts:/etc/hosts
      - ~/x.conf:/etc/x.conf
      - ../../../x.conf:/etc/y.conf
      - ../../x.conf:/etc/z.conf
x-okbreak:
  links: [{to: web, port: 80}]
  seed: ../../../seed.json
`
	_, err := Parse(context.Background(), "testdata/ok/stack.yaml", []byte(src), Options{FS: fsys, Env: shopEnv()})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse: %v", err)
	}
	checkProblems(t, es, []fileWant{
		{"testdata/ok/stack.yaml:6:9", []string{`path "/etc/hosts" is not inside the stack's fs.FS`}},
		{"testdata/ok/stack.yaml:7:9", []string{`path "~/x.conf" is not inside the stack's fs.FS`}},
		{"testdata/ok/stack.yaml:8:9", []string{`bind source "../../../x.conf" climbs out of the stack's fs.FS`}},
		{"testdata/ok/stack.yaml:12:9", []string{`seed "../../../seed.json" climbs out of the stack's fs.FS`}},
	})
}

//go:embed testdata/ok testdata/overlay
var embedded embed.FS

// TestLoadEmbedded loads the shop and its overlay from an embed.FS, as a
// binary that carries its stack file would. Its paths (ok/shop.yaml) name
// nothing on disk from the package's folder, so the load can only have
// read the FS.
func TestLoadEmbedded(t *testing.T) {
	sub, err := fs.Sub(embedded, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("ok/shop.yaml"); err == nil {
		t.Skip("ok/shop.yaml is on disk here")
	}
	f, err := LoadFiles(context.Background(), []string{"ok/shop.yaml", "overlay/dev.yaml"}, Options{FS: sub, Env: shopEnv()})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Service("cart-a")
	if f.Name != "shop" || len(f.Services) != 5 || len(a.Configs) == 0 || !strings.Contains(string(a.Configs[0].Content), "debug: true") {
		t.Errorf("embedded shop: %s, %d services, cart-a configs %+v", f.Name, len(f.Services), a.Configs)
	}
	if f.Catalog != "ok/catalog/shop.yaml" {
		t.Errorf("catalog %q: want a slash path from the FS's root", f.Catalog)
	}
	if _, err := f.ReadFile(f.Catalog); err != nil {
		t.Errorf("ReadFile: %v", err)
	}
	if b := f.Builds["shop-xds"]; b.Dockerfile != "ok/xds" {
		t.Errorf("dockerfile folder %q", b.Dockerfile)
	}
}
