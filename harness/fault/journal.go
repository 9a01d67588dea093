package fault

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/okbreak/okbreak/harness/stack"
)

// JournalFile is the journal's file name inside a run's state folder.
const JournalFile = "journal.jsonl"

// Op says what a journal entry records.
type Op string

// Journal operations. An injection is open from its "inject" entry until a
// "reverted" or "abandoned" entry with the same ID; "revert_failed" leaves
// it open.
const (
	OpInject       Op = "inject"
	OpReverted     Op = "reverted"
	OpRevertFailed Op = "revert_failed"
	// OpAbandoned closes an injection whose run no longer exists: there is
	// nothing left to revert.
	OpAbandoned Op = "abandoned"
	// OpHalt records that a halt condition stopped a game day or a run:
	// Note says which. It closes nothing by itself; the reverts that follow
	// do.
	OpHalt Op = "halt"
)

// Owner identifies a process: PID, start time (clock ticks since boot, so a
// reused PID is not mistaken for it) and host, as stack's owner labels do.
type Owner struct {
	PID   int    `json:"pid"`
	Start string `json:"start,omitempty"`
	Host  string `json:"host,omitempty"`
}

// Self is this process as an Owner.
func Self() Owner {
	l := stack.RunLabels("")
	pid, _ := strconv.Atoi(l[stack.LabelOwnerPID])
	return Owner{PID: pid, Start: l[stack.LabelOwnerStart], Host: l[stack.LabelOwnerHost]}
}

// Alive tells whether the process still runs. A process of another host
// counts as alive: okbreak only takes over what it can prove is orphaned.
func (o Owner) Alive() bool {
	return stack.OwnerAlive(map[string]string{
		stack.LabelOwnerPID: strconv.Itoa(o.PID), stack.LabelOwnerStart: o.Start, stack.LabelOwnerHost: o.Host,
	})
}

// Endpoint is a container port, found again through Docker by the
// container's name (a published port changes when a container restarts).
type Endpoint struct {
	// Component is the system's component the container plays.
	Component string `json:"component,omitempty"`
	Container string `json:"container"`
	Port      int    `json:"port"`
	// URL reaches a Toxiproxy that is not a container okbreak started (a
	// running environment's): used as is, no Docker lookup.
	URL string `json:"url,omitempty"`
	// Proxy is the Toxiproxy proxy that carries the link ("": the proxy
	// is named after the link, as in okbreak's own stacks).
	Proxy string `json:"proxy,omitempty"`
}

// Access says how to reach what an injection changed, without the stack
// handle of the process that made it.
type Access struct {
	// Toxiproxies is the API of the Toxiproxy that carries each link the
	// injection touched, by link name (a system may have one per callee).
	Toxiproxies map[string]*Endpoint `json:"toxiproxies,omitempty"`
	// Toxiproxy is the one Toxiproxy of a journal written before systems
	// could have several; it carries every link of its entries.
	Toxiproxy *Endpoint `json:"toxiproxy,omitempty"`
	Etcd      *Endpoint `json:"etcd,omitempty"`
}

// Undo actions, each idempotent.
const (
	UndoRemoveToxic      = "remove_toxic"      // delete toxic Toxic of proxy Proxy
	UndoSetProxy         = "set_proxy"         // set proxy Proxy's enabled to Enabled
	UndoStart            = "start"             // get Container running again (start, unpause, wait out a restart)
	UndoUnpause          = "unpause"           // unpause Container
	UndoRemoveContainer  = "remove_container"  // remove Container (a fault's own container)
	UndoRestoreContainer = "restore_container" // put Spec back in place of a container labelled FaultID
	UndoRestoreKeys      = "restore_keys"      // put etcd Keys back to Prev, by compare-and-swap
)

// Undo is one step that takes (part of) an injection back.
type Undo struct {
	Action    string               `json:"action"`
	Proxy     string               `json:"proxy,omitempty"`
	Toxic     string               `json:"toxic,omitempty"`
	Enabled   *bool                `json:"enabled,omitempty"`
	Container string               `json:"container,omitempty"`
	Ready     *stack.ReadyCheck    `json:"ready,omitempty"`
	Spec      *stack.ContainerSpec `json:"spec,omitempty"`
	FaultID   string               `json:"fault_id,omitempty"`
	Keys      []KeyChange          `json:"keys,omitempty"`
}

// KeyChange is one etcd key a config fault writes: its value before (nil:
// absent) and the value the fault writes (nil: deleted).
type KeyChange struct {
	Key   string  `json:"key"`
	Prev  *string `json:"prev"`
	Wrote *string `json:"wrote"`
}

// Entry is one line of the journal.
type Entry struct {
	Time time.Time `json:"time"`
	Op   Op        `json:"op"`
	// ID names one injection; every entry about it carries it.
	ID     string `json:"id"`
	Run    string `json:"run"`
	Fault  string `json:"fault,omitempty"`
	Type   string `json:"type,omitempty"`
	Target string `json:"target,omitempty"`
	// By is the process that wrote the entry: for an inject entry, the
	// injector, which recovery checks for life.
	By Owner `json:"by"`
	// Who is the person or job behind the process (user@host, or what
	// the injector was told), for the game-day log.
	Who string `json:"who,omitempty"`
	// Until is when the injection must end (zero: when its injector says).
	// A long-lived stack's keeper (okbreak up) reverts it then, even when
	// the injector is gone.
	Until  time.Time `json:"until,omitzero"`
	Access Access    `json:"access,omitempty"`
	Undo   []Undo    `json:"undo,omitempty"`
	Facts  Facts     `json:"facts,omitempty"`
	Note   string    `json:"note,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// Journal is a run's append-only record of injections, one JSON document a
// line. Every append is one write followed by fsync, so that an entry is on
// disk before the change it announces, and several processes may append to
// the same journal (O_APPEND). A Journal is safe for concurrent use.
type Journal struct {
	path string
	mu   sync.Mutex
}

// OpenJournal returns the journal in a run's state folder. Nothing is
// created until the first append.
func OpenJournal(dir string) *Journal {
	return &Journal{path: filepath.Join(dir, JournalFile)}
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Append writes e as one line and syncs it to disk (and the folder, when the
// file is new) before returning.
func (j *Journal) Append(e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal %s: encode: %w", j.path, err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	dir := filepath.Dir(j.path)
	_, statErr := os.Stat(j.path)
	fresh := errors.Is(statErr, fs.ErrNotExist)
	if fresh {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
	}
	f, err := os.OpenFile(j.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: write: %w", j.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal %s: sync: %w", j.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if fresh {
		// The new file's name must survive a crash too.
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}

// Entries reads the whole journal, oldest first. A missing journal has no
// entries. A torn last line (the writer was killed mid-write, before its
// fsync returned, so before it acted) is skipped; a bad line elsewhere is an
// error.
func (j *Journal) Entries() ([]Entry, error) {
	b, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	var bad error
	for sc.Scan() {
		line++
		if bad != nil {
			return nil, bad
		}
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			bad = fmt.Errorf("journal %s line %d: %w", j.path, line, err)
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	if bad != nil && bytes.HasSuffix(b, []byte("\n")) {
		return nil, bad // a complete bad last line is damage, not a torn write
	}
	return out, nil
}

// OpenInjections returns the inject entries that no later entry closes
// (reverted or abandoned), oldest first.
func OpenInjections(entries []Entry) []Entry {
	closed := map[string]bool{}
	for _, e := range entries {
		if e.Op == OpReverted || e.Op == OpAbandoned {
			closed[e.ID] = true
		}
	}
	var open []Entry
	for _, e := range entries {
		if e.Op == OpInject && !closed[e.ID] {
			open = append(open, e)
		}
	}
	return open
}

// RevertOrder returns open (injections from OpenInjections, or a subset of
// them in the same order) in the order to revert them: newest first, as a
// run reverts its own faults. A later fault may stand in the way of an
// earlier one's revert: a registry edit made before etcd was stopped can be
// restored only once etcd runs again. Every path that reverts several
// journal entries at once (okbreak recover, the keeper's halt, okbreak
// revert --all) takes this order. It returns a new slice.
func RevertOrder(open []Entry) []Entry {
	out := slices.Clone(open)
	slices.Reverse(out)
	return out
}

// newID returns a short random ID for one injection.
func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}
