package gameday

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/okbreak/okbreak/harness/stack"
)

// StatusFile is the keeper's status file in the run's state folder.
const StatusFile = "status.json"

// Status is what the keeper sees, rewritten every second.
type Status struct {
	Run     string    `json:"run"`
	Updated time.Time `json:"updated"`
	// Probe is the users' traffic over the last Window.
	Probe ProbeStatus `json:"probe"`
	// Pending and Firing are the alerts in those states ("name{labels}").
	Pending []string `json:"pending"`
	Firing  []string `json:"firing"`
	// Paused names the catalog run that holds the stack, when one does.
	Paused string `json:"paused,omitempty"`
	// Halt is the halt conditions; Halted the last one that held.
	Halt   string `json:"halt,omitempty"`
	Halted string `json:"halted,omitempty"`
}

// ProbeStatus is the probe's numbers over a window.
type ProbeStatus struct {
	Window   time.Duration `json:"window_ns"`
	Requests int           `json:"requests"`
	Success  float64       `json:"success"`
	P99      time.Duration `json:"p99_ns"`
}

// String is the probe's line for `okbreak status`.
func (p ProbeStatus) String() string {
	if p.Requests == 0 {
		return fmt.Sprintf("no request in the last %s", p.Window)
	}
	return fmt.Sprintf("%.2f %% ok of %d requests, p99 %s (last %s)", 100*p.Success, p.Requests, p.P99.Round(time.Millisecond), p.Window)
}

// Write replaces the run's status file.
func (s Status) Write() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(stack.RunStateDir(s.Run), StatusFile), b)
}

// ReadStatus reads the run's last status; ok is false when there is none.
func ReadStatus(run string) (Status, bool, error) {
	var s Status
	b, err := os.ReadFile(filepath.Join(stack.RunStateDir(run), StatusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, false, fmt.Errorf("status of run %s: %w", run, err)
	}
	return s, true, nil
}
