package stack

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/testcontainers/testcontainers-go"
)

// LogTail returns the last n lines a component's container logged.
func (s *Stack) LogTail(ctx context.Context, component string, n int) (string, error) {
	ctr, err := s.Container(component)
	if err != nil {
		return "", err
	}
	return tail(ctx, ctr, n)
}

func tail(ctx context.Context, ctr *testcontainers.DockerContainer, n int) (string, error) {
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", ctr.GetContainerID()[:12], err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4<<20))
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", ctr.GetContainerID()[:12], err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}
