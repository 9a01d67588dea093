package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// ImageInfo is what resolution needs to know about a local image.
type ImageInfo struct {
	ID     string
	Labels map[string]string
}

// BuildRequest is one image build: a tar build context holding a Dockerfile.
type BuildRequest struct {
	Ref     string
	Labels  map[string]string
	Context io.Reader
}

// Engine is the narrow part of a container engine that image resolution
// uses. Implementations must be safe for concurrent use.
type Engine interface {
	// Inspect looks ref up locally; found is false (with a nil error) when
	// the engine answers that it has no such image.
	Inspect(ctx context.Context, ref string) (info ImageInfo, found bool, err error)
	// Pull fetches ref from its registry and returns when the pull is done.
	Pull(ctx context.Context, ref string) error
	// Build builds and tags an image and returns when the build is done.
	Build(ctx context.Context, req BuildRequest) error
	// Arch is the engine's GOARCH-style architecture (amd64, arm64, ...),
	// the architecture binaries must be built for.
	Arch(ctx context.Context) (string, error)
	// Close releases the connection.
	Close() error
}

// DockerEngine is the Engine of a Docker daemon, reached the way
// testcontainers-go reaches it (same host, TLS and API-version negotiation),
// so that images land where the stack's containers run. Safe for concurrent
// use.
type DockerEngine struct {
	cli *client.Client
}

// NewDockerEngine connects to the Docker daemon and checks that it answers.
func NewDockerEngine(ctx context.Context) (*DockerEngine, error) {
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the Docker engine (is it running? `docker info` must answer): %w", err)
	}
	return &DockerEngine{cli: dc.Client}, nil
}

// Client exposes the underlying Docker client (tests clean up with it).
func (d *DockerEngine) Client() *client.Client { return d.cli }

// Inspect implements Engine.
func (d *DockerEngine) Inspect(ctx context.Context, ref string) (ImageInfo, bool, error) {
	res, err := d.cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return ImageInfo{}, false, nil
	}
	if err != nil {
		return ImageInfo{}, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	info := ImageInfo{ID: res.ID}
	if res.Config != nil {
		info.Labels = res.Config.Labels
	}
	return info, true, nil
}

// Pull implements Engine.
func (d *DockerEngine) Pull(ctx context.Context, ref string) error {
	resp, err := d.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	return nil
}

// Build implements Engine with the classic builder, which every engine
// version has and which needs nothing but the context for FROM scratch.
func (d *DockerEngine) Build(ctx context.Context, req BuildRequest) error {
	res, err := d.cli.ImageBuild(ctx, req.Context, client.ImageBuildOptions{
		Tags:        []string{req.Ref},
		Labels:      req.Labels,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", req.Ref, err)
	}
	defer res.Body.Close()
	// The daemon reports build failures inside the stream, not as a status.
	var tail []string
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("build image %s: read build output: %w", req.Ref, err)
		}
		if m.Error != nil {
			return fmt.Errorf("build image %s: %s (output: %s)", req.Ref, m.Error.Message, strings.Join(tail, " | "))
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			tail = append(tail, s)
			if len(tail) > 8 {
				tail = tail[1:]
			}
		}
	}
}

// Arch implements Engine.
func (d *DockerEngine) Arch(ctx context.Context) (string, error) {
	v, err := d.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("docker server version: %w", err)
	}
	if v.Os != "" && v.Os != "linux" {
		return "", fmt.Errorf("docker engine runs %s containers; okbreak images are linux", v.Os)
	}
	return v.Arch, nil
}

// Close implements Engine.
func (d *DockerEngine) Close() error { return d.cli.Close() }

// buildContext returns an in-memory tar holding the Dockerfile and the
// binary. Entries have fixed times and owners so the same inputs give the
// same context.
func buildContext(dockerfile, binaryName, binaryPath string) (*bytes.Buffer, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("read built binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, body []byte) error {
		hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar header %s: %w", name, err)
		}
		if _, err := tw.Write(body); err != nil {
			return fmt.Errorf("tar %s: %w", name, err)
		}
		return nil
	}
	if err := add("Dockerfile", 0o644, []byte(dockerfile)); err != nil {
		return nil, err
	}
	if err := add(binaryName, 0o755, bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close build context: %w", err)
	}
	return &buf, nil
}
