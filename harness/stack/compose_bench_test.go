package stack_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/sample"
)

// BenchmarkComposeUp is BenchmarkStackUp's yardstick: the same default
// stack (grpc data plane), rendered as `okbreak compose` renders it, started
// by `docker-compose up -d` under a fresh project name every iteration, up
// to the end condition stack.Up has (stack.WaitAnswered: traffic through
// client->edge answered by every backend). `docker-compose down -v` is not
// timed. Run it paired with BenchmarkStackUp, one process each, so that the
// machine's drift cancels out in the ratio.
func BenchmarkComposeUp(b *testing.B) {
	ctx := context.Background()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		b.Fatalf("docker-compose, the yardstick, is not on PATH (Debian: apt-get install docker-compose): %v", err)
	}
	def, err := sample.Rendering(stack.GRPC)
	if err != nil {
		b.Fatal(err)
	}
	file := writeCompose(b, def)
	env := composeImages(ctx, b, def)
	entry, ports := composeEntry(b, def)
	for _, p := range ports {
		// The rendering publishes fixed loopback ports so that a game day
		// has fixed addresses: a stack left holding one would fail the
		// first up with a message about the port, not about okbreak.
		l, err := net.Listen("tcp", net.JoinHostPort(stack.Loopback.String(), strconv.Itoa(p)))
		if err != nil {
			b.Fatalf("127.0.0.1:%d, which the rendering publishes, is taken (a compose stack left up? `docker ps`): %v", p, err)
		}
		l.Close()
	}

	// One project name per process and iteration: a leftover of an earlier
	// run can never be taken for this one's containers.
	prefix := "okbreak-bench-" + stack.NewRunID()
	var live string
	down := func() {
		if live == "" {
			return
		}
		dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if out, err := compose(dctx, bin, file, live, env, "down", "-v", "--remove-orphans", "--timeout", "0"); err != nil {
			b.Errorf("docker-compose down (project %s): %v\n%s", live, err, out)
		}
		live = ""
	}
	b.Cleanup(down)
	b.ResetTimer()
	for i := range b.N {
		live = fmt.Sprintf("%s-%d", prefix, i)
		if out, err := compose(ctx, bin, file, live, env, "up", "-d"); err != nil {
			b.Fatalf("docker-compose up (project %s): %v\n%s", live, err, out)
		}
		if err := stack.WaitAnswered(ctx, entry, def.Entry, time.Minute); err != nil {
			b.Fatalf("compose project %s: %v", live, err)
		}
		b.StopTimer()
		down()
		b.StartTimer()
	}
}

// writeCompose writes def's rendering (docker-compose.yml and the files it
// mounts) to a temporary folder and returns the compose file's path.
func writeCompose(b *testing.B, def stack.Definition) string {
	files, err := def.ComposeFiles()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for _, p := range stack.ComposePaths(files) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatalf("write rendering: %v", err)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			b.Fatalf("write rendering: %v", err)
		}
	}
	return filepath.Join(dir, "docker-compose.yml")
}

// composeImages resolves every image of def, untimed, as BenchmarkStackUp
// does, and returns the OKBREAK_<NAME>_IMAGE variables that make the
// rendering run exactly those images: the two sides start the same
// binaries whatever okbreak/<name>:latest points at.
func composeImages(ctx context.Context, b *testing.B, def stack.Definition) []string {
	r, err := stack.NewResolver(ctx, def, func(string, ...any) {})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	env := os.Environ()
	seen := map[image.Name]bool{}
	for _, c := range def.Components {
		if seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		img, err := r.Resolve(ctx, c.Image)
		if err != nil {
			b.Fatalf("image %s: %v", c.Image, err)
		}
		env = append(env, image.EnvVar(c.Image)+"="+img.Ref)
	}
	return env
}

// composeEntry is the rendering's way in for the probe and the fixed host
// ports it publishes: ComposeFiles publishes the entry link's listener, and
// with one Toxiproxy its API, on the same port number on 127.0.0.1.
func composeEntry(b *testing.B, def stack.Definition) (string, []int) {
	l, ok := def.Link(def.Entry.Link)
	if !ok {
		b.Fatalf("entry link %q: no such link", def.Entry.Link)
	}
	ports := []int{l.Listen}
	if len(def.Proxies()) == 1 {
		ports = append(ports, stack.PortToxiproxy)
	}
	return "http://" + net.JoinHostPort(stack.Loopback.String(), strconv.Itoa(l.Listen)), ports
}

// compose runs docker-compose on file under project and returns what it
// printed.
func compose(ctx context.Context, bin, file, project string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-p", project, "-f", file}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %v: %w", bin, args, err)
	}
	return out, nil
}
