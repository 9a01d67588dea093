// Package stacktest brings a stack up for a test and guarantees its teardown.
package stacktest

import (
	"context"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// T is the part of testing.TB that Up needs.
type T interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Up sweeps what dead runs left, brings the default stack for dp up, and
// registers its teardown before checking the error, so that a failed start
// leaves nothing behind either. It fails the test when the stack cannot
// start.
func Up(t T, ctx context.Context, dp stack.DataPlane, opts ...stack.Option) *stack.Stack {
	t.Helper()
	return UpDef(t, ctx, sample.Definition(dp), opts...)
}

// UpDef is Up for any stack definition, e.g. the default one with a
// mechanism taken out.
func UpDef(t T, ctx context.Context, def stack.Definition, opts ...stack.Option) *stack.Stack {
	t.Helper()
	return UpDefs(t, ctx, def, 1, opts...)[0]
}

// UpDefs brings n stacks of def up side by side (stack.UpMany: one
// shared image resolver), with UpDef's sweep and teardown. Every teardown is registered before any error is
// checked; it fails the test when a stack cannot start.
func UpDefs(t T, ctx context.Context, def stack.Definition, n int, opts ...stack.Option) []*stack.Stack {
	t.Helper()
	if err := stack.CheckEnvironment(); err != nil {
		t.Fatalf("%v", err)
	}
	if swept, err := stack.Sweep(ctx); err != nil {
		t.Logf("sweep dead runs: %v", err)
	} else if len(swept.Runs) > 0 {
		t.Logf("swept dead runs %v", swept.Runs)
	}
	opts = append([]stack.Option{stack.WithLogf(t.Logf)}, opts...)
	stacks, err := stack.UpMany(ctx, def, n, opts...)
	for _, s := range stacks {
		t.Cleanup(func() {
			if s == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.Down(ctx); err != nil {
				t.Errorf("teardown of run %s: %v", s.RunID, err)
			}
		})
	}
	if err != nil {
		t.Fatalf("stack up: %v", err)
	}
	return stacks
}

// DockerT is the part of testing.TB that RequireDocker needs.
type DockerT interface {
	Helper()
	Skip(args ...any)
	Fatalf(format string, args ...any)
}

// RequireDocker fails the test (never skips it) when no Docker engine
// answers: CI has one, and a stack test that quietly skipped would hide a
// broken environment. OKBREAK_SKIP_DOCKER_TESTS=1 skips on purpose, saying so.
func RequireDocker(t DockerT) {
	t.Helper()
	if os.Getenv("OKBREAK_SKIP_DOCKER_TESTS") == "1" {
		t.Skip("OKBREAK_SKIP_DOCKER_TESTS=1: stack tests skipped on request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := image.Ping(ctx); err != nil {
		t.Fatalf("stack tests need a Docker engine (set OKBREAK_SKIP_DOCKER_TESTS=1 to skip them on purpose): %v", err)
	}
}

// Toxiproxies is what is not at rest in every Toxiproxy of s, merged:
// proxies are named after their links, so no two Toxiproxies report the
// same proxy.
func Toxiproxies(t T, ctx context.Context, s *stack.Stack) fault.ToxiproxyState {
	t.Helper()
	all := fault.ToxiproxyState{Toxics: map[string][]string{}}
	for _, p := range s.Def.Proxies() {
		api, err := s.ToxiproxyAPI(ctx, p)
		if err != nil {
			t.Fatalf("the API of %s: %v", p, err)
		}
		st, err := fault.InspectToxiproxy(ctx, api)
		if err != nil {
			t.Fatalf("inspect %s: %v", p, err)
		}
		maps.Copy(all.Toxics, st.Toxics)
		all.Disabled = append(all.Disabled, st.Disabled...)
	}
	slices.Sort(all.Disabled)
	if len(all.Toxics) == 0 {
		all.Toxics = nil
	}
	return all
}

// ToxiproxyAPI is the API URL of the Toxiproxy that carries link.
func ToxiproxyAPI(t T, ctx context.Context, s *stack.Stack, link string) string {
	t.Helper()
	l, ok := s.Def.Link(link)
	if !ok {
		t.Fatalf("no link %s in %v", link, s.Def.LinkNames())
	}
	api, err := s.ToxiproxyAPI(ctx, l.ProxyComponent())
	if err != nil {
		t.Fatalf("the API of the Toxiproxy of %s: %v", link, err)
	}
	return api
}

// ContextT is the part of testing.TB that Context needs.
type ContextT interface {
	Helper()
	Deadline() (time.Time, bool)
	Context() context.Context
	Cleanup(func())
}

// Context is the test's context, ending limit from now or 30 s before the
// test's own deadline, whichever comes first: a timeout then fails the
// test with a message and still runs its cleanups (go test's own deadline
// panics past them and would leave containers behind).
func Context(t ContextT, limit time.Duration) context.Context {
	t.Helper()
	deadline := time.Now().Add(limit)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// LogTail is the last 20 lines a container logged, for failure messages
// ("" when there is no container or no log).
func LogTail(ctr *testcontainers.DockerContainer) string {
	if ctr == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return "\n  container log:\n    " + strings.Join(lines[max(0, len(lines)-20):], "\n    ")
}
