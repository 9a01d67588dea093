// Package report turns a run's results into the files people and CI read:
// report.json (the document itself, with each case's timeline), junit.xml,
// report.md (the shareable ok-to-break / not-ok list) and report.html (one
// self-contained page with an SVG timeline per case).
//
// Every renderer is a pure function of a Report: a report can be rendered
// again, later, from its JSON (okbreak report FILE.json).
package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/gameday"
	"github.com/okbreak/okbreak/harness/stack"
)

// Report is one run: what ran, on what, with which inputs, and every case's
// result. It is the document `okbreak run --json` prints and report.json
// holds.
type Report struct {
	Version   string  `json:"version"`
	DataPlane string  `json:"data_plane"`
	TimeScale float64 `json:"time_scale"`
	Run       string  `json:"run"`
	// Started is when the first case started; ElapsedS the run's wall
	// time, stack start included.
	Started  time.Time `json:"started"`
	ElapsedS float64   `json:"elapsed_s"`
	// Inputs are the files the run used, by content hash: two reports
	// with the same hashes ran the same stack, catalog and rules.
	Inputs []Input          `json:"inputs"`
	Cases  []harness.Result `json:"cases"`
	// GameDay is the log of the stack's game day (okbreak run --attach):
	// every injection, revert and halt, by whom and when.
	GameDay []gameday.LogLine `json:"game_day,omitempty"`
}

// Input is one file (or generated definition) a run used.
type Input struct {
	// Kind is stack, catalog or rules.
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// HashBytes describes an input by the SHA-256 of its content.
func HashBytes(kind, name string, b []byte) Input {
	sum := sha256.Sum256(b)
	return Input{Kind: kind, Name: name, SHA256: hex.EncodeToString(sum[:])}
}

// HashFiles describes a set of generated files (a stack's rendering) by one
// hash over their sorted names and contents.
func HashFiles(kind, name string, files map[string][]byte) Input {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&buf, "%s\x00%d\x00", n, len(files[n]))
		buf.Write(files[n])
	}
	return HashBytes(kind, name, buf.Bytes())
}

// RunInputs names the stack, catalog and rule files of a run by content
// hash: the stack's rendering, the catalog, and every rule file loaded.
func RunInputs(def stack.Definition, in harness.Inputs) ([]Input, error) {
	files, err := def.ComposeFiles()
	if err != nil {
		return nil, fmt.Errorf("hash stack: %w", err)
	}
	ins := []Input{HashFiles("stack", "stack ("+string(def.DataPlane)+")", files), HashBytes("catalog", inputName(in.Catalog.Name), in.Catalog.Data)}
	for _, r := range in.Rules {
		ins = append(ins, HashBytes("rules", inputName(r.Name), r.Data))
	}
	return ins, nil
}

// inputName is how a report names an input file: an embedded one by its
// repository path, a file on disk by its base name, never a machine path.
func inputName(name string) string {
	if strings.HasPrefix(name, "embedded:") {
		return name
	}
	return filepath.Base(name)
}

// Version is okbreak's version as the Go build recorded it: the module
// version when installed with go install, else the VCS revision (with
// "+dirty" for a modified tree), else "devel".
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}

// Counts tallies verdicts.
type Counts struct {
	Cases, Survived, Alerted, Failed, Invalid, Skipped int
}

// Counts tallies the report's verdicts.
func (r *Report) Counts() Counts {
	c := Counts{Cases: len(r.Cases)}
	for _, res := range r.Cases {
		switch res.Verdict {
		case harness.Survived:
			c.Survived++
		case harness.Alerted:
			c.Alerted++
		case harness.Failed:
			c.Failed++
		case harness.Invalid:
			c.Invalid++
		case harness.Skipped:
			c.Skipped++
		}
	}
	return c
}

// Passed tells whether the case got the verdict its class demands (or was
// skipped).
func Passed(res harness.Result) bool {
	return res.Verdict == harness.Skipped || res.Verdict == harness.Expected(res.Class)
}

// ByClass returns the cases of one class, in run order.
func (r *Report) ByClass(c catalog.Class) []harness.Result {
	var out []harness.Result
	for _, res := range r.Cases {
		if res.Class == c {
			out = append(out, res)
		}
	}
	return out
}

// Decode reads a report's JSON, refusing unknown fields: a document written
// by another version of okbreak fails loudly instead of rendering half.
func Decode(rd io.Reader) (*Report, error) {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode report: more than one JSON document")
	}
	return &r, nil
}

// ReadFile decodes the report at path.
func ReadFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Files are the names Write writes, in order.
var Files = []string{"report.json", "junit.xml", "report.md", "report.html"}

// Write renders the report into dir (created if needed): report.json,
// junit.xml, report.md and report.html. withJSON false leaves report.json
// out (when rendering from an existing one).
func Write(dir string, r *Report, withJSON bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	render := map[string]func(io.Writer, *Report) error{
		"report.json": JSON, "junit.xml": JUnit, "report.md": Markdown, "report.html": HTML,
	}
	for _, name := range Files {
		if name == "report.json" && !withJSON {
			continue
		}
		var buf bytes.Buffer
		if err := render[name](&buf, r); err != nil {
			return fmt.Errorf("write report %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// JSON writes the report as indented JSON.
func JSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func fmtSeconds(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f s", *p)
}
