package stackfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	shopBase = "testdata/ok/shop.yaml"
	shopDev  = "testdata/overlay/dev.yaml"
)

func loadShopDev(t testing.TB, opts Options) *File {
	t.Helper()
	opts.Env = shopEnv()
	f, err := LoadFiles(context.Background(), []string{shopBase, shopDev}, opts)
	if err != nil {
		t.Fatalf("LoadFiles: %v", err)
	}
	return f
}

func rawService(t *testing.T, f *File, name string) Service {
	t.Helper()
	i := slices.IndexFunc(f.Raw, func(s Service) bool { return s.Name == name })
	if i < 0 {
		t.Fatalf("no raw service %s", name)
	}
	return f.Raw[i]
}

// TestOverlayMerge lays testdata/overlay/dev.yaml over the shop: it changes
// cart-a's image, command and config file (relative to its own folder) and
// cart-a's metrics path, and replaces the seed. Everything else must be the
// base's.
func TestOverlayMerge(t *testing.T) {
	base := loadShop(t)
	f := loadShopDev(t, Options{})
	if f.Path != shopBase || !slices.Equal(f.Paths, []string{shopBase, shopDev}) || f.Dir != "testdata/ok" {
		t.Errorf("path %q paths %q dir %q", f.Path, f.Paths, f.Dir)
	}
	a, _ := f.Service("cart-a")
	if a.Image != "registry.example.com/shop/cart:dev" || !slices.Equal(a.Command, []string{"cart", "--debug"}) {
		t.Errorf("cart-a image %q command %q", a.Image, a.Command)
	}
	dev, err := os.ReadFile("testdata/overlay/conf/cart-a-dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantCfg := Mount{Name: "cart-a-dev", Source: filepath.Join("testdata", "overlay", "conf", "cart-a-dev.yaml"), Content: dev, Target: "/etc/cart/cart.yaml"}
	if len(a.Configs) != 2 || !reflect.DeepEqual(a.Configs[0], wantCfg) || a.Configs[1].Name != "banner" {
		t.Errorf("cart-a configs %+v: want the overlay's config in place of the base's at /etc/cart/cart.yaml, then banner", a.Configs)
	}
	if raw := rawService(t, f, "cart-a"); len(raw.Configs) != 2 || raw.Configs[0].Source != "./conf/cart-a-dev.yaml" || raw.Configs[0].Content != nil {
		t.Errorf("raw cart-a configs %+v: want the path as the overlay writes it, and no content", raw.Configs)
	}
	baseA, _ := base.Service("cart-a")
	if !reflect.DeepEqual(a.Environment, baseA.Environment) || !slices.Equal(a.Ports, baseA.Ports) ||
		!reflect.DeepEqual(a.DependsOn, baseA.DependsOn) || !reflect.DeepEqual(a.Healthcheck, baseA.Healthcheck) || a.Line != baseA.Line {
		t.Errorf("cart-a lost what the overlay does not change:\n%+v\nwant as\n%+v", a, baseA)
	}
	for _, name := range []string{"cart-b", "etcd", "gateway", "shop-xds"} {
		got, _ := f.Service(name)
		want, _ := base.Service(name)
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(rawService(t, f, name), rawService(t, base, name)) {
			t.Errorf("%s changed:\n%+v\nwant\n%+v", name, got, want)
		}
	}
	overlayX(t, base, f)
}

// overlayX checks the x-okbreak of the shop with dev.yaml over it.
func overlayX(t *testing.T, base, f *File) {
	t.Helper()
	c := f.Components["cart-a"]
	if c.Metrics == nil || *c.Metrics != (Endpoint{8080, "/debug/metrics"}) {
		t.Errorf("cart-a metrics %+v, want the overlay's path", c.Metrics)
	}
	bc := base.Components["cart-a"]
	if !reflect.DeepEqual(c.Ready, bc.Ready) || c.Job != bc.Job || !reflect.DeepEqual(c.Labels, bc.Labels) || c.File != shopBase {
		t.Errorf("cart-a component %+v: want the base's other fields, named in the base", c)
	}
	if !reflect.DeepEqual(f.Components["cart-b"], base.Components["cart-b"]) || len(f.Components) != len(base.Components) {
		t.Errorf("components %+v", f.Components)
	}
	if !reflect.DeepEqual(f.Seed, []KV{{"/shop/cart/weight/cart-a", "100"}}) {
		t.Errorf("seed %+v, want the overlay's, read from its folder", f.Seed)
	}
	if !reflect.DeepEqual(f.Links, base.Links) || !reflect.DeepEqual(f.Probe, base.Probe) || !slices.Equal(f.Rules, base.Rules) ||
		f.Catalog != base.Catalog || !reflect.DeepEqual(f.Roles, base.Roles) || !reflect.DeepEqual(f.Builds, base.Builds) ||
		!reflect.DeepEqual(f.Evidence, base.Evidence) || f.Name != base.Name {
		t.Errorf("x-okbreak keys the overlay does not give changed")
	}
}

func TestLoadIsLoadFiles(t *testing.T) {
	one := loadShop(t)
	files, err := LoadFiles(context.Background(), []string{shopBase}, Options{Env: shopEnv()})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, files) || !slices.Equal(one.Paths, []string{shopBase}) {
		t.Errorf("Load and LoadFiles of one file differ")
	}
	if _, err := LoadFiles(context.Background(), nil, Options{}); err == nil {
		t.Errorf("LoadFiles of no file: no error")
	}
}

const pairBase = `services:
  web:
    image: nginx
    ports: ["80"]
    configs: [site]
  api:
    image: api
    ports: ["8080"]
configs:
  site:
    content: hello
x-okbreak:
  links:
    - {from: client, to: web, port: 80}
    - {from: web, to: api, port: 8080}
`

// loadPair writes a base and an overlay into a folder of their own and
// loads them; it returns the paths and the problems.
func loadPair(t *testing.T, base, overlay string) (string, string, Errors) {
	t.Helper()
	dir := t.TempDir()
	b, o := filepath.Join(dir, "base.yaml"), filepath.Join(dir, "over.yaml")
	writeFile(t, b, base)
	writeFile(t, o, overlay)
	f, err := LoadFiles(context.Background(), []string{b, o}, Options{})
	var es Errors
	if !errors.As(err, &es) || f != nil {
		t.Fatalf("LoadFiles = %v, %v; want Errors", f, err)
	}
	return b, o, es
}

// checkProblems compares problems with the files, positions and words
// expected.
func checkProblems(t *testing.T, es Errors, want []fileWant) {
	t.Helper()
	if len(es) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(es), len(want), es)
	}
	for i, w := range want {
		e := es[i]
		if at := fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col); at != w.at {
			t.Errorf("problem %d at %s, want %s: %v", i, at, w.at, e)
		}
		for _, word := range w.words {
			if !strings.Contains(e.Msg+" "+e.Fix, word) {
				t.Errorf("problem %d %q lacks %q", i, e.Error(), word)
			}
		}
		if e.Fix == "" {
			t.Errorf("problem %d has no fix", i)
		}
	}
}

type fileWant struct {
	at    string
	words []string
}

// TestOverlayErrors checks that each problem names the file it is in:
// the base's first, then the overlay's, each at its line and column.
func TestOverlayErrors(t *testing.T) {
	b, o, es := loadPair(t, strings.Replace(pairBase, "    image: api\n", "    image: api\n    privileged: true\n", 1), `services:
  api:
    image: api:2
    cap_add: [NET_ADMIN]
x-okbreak:
  probe: {link: client->wbe}
`)
	checkProblems(t, es, []fileWant{
		{b + ":8:5", []string{`unsupported key "privileged"`}},
		{o + ":4:5", []string{`unsupported key "cap_add"`, `service "api"`}},
		{o + ":6:17", []string{`the probe's link "client->wbe" is not declared`, `did you mean "client->web"?`}},
	})
}

func TestOverlayNewService(t *testing.T) {
	_, o, es := loadPair(t, pairBase, `services:
  web:
    image: nginx:2
  apii:
    image: api
`)
	checkProblems(t, es, []fileWant{{o + ":4:3", []string{`service "apii" is not in the base file`, "base.yaml", `did you mean "api"?`, "variant of the same system", "Compose would add it"}}})
}

// TestOverlayNamesBase checks that an overlay may name what the base
// declares: services in depends_on and x-okbreak, configs in a service.
func TestOverlayNamesBase(t *testing.T) {
	dir := t.TempDir()
	b, o := filepath.Join(dir, "base.yaml"), filepath.Join(dir, "over.yaml")
	writeFile(t, b, pairBase)
	writeFile(t, o, `services:
  api:
    depends_on: [web]
    configs: [{source: site, target: /etc/site}]
x-okbreak:
  components:
    api: {ready: {port: 8080, path: /healthz}}
`)
	f, err := LoadFiles(context.Background(), []string{b, o}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	api, _ := f.Service("api")
	if api.DependsOn["web"] != "service_started" || len(api.Configs) != 1 || string(api.Configs[0].Content) != "hello" || api.Image != "api" {
		t.Errorf("api %+v", api)
	}
	if c := f.Components["api"]; c.File != o || c.Ready == nil {
		t.Errorf("component %+v: named in the overlay only", c)
	}
}

// TestOverlayMergeHazards checks what Compose's merge would make of files
// that are each fine: a config that becomes both a file and a content, a
// path that gets a bind mount and a config, a build context that loses its
// Dockerfile.
func TestOverlayMergeHazards(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"site.txt", "app/Dockerfile.dev", "other/Dockerfile"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, p), "x\n")
	}
	b, o := filepath.Join(dir, "base.yaml"), filepath.Join(dir, "over.yaml")
	writeFile(t, b, strings.Replace(pairBase, "    image: api\n", "    image: api\n    build: {context: ./app, dockerfile: Dockerfile.dev}\n", 1))
	writeFile(t, o, `services:
  web:
    volumes: ["./site.txt:/site"]
  api:
    build: ./other
configs:
  site:
    file: ./site.txt
`)
	_, err := LoadFiles(context.Background(), []string{b, o}, Options{})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("LoadFiles: %v", err)
	}
	checkProblems(t, es, []fileWant{
		{o + ":3:15", []string{"/site gets both a bind mount and a config", `service "web"`}},
		{o + ":5:12", []string{`Dockerfile "other/Dockerfile.dev" does not exist`}},
		{o + ":7:3", []string{`config "site" has ` + "`content:`" + ` in an earlier file and ` + "`file:`" + ` here`}},
	})
}

// TestOverlayRelativeDir checks that Options.Dir, when given, is where
// every file's paths resolve, as Compose's --project-directory.
func TestOverlayRelativeDir(t *testing.T) {
	_, err := LoadFiles(context.Background(), []string{shopBase, shopDev}, Options{Env: shopEnv(), Dir: "testdata/ok"})
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 || es[0].File != shopDev || !strings.Contains(es.Error(), `"./conf/cart-a-dev.yaml" does not exist`) || !strings.Contains(es.Error(), `seed "seed/dev.json" does not exist`) {
		t.Errorf("overlay paths against Dir: %v", err)
	}
}

// TestComposeRejectionNamesFile checks where a rejection by compose-go is
// reported when the walk let something through: in the first file whose
// merge compose-go rejects, not in the base.
func TestComposeRejectionNamesFile(t *testing.T) {
	ins := []input{{"base.yaml", []byte(pairBase)}, {"over.yaml", []byte("services:\n  web:\n    image: nginx:2\n")}}
	srcs, ok := documents(ins, files{}, "testdata/ok")
	if !ok {
		t.Fatal("documents")
	}
	walkAll(srcs, nil, files{})
	mergeX(&File{}, srcs)
	// A value compose-go's schema rejects, which the walk would have
	// reported: image 5.
	img := srcs[1].root.Content[1].Content[1].Content[1]
	img.Tag, img.Value = "!!int", "5"
	if ld := loadCompose(context.Background(), srcs, Options{}); ld != nil {
		t.Fatalf("compose-go loaded image 5: %+v", ld.services)
	}
	if es := srcs[0].r.sorted(); len(es) != 0 {
		t.Errorf("base problems %v", es)
	}
	es := srcs[1].r.sorted()
	if len(es) != 1 || es[0].File != "over.yaml" || es[0].Line != 1 || !strings.Contains(es[0].Msg, "Compose rejects the file merged over the ones before it") {
		t.Errorf("overlay problems %v", es)
	}
}

// TestOverlayAnchors checks paths an overlay in a folder of its own shares
// between services through anchors: the walk checks a shared node once,
// yet each service's path must still resolve against the overlay's folder.
func TestOverlayAnchors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "dev", "a.txt"), "dev\n")
	b, o := filepath.Join(dir, "base.yaml"), filepath.Join(dir, "dev", "over.yaml")
	writeFile(t, b, pairBase)
	writeFile(t, o, `x-mounts: &mounts ["./a.txt:/a"]
x-web: &web {image: nginx:2, volumes: *mounts}
services:
  web: *web
  api:
    volumes: *mounts
`)
	f, err := LoadFiles(context.Background(), []string{b, o}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "api"} {
		s, _ := f.Service(name)
		if len(s.Files) != 1 || s.Files[0].Source != filepath.Join(dir, "dev", "a.txt") || string(s.Files[0].Content) != "dev\n" {
			t.Errorf("%s files %+v", name, s.Files)
		}
	}
}
