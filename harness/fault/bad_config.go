package fault

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/okbreak/okbreak/fixtures"
	"github.com/okbreak/okbreak/harness/image"
	"github.com/okbreak/okbreak/harness/stack"
)

// BrokenGRPCBootstrap is the xDS bootstrap the gRPC data plane cannot load
// (it is not even JSON).
const BrokenGRPCBootstrap = `{"xds_servers": [{"server_uri": "toxiproxy:10001",`

// BrokenEnvoyBootstrap is the fixture Envoy cannot load.
const BrokenEnvoyBootstrap = "stacks/default/envoy-bootstrap-broken.yaml"

// badConfigEnv is what a sample-service component without a config file
// gets instead: values its flag parser refuses (exit 2). The sample service
// reads only the variables of its role, so there is one for each.
var badConfigEnv = []string{"OKBREAK_LATENCY", "OKBREAK_ATTEMPTS"}

// breakable components have a config okbreak knows how to break: the
// sample service's (a bootstrap file or a flag), Envoy's bootstrap.
func breakable(c stack.Component) bool {
	return c.Image == image.SampleService || (c.Image == image.Envoy && len(c.Files) > 0)
}

func init() {
	known := []string{"content", "exit_within"}
	mustRegister(Type{
		Name: "bad_config_at_start", Kind: Process, Params: known, Targets: componentsWhere(breakable),
		Doc: "starts a second instance of a component beside the serving one, on the same network without its alias, with a config it cannot load; records its exit code and how fast it exited",
		New: func(spec Spec, def stack.Definition, env Env) (Fault, error) {
			p := newParams(spec.Params, known...)
			content := p.str("content", "")
			within := p.duration("exit_within", 30*time.Second, false)
			if err := p.err(); err != nil {
				return nil, err
			}
			pf, err := newProcessFault(spec, def, env, breakable,
				"okbreak knows how to break the config of the sample service and of Envoy only",
				"second instance of %s with a config it cannot load")
			if err != nil {
				return nil, err
			}
			f := &badConfigFault{processFault: pf, within: within}
			switch {
			case len(pf.comp.Files) > 0:
				f.file = loadedConfig(pf.comp)
				f.content = []byte(content)
				if content == "" && pf.comp.Image == image.Envoy {
					b, err := fixtures.Read(BrokenEnvoyBootstrap)
					if err != nil {
						return nil, err
					}
					f.content = b
				} else if content == "" {
					f.content = []byte(BrokenGRPCBootstrap)
				}
			case content != "":
				return nil, fmt.Errorf("param content: component %s has no config file to put it in", pf.comp.Name)
			}
			return f, nil
		},
	})
}

// badConfigFault starts a second instance that cannot load its config. A
// watcher records its exit. The instance has no restart policy (a rollout
// that fails stays failed) and no alias, so it never takes traffic.
type badConfigFault struct {
	processFault
	file    string // the config file replaced; "" for a bad environment
	content []byte
	within  time.Duration

	wmu    sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Inject implements Fault. It returns once the second instance started;
// Facts (exited, exit_code, time_to_exit, log) fill in when it exits.
func (f *badConfigFault) Inject(ctx context.Context) error {
	f.st.op.Lock()
	defer f.st.op.Unlock()
	orig, err := stack.SpecOf(ctx, f.env.Run(), f.comp)
	if err != nil {
		return f.wrapInject(err)
	}
	id := newID()
	second := orig
	second.Name = orig.Name + "-badconfig-" + id
	second.Aliases = nil
	second.Publish = false
	second.Ready = nil
	second.Restart = stack.RestartNo
	// The second instance belongs to the injector: if it dies, sweeping
	// its dead runs removes the instance too.
	second.Labels = maps.Clone(orig.Labels)
	maps.Copy(second.Labels, stack.RunLabels(f.env.Run()))
	second.Labels[stack.LabelFault] = id
	second.Files = slices.Clone(orig.Files)
	second.Env = slices.Clone(orig.Env)
	if f.file != "" {
		second.SetFile(f.file, f.content)
	} else {
		for _, v := range badConfigEnv {
			second.SetEnv(v, "not-a-number")
		}
	}
	if err := f.begin(id, []Undo{{Action: UndoRemoveContainer, Container: second.Name}}); err != nil {
		return f.wrapInject(err)
	}
	f.setFact("container", second.Name)
	t0 := time.Now()
	cid, err := stack.CreateContainer(ctx, second)
	if err != nil {
		return f.wrapInject(err)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.within)
	done := make(chan struct{})
	f.wmu.Lock()
	f.cancel, f.done = cancel, done
	f.wmu.Unlock()
	go f.watch(wctx, cid, t0, done)
	return nil
}

// watch waits for the second instance to exit and records how.
func (f *badConfigFault) watch(ctx context.Context, id string, t0 time.Time, done chan struct{}) {
	defer close(done)
	cli, err := stack.Docker(ctx)
	if err != nil {
		f.setFact("watch_error", err.Error())
		return
	}
	w := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
	case err := <-w.Error:
		if ctx.Err() != nil {
			f.setFact("exited", false)
			f.setFact("still_running_after", time.Since(t0).Round(time.Millisecond))
			return
		}
		f.setFact("watch_error", err.Error())
		return
	case <-ctx.Done():
		f.setFact("exited", false)
		f.setFact("still_running_after", time.Since(t0).Round(time.Millisecond))
		return
	}
	wall := time.Since(t0)
	ctr, err := stack.Inspect(ctx, id)
	if err != nil {
		f.setFact("watch_error", err.Error())
		return
	}
	f.setFact("exited", true)
	f.setFact("exit_code", ctr.State.ExitCode)
	// The engine's own clock, from process start to exit; wall is from
	// the create call, image start-up included.
	started, err1 := time.Parse(time.RFC3339Nano, ctr.State.StartedAt)
	finished, err2 := time.Parse(time.RFC3339Nano, ctr.State.FinishedAt)
	if err1 == nil && err2 == nil && !finished.Before(started) {
		f.setFact("time_to_exit", finished.Sub(started).Round(time.Millisecond))
	}
	f.setFact("time_to_exit_wall", wall.Round(time.Millisecond))
	if rc, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "5"}); err == nil {
		b, _ := io.ReadAll(io.LimitReader(rc, 8<<10))
		rc.Close()
		f.setFact("log", cleanLog(b))
	}
}

// cleanLog strips Docker's 8-byte stream headers from a non-TTY log.
func cleanLog(b []byte) string {
	var out []string
	for len(b) >= 8 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		if n < 0 || 8+n > len(b) {
			break
		}
		out = append(out, strings.TrimSpace(string(b[8:8+n])))
		b = b[8+n:]
	}
	return strings.Join(out, "\n")
}

// ExitFacts reports the second instance's exit as typed values: whether it
// exited yet, its code, and its time from start to exit.
func (f *badConfigFault) ExitFacts() (exited bool, code int, after time.Duration) {
	fs := f.Facts()
	exited, _ = fs["exited"].(bool)
	code, _ = fs["exit_code"].(int)
	if s, ok := fs["time_to_exit"].(string); ok {
		after, _ = time.ParseDuration(s)
	}
	return exited, code, after
}

// Outcome implements Outcomer: the second instance must have exited with a
// non-zero code within exit_within. It waits for the watcher, which gives up
// at exit_within.
func (f *badConfigFault) Outcome(ctx context.Context) error {
	f.wmu.Lock()
	done := f.done
	f.wmu.Unlock()
	if done == nil {
		return fmt.Errorf("%s: no second instance is being watched", f.Name())
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%s: waiting for the second instance to exit: %w", f.Name(), ctx.Err())
	}
	fs := f.Facts()
	if e, ok := fs["watch_error"].(string); ok {
		return fmt.Errorf("%s: watching the second instance: %s", f.Name(), e)
	}
	exited, code, after := f.ExitFacts()
	switch {
	case !exited:
		return fmt.Errorf("the new instance of %s with a config it cannot load was still running after %s (want: exit non-zero within %s)", f.comp.Name, f.within, f.within)
	case code == 0:
		return fmt.Errorf("the new instance of %s with a config it cannot load exited 0 (want: non-zero, so that the rollout sees it failed)", f.comp.Name)
	case after > f.within:
		return fmt.Errorf("the new instance of %s took %s to exit (want: within %s)", f.comp.Name, after, f.within)
	}
	return nil
}

// Revert implements Fault: it stops the watcher and removes the second
// instance.
func (f *badConfigFault) Revert(ctx context.Context) error {
	f.wmu.Lock()
	cancel, done := f.cancel, f.done
	f.cancel, f.done = nil, nil
	f.wmu.Unlock()
	if cancel != nil {
		// Let the watcher record an exit that already happened.
		select {
		case <-done:
		case <-time.After(200 * time.Millisecond):
		}
		cancel()
		<-done
	}
	return f.base.Revert(ctx)
}

// loadedConfig is the file a component's process loads: the first of its
// files that its command names (an overlay can leave another data plane's
// file mounted beside it, as Compose merges lists), else its first file.
func loadedConfig(c stack.Component) string {
	for _, f := range c.Files {
		for _, arg := range append(slices.Clone(c.Entrypoint), c.Cmd...) {
			if strings.Contains(arg, f.Path) {
				return f.Path
			}
		}
	}
	return c.Files[0].Path
}
