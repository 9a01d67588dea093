package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
)

// crashSignals are the signals a crash may use: the ones that end a process
// at once the way the kernel or the runtime would (SIGKILL: the OOM killer;
// SIGABRT: an abort or a Go runtime crash). SIGSEGV and SIGBUS sent by kill
// are ignored by Go programs, so they would not crash the sample services.
var crashSignals = map[string]syscall.Signal{"KILL": syscall.SIGKILL, "ABRT": syscall.SIGABRT}

// restartable components have a restart policy that answers a crash.
func restartable(c stack.Component) bool { return c.Restart != "" && c.Restart != stack.RestartNo }

func init() {
	known := []string{"signal"}
	mustRegister(Type{
		Name: "crash", Kind: Process, Params: known, Targets: componentsWhere(restartable),
		Doc: "crashes a component's main process with a signal from the engine's host (as the OOM killer would); its restart policy brings it back",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, known...)
			sig := p.choice("signal", "KILL", "KILL", "ABRT")
			if err := p.err(); err != nil {
				return nil, err
			}
			if hs, ok := env.(HostSignaller); ok && !hs.SignalsFromHost() {
				return nil, errors.New("crash sends a signal from the engine's host, and this system's containers run on another host's engine: refused (a docker kill there would not trigger the restart policy as a crash does); use terminate or crash_loop")
			}
			pf, err := newProcessFault(spec, def, env,
				restartable,
				"a crash is answered by the restart policy, and this component has none",
				"crash %s (SIG"+sig+" to its main process from the host)")
			if err != nil {
				return nil, err
			}
			return &crashFault{processFault: pf, signal: crashSignals[sig]}, nil
		},
	})
}

// crashFault sends a signal to a container's main process from the host.
// Unlike docker kill, which marks the container as stopped by hand, this is
// a crash to the engine, and the restart policy answers it.
type crashFault struct {
	processFault
	signal syscall.Signal
}

// Inject implements Fault. It returns once the process is dead; facts say
// which PID died and the restart count before.
func (f *crashFault) Inject(ctx context.Context) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	ctr, err := stack.Inspect(ctx, f.container)
	if err != nil {
		return f.wrapInject(err)
	}
	pid, err := stack.MainPID(ctx, f.container)
	if err != nil {
		return f.wrapInject(err)
	}
	if err := f.begin(newID(), f.startUndo()); err != nil {
		return f.wrapInject(err)
	}
	f.setFact("pid", pid)
	f.setFact("restart_count_before", ctr.RestartCount)
	t0 := time.Now()
	if err := syscall.Kill(pid, f.signal); err != nil {
		if errors.Is(err, syscall.EPERM) {
			err = fmt.Errorf("%w: signalling a container's process from the host needs root on the engine's host", err)
		}
		return f.wrapInject(fmt.Errorf("kill -%d %d: %w", f.signal, pid, err))
	}
	// Dead means the PID is gone (or a zombie awaiting its parent), or the
	// container already runs another process.
	err = retry.Until(ctx, fmt.Sprintf("PID %d of %s to die", pid, f.container), 10*time.Second, 5*time.Millisecond, func(ctx context.Context) error {
		if gone(pid) {
			return nil
		}
		ctr, err := stack.Inspect(ctx, f.container)
		if err == nil && ctr.State != nil && ctr.State.Pid != pid {
			return nil
		}
		return retry.ErrNotYet
	})
	if err != nil {
		return f.wrapInject(err)
	}
	f.setFact("died_in", time.Since(t0).Round(time.Millisecond))
	return nil
}

// gone tells whether a PID no longer names a live process.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// Field 3, after the command in parentheses, is the state; Z is a
	// zombie.
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
		}
	}
	return false
}
