package stackfile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

// TestToxiproxyInterposed brings the shop up from its stack file and checks
// the interposition on the real network: every declared callee's name
// resolves to its Toxiproxy only (the real container answers to a hidden
// name no config holds, so a caller cannot go around its link), and taking
// one link down cuts that link's connections and no other's.
func TestToxiproxyInterposed(t *testing.T) {
	stacktest.RequireDocker(t)
	if testing.Short() {
		t.Skip("brings a stack up")
	}
	def := definitionOf(t, shopStack)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := stacktest.UpDef(t, ctx, def)

	holders := aliasHolders(t, ctx, s)
	for _, l := range def.Links {
		if got := holders[l.To]; len(got) != 1 || got[0] != l.Proxy {
			t.Errorf("on the network, %s is held by %v: want only %s, the Toxiproxy of %s", l.To, got, l.Proxy, l.Name)
		}
	}

	busy := []string{"gateway->shop-xds", "shop-xds->etcd", "gateway->cart-a", "gateway->cart-b"}
	for _, name := range busy {
		t.Run(name, func(t *testing.T) {
			// Every busy link has its connections open before the cut.
			if err := retry.Until(ctx, "every busy link connected", 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
				return connected(ctx, s, busy, "")
			}); err != nil {
				t.Fatal(err)
			}
			down, err := fault.New(fault.Spec{Type: "down", Target: name}, s)
			if err != nil {
				t.Fatal(err)
			}
			if err := down.Inject(ctx); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := down.Revert(context.WithoutCancel(ctx)); err != nil {
					t.Errorf("revert: %v", err)
				}
			}()
			conns, err := s.LinkConnections(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if conns[name] != 0 {
				t.Errorf("%s is down but holds %d connections", name, conns[name])
			}
			if err := connected(ctx, s, busy, name); err != nil {
				t.Errorf("taking %s down touched another link: %v", name, err)
			}
		})
	}
}

// connected says which of links, but skip, holds no open connection.
func connected(ctx context.Context, s *stack.Stack, links []string, skip string) error {
	conns, err := s.LinkConnections(ctx)
	if err != nil {
		return err
	}
	for _, l := range links {
		if l != skip && conns[l] == 0 {
			return &idleErr{link: l}
		}
	}
	return nil
}

type idleErr struct{ link string }

func (e *idleErr) Error() string { return e.link + " has no open connection" }

// aliasHolders maps each DNS name on the stack's network to the components
// whose containers answer to it, as Docker reports them.
func aliasHolders(t *testing.T, ctx context.Context, s *stack.Stack) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, c := range s.Def.Components {
		name, err := s.ContainerName(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		ins, err := stack.Inspect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, ep := range ins.NetworkSettings.Networks {
			for _, a := range append(append([]string{}, ep.Aliases...), ep.DNSNames...) {
				out[a] = appendOnce(out[a], c.Name)
			}
		}
	}
	return out
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// TestBuildsATeamsGoImage brings up a service whose image okbreak builds
// itself from a Go main package the stack file names, cached under
// okbreak/<project>-<service>:<key>, and reaches it through its link.
func TestBuildsATeamsGoImage(t *testing.T) {
	stacktest.RequireDocker(t)
	if testing.Short() {
		t.Skip("builds an image and brings a stack up")
	}
	def := definitionOf(t, "testdata/build/stack.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := stacktest.UpDef(t, ctx, def) // waits until the probe's check passes through client->hello
	img := s.Images["built-hello"].Ref
	if !strings.HasPrefix(img, "okbreak/built-hello:") {
		t.Errorf("hello runs %q, want the image okbreak built (okbreak/built-hello:<key>)", img)
	}
}

// TestDockerfileBuilds builds a team's Dockerfile folder (FROM scratch
// builds offline) and refuses one whose base cannot be had, naming the
// variable that takes a prebuilt image instead.
func TestDockerfileBuilds(t *testing.T) {
	stacktest.RequireDocker(t)
	if testing.Short() {
		t.Skip("builds images")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := image.NewResolver(ctx,
		image.WithDockerfileBuild("okbreak-test-scratch", "testdata/build/scratch"),
		image.WithDockerfileBuild("okbreak-test-badbase", "testdata/build/badbase"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := r.Resolve(ctx, "okbreak-test-scratch")
	if err != nil {
		t.Fatalf("FROM scratch: %v", err)
	}
	t.Cleanup(func() { removeImage(t, img.Ref) })
	if !strings.HasPrefix(img.Ref, "okbreak/okbreak-test-scratch:") {
		t.Errorf("built %s", img.Ref)
	}
	_, err = r.Resolve(ctx, "okbreak-test-badbase")
	if err == nil || !strings.Contains(err.Error(), "OKBREAK_OKBREAK_TEST_BADBASE_IMAGE") {
		t.Errorf("a base that cannot be had: got %v, want an error naming OKBREAK_OKBREAK_TEST_BADBASE_IMAGE", err)
	}
}

func removeImage(t *testing.T, ref string) {
	t.Helper()
	cli, err := stack.Docker(context.Background())
	if err != nil {
		t.Log(err)
		return
	}
	if _, err := cli.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}); err != nil {
		t.Log(err)
	}
}
