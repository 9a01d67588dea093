package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go/wait"
)

// readyPoll is how often a starting component's readiness endpoint is
// asked: one request on loopback. Every stage waits for its slowest
// component, so the interval adds up once per stage.
const readyPoll = 10 * time.Millisecond

// statePoll is how often the container's state is checked meanwhile, so
// that one that exited fails the start at once instead of at the deadline.
// Each check is a Docker API call: asked at readyPoll by every component
// of a stage, they would load the engine while it is still starting the
// stage's other containers.
const statePoll = 250 * time.Millisecond

// httpReady waits until GET path on a container's published port answers
// 200, as wait.ForHTTP does, but without a container inspect before every
// request: ForHTTP's inspect each poll made short intervals cost the
// engine more than they saved.
type httpReady struct {
	port string // "8081/tcp"
	path string
}

var _ wait.Strategy = httpReady{}

// String names the wait in testcontainers' messages.
func (w httpReady) String() string {
	return fmt.Sprintf("HTTP 200 from %s on port %s", w.path, w.port)
}

// WaitUntilReady implements wait.Strategy. The deadline is ctx's
// (testcontainers.WithWaitStrategyAndDeadline).
func (w httpReady) WaitUntilReady(ctx context.Context, target wait.StrategyTarget) error {
	host, err := target.Host(ctx)
	if err != nil {
		return fmt.Errorf("wait for %s: host: %w", w, err)
	}
	port, err := target.MappedPort(ctx, w.port)
	for err != nil || port.IsZero() {
		if serr := running(ctx, target); serr != nil {
			return fmt.Errorf("wait for %s: %w", w, serr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: no host port: %w (last: %w)", w, ctx.Err(), err)
		case <-time.After(readyPoll):
		}
		port, err = target.MappedPort(ctx, w.port)
	}
	url := "http://" + net.JoinHostPort(host, port.Port()) + w.path
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Second}
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	checked := time.Now()
	var last error
	for {
		if last = get200(ctx, hc, url); last == nil {
			return nil
		}
		if time.Since(checked) >= statePoll {
			if err := running(ctx, target); err != nil {
				return fmt.Errorf("wait for %s: %w (last answer: %w)", w, err, last)
			}
			checked = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last answer: %w)", w, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// get200 asks url once; nil means 200. Every readiness check of a
// component (a start here, a start again after a fault: spec.go) asks
// this way.
func get200(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// running fails when the container is not running: the same judgement
// (and messages) as testcontainers' own waits, which give up on a
// container that exited rather than wait for it to the deadline.
func running(ctx context.Context, target wait.StrategyTarget) error {
	st, err := target.State(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("get state: %w", err)
	case st.Running:
		return nil
	case st.OOMKilled:
		return errors.New("container crashed with out-of-memory (OOMKilled)")
	case st.Status == container.StateExited:
		return fmt.Errorf("container exited with code %d", st.ExitCode)
	default:
		return fmt.Errorf("unexpected container status %q", st.Status)
	}
}
