package image

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Ping checks that a Docker engine answers, the way the stack will reach it.
func Ping(ctx context.Context) error {
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
	if _, err := dc.Ping(ctx, client.PingOptions{}); err != nil {
		return err
	}
	return nil
}

// LatestRef is the stable tag `okbreak images` gives a component's image, the
// one docker-compose.yml names.
func LatestRef(name Name) string { return "okbreak/" + string(name) + ":latest" }

// TagLatest tags img as LatestRef(name). It is idempotent.
func TagLatest(ctx context.Context, name Name, img Image) error {
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer dc.Close()
	if _, err := dc.ImageTag(ctx, client.ImageTagOptions{Source: img.Ref, Target: LatestRef(name)}); err != nil {
		return fmt.Errorf("tag %s as %s: %w", img.Ref, LatestRef(name), err)
	}
	return nil
}
