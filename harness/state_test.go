package harness

import (
	"context"
	"testing"
	"time"

	"github.com/okbreak/okbreak/harness/stack"
)

type statesSeq struct{ seq [][]stack.ContainerState }

func (s *statesSeq) ContainerStates(context.Context) ([]stack.ContainerState, error) {
	out := s.seq[0]
	if len(s.seq) > 1 {
		s.seq = s.seq[1:]
	}
	return out, nil
}

// Docker resets ExitCode when the restart policy starts a crashed container
// again; the last exit seen while it was down stays the last exit.
func TestStateSourceKeepsTheLastExitAcrossARestart(t *testing.T) {
	finished := time.Now()
	src := stateSource(&statesSeq{seq: [][]stack.ContainerState{
		{{Component: "backend-2", Restarting: true, ExitCode: 1, FinishedAt: finished, RestartCount: 1}},
		{{Component: "backend-2", Running: true, ExitCode: 0, FinishedAt: finished, RestartCount: 1}},
		{{Component: "backend-2", Running: true, ExitCode: 0, FinishedAt: finished.Add(time.Minute), RestartCount: 2}},
	}}, stack.Definition{})
	want := []int{1, 1, 0}
	for i, w := range want {
		if i > 0 {
			time.Sleep(stateTTL + 10*time.Millisecond) // past the shared read
		}
		states, err := src.ContainerStates(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := states[0].ExitCode; got != w {
			t.Fatalf("read %d: exit code %d, want %d", i+1, got, w)
		}
	}
}
