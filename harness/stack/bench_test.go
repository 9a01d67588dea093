package stack_test

import (
	"context"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// BenchmarkStackUp measures a warm start of the whole default stack on the
// grpc data plane: images already built (resolved once before the timer),
// fresh containers and network on every iteration, up to traffic flowing end
// to end through client->edge to every backend. Teardown is not timed. Image
// resolution (the cache-key check a real `okbreak up` does) is inside the
// timer. With -test.v it logs stack.Up's progress lines (when each stage
// was ready, each component's start).
func BenchmarkStackUp(b *testing.B) {
	ctx := context.Background()
	r, err := image.NewResolver(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []image.Name{image.Etcd, image.Toxiproxy, image.SampleService, image.ControlPlane} {
		if _, err := r.Resolve(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	r.Close()
	def := sample.Definition(stack.GRPC)
	var opts []stack.Option
	if testing.Verbose() {
		// -test.v: what each stage and component took, from stack.Up's
		// own progress lines.
		opts = append(opts, stack.WithLogf(b.Logf))
	}
	b.ResetTimer()
	for range b.N {
		s, err := stack.Up(ctx, def, opts...)
		b.StopTimer()
		if s != nil {
			downCtx, cancel := context.WithTimeout(ctx, time.Minute)
			if derr := s.Down(downCtx); derr != nil {
				b.Error(derr)
			}
			cancel()
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
