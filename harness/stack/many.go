package stack

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/okbreak/okbreak/harness/image"
)

// NewResolver returns the image resolver Up uses for def when given none:
// okbreak's own recipes plus what def's components say (a Go or Dockerfile
// build, an image reference). Stacks of one definition brought up side by
// side share one (UpMany), so that an image missing from the cache is built
// once. The caller closes it.
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

// UpMany brings n stacks of def up side by side (Up each, with opts),
// sharing one image resolver unless opts give one. It returns every stack
// Up returned, failed ones included (Up tears those down as far as they
// got), so that the caller can register every teardown before it checks
// the error, which joins every stack's.
func UpMany(ctx context.Context, def Definition, n int, opts ...Option) ([]*Stack, error) {
	n = max(n, 1)
	if n > 1 {
		o := options{logf: func(string, ...any) {}}
		for _, opt := range opts {
			if err := opt(&o); err != nil {
				return nil, err
			}
		}
		if o.resolver == nil {
			res, err := NewResolver(ctx, def, o.logf)
			if err != nil {
				return nil, err
			}
			defer res.Close()
			opts = append(opts, WithResolver(res))
		}
	}
	stacks := make([]*Stack, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stacks[i], errs[i] = Up(ctx, def, opts...)
		}()
	}
	wg.Wait()
	up := slices.DeleteFunc(stacks, func(s *Stack) bool { return s == nil })
	return up, errors.Join(errs...)
}
