package gameday

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// RecordFile is the record's file name in the run's state folder.
const RecordFile = "up.json"

// Record is a long-lived stack as `okbreak up` announces it: what the other
// commands need to find it, attach to it and respect its limits.
type Record struct {
	Run     string      `json:"run"`
	Owner   fault.Owner `json:"owner"`
	Who     string      `json:"who,omitempty"`
	Started time.Time   `json:"started"`
	// Ready is set once the stack serves and the keeper runs.
	Ready bool `json:"ready"`
	// Stack is the stack file the stack came up from (absolute), "" for
	// the sample system of DataPlane.
	Stack     string  `json:"stack,omitempty"`
	DataPlane string  `json:"data_plane"`
	TimeScale float64 `json:"time_scale"`
	Detached  bool    `json:"detached,omitempty"`
	// Log is the detached keeper's log file.
	Log    string `json:"log,omitempty"`
	Limits Limits `json:"limits"`
	// Endpoints is the stack's description, as `okbreak up` prints it.
	Endpoints string `json:"endpoints,omitempty"`
}

// Limits bound what a game day may inject: a fault longer than MaxDuration,
// or on more than MaxTargets targets, is refused, never truncated.
type Limits struct {
	MaxDuration time.Duration `json:"max_duration"`
	MaxTargets  int           `json:"max_targets"`
}

// DefaultLimits are the limits when none are given.
var DefaultLimits = Limits{MaxDuration: 10 * time.Minute, MaxTargets: 3}

// Check refuses a fault over the limits, saying which and where to change it.
func (l Limits) Check(d time.Duration, targets int, where string) error {
	var errs []error
	if l.MaxDuration > 0 && d > l.MaxDuration {
		errs = append(errs, fmt.Errorf("duration %s is over the limit of %s (%s)", d, l.MaxDuration, where))
	}
	if l.MaxTargets > 0 && targets > l.MaxTargets {
		errs = append(errs, fmt.Errorf("%d targets are over the limit of %d (%s)", targets, l.MaxTargets, where))
	}
	return errors.Join(errs...)
}

// Save writes the record into its run's state folder, replacing it whole.
func (r Record) Save() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("save record of run %s: %w", r.Run, err)
	}
	return writeFile(filepath.Join(stack.RunStateDir(r.Run), RecordFile), b)
}

// Remove deletes the record: the stack is no longer up.
func Remove(run string) error {
	err := os.Remove(filepath.Join(stack.RunStateDir(run), RecordFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove record of run %s: %w", run, err)
	}
	return nil
}

// Load reads a run's record.
func Load(run string) (Record, error) {
	var r Record
	b, err := os.ReadFile(filepath.Join(stack.RunStateDir(run), RecordFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("run %s: no stack of okbreak up by that ID (see `okbreak status`)", run)
		}
		return r, fmt.Errorf("run %s: %w", run, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("run %s: record %s: %w", run, RecordFile, err)
	}
	return r, nil
}

// KeeperAlive tells whether the record's keeper process still runs.
func (r Record) KeeperAlive() bool { return r.Owner.Alive() }

// List returns the records of every stack that is up: its keeper alive, or
// the run marked long-lived (a detached keeper that died leaves its stack
// up). Sorted by start time.
func List() ([]Record, error) {
	dirs, err := os.ReadDir(filepath.Join(stack.StateRoot(), "runs"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list stacks: %w", err)
	}
	var out []Record
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		r, err := Load(d.Name())
		if err != nil {
			continue // no record: not a stack of okbreak up
		}
		if r.KeeperAlive() || stack.LongLived(r.Run) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// ErrNoStack is Select's error when no stack is up.
var ErrNoStack = errors.New("no stack is up: start one with `okbreak up --detach`")

// Select picks the stack a command acts on: run when given, else the only
// one up. With several up and no run, the error lists them.
func Select(run string) (Record, error) {
	if run != "" {
		return Load(run)
	}
	recs, err := List()
	if err != nil {
		return Record{}, err
	}
	switch len(recs) {
	case 0:
		return Record{}, ErrNoStack
	case 1:
		return recs[0], nil
	}
	var lines []string
	for _, r := range recs {
		lines = append(lines, fmt.Sprintf("  %s  started %s by %s (%s)", r.Run, r.Started.Format(time.RFC3339), r.Who, r.describeSystem()))
	}
	return Record{}, fmt.Errorf("%d stacks are up: choose one with --run ID\n%s", len(recs), strings.Join(lines, "\n"))
}

func (r Record) describeSystem() string {
	if r.Stack != "" {
		return "stack file " + filepath.Base(r.Stack)
	}
	return "sample system, " + r.DataPlane
}

// Who names the person behind this process for the game-day log:
// override when the caller gives one (a --who flag), else user@host.
func Who(override string) string {
	if override != "" {
		return override
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host == "" {
		return name
	}
	return name + "@" + host
}

// writeFile replaces path with b: written beside it, synced, renamed.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
