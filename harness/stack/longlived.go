package stack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LongLivedFile marks a run's state folder as a long-lived stack (`okbreak
// up --detach`): a game day's stack outlives the process that started it,
// so no sweep of dead runs may remove it; only `okbreak down` does. The mark
// is a file rather than a label because containers that faults create later
// (a recreated component, a second instance) would not carry a label.
const LongLivedFile = "long-lived"

// MarkLongLived marks the run as long-lived. It is idempotent.
func MarkLongLived(runID string) error {
	dir := RunStateDir(runID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mark run %s long-lived: %w", runID, err)
	}
	if err := os.WriteFile(filepath.Join(dir, LongLivedFile), []byte(runID+"\n"), 0o644); err != nil {
		return fmt.Errorf("mark run %s long-lived: %w", runID, err)
	}
	return nil
}

// UnmarkLongLived lets sweeps remove the run again (before `okbreak down`
// tears it down). It is idempotent.
func UnmarkLongLived(runID string) error {
	err := os.Remove(filepath.Join(RunStateDir(runID), LongLivedFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unmark run %s long-lived: %w", runID, err)
	}
	return nil
}

// LongLived tells whether the run is marked long-lived.
func LongLived(runID string) bool {
	if runID == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(RunStateDir(runID), LongLivedFile))
	return err == nil
}
