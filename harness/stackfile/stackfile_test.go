package stackfile

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// shopEnv is what the realistic stack's variables see: LOG_LEVEL and
// API_TOKEN set, the rest left to their defaults.
func shopEnv() map[string]string {
	return map[string]string{"LOG_LEVEL": "debug", "API_TOKEN": "s3cret-token", "HOME": "/home/dev"}
}

func loadShop(t testing.TB) *File {
	t.Helper()
	f, err := Load(context.Background(), "testdata/ok/shop.yaml", Options{Env: shopEnv()})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return f
}

func TestOKFiles(t *testing.T) {
	paths, err := filepath.Glob("testdata/ok/*.yaml")
	if err != nil || len(paths) < 2 {
		t.Fatalf("ok files: %v %v", paths, err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			f, err := Load(context.Background(), p, Options{Env: shopEnv()})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(f.Services) == 0 || len(f.Raw) != len(f.Services) || len(f.Links) == 0 {
				t.Fatalf("got %d services, %d raw, %d links", len(f.Services), len(f.Raw), len(f.Links))
			}
			if !slices.IsSortedFunc(f.Services, func(a, b Service) int { return strings.Compare(a.Name, b.Name) }) {
				t.Errorf("services not sorted by name")
			}
		})
	}
}

func TestShopServices(t *testing.T) {
	f := loadShop(t)
	var names []string
	for _, s := range f.Services {
		names = append(names, s.Name)
	}
	if want := []string{"cart-a", "cart-b", "etcd", "gateway", "shop-xds"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	if f.Name != "shop" || f.Path != "testdata/ok/shop.yaml" || f.Dir != "testdata/ok" {
		t.Errorf("name %q path %q dir %q", f.Name, f.Path, f.Dir)
	}
	a, _ := f.Service("cart-a")
	if a.Image != "registry.example.com/shop/cart:1.4.2" {
		t.Errorf("cart-a image %q: want the default of ${CART_IMAGE:-...}", a.Image)
	}
	if a.Line != 61 || a.Col != 3 {
		t.Errorf("cart-a at %d:%d, want 61:3", a.Line, a.Col)
	}
	// Merged from the x-cart anchor.
	if a.Restart != "unless-stopped" || a.DependsOn["etcd"] != "service_healthy" || a.DependsOn["shop-xds"] != "service_started" {
		t.Errorf("cart-a restart %q depends_on %v", a.Restart, a.DependsOn)
	}
	wantHC := &Healthcheck{Test: []string{"CMD", "wget", "-qO-", "http://localhost:8080/healthz"}, Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: 10 * time.Second, Retries: 3}
	if h := a.Healthcheck; h == nil || !slices.Equal(h.Test, wantHC.Test) || h.Interval != wantHC.Interval || h.Timeout != wantHC.Timeout || h.StartPeriod != wantHC.StartPeriod || h.Retries != 3 {
		t.Errorf("cart-a healthcheck %+v, want %+v", a.Healthcheck, wantHC)
	}
	if len(a.Configs) != 2 || a.Configs[0].Source != filepath.Join("testdata", "ok", "conf", "cart-a.yaml") || a.Configs[0].Target != "/etc/cart/cart.yaml" {
		t.Errorf("cart-a file config %+v", a.Configs)
	}
	if len(a.Configs) == 2 && (string(a.Configs[1].Content) != "shop dev\n" || a.Configs[1].Target != "/banner") {
		t.Errorf("cart-a content config %+v", a.Configs[1])
	}
	g, _ := f.Service("gateway")
	if !slices.Equal(g.Ports, []int{9901, 10000}) {
		t.Errorf("gateway ports %v, want the container ports [9901 10000]", g.Ports)
	}
	envoy, err := os.ReadFile("testdata/ok/conf/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Files) != 1 || !reflect.DeepEqual(g.Files[0], Mount{Source: filepath.Join("testdata", "ok", "conf", "envoy.yaml"), Content: envoy, Target: "/etc/envoy/envoy.yaml", ReadOnly: true}) {
		t.Errorf("gateway files %+v", g.Files)
	}
	if !slices.Equal(g.Command, []string{"envoy", "-c", "/etc/envoy/envoy.yaml", "--service-node", "gateway"}) {
		t.Errorf("gateway command %q", g.Command)
	}
	x, _ := f.Service("shop-xds")
	if x.Build == nil || x.Build.Context != filepath.Join("testdata", "ok", "xds") || x.Restart != "on-failure:3" {
		t.Errorf("shop-xds build %+v restart %q", x.Build, x.Restart)
	}
}

// TestShopInterpolation checks that Services hold the values for running
// and Raw the text as written, with nothing from the environment in it.
func TestShopInterpolation(t *testing.T) {
	f := loadShop(t)
	cases := []struct {
		svc, get, run, raw string
	}{
		{"shop-xds", "env LOG_LEVEL", "debug", "${LOG_LEVEL:-info}"},
		{"cart-a", "env API_TOKEN", "s3cret-token", "${API_TOKEN}"},
		{"cart-a", "image", "registry.example.com/shop/cart:1.4.2", "${CART_IMAGE:-registry.example.com/shop/cart:1.4.2}"},
		{"cart-b", "file", filepath.Join("testdata", "ok", "conf", "cart-b.yaml"), "${CART_CONF_DIR:-./conf}/cart-b.yaml"},
		{"cart-b", "content", "shop dev\n", "shop ${SHOP_ENV:-dev}\n"},
		{"gateway", "file", filepath.Join("testdata", "ok", "conf", "envoy.yaml"), "./conf/envoy.yaml"},
		{"shop-xds", "context", filepath.Join("testdata", "ok", "xds"), "./xds"},
	}
	get := func(s Service, what string) string {
		switch what {
		case "image":
			return s.Image
		case "file":
			return s.Files[0].Source
		case "content":
			return string(s.Configs[0].Content)
		case "context":
			return s.Build.Context
		}
		return s.Environment[strings.TrimPrefix(what, "env ")]
	}
	for _, c := range cases {
		run, _ := f.Service(c.svc)
		i := slices.IndexFunc(f.Raw, func(s Service) bool { return s.Name == c.svc })
		if i < 0 {
			t.Fatalf("no raw %s", c.svc)
		}
		if got := get(run, c.get); got != c.run {
			t.Errorf("%s %s = %q, want %q", c.svc, c.get, got, c.run)
		}
		if got := get(f.Raw[i], c.get); got != c.raw {
			t.Errorf("raw %s %s = %q, want %q", c.svc, c.get, got, c.raw)
		}
	}
	raw, err := json.Marshal(f.Raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"s3cret-token", "debug", "/home/dev", "testdata/ok"} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("Raw holds %q, a value from the environment or a resolved path", leak)
		}
	}
	if gw := f.Raw[slices.IndexFunc(f.Raw, func(s Service) bool { return s.Name == "gateway" })]; !slices.Equal(gw.Ports, []int{9901, 10000}) {
		t.Errorf("raw gateway ports %v", gw.Ports)
	}
}

func TestShopOkbreak(t *testing.T) {
	f := loadShop(t)
	var names []string
	for _, l := range f.Links {
		names = append(names, l.Name)
	}
	if want := []string{"client->gateway", "gateway->cart-a", "gateway->cart-b", "xds", "any->etcd"}; !slices.Equal(names, want) {
		t.Errorf("links %v, want %v", names, want)
	}
	if l, ok := f.Link("any->etcd"); !ok || l.From != Any || l.To != "etcd" || l.Port != 2379 || l.Line != 100 || l.Col != 7 {
		t.Errorf("any->etcd = %+v", l)
	}
	p := f.Probe
	if p.Link != "client->gateway" || p.Method != "GET" || p.Path != "/cart" || p.Host != "shop.local" || p.Status != 200 {
		t.Errorf("probe %+v", p)
	}
	if p.Check == nil || p.Check.Header == nil || p.Check.Header.Matches != "^cart-(a|b)$" {
		t.Errorf("probe check %+v: the regexp's $ must not be taken for a variable", p.Check)
	}
	c := f.Components["cart-a"]
	if c.Metrics == nil || *c.Metrics != (Endpoint{8080, "/metrics"}) || c.Ready == nil || *c.Ready != (Endpoint{8080, "/healthz"}) || c.Job != "cart" || c.Labels["pod"] != "cart-a-0" {
		t.Errorf("cart-a component %+v", c)
	}
	if len(f.Seed) != 2 || f.Seed[0] != (KV{"/shop/cart/weight/cart-a", "50"}) {
		t.Errorf("seed %+v", f.Seed)
	}
	if !slices.Equal(f.Rules, []string{filepath.Join("testdata", "ok", "rules", "shop.yml")}) {
		t.Errorf("rules %v", f.Rules)
	}
	if f.Catalog != filepath.Join("testdata", "ok", "catalog", "shop.yaml") {
		t.Errorf("catalog %q", f.Catalog)
	}
	if f.Roles.DataPlane != "gateway" || f.Roles.Etcd != "etcd" || !slices.Equal(f.Roles.Instances["cart"], []string{"cart-a", "cart-b"}) {
		t.Errorf("roles %+v", f.Roles)
	}
	if b := f.Builds["cart-a"]; b.Go != filepath.Join("testdata", "ok", "cmd", "cart") || !b.GoDir {
		t.Errorf("cart-a build %+v", b)
	}
	if b := f.Builds["shop-xds"]; b.Dockerfile != filepath.Join("testdata", "ok", "xds") {
		t.Errorf("shop-xds build %+v", b)
	}
	want := []Evidence{{Name: "data_plane_config", Component: "gateway", Port: 9901, Path: "/config_dump", File: "testdata/ok/shop.yaml", Line: 133, Col: 7}}
	if !reflect.DeepEqual(f.Evidence, want) {
		t.Errorf("evidence %+v, want %+v", f.Evidence, want)
	}
}

// TestEvidenceDefaults checks an evidence endpoint on a port the service
// declares only as its metrics port, with the default path.
func TestEvidenceDefaults(t *testing.T) {
	src := `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  components:
    web: {metrics: {port: 9000}}
  evidence:
    - name: web_status
      component: web
      port: 9000
`
	f, err := Parse(context.Background(), "testdata/ok/e.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Evidence{{Name: "web_status", Component: "web", Port: 9000, Path: "/", File: "testdata/ok/e.yaml", Line: 10, Col: 7}}
	if !reflect.DeepEqual(f.Evidence, want) {
		t.Errorf("evidence %+v, want %+v", f.Evidence, want)
	}
}

func TestMinimalDefaults(t *testing.T) {
	f, err := Load(context.Background(), "testdata/ok/minimal.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "ok" {
		t.Errorf("name %q: want the folder's name, as Compose picks it", f.Name)
	}
	if l := f.Links[0]; l.Name != "any->web" || l.From != Any {
		t.Errorf("link %+v", l)
	}
	if f.Probe.Link != "" || f.Components != nil || f.Seed != nil {
		t.Errorf("absent parts not zero: %+v %+v %+v", f.Probe, f.Components, f.Seed)
	}
}

func TestProfiles(t *testing.T) {
	src := `services:
  web:
    image: nginx
    ports: ["80"]
  debug:
    image: busybox
    profiles: [debug]
x-okbreak:
  links:
    - {to: web, port: 80}
`
	f, err := Parse(context.Background(), "testdata/ok/p.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Service("debug"); ok || len(f.Services) != 1 || len(f.Raw) != 1 {
		t.Errorf("debug enabled without its profile: %d services", len(f.Services))
	}
	f, err = Parse(context.Background(), "testdata/ok/p.yaml", []byte(src), Options{Profiles: []string{"debug"}})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := f.Service("debug"); !ok || !slices.Equal(s.Profiles, []string{"debug"}) {
		t.Errorf("debug not enabled by its profile: %+v", s)
	}
}

func TestOptionsUntouched(t *testing.T) {
	env := shopEnv()
	if _, err := Load(context.Background(), "testdata/ok/shop.yaml", Options{Env: env}); err != nil {
		t.Fatal(err)
	}
	if len(env) != len(shopEnv()) {
		t.Errorf("Load changed the caller's Env: %v", env)
	}
}

func TestErrorsAs(t *testing.T) {
	_, err := Parse(context.Background(), "bad.yaml", []byte("services: {}\n"), Options{})
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("error %v is not Errors", err)
	}
	var one *Error
	if !errors.As(err, &one) || one.File != "bad.yaml" {
		t.Fatalf("errors.As(*Error) = %v", one)
	}
	if !strings.Contains(es[0].Error(), "\n\tfix: ") {
		t.Errorf("no fix line in %q", es[0].Error())
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(context.Background(), "testdata/nope.yaml", Options{})
	var es Errors
	if err == nil || errors.As(err, &es) {
		t.Fatalf("missing file: %v, want a plain read error", err)
	}
}

func TestDotEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "A=from-file\nB=${A}-b\n")
	env, err := DotEnv(dir, map[string]string{"A": "from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if env["A"] != "from-env" || env["B"] != "from-env-b" {
		t.Errorf("env %v: the environment must win over .env", env)
	}
	env, err = DotEnv(t.TempDir(), nil)
	if err != nil || len(env) != 0 {
		t.Errorf("no .env: %v %v", env, err)
	}
}

// TestConcurrentLoad backs Load's claim to be safe for concurrent use
// (compose-go keeps process-wide state: its compiled schema, its logger);
// run it with -race.
func TestConcurrentLoad(t *testing.T) {
	want := loadShop(t)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			f, err := Load(context.Background(), "testdata/ok/shop.yaml", Options{Env: shopEnv()})
			if err == nil && !reflect.DeepEqual(f, want) {
				err = errors.New("a concurrent Load read the file differently")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
