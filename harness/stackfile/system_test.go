package stackfile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/okbreak/okbreak/harness/probe"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stackfile"
)

// TestShopDefinition checks what okbreak runs for the shop's stack file:
// a Toxiproxy in front of each callee holding the callee's name, the callee
// under a hidden name only, and the shop's configs untouched.
func TestShopDefinition(t *testing.T) {
	def := definitionOf(t, shopStack)
	aliases := map[string][]string{}
	for _, c := range def.Components {
		for _, a := range c.Aliases {
			aliases[a] = append(aliases[a], c.Name)
		}
	}
	for _, callee := range []string{"gateway", "shop-xds", "cart-a", "cart-b", "etcd"} {
		if got := aliases[callee]; len(got) != 1 || !def.IsProxy(got[0]) {
			t.Errorf("name %s is held by %v, want only a Toxiproxy: a caller could go around it", callee, got)
		}
		if got := aliases[stackfile.RealPrefix+callee]; len(got) != 1 || got[0] != callee {
			t.Errorf("hidden name of %s is held by %v", callee, got)
		}
	}
	for _, l := range def.Links {
		if want := stackfile.RealPrefix + l.To; !strings.HasPrefix(l.Upstream, want+":") {
			t.Errorf("link %s forwards to %s, want %s:<port>", l.Name, l.Upstream, want)
		}
	}
	// gateway, cart-a and cart-b all listen on 8080: one Toxiproxy each;
	// shop-xds and etcd share the first.
	if got := def.Proxies(); !slices.Equal(got, []string{"toxiproxy", "toxiproxy-2", "toxiproxy-3"}) {
		t.Errorf("proxies %v, want three: as few as the callees' ports allow", got)
	}
	for _, l := range def.Links {
		if p, _ := def.Component(l.Proxy); !slices.Contains(p.Aliases, l.To) {
			t.Errorf("link %s is carried by %s, which does not hold %s", l.Name, l.Proxy, l.To)
		}
	}
	gw, _ := def.Component("gateway")
	if len(gw.Files) != 1 || strings.Contains(string(gw.Files[0].Content), "toxiproxy") {
		t.Errorf("gateway's files changed or name Toxiproxy: %+v", gw.Files)
	}
	for _, kv := range def.Seed {
		if strings.Contains(kv.Value, "toxiproxy") {
			t.Errorf("seed %s names Toxiproxy: %s", kv.Key, kv.Value)
		}
	}
	if def.Entry.Link != "client->gateway" || len(def.Entry.Instances) != 2 {
		t.Errorf("entry %+v", def.Entry)
	}
	ok := def.Entry.Check(200, []byte(`{"service":"cart","instance":"cart-a"}`))
	wrong := def.Entry.Check(200, []byte(`{"service":"other","instance":"other-1"}`))
	if ok.Outcome != "ok" || ok.Instance != "cart-a" || wrong.Outcome != "wrong_service" {
		b, _ := json.Marshal([]any{ok, wrong})
		t.Errorf("check: %s", b)
	}
}

// TestRenderingForDockerCompose renders a stack file as a plain compose
// file: variables as the file wrote them (never their values), every
// callee's service name held by its Toxiproxy, and a file Debian's
// docker-compose 1.29 accepts (`docker-compose config`).
func TestRenderingForDockerCompose(t *testing.T) {
	const secret = "value-from-the-environment"
	f, err := stackfile.Load(context.Background(), "../../testdata/shop/stack.yaml", stackfile.Options{Env: map[string]string{"SHOP_IMAGE_TAG": secret}})
	if err != nil {
		t.Fatal(err)
	}
	if run, _ := f.Definition(); !strings.Contains(fmt.Sprint(run.Components), secret) {
		t.Fatalf("the variable was not interpolated for running: %v", run.Components)
	}
	def, err := f.Rendering()
	if err != nil {
		t.Fatal(err)
	}
	files, err := def.ComposeFiles()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for p, b := range files {
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds a value from the environment", p)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var doc struct {
		Services map[string]struct {
			Image    string `yaml:"image"`
			Networks map[string]struct {
				Aliases []string `yaml:"aliases"`
			} `yaml:"networks"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(files["docker-compose.yml"], &doc); err != nil {
		t.Fatal(err)
	}
	if img := doc.Services[stackfile.RealPrefix+"cart-a"].Image; img != "okbreak/sample-service:${SHOP_IMAGE_TAG:-latest}" {
		t.Errorf("cart-a's image is rendered %q, want it as written", img)
	}
	// Compose makes a service's name a DNS name: no service may be named
	// after a callee but a Toxiproxy, and a Toxiproxy holds each callee's
	// name as an alias.
	for _, callee := range []string{"gateway", "shop-xds", "cart-a", "cart-b", "etcd"} {
		var holders []string
		for name, svc := range doc.Services {
			if name == callee && !strings.Contains(svc.Image, "toxiproxy") {
				t.Errorf("service %s is named after a callee: callers would reach it around Toxiproxy", name)
			}
			if slices.Contains(svc.Networks["okbreak"].Aliases, callee) {
				holders = append(holders, name)
			}
		}
		if len(holders) != 1 || !strings.Contains(doc.Services[holders[0]].Image, "toxiproxy") {
			t.Errorf("name %s is held by %v: want one Toxiproxy", callee, holders)
		}
	}
	composeConfig(t, dir)
}

// TestRenderingKeepsEveryVariable: no value from the environment reaches a
// rendering through any field a variable can reach (image, command,
// environment, healthcheck, content configs), while running sees them all.
func TestRenderingKeepsEveryVariable(t *testing.T) {
	const secret = "s3cr3t-from-the-environment"
	f, err := stackfile.Load(context.Background(), "testdata/render/stack.yaml", stackfile.Options{Env: map[string]string{"API_TOKEN": secret, "API_TAG": secret}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := f.Definition()
	if err != nil {
		t.Fatal(err)
	}
	api, _ := run.Component("api")
	if !strings.Contains(fmt.Sprint(api.Healthcheck, string(api.Files[0].Content), api.Cmd, api.Env, api.ImageRef), secret) {
		t.Fatalf("running does not see the variables: %+v", api)
	}
	def, err := f.Rendering()
	if err != nil {
		t.Fatal(err)
	}
	files, err := def.ComposeFiles()
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range files {
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds a value from the environment:\n%s", p, b)
		}
	}
	if !strings.Contains(string(files["docker-compose.yml"]), "--token=${API_TOKEN}") {
		t.Errorf("the healthcheck is not rendered as written:\n%s", files["docker-compose.yml"])
	}
}

// composeConfig runs `docker-compose config -q` in dir: the renderings are
// for Debian's docker-compose, which CI installs.
func composeConfig(t *testing.T, dir string) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker-compose is not installed: .ci/run installs it (apt-get install docker-compose)")
		}
		t.Skip("docker-compose is not installed (apt-get install docker-compose)")
	}
	cmd := exec.Command(bin, "config", "-q")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
}

// shopStack is the second stack okbreak ships.
const shopStack = "../../fixtures/stacks/shop/stack.yaml"

// definitionOf loads a stack file and compiles it, failing the test on
// any error.
func definitionOf(t testing.TB, path string) stack.Definition {
	t.Helper()
	f, err := stackfile.Load(context.Background(), path, stackfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	def, err := f.Definition()
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestShopEvidence: the shop keeps its gateway's config dump with a failed
// case, on the admin port the gateway declares.
func TestShopEvidence(t *testing.T) {
	def := definitionOf(t, shopStack)
	want := stack.EvidenceEndpoint{Name: "gateway_config", Component: "gateway", Port: "9901", Path: "/config_dump"}
	if len(def.Evidence) != 1 || def.Evidence[0] != want {
		t.Errorf("evidence %+v, want [%+v]", def.Evidence, want)
	}
}

// TestHeaderCheck: a probe's header check judges each answer's headers:
// missing is an error, a value that does not match a wrong answer.
func TestHeaderCheck(t *testing.T) {
	f, err := stackfile.Load(context.Background(), "testdata/ok/shop.yaml", stackfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	def, err := f.Definition()
	if err != nil {
		t.Fatal(err)
	}
	check := def.Entry.Header
	if check == nil {
		t.Fatal("testdata/ok/shop.yaml checks X-Instance; the entry has no header check")
	}
	for _, tc := range []struct {
		h    http.Header
		want probe.Outcome
	}{
		{http.Header{"X-Instance": {"cart-a"}}, probe.OK},
		{http.Header{"X-Instance": {"cart-c"}}, probe.WrongService},
		{http.Header{"X-Instance": {"other", "cart-b"}}, probe.OK},
		{http.Header{}, probe.Error},
	} {
		if got := check(tc.h); got.Outcome != tc.want {
			t.Errorf("headers %v: %s (%s), want %s", tc.h, got.Outcome, got.Err, tc.want)
		}
	}
	// A file without a header check compiles none.
	if def := definitionOf(t, shopStack); def.Entry.Header != nil {
		t.Error("the shop checks no header, its entry has a header check")
	}
}
