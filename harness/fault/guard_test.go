package fault_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/retry"
)

// fileFault records Inject and Revert as lines in a file, so that another
// process can see them. failInject makes Inject fail after it "acted".
type fileFault struct {
	path       string
	failInject bool
	mu         sync.Mutex
	in         bool
}

func (f *fileFault) Name() string { return "file " + filepath.Base(f.path) }

func (f *fileFault) log(line string) error {
	fh, err := os.OpenFile(f.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = fh.WriteString(line + "\n")
	return err
}

func (f *fileFault) Inject(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.in = true
	if err := f.log("inject"); err != nil {
		return err
	}
	if f.failInject {
		return errors.New("half-way failure")
	}
	return nil
}

func (f *fileFault) Revert(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.in {
		return nil
	}
	f.in = false
	return f.log("revert")
}

func (f *fileFault) lines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return strings.Fields(string(b))
}

func newFileFault(t *testing.T) *fileFault {
	return &fileFault{path: filepath.Join(t.TempDir(), "fault.log")}
}

func TestApplyRevertsOnEveryWayOut(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		f := newFileFault(t)
		ran := false
		require.NoError(t, fault.Apply(context.Background(), f, func(context.Context) error {
			ran = true
			require.Equal(t, []string{"inject"}, f.lines(t), "in force during the callback")
			return nil
		}))
		require.True(t, ran)
		require.Equal(t, []string{"inject", "revert"}, f.lines(t))
	})
	t.Run("failure", func(t *testing.T) {
		f := newFileFault(t)
		boom := errors.New("boom")
		err := fault.Apply(context.Background(), f, func(context.Context) error { return boom })
		require.ErrorIs(t, err, boom)
		require.Equal(t, []string{"inject", "revert"}, f.lines(t))
	})
	t.Run("inject fails half-way", func(t *testing.T) {
		f := newFileFault(t)
		f.failInject = true
		ran := false
		err := fault.Apply(context.Background(), f, func(context.Context) error { ran = true; return nil })
		require.ErrorContains(t, err, "half-way failure")
		require.False(t, ran, "during does not run without the fault")
		require.Equal(t, []string{"inject", "revert"}, f.lines(t), "what inject did is reverted")
	})
	t.Run("panic", func(t *testing.T) {
		f := newFileFault(t)
		func() {
			defer func() {
				require.Equal(t, "kaboom", recover(), "the panic goes on after the revert")
			}()
			_ = fault.Apply(context.Background(), f, func(context.Context) error { panic("kaboom") })
		}()
		require.Equal(t, []string{"inject", "revert"}, f.lines(t))
	})
	t.Run("timeout", func(t *testing.T) {
		f := newFileFault(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := fault.Apply(ctx, f, func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, []string{"inject", "revert"}, f.lines(t))
	})
}

func TestGuardRevertsNewestFirstAndKeepsFailures(t *testing.T) {
	ctx := context.Background()
	var order []string
	var mu sync.Mutex
	mk := func(name string, fail bool) fault.Fault {
		return &funcFault{name: name, revert: func() error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			if fail {
				return fmt.Errorf("%s will not go", name)
			}
			return nil
		}}
	}
	g := fault.NewGuard()
	a, b, c := mk("a", false), mk("b", true), mk("c", false)
	for _, f := range []fault.Fault{a, b, c} {
		require.NoError(t, g.Inject(ctx, f))
	}
	err := g.RevertAll(ctx)
	require.ErrorContains(t, err, "b will not go")
	require.Equal(t, []string{"c", "b", "a"}, order)
	order = nil
	require.Error(t, g.RevertAll(ctx), "the failed one is tried again")
	require.Equal(t, []string{"b"}, order)
}

type funcFault struct {
	name   string
	revert func() error
}

func (f *funcFault) Name() string                     { return f.name }
func (f *funcFault) Inject(context.Context) error     { return nil }
func (f *funcFault) Revert(ctx context.Context) error { return f.revert() }

// envGuardChild selects the role of a re-executed test binary.
const envGuardChild = "OKBREAK_FAULT_TEST_GUARD_CHILD"

// TestGuardChild is the child of TestSignalsRevert: it applies a fileFault
// under SignalContext and waits for a signal.
func TestGuardChild(t *testing.T) {
	path := os.Getenv(envGuardChild)
	if path == "" {
		t.Skip("runs only as the child of TestSignalsRevert")
	}
	ctx, stop := fault.SignalContext(context.Background())
	defer stop()
	f := &fileFault{path: path}
	err := fault.Apply(ctx, f, func(ctx context.Context) error {
		if err := f.log("waiting"); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return errors.New("no signal came")
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, f.log("exiting"))
}

func TestSignalsRevert(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFileFault(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestGuardChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), envGuardChild+"="+f.path)
			out := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = out, out
			require.NoError(t, cmd.Start())
			defer func() { _ = cmd.Process.Kill() }()
			require.NoError(t, retry.Until(context.Background(), "child in force", 20*time.Second, 10*time.Millisecond, func(context.Context) error {
				if strings.Join(f.lines(t), " ") != "inject waiting" {
					return retry.ErrNotYet
				}
				return nil
			}))
			require.NoError(t, cmd.Process.Signal(sig))
			require.NoError(t, cmd.Wait(), "the child exits normally after reverting:\n%s", out)
			require.Equal(t, []string{"inject", "waiting", "revert", "exiting"}, f.lines(t), "child output:\n%s", out)
		})
	}
}
