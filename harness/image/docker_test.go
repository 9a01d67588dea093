package image

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dockerResolver returns a Resolver on the real engine, or skips the test
// where there is none.
func dockerResolver(t *testing.T, opts ...Option) (*Resolver, *DockerEngine) {
	t.Helper()
	if out, err := exec.CommandContext(t.Context(), "docker", "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine (`docker info` failed: %v: %.200s): real image builds are not tested here", err, out)
	}
	eng, err := NewDockerEngine(t.Context())
	require.NoError(t, err)
	opts = append([]Option{WithEngine(eng), WithLookupEnv(envMap(nil)), WithLogger(t.Logf)}, opts...)
	r, err := NewResolver(t.Context(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r, eng
}

// testContext stops work a little before the test's deadline, so a timeout
// fails the test with a message instead of a panic that skips cleanups.
func testContext(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	deadline := time.Now().Add(limit)
	if d, ok := t.Deadline(); ok && d.Add(-10*time.Second).Before(deadline) {
		deadline = d.Add(-10 * time.Second)
	}
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// checkBuiltImage inspects a built image on the engine: tag, labels,
// entrypoint and platform.
func checkBuiltImage(t *testing.T, eng *DockerEngine, img Image, name Name, entrypoint, cmd []string) {
	t.Helper()
	res, err := eng.Client().ImageInspect(t.Context(), img.Ref)
	require.NoError(t, err)
	assert.Equal(t, img.ID, res.ID)
	assert.Contains(t, res.RepoTags, img.Ref)
	assert.Regexp(t, `^okbreak/`+string(name)+`:[0-9a-f]{12}$`, img.Ref)
	require.Len(t, img.Key, 64)
	assert.Equal(t, img.Key[:12], img.Ref[len(img.Ref)-12:])
	require.NotNil(t, res.Config)
	assert.Equal(t, "true", res.Config.Labels[LabelManaged])
	assert.Equal(t, img.Key, res.Config.Labels[LabelKey])
	assert.Equal(t, string(name), res.Config.Labels[LabelName])
	assert.Equal(t, entrypoint, res.Config.Entrypoint)
	assert.Equal(t, cmd, res.Config.Cmd)
	assert.Equal(t, "linux", res.Os)
}

// Builds the Toxiproxy image for real (once per machine: it is a cache and
// stays), then checks that resolving it again is a local hit well under a
// second. Starts no container.
func TestDockerToxiproxyImageIsBuiltOnceAndReused(t *testing.T) {
	r, eng := dockerResolver(t)
	ctx := testContext(t, 5*time.Minute)

	img, err := r.Resolve(ctx, Toxiproxy)
	require.NoError(t, err)
	t.Logf("first resolve: %s", img)
	assert.Contains(t, []Source{SourceBuilt, SourceLocal}, img.Source, "built now, or by an earlier run (the images are a cache)")
	checkBuiltImage(t, eng, img, Toxiproxy, []string{"/toxiproxy-server"}, []string{"-host=0.0.0.0"})

	start := time.Now()
	again, err := r.Resolve(ctx, Toxiproxy)
	took := time.Since(start)
	require.NoError(t, err)
	t.Logf("second resolve: %s in %v", again, took)
	assert.Equal(t, SourceLocal, again.Source)
	assert.Equal(t, img.Ref, again.Ref)
	assert.Equal(t, img.ID, again.ID)
	assert.Less(t, took, time.Second)

	// A fresh Resolver (a second run) finds it too, without building.
	r2, _ := dockerResolver(t)
	start = time.Now()
	third, err := r2.Resolve(ctx, Toxiproxy)
	took = time.Since(start)
	require.NoError(t, err)
	t.Logf("new resolver: %s in %v", third, took)
	assert.Equal(t, SourceLocal, third.Source)
	assert.Equal(t, img.Ref, third.Ref)
	assert.Less(t, took, time.Second)
}

// Exercises the repository build path end to end on every run: a fixture
// checkout with a unique main, built, inspected, reused, then removed (it
// is a test artifact, not a cache entry).
func TestDockerRepoImageBuildPath(t *testing.T) {
	files := map[string]string{}
	for k, v := range fixtureFiles {
		files[k] = v
	}
	files["cmd/sample-service/main.go"] += fmt.Sprintf("\n// run %d\n", time.Now().UnixNano())
	r, eng := dockerResolver(t, WithRepoRoot(writeFixture(t, files)))
	ctx := testContext(t, 2*time.Minute)

	img, err := r.Resolve(ctx, SampleService)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := eng.Client().ImageRemove(context.WithoutCancel(ctx), img.Ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		assert.NoError(t, err, "remove test image %s", img.Ref)
	})
	assert.Equal(t, SourceBuilt, img.Source)
	checkBuiltImage(t, eng, img, SampleService, []string{"/sample-service"}, nil)

	// The classic builder's intermediate containers are gone.
	list, err := eng.Client().ContainerList(ctx, client.ContainerListOptions{All: true})
	require.NoError(t, err)
	for _, c := range list.Items {
		assert.False(t, slices.Contains([]string{img.ID, img.Ref}, c.ImageID), "container %s left from the build", c.ID)
	}

	start := time.Now()
	again, err := r.Resolve(ctx, SampleService)
	require.NoError(t, err)
	assert.Equal(t, SourceLocal, again.Source)
	assert.Equal(t, img.ID, again.ID)
	assert.Less(t, time.Since(start), time.Second)
}
