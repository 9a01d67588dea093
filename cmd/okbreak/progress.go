package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/okbreak/okbreak/harness"
)

// progressView shows a run's progress: case by case, phase by phase.
// Methods are called from the run's goroutine (started, done) and from the
// runner's progress goroutine (update); implementations lock.
type progressView interface {
	started(i, n int, name string, left time.Duration)
	update(p harness.Progress)
	done(line string)
	close()
}

// liveOutput tells whether stdout gets a live display: a terminal, not CI,
// not --json, and a TERM that can move the cursor.
func liveOutput(asJSON bool) bool {
	if asJSON || os.Getenv("CI") == "true" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(os.Stdout.Fd()))
}

// newProgressView picks the live display or plain lines. Plain lines go to
// w (stdout, or stderr under --json so that stdout holds one document).
func newProgressView(live bool, w io.Writer) progressView {
	if live {
		return newLiveView(w)
	}
	return &plainView{w: w}
}

// phaseLine is the one-line state of a running case.
func phaseLine(p harness.Progress, color bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %5s elapsed, ~%s left at scale %.4g", p.Phase, p.Elapsed.Round(time.Second), p.Remaining.Round(time.Second), p.Scale)
	if p.Requests > 0 {
		fmt.Fprintf(&b, ", probe %.2f%% ok of %d", 100*p.SuccessRatio, p.Requests)
	}
	if len(p.Pending) > 0 {
		fmt.Fprintf(&b, ", pending: %s", paint(color, "33", strings.Join(uniq(p.Pending), ",")))
	}
	if len(p.Firing) > 0 {
		fmt.Fprintf(&b, ", firing: %s", paint(color, "31", strings.Join(uniq(p.Firing), ",")))
	}
	return b.String()
}

func paint(on bool, code, s string) string {
	if !on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// plainView prints a line when a case starts, at each change of phase, and
// when it ends: readable in a CI log, greppable, no cursor movement. Cases
// of stacks run side by side interleave, each line naming its case.
type plainView struct {
	mu    sync.Mutex
	w     io.Writer
	phase map[string]harness.Phase // by case
}

func (v *plainView) started(i, n int, name string, left time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.phase == nil {
		v.phase = map[string]harness.Phase{}
	}
	v.phase[name] = ""
	fmt.Fprintf(v.w, "case %d/%d: %s (run: ~%s left)\n", i, n, name, left.Round(time.Second))
}

func (v *plainView) update(p harness.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if p.Done || p.Phase == v.phase[p.Case] {
		return
	}
	if v.phase == nil {
		v.phase = map[string]harness.Phase{}
	}
	v.phase[p.Case] = p.Phase
	fmt.Fprintf(v.w, "  %s: %s\n", p.Case, phaseLine(p, false))
}

func (v *plainView) done(line string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprintln(v.w, line)
}

func (v *plainView) close() {}

// liveView redraws a header (cases done of all, time left) and one line
// per running case, with mpb; finished cases' lines scroll above it.
type liveView struct {
	// mu guards what the decorators read (i, n, left, last); bars guards
	// the bars and serializes the calls into mpb. Never hold mu across a
	// call into mpb (see started).
	mu     sync.Mutex
	bars   sync.Mutex
	p      *mpb.Progress
	header *mpb.Bar
	bar    *mpb.Bar
	i, n   int
	left   time.Duration
	last   harness.Progress
	color  bool
}

func newLiveView(w io.Writer) *liveView {
	v := &liveView{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(24), mpb.WithRefreshRate(200*time.Millisecond)),
		color: os.Getenv("NO_COLOR") == ""}
	return v
}

// started, update and done never call into mpb while holding v.mu: mpb's
// render goroutine calls the decorators, which take v.mu, and a bar call
// waits for that goroutine; holding v.mu across one froze the display and,
// through the runner's progress callback, the run itself.
func (v *liveView) started(i, n int, name string, left time.Duration) {
	v.bars.Lock()
	defer v.bars.Unlock()
	v.mu.Lock()
	v.i, v.n, v.left, v.last = i, n, left, harness.Progress{Case: name, Phase: harness.PhaseSteady}
	v.mu.Unlock()
	if v.header == nil {
		v.header = v.p.AddBar(int64(n), mpb.BarPriority(0),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
				v.mu.Lock()
				defer v.mu.Unlock()
				return fmt.Sprintf("okbreak: case %d/%d", v.i, v.n)
			}, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				v.mu.Lock()
				defer v.mu.Unlock()
				return fmt.Sprintf("~%s left", max(v.left-v.last.Elapsed, 0).Round(time.Second))
			})))
	}
	v.header.SetCurrent(int64(i - 1))
	v.bar = v.p.AddBar(1000, mpb.BarPriority(1), mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(fmt.Sprintf("  %-28s", name))),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			v.mu.Lock()
			defer v.mu.Unlock()
			return phaseLine(v.last, v.color)
		})))
}

func (v *liveView) update(p harness.Progress) {
	v.bars.Lock()
	defer v.bars.Unlock()
	v.mu.Lock()
	current := p.Case == v.last.Case && v.bar != nil
	if current {
		v.last = p
	}
	v.mu.Unlock()
	if total := p.Elapsed + p.Remaining; current && total > 0 && !p.Done {
		v.bar.SetCurrent(int64(1000 * p.Elapsed / total))
	}
}

func (v *liveView) done(line string) {
	v.bars.Lock()
	bar := v.bar
	v.bar = nil
	v.bars.Unlock()
	if bar != nil {
		bar.SetTotal(-1, true)
		bar.Wait()
	}
	fmt.Fprintln(v.p, line)
}

func (v *liveView) close() {
	v.bars.Lock()
	h := v.header
	v.bars.Unlock()
	if h != nil {
		h.SetTotal(-1, true)
	}
	v.p.Wait()
}
