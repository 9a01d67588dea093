package stacktest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeT records what the checks say instead of failing the test.
type fakeT struct {
	logs, errs []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func requireLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("%s: no %s", runtime.GOOS, fdDir)
	}
}

// TestFDsCatchesALeak leaks a file on purpose between the two counts: the
// check must fail and name the file.
func TestFDsCatchesALeak(t *testing.T) {
	requireLinux(t)
	path := filepath.Join(t.TempDir(), "leaked-on-purpose")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { fdSettle = d }(fdSettle)
	fdSettle = 0 // the leak is for good: no wait for it to close

	ft := &fakeT{}
	fds := CountFDs(ft)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fds.Check(ft)

	if len(ft.errs) != 1 {
		t.Fatalf("want one error, got %q (logs %q)", ft.errs, ft.logs)
	}
	want := fmt.Sprintf("%d -> %s", f.Fd(), path)
	if !strings.Contains(ft.errs[0], "file descriptors leaked") || !strings.Contains(ft.errs[0], want) {
		t.Errorf("error %q does not name the leak %q", ft.errs[0], want)
	}
}

// TestFDsPassWhenClosed opens and closes a file between the counts, and
// closes one that was open before: nothing leaked.
func TestFDsPassWhenClosed(t *testing.T) {
	requireLinux(t)
	dir := t.TempDir()
	early, err := os.Create(filepath.Join(dir, "early"))
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeT{}
	fds := CountFDs(ft)
	early.Close()
	f, err := os.Create(filepath.Join(dir, "closed"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fds.Check(ft)
	if len(ft.errs) != 0 {
		t.Fatalf("want no error, got %q", ft.errs)
	}
	if last := ft.logs[len(ft.logs)-1]; !strings.Contains(last, "before:") || !strings.Contains(last, "after:") {
		t.Errorf("want the counts logged, got %q", ft.logs)
	}
}

// TestFDsWaitForAConnectionToClose: a descriptor closed shortly after the
// last case (a connection its peer just closed) is waited for.
func TestFDsWaitForAConnectionToClose(t *testing.T) {
	requireLinux(t)
	path := filepath.Join(t.TempDir(), "closing")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ft := &fakeT{}
	fds := CountFDs(ft)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { f.Close() })
	fds.Check(ft)
	if len(ft.errs) != 0 {
		t.Fatalf("want no error, got %q", ft.errs)
	}
}

// TestGoleakCatchesALeak leaks a goroutine on purpose: goleak, with the
// options the package TestMains give it, must name it while it runs and
// find nothing once it ended.
func TestGoleakCatchesALeak(t *testing.T) {
	opts := append(LeakOptions(), goleak.IgnoreCurrent()) // what ran before this test is not its leak
	stop, done := make(chan struct{}), make(chan struct{})
	go leakedOnPurpose(stop, done)
	if err := goleak.Find(opts...); err == nil || !strings.Contains(err.Error(), "leakedOnPurpose") {
		t.Errorf("goleak.Find: want the leaked goroutine named, got %v", err)
	}
	close(stop)
	<-done
	if err := goleak.Find(opts...); err != nil {
		t.Errorf("goleak.Find after it ended: %v", err)
	}
}

func leakedOnPurpose(stop, done chan struct{}) {
	defer close(done)
	<-stop
}
