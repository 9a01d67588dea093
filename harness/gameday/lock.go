package gameday

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/stack"
)

// AttachFile is the attach lock's file name in the run's state folder.
const AttachFile = "attach.json"

// Holder is the process that holds a stack for a catalog run (`okbreak run
// --attach`): the keeper pauses its probe and rule engine meanwhile (they
// would add load the cases do not expect), and `okbreak inject` refuses.
type Holder struct {
	Owner fault.Owner `json:"owner"`
	Who   string      `json:"who,omitempty"`
	Since time.Time   `json:"since"`
	What  string      `json:"what"`
}

// String is the holder for messages.
func (h Holder) String() string {
	return fmt.Sprintf("%s (pid %d, %s, since %s)", h.What, h.Owner.PID, h.Who, h.Since.Format(time.TimeOnly))
}

// Hold takes the attach lock of run for this process. It fails, naming the
// holder, when a live process holds it; a dead holder's lock is taken over.
// Release gives it back; it is idempotent.
func Hold(run, who, what string) (release func() error, err error) {
	if h, ok := Held(run); ok {
		return nil, fmt.Errorf("run %s is held by %s: wait for it or stop it", run, h)
	}
	path := filepath.Join(stack.RunStateDir(run), AttachFile)
	b, err := json.Marshal(Holder{Owner: fault.Self(), Who: who, Since: time.Now().UTC(), What: what})
	if err != nil {
		return nil, err
	}
	if err := writeFile(path, b); err != nil {
		return nil, fmt.Errorf("hold run %s: %w", run, err)
	}
	return func() error {
		err := os.Remove(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("release run %s: %w", run, err)
		}
		return nil
	}, nil
}

// Held says who holds run's attach lock, if a live process does.
func Held(run string) (Holder, bool) {
	var h Holder
	b, err := os.ReadFile(filepath.Join(stack.RunStateDir(run), AttachFile))
	if err != nil {
		return h, false
	}
	if json.Unmarshal(b, &h) != nil || !h.Owner.Alive() {
		return h, false
	}
	return h, true
}
