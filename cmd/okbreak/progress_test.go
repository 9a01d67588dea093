package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
)

func sampleProgress(phase harness.Phase) harness.Progress {
	return harness.Progress{Case: "etcd-down-10m", Phase: phase, Elapsed: 3 * time.Second, Remaining: 20 * time.Second,
		Scale: 60, Requests: 300, SuccessRatio: 0.99, Pending: []string{"EtcdUnreachable"}, Firing: []string{"DataPlaneDown", "DataPlaneDown"}}
}

func TestPlainProgressPrintsOneLinePerPhase(t *testing.T) {
	var buf bytes.Buffer
	v := newProgressView(false, &buf)
	v.started(1, 2, "etcd-down-10m", time.Minute)
	for _, ph := range []harness.Phase{harness.PhaseSteady, harness.PhaseSteady, harness.PhaseHold, harness.PhaseHold, harness.PhaseSettle} {
		v.update(sampleProgress(ph))
	}
	v.done("etcd-down-10m ok-to-break survived")
	v.close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 5, buf.String())
	assert.Equal(t, "case 1/2: etcd-down-10m (run: ~1m0s left)", lines[0])
	assert.Contains(t, lines[1], "steady")
	assert.Contains(t, lines[2], "hold")
	assert.Contains(t, lines[2], "probe 99.00% ok of 300")
	assert.Contains(t, lines[2], "pending: EtcdUnreachable")
	assert.Contains(t, lines[2], "firing: DataPlaneDown")
	assert.NotContains(t, lines[2], "DataPlaneDown,DataPlaneDown", "alert instances are listed once")
	assert.Contains(t, lines[3], "settle")
	assert.NotContains(t, buf.String(), "\x1b", "plain lines carry no escape codes")
}

// readAll collects what the terminal shows, in the background.
func readAll(f *os.File) (func() string, *sync.WaitGroup) {
	var mu sync.Mutex
	var buf bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }, &wg
}

func TestLiveProgressRedrawsOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 220}))
	screen, _ := readAll(ptmx)
	t.Setenv("NO_COLOR", "")
	v := newLiveView(tty)
	v.started(1, 2, "etcd-down-10m", time.Minute)
	for _, ph := range []harness.Phase{harness.PhaseSteady, harness.PhaseHold, harness.PhaseSettle} {
		v.update(sampleProgress(ph))
		time.Sleep(450 * time.Millisecond) // more than a refresh
	}
	v.done("etcd-down-10m ok-to-break survived")
	v.close()
	tty.Close()
	require.Eventually(t, func() bool { return strings.Contains(screen(), "survived") }, 5*time.Second, 50*time.Millisecond)
	out := screen()
	assert.Contains(t, out, "okbreak: case 1/2")
	assert.Contains(t, out, "hold")
	assert.Contains(t, out, "settle")
	assert.Contains(t, out, "\x1b[31mDataPlaneDown\x1b[0m", "firing alerts in red")
	assert.Regexp(t, regexp.MustCompile(`\x1b\[\d*[AFK]`), out, "the display moves the cursor to redraw")
}

func TestLiveProgressHonoursNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	v := newLiveView(io.Discard)
	assert.False(t, v.color)
	assert.NotContains(t, phaseLine(sampleProgress(harness.PhaseHold), v.color), "\x1b")
}

// TestRunShowsLiveProgressOnATerminal runs one real case with okbreak's
// binary on a pseudo-terminal and reads the screen: a header with the case
// count and time left, the case's phases as they pass, its verdict, and the
// report folder.
func TestRunShowsLiveProgressOnATerminal(t *testing.T) {
	stacktest.RequireDocker(t)
	bin := filepath.Join(t.TempDir(), "okbreak")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	reports := t.TempDir()
	// No --catalog or --alerts: the embedded ones, as from any folder.
	cmd := exec.CommandContext(ctx, bin, "run", "--only", "^control-plane-restart$", "--data-plane", "grpc", "--report", reports)
	cmd.Env = append(os.Environ(), "CI=", "TERM=xterm", "NO_COLOR=")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	require.NoError(t, err)
	defer ptmx.Close()
	screen, reading := readAll(ptmx)
	err = cmd.Wait()
	reading.Wait()
	out := screen()
	require.NoError(t, err, out)
	assert.Contains(t, out, "okbreak: case 1/1")
	assert.Regexp(t, `~\d+s left`, out)
	for _, ph := range []string{"steady", "hold", "settle"} {
		assert.Contains(t, out, ph)
	}
	assert.Regexp(t, `control-plane-restart\s+ok-to-break\s+survived`, out)
	assert.Regexp(t, regexp.MustCompile(`\x1b\[\d*[AFK]`), out, "a live display, not plain lines")
	for _, f := range []string{"report.json", "junit.xml", "report.md", "report.html"} {
		assert.FileExists(t, filepath.Join(reports, f))
	}
}
