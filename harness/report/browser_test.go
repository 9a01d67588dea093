package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds Debian's chromium. CI installs it (.ci/run), so there a
// missing browser fails the test; elsewhere it is skipped with the fix.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: apt-get install chromium to run the browser test")
	return ""
}

// TestHTMLReportInChromium renders the recorded run's report, opens it in
// headless Chromium over the DevTools protocol, and checks what a person
// would see: every case's chart holds the success series and the fault
// shading, the page fetched nothing but itself, and logged no error. The
// full-page screenshot is kept beside the report.
func TestHTMLReportInChromium(t *testing.T) {
	exe := chromium(t)
	// Kept after the test, beside the runs' reports, for a person to look at.
	base := os.Getenv("OKBREAK_REPORT_DIR")
	if base == "" {
		base = filepath.Join(os.TempDir(), "okbreak-reports")
	}
	dir := filepath.Join(base, "report-fixture")
	r := fixture(t)
	require.NoError(t, Write(dir, r, true))
	page, err := filepath.Abs(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	url := "file://" + page

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.WindowSize(1100, 900), chromedp.DisableGPU)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, tcancel := context.WithTimeout(ctx, 90*time.Second)
	defer tcancel()

	var mu sync.Mutex
	var requests, problems []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, fmt.Sprintf("console %s", e.Type))
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, "log: "+e.Entry.Text)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		}
	}))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("svg.chart")),
	))
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[[][]float64](`Array.from(document.querySelectorAll('svg.chart')).map(e => {
		const r = e.getBoundingClientRect();
		return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];
	})`))
	require.NoError(t, err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "report.png"), shot, 0o644))
	t.Logf("screenshot: %s", filepath.Join(dir, "report.png"))

	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	require.Len(t, boxes, len(r.Cases)-countNoChart(r), "one chart per case with a timeline")
	for i, box := range boxes {
		rect := image.Rect(int(box[0]), int(box[1]), int(box[0]+box[2]), int(box[1]+box[3]))
		assert.True(t, holdsColour(img, rect, ColourSuccess), "chart %d (%s) shows the success series", i, r.Cases[i].Name)
		assert.True(t, holdsColour(img, rect, ColourFault), "chart %d (%s) shows the fault shading", i, r.Cases[i].Name)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{url}, requests, "the page fetched nothing but itself")
	assert.Empty(t, problems, "no console errors")
}

// holdsColour tells whether some pixel of rect is within a small distance of
// hex (antialiased lines are not exactly their colour).
func holdsColour(img image.Image, rect image.Rectangle, hex string) bool {
	want := parseHex(hex)
	rect = rect.Intersect(img.Bounds())
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if near(r>>8, want.R) && near(g>>8, want.G) && near(b>>8, want.B) {
				return true
			}
		}
	}
	return false
}

func near(a uint32, b uint8) bool {
	d := int(a) - int(b)
	return d > -12 && d < 12
}

func parseHex(s string) color.RGBA {
	v, _ := strconv.ParseUint(s[1:], 16, 32)
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}
