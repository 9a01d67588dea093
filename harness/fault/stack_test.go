package fault_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/sample"
)

// TestFaultsOnTheStack puts every fault type, and every fault of the
// catalog, in force on one shared stack (grpc data plane), observes its
// effect through the system, reverts it, observes that the effect is gone,
// and checks the stack's steady state before the next one.
func TestFaultsOnTheStack(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	t.Setenv(stack.EnvStateDir, t.TempDir())
	s := stacktest.Up(t, ctx, stack.GRPC)
	h := newSUT(t, ctx, s)

	run := func(name string, spec fault.Spec, during, after func(t *testing.T, f fault.Fault)) {
		t.Run(name, func(t *testing.T) {
			t0 := time.Now()
			f := h.fault(t, spec)
			err := fault.Apply(ctx, f, func(ctx context.Context) error {
				during(t, f)
				return nil
			})
			require.NoError(t, err)
			if after != nil {
				after(t, f)
			}
			// Every injection the journal holds is closed.
			entries, err := fault.OpenJournal(s.StateDir()).Entries()
			require.NoError(t, err)
			require.Empty(t, fault.OpenInjections(entries), "open journal entries")
			h.steady(t, ctx)
			t.Logf("%s: %s", name, time.Since(t0).Round(time.Millisecond))
		})
	}

	// --- network faults, observed by a client on client->edge ---

	run("latency on client->edge is measured by a client", fault.Spec{Type: "latency", Target: "client->edge", Params: map[string]any{"latency": "300ms"}},
		func(t *testing.T, _ fault.Fault) {
			st := h.toxics(t, ctx)
			require.Len(t, st.Toxics["client->edge"], 1, "one toxic, downstream: %s", st)
			ty := h.sample(ctx, 3, 5*time.Second)
			require.Equal(t, 3, ty.okTotal(), "%s", ty)
			require.GreaterOrEqual(t, ty.fastest, 300*time.Millisecond, "%s", ty)
		},
		func(t *testing.T, _ fault.Fault) {
			ty := h.sample(ctx, 5, 5*time.Second)
			require.Less(t, ty.fastest, 150*time.Millisecond, "latency gone after revert: %s", ty)
		})

	run("latency both ways counts twice", fault.Spec{Type: "latency", Target: "client->edge", Params: map[string]any{"latency": "150ms", "direction": "both"}},
		func(t *testing.T, _ fault.Fault) {
			require.Len(t, h.toxics(t, ctx).Toxics["client->edge"], 2)
			ty := h.sample(ctx, 3, 5*time.Second)
			require.GreaterOrEqual(t, ty.fastest, 300*time.Millisecond, "%s", ty)
		}, nil)

	run("bandwidth slows the answers", fault.Spec{Type: "bandwidth", Target: "client->edge", Params: map[string]any{"rate": 1}},
		func(t *testing.T, _ fault.Fault) {
			r := h.raw(ctx, 10*time.Second)
			require.NoError(t, r.Err)
			require.True(t, r.complete(), "%q", r.Data)
			// ~185 bytes at 1 KB/s.
			require.GreaterOrEqual(t, r.LastByte, 150*time.Millisecond, "%d bytes in %s", len(r.Data), r.LastByte)
		},
		func(t *testing.T, _ fault.Fault) {
			r := h.raw(ctx, 10*time.Second)
			require.True(t, r.complete())
			require.Less(t, r.LastByte, 100*time.Millisecond)
		})

	run("slow_close holds the connection open after the answer", fault.Spec{Type: "slow_close", Target: "client->edge", Params: map[string]any{"delay": "500ms"}},
		func(t *testing.T, _ fault.Fault) {
			r := h.raw(ctx, 10*time.Second)
			require.NoError(t, r.Err)
			require.True(t, r.complete(), "%q", r.Data)
			require.GreaterOrEqual(t, r.End-r.LastByte, 400*time.Millisecond, "close came %s after the last byte", r.End-r.LastByte)
		},
		func(t *testing.T, _ fault.Fault) {
			r := h.raw(ctx, 10*time.Second)
			require.True(t, r.complete())
			require.Less(t, r.End-r.LastByte, 200*time.Millisecond)
		})

	run("timeout stops data and closes the connection", fault.Spec{Type: "timeout", Target: "client->edge", Params: map[string]any{"timeout": "300ms"}},
		func(t *testing.T, _ fault.Fault) {
			// A kept-alive connection: the server never closes it, the
			// toxic does.
			r := h.rawConn(ctx, 10*time.Second, false)
			require.Empty(t, r.Data, "no data gets through")
			require.NoError(t, r.Err, "closed by the proxy")
			require.GreaterOrEqual(t, r.End, 250*time.Millisecond)
			require.Less(t, r.End, 5*time.Second, "closed after the timeout, not held")
		},
		func(t *testing.T, _ fault.Fault) { require.True(t, h.raw(ctx, 10*time.Second).complete()) })

	run("timeout 0 holds data forever", fault.Spec{Type: "timeout", Target: "client->edge"},
		func(t *testing.T, _ fault.Fault) {
			r := h.rawConn(ctx, 1500*time.Millisecond, false)
			require.Empty(t, r.Data)
			require.ErrorContains(t, r.Err, "i/o timeout", "the client gave up, the proxy never closed")
		}, nil)

	run("reset_peer ends the client's connection before any data", fault.Spec{Type: "reset_peer", Target: "client->edge", Params: map[string]any{"direction": "upstream"}},
		func(t *testing.T, _ fault.Fault) {
			// Through the published port, docker-proxy turns the reset
			// into a close: no data, and at once.
			r := h.rawConn(ctx, 5*time.Second, false)
			require.Empty(t, r.Data)
			require.Less(t, r.End, time.Second, "ended at once, not held: %v", r.Err)
			// On Toxiproxy's own address it is a reset.
			_, err := h.linkGet(t, ctx, "client->edge", "/")
			require.ErrorContains(t, err, "connection reset by peer")
		},
		func(t *testing.T, _ fault.Fault) { require.True(t, h.raw(ctx, 5*time.Second).complete()) })

	run("slicer cuts answers into small delayed pieces", fault.Spec{Type: "slicer", Target: "client->edge", Params: map[string]any{"average_size": 8, "size_variation": 4, "delay": "2ms"}},
		func(t *testing.T, _ fault.Fault) {
			r := h.raw(ctx, 10*time.Second)
			require.NoError(t, r.Err)
			require.True(t, r.complete(), "%q", r.Data)
			require.GreaterOrEqual(t, len(r.Reads), len(r.Data)/16, "reads %v", r.Reads)
			require.LessOrEqual(t, maxInt(r.Reads), 12, "no piece above average+variation: %v", r.Reads)
		},
		func(t *testing.T, _ fault.Fault) {
			r := h.raw(ctx, 10*time.Second)
			require.True(t, r.complete())
			require.LessOrEqual(t, len(r.Reads), 3, "reads %v", r.Reads)
		})

	run("limit_data cuts the connection after some bytes", fault.Spec{Type: "limit_data", Target: "client->edge", Params: map[string]any{"bytes": 40}},
		func(t *testing.T, _ fault.Fault) {
			r := h.raw(ctx, 5*time.Second)
			require.LessOrEqual(t, len(r.Data), 40)
			require.NotEmpty(t, r.Data)
			require.False(t, r.complete())
		},
		func(t *testing.T, _ fault.Fault) { require.True(t, h.raw(ctx, 5*time.Second).complete()) })

	run("toxicity 0 leaves every connection alone", fault.Spec{Type: "reset_peer", Target: "client->edge", Params: map[string]any{"toxicity": 0}},
		func(t *testing.T, _ fault.Fault) {
			require.Len(t, h.toxics(t, ctx).Toxics["client->edge"], 1)
			for range 5 {
				require.True(t, h.raw(ctx, 5*time.Second).complete())
			}
		}, nil)

	run("down on client->edge refuses connections", fault.Spec{Type: "down", Target: "client->edge"},
		func(t *testing.T, _ fault.Fault) {
			require.Equal(t, []string{"client->edge"}, h.toxics(t, ctx).Disabled)
			r := h.raw(ctx, 5*time.Second)
			// The host reaches the listener through Docker's userland proxy,
			// which accepts and then closes when the container refuses: a
			// reset when our request was already in its buffer, a plain close
			// when it was not (seen under CI load). Either way: no answer,
			// and at once.
			require.Empty(t, r.Data)
			require.Less(t, r.End, 4*time.Second, "the connection ended at once (err %v)", r.Err)
		},
		func(t *testing.T, _ fault.Fault) { require.True(t, h.raw(ctx, 5*time.Second).complete()) })

	// --- the catalog's faults (README, "The catalog"), observed through the system ---

	run("control-plane-down-5m: down on edge->xds", catalogFaults["control-plane-down-5m"],
		func(t *testing.T, _ fault.Fault) {
			eventually(t, ctx, "edge to lose its ADS stream", 10*time.Second, func(ctx context.Context) error {
				v, err := h.metric(ctx, sample.Edge, "okbreak_frontend_xds_connected")
				if err == nil && v != 0 {
					err = fmt.Errorf("connected %g", v)
				}
				return err
			})
			ty := h.sample(ctx, 20, 3*time.Second)
			require.Equal(t, 20, ty.okTotal(), "traffic goes on with the last config: %s", ty)
		},
		func(t *testing.T, _ fault.Fault) {
			eventually(t, ctx, "edge to get its ADS stream back", 30*time.Second, func(ctx context.Context) error {
				v, err := h.metric(ctx, sample.Edge, "okbreak_frontend_xds_connected")
				if err == nil && v != 1 {
					err = fmt.Errorf("connected %g", v)
				}
				return err
			})
		})

	run("control-plane-slow: 2s latency on edge->xds delays config", catalogFaults["control-plane-slow"],
		func(t *testing.T, _ fault.Fault) {
			d := h.nudge(t, ctx, 10*time.Second)
			require.GreaterOrEqual(t, d, 1800*time.Millisecond, "a registry change reached the edge in %s", d)
			ty := h.sample(ctx, 10, 3*time.Second)
			require.Equal(t, 10, ty.okTotal(), "traffic does not wait on the control plane: %s", ty)
		},
		func(t *testing.T, _ fault.Fault) {
			d := h.nudge(t, ctx, 10*time.Second)
			require.Less(t, d, time.Second, "a registry change reached the edge in %s after revert", d)
		})

	run("one-backend-slow: 2s latency on edge->backend-2", catalogFaults["one-backend-slow"],
		func(t *testing.T, _ fault.Fault) {
			ty := h.sample(ctx, 20, 5*time.Second)
			require.Zero(t, ty.ok["backend-2"], "backend-2 answers within the attempt timeout: %s", ty)
			require.GreaterOrEqual(t, ty.okTotal(), 18, "%s", ty)
			require.GreaterOrEqual(t, ty.slowest, 200*time.Millisecond, "some requests waited for backend-2: %s", ty)
		}, nil)

	run("one-backend-resets: reset_peer on edge->backend-2", catalogFaults["one-backend-resets"],
		func(t *testing.T, _ fault.Fault) {
			// A client on the link itself (reached on the Toxiproxy
			// container's own address, without docker-proxy in between)
			// sees the reset.
			_, err := h.linkGet(t, ctx, "edge->backend-2", "/healthz")
			require.Error(t, err)
			require.Contains(t, err.Error(), "connection reset by peer")
			// The data plane routes around it.
			ty := h.sample(ctx, 20, 5*time.Second)
			require.Zero(t, ty.ok["backend-2"], "%s", ty)
			require.GreaterOrEqual(t, ty.okTotal(), 18, "%s", ty)
		},
		func(t *testing.T, _ fault.Fault) {
			body, err := h.linkGet(t, ctx, "edge->backend-2", "/healthz")
			require.NoError(t, err)
			require.Contains(t, body, "200 OK")
		})

	run("all-backends-slow: 2s latency on edge->backend-*", catalogFaults["all-backends-slow"],
		func(t *testing.T, _ fault.Fault) {
			require.Len(t, h.toxics(t, ctx).Toxics, 3)
			ty := h.sample(ctx, 4, 5*time.Second)
			for inst, n := range ty.ok {
				require.Zero(t, n, "%s answered although every backend is 2s away: %s", inst, ty)
			}
			require.GreaterOrEqual(t, ty.fastest, 500*time.Millisecond, "%s", ty)
		}, nil)

	run("etcd-down: etcd stopped, then started", catalogFaults["etcd-down-10m"],
		func(t *testing.T, f fault.Fault) {
			ctr := h.inspect(t, ctx, stack.Etcd)
			require.False(t, ctr.State.Running, "etcd state %s", ctr.State.Status)
			eventually(t, ctx, "the control plane to lose etcd", 10*time.Second, func(ctx context.Context) error {
				v, err := h.metric(ctx, sample.ControlPlane, "okbreak_controlplane_etcd_reachable")
				if err == nil && v != 0 {
					err = fmt.Errorf("etcd_reachable %g", v)
				}
				return err
			})
			ty := h.sample(ctx, 20, 3*time.Second)
			require.Equal(t, 20, ty.okTotal(), "cached snapshot serves: %s", ty)
		},
		func(t *testing.T, _ fault.Fault) {
			require.True(t, h.inspect(t, ctx, stack.Etcd).State.Running)
			eventually(t, ctx, "the control plane to reach etcd again", 20*time.Second, func(ctx context.Context) error {
				v, err := h.metric(ctx, sample.ControlPlane, "okbreak_controlplane_etcd_reachable")
				if err == nil && v != 1 {
					err = fmt.Errorf("etcd_reachable %g", v)
				}
				return err
			})
		})

	run("pause freezes components (two targets: one fault)", fault.Spec{Type: "pause", Target: "backend-1,other-*"},
		func(t *testing.T, _ fault.Fault) {
			require.True(t, h.inspect(t, ctx, "backend-1").State.Paused)
			require.True(t, h.inspect(t, ctx, "other-1").State.Paused)
			ty := h.sample(ctx, 20, 5*time.Second)
			require.Zero(t, ty.ok["backend-1"], "%s", ty)
			require.GreaterOrEqual(t, ty.okTotal(), 14, "%s", ty)
		},
		func(t *testing.T, _ fault.Fault) {
			require.False(t, h.inspect(t, ctx, "backend-1").State.Paused)
			require.False(t, h.inspect(t, ctx, "other-1").State.Paused)
		})

	var startedAt string
	t.Run("restart: note when the control plane started", func(t *testing.T) {
		startedAt = h.inspect(t, ctx, sample.ControlPlane).State.StartedAt
	})
	run("restart restarts the control plane", fault.Spec{Type: "restart", Target: sample.ControlPlane, Params: map[string]any{"grace": "2s"}},
		func(t *testing.T, _ fault.Fault) {
			ctr := h.inspect(t, ctx, sample.ControlPlane)
			require.True(t, ctr.State.Running)
			require.NotEqual(t, startedAt, ctr.State.StartedAt, "started again")
			startedAt = ctr.State.StartedAt
		},
		func(t *testing.T, _ fault.Fault) {
			ctr := h.inspect(t, ctx, sample.ControlPlane)
			require.True(t, ctr.State.Running)
			require.Equal(t, startedAt, ctr.State.StartedAt, "revert of a restart does not restart again")
		})

	run("backend-terminated: terminated and not restarted", catalogFaults["backend-terminated"],
		func(t *testing.T, _ fault.Fault) {
			ctr := h.inspect(t, ctx, "backend-2")
			require.False(t, ctr.State.Running)
			restarts := ctr.RestartCount
			ty := h.sample(ctx, 20, 3*time.Second)
			require.Zero(t, ty.ok["backend-2"], "%s", ty)
			require.GreaterOrEqual(t, ty.okTotal(), 18, "%s", ty)
			time.Sleep(time.Second) // the restart policy would have acted by now
			ctr = h.inspect(t, ctx, "backend-2")
			require.False(t, ctr.State.Running, "the restart policy brought it back: %s", ctr.State.Status)
			require.Equal(t, restarts, ctr.RestartCount)
		}, nil)

	crash := func(name, component string, observe func(t *testing.T)) {
		run(name, catalogFaults[name], func(t *testing.T, f fault.Fault) {
			facts := f.(fault.Observer).Facts()
			before, ok := facts["restart_count_before"].(int)
			require.True(t, ok, "facts %v", facts)
			eventually(t, ctx, component+" brought back by its restart policy", 20*time.Second, func(ctx context.Context) error {
				ctr, err := stack.Inspect(ctx, stack.ContainerName(s.RunID, component))
				if err != nil {
					return err
				}
				if ctr.RestartCount != before+1 || !ctr.State.Running || ctr.State.Pid == facts["pid"] {
					return fmt.Errorf("restarts %d (before %d), %s, pid %d", ctr.RestartCount, before, ctr.State.Status, ctr.State.Pid)
				}
				return nil
			})
			observe(t)
		}, nil)
	}
	crash("one-backend-killed", "backend-2", func(t *testing.T) {
		require.NoError(t, h.s.WaitServing(ctx), "backend-2 rejoins")
	})
	crash("control-plane-restart", sample.ControlPlane, func(t *testing.T) {
		ty := h.sample(ctx, 10, 3*time.Second)
		require.Equal(t, 10, ty.okTotal(), "%s", ty)
	})
	crash("data-plane-crash", sample.Edge, func(t *testing.T) {
		require.NoError(t, h.s.WaitServing(ctx), "the edge serves again")
	})

	run("backend-crash-loop: backend-2 exits at start again and again", catalogFaults["backend-crash-loop"],
		func(t *testing.T, f fault.Fault) {
			eventually(t, ctx, "backend-2 to loop", 20*time.Second, func(ctx context.Context) error {
				ctr, err := stack.Inspect(ctx, stack.ContainerName(s.RunID, "backend-2"))
				if err != nil {
					return err
				}
				if ctr.RestartCount < 2 {
					return fmt.Errorf("restarts %d, %s", ctr.RestartCount, ctr.State.Status)
				}
				return nil
			})
			ctr := h.inspect(t, ctx, "backend-2")
			require.Contains(t, ctr.Config.Env, fault.EnvExitAtStart+"=1")
			require.Equal(t, 1, ctr.State.ExitCode)
			orig, _ := s.Def.Component("backend-2")
			require.Subset(t, ctr.NetworkSettings.Networks[firstKey(ctr.NetworkSettings.Networks)].Aliases, orig.Aliases, "same aliases")
			require.Equal(t, s.RunID, ctr.Config.Labels[stack.LabelRun], "same labels")
			ty := h.sample(ctx, 20, 3*time.Second)
			require.Zero(t, ty.ok["backend-2"], "%s", ty)
		},
		func(t *testing.T, f fault.Fault) {
			ctr := h.inspect(t, ctx, "backend-2")
			require.NotContains(t, ctr.Config.Env, fault.EnvExitAtStart+"=1")
			require.Empty(t, ctr.Config.Labels[stack.LabelFault])
			require.Zero(t, ctr.RestartCount, "a fresh original")
			require.GreaterOrEqual(t, f.(fault.Observer).Facts()["restarts"], 2)
		})

	badConfig := func(name string, spec fault.Spec, code int) {
		var second string
		run(name, spec,
			func(t *testing.T, f fault.Fault) {
				var facts fault.Facts
				eventually(t, ctx, "the second instance to exit", 20*time.Second, func(ctx context.Context) error {
					facts = f.(fault.Observer).Facts()
					if facts["exited"] != true {
						return fmt.Errorf("facts %v", facts)
					}
					return nil
				})
				require.Equal(t, code, facts["exit_code"], "facts %v", facts)
				d, err := time.ParseDuration(facts["time_to_exit"].(string))
				require.NoError(t, err)
				require.Less(t, d, 10*time.Second)
				second = facts["container"].(string)
				ctr, err := stack.Inspect(ctx, second)
				require.NoError(t, err)
				require.NotContains(t, ctr.NetworkSettings.Networks[firstKey(ctr.NetworkSettings.Networks)].Aliases, spec.Target, "no serving alias")
				ty := h.sample(ctx, 20, 3*time.Second)
				require.Equal(t, 20, ty.okTotal(), "the old instance keeps serving: %s", ty)
				t.Logf("second instance: exit %v after %v: %v", facts["exit_code"], facts["time_to_exit"], facts["log"])
			},
			func(t *testing.T, f fault.Fault) {
				_, err := stack.Inspect(ctx, second)
				require.True(t, stack.IsNotFound(err), "the second instance is removed: %v", err)
			})
	}
	badConfig("bad-config-at-start: second edge with a broken bootstrap", catalogFaults["bad-config-at-start"], 1)
	badConfig("bad config at start: second backend with a bad flag", fault.Spec{Type: "bad_config_at_start", Target: "backend-1"}, 2)

	run("xds-incomplete-data: empty endpoint set for backend", catalogFaults["xds-incomplete-data"],
		func(t *testing.T, _ fault.Fault) {
			eventually(t, ctx, "every request to fail", 10*time.Second, func(ctx context.Context) error {
				if ty := h.sample(ctx, 5, 3*time.Second); ty.okTotal() > 0 {
					return fmt.Errorf("%s", ty)
				}
				return nil
			})
		}, nil)

	run("xds-incorrect-data: route backend sent to other", catalogFaults["xds-incorrect-data"],
		func(t *testing.T, _ fault.Fault) {
			eventually(t, ctx, "other to refuse every request", 10*time.Second, func(ctx context.Context) error {
				ty := h.sample(ctx, 5, 3*time.Second)
				if ty.failed["502 PermissionDenied"] != 5 {
					return fmt.Errorf("%s", ty)
				}
				return nil
			})
		}, nil)

	run("xds-rejected-push: the data plane NACKs a backoff of 0s", catalogFaults["xds-rejected-push"],
		func(t *testing.T, _ fault.Fault) {
			eventually(t, ctx, "a NACK", 10*time.Second, func(ctx context.Context) error {
				edge, err := h.metric(ctx, sample.Edge, "okbreak_frontend_xds_resource_updates_total", "type", "rds", "result", "invalid")
				if err != nil {
					return err
				}
				cp, err := h.metric(ctx, sample.ControlPlane, "okbreak_controlplane_nacks_total")
				if err != nil {
					return err
				}
				if edge == 0 || cp == 0 {
					return fmt.Errorf("edge invalid rds updates %g, control plane NACKs %g", edge, cp)
				}
				return nil
			})
			ty := h.sample(ctx, 20, 3*time.Second)
			require.Equal(t, 20, ty.okTotal(), "the last good config serves: %s", ty)
		}, nil)
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func firstKey[V any](m map[string]V) string {
	for k := range m {
		return k
	}
	return ""
}
