package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvStateDir names the variable that overrides where okbreak keeps run state.
const EnvStateDir = "OKBREAK_STATE_DIR"

// StateRoot is the folder where okbreak keeps the state of its runs (fault
// journals): $OKBREAK_STATE_DIR, else $XDG_STATE_HOME/okbreak, else
// ~/.local/state/okbreak. Where no home is known it is okbreak-state under
// the temporary folder: a fixed place, so that `okbreak recover` in another
// process looks where the injector wrote.
func StateRoot() string {
	if d := os.Getenv(EnvStateDir); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "okbreak")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state", "okbreak")
	}
	return filepath.Join(os.TempDir(), "okbreak-state")
}

// RunStateDir is the state folder of one run: <StateRoot>/runs/<runID>.
func RunStateDir(runID string) string {
	return filepath.Join(StateRoot(), "runs", runID)
}

// StateDir is the state folder of the stack's run. The folder is created by
// whoever writes into it first.
func (s *Stack) StateDir() string { return RunStateDir(s.RunID) }

// zombie tells whether a process has ended and only waits to be reaped by
// its parent (state Z, or X while it goes): a SIGKILLed owner whose parent
// has not waited for it yet is dead, though /proc still lists it.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] == 'Z' || s[i+2] == 'X'
}
