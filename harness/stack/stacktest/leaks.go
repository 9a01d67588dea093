package stacktest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/goleak"

	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
)

// CloseIdleConnections closes the idle keep-alive connections of the HTTP
// pools the process shares: net/http's default transport (http.DefaultClient
// and every client without a transport of its own: okbreak's Toxiproxy byte
// counters and evidence, its steady-state checks) and the shared Docker
// client (stack.Docker). Each idle connection holds a file descriptor and
// two goroutines until it times out (90 s for net/http's default). The
// clients stay usable. okbreak's own pools close theirs when done: the
// probe's when it stops, an alert session's when it stops, a fault's
// Toxiproxy client's when it is reverted.
func CloseIdleConnections() {
	if tr, ok := http.DefaultTransport.(interface{ CloseIdleConnections() }); ok {
		tr.CloseIdleConnections()
	}
	stack.CloseIdleConnections()
}

// idleClosed runs the tests, then closes the idle connections, so that the
// leak check after them sees only what was really left behind.
type idleClosed struct{ m goleak.TestingM }

func (c idleClosed) Run() int {
	code := c.m.Run()
	CloseIdleConnections()
	return code
}

// IdleClosed wraps a TestMain's *testing.M for goleak.VerifyTestMain: the
// idle HTTP connections are closed (CloseIdleConnections) once the tests
// have run, before goleak looks for goroutines left behind.
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(stacktest.IdleClosed(m), stacktest.LeakOptions()...)
//	}
func IdleClosed(m goleak.TestingM) goleak.TestingM { return idleClosed{m} }

// LeakOptions are the goroutines that legitimately outlive the tests: only
// third-party ones that nothing can stop may go here, each with a line
// saying why. There are none today: once idle HTTP connections are closed,
// a whole catalog on a real stack (scenarios' TestCatalog, testcontainers-go
// and the Docker client included, Ryuk disabled) leaves no goroutine
// behind. A goroutine of okbreak's own that outlives a test is a leak to
// fix, never one to list here.
func LeakOptions() []goleak.Option {
	return nil
}

// FDT is the part of testing.TB that the file-descriptor check needs.
type FDT interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// fdDir lists the process's open file descriptors (Linux).
const fdDir = "/proc/self/fd"

// fdSettle is how long Check waits, closing idle connections again, for
// the number of open descriptors to come back down: a connection its peer
// has just closed stays open until its reader sees the end.
var fdSettle = 3 * time.Second

// FDs is the process's open file descriptors at one moment (CountFDs):
// Check compares a later moment with it.
type FDs struct {
	open map[int]string // descriptor -> what it points at
	skip string         // why there is no count
}

// CountFDs closes idle HTTP connections (CloseIdleConnections) and notes
// the process's open file descriptors, for Check. Where the process's
// descriptors cannot be listed (not Linux) it logs why, and Check then
// does nothing.
func CountFDs(t FDT) *FDs {
	t.Helper()
	if runtime.GOOS != "linux" {
		b := &FDs{skip: fmt.Sprintf("%s: no %s to count open file descriptors; the fd leak check is skipped", runtime.GOOS, fdDir)}
		t.Logf("%s", b.skip)
		return b
	}
	CloseIdleConnections()
	open, err := openFDs()
	if err != nil {
		b := &FDs{skip: fmt.Sprintf("cannot list open file descriptors (%v); the fd leak check is skipped", err)}
		t.Logf("%s", b.skip)
		return b
	}
	t.Logf("open file descriptors before: %d", len(open))
	return &FDs{open: open}
}

// Check fails t when more file descriptors are open now than at CountFDs,
// once idle HTTP connections are closed (waiting up to a few seconds for
// the count to come down), and names what each new one points at.
func (b *FDs) Check(t FDT) {
	t.Helper()
	if b.skip != "" {
		return
	}
	var now map[int]string
	var listErr error
	// A connection its peer has just closed stays open until its reader
	// sees the end: the count may take a moment to come down.
	_ = retry.Until(context.Background(), "open file descriptors back to the count before", max(fdSettle, time.Nanosecond), 100*time.Millisecond, func(context.Context) error {
		CloseIdleConnections()
		if now, listErr = openFDs(); listErr != nil || len(now) <= len(b.open) {
			return nil
		}
		return retry.ErrNotYet
	})
	if listErr != nil {
		t.Errorf("cannot list open file descriptors: %v", listErr)
		return
	}
	t.Logf("open file descriptors before: %d, after: %d", len(b.open), len(now))
	if len(now) <= len(b.open) {
		return
	}
	var added []string
	for _, fd := range slices.Sorted(maps.Keys(now)) {
		if target, ok := b.open[fd]; !ok || target != now[fd] {
			added = append(added, fmt.Sprintf("%d -> %s", fd, now[fd]))
		}
	}
	t.Errorf("file descriptors leaked: %d open before, %d after; new since before:\n  %s",
		len(b.open), len(now), strings.Join(added, "\n  "))
}

// openFDs maps each open file descriptor of the process to what it points
// at. The descriptor that reads the directory is gone by the time its link
// is read, and left out with every other that closed meanwhile.
func openFDs() (map[int]string, error) {
	entries, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(entries))
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(fdDir + "/" + e.Name())
		if err != nil {
			continue
		}
		out[fd] = target
	}
	return out, nil
}
