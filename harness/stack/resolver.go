package stack

import (
	"context"

	"github.com/okbreak/okbreak/harness/image"
)

// NewResolver returns the image resolver Up uses for def when given none:
// okbreak's own recipes plus what def's components say (a Go or Dockerfile
// build, an image reference). Stacks of one definition brought up side by
// side share one (WithResolver), so that an image missing from the cache is
// built once. The caller closes it.
func NewResolver(ctx context.Context, def Definition, logf func(format string, args ...any)) (*image.Resolver, error) {
	opts := []image.Option{image.WithLogger(logf)}
	for _, c := range def.Components {
		switch {
		case c.Build != nil && c.Build.DockerDir != "":
			opts = append(opts, image.WithDockerfileBuild(c.Image, c.Build.DockerDir))
		case c.Build != nil:
			opts = append(opts, image.WithGoBuild(c.Image, c.Build.GoDir, c.Build.GoPackage))
		case c.ImageRef != "":
			opts = append(opts, image.WithImage(c.Image, c.ImageRef))
		}
	}
	return image.NewResolver(ctx, opts...)
}
