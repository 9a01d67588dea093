package stack

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// ContainerState is what the engine says of one component's container: the
// facts a kube-state-metrics-like exporter publishes, nothing about faults.
type ContainerState struct {
	Component  string
	Status     string // created, running, paused, restarting, exited, dead
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	// RestartCount counts restarts by the restart policy.
	RestartCount int
	ExitCode     int
	StartedAt    time.Time
	FinishedAt   time.Time
}

// ContainerStates inspects every component's container. A container that is
// gone is reported with Status "missing" rather than failing the call, so
// that an exporter keeps publishing the others.
func (s *Stack) ContainerStates(ctx context.Context) ([]ContainerState, error) {
	s.mu.Lock()
	names := make([]string, 0, len(s.containers))
	for n := range s.containers {
		names = append(names, n)
	}
	s.mu.Unlock()
	sort.Strings(names)
	out := make([]ContainerState, 0, len(names))
	for _, n := range names {
		ctr, err := s.Container(n)
		if err != nil {
			continue
		}
		ins, err := ctr.Inspect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("container states: %w", ctx.Err())
			}
			out = append(out, ContainerState{Component: n, Status: "missing"})
			continue
		}
		st := ContainerState{Component: n, RestartCount: ins.RestartCount}
		if ins.State != nil {
			st.Status = string(ins.State.Status)
			st.Running = ins.State.Running
			st.Paused = ins.State.Paused
			st.Restarting = ins.State.Restarting
			st.OOMKilled = ins.State.OOMKilled
			st.ExitCode = ins.State.ExitCode
			st.StartedAt, _ = time.Parse(time.RFC3339Nano, ins.State.StartedAt)
			st.FinishedAt, _ = time.Parse(time.RFC3339Nano, ins.State.FinishedAt)
		}
		out = append(out, st)
	}
	return out, nil
}
