package sample_test

import (
	"context"
	"testing"

	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// BenchmarkStackFile reads and checks the default stack file as every run
// does (embedded; compose-go's two loads, the position walk, x-okbreak,
// the cross checks) and compiles it to the stack.Definition that runs.
func BenchmarkStackFile(b *testing.B) {
	for _, dp := range []stack.DataPlane{stack.GRPC, stack.Envoy} {
		b.Run(string(dp), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				f, err := sample.StackFile(context.Background(), dp)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Definition(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
