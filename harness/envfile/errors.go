package envfile

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in an environment file, at the position an editor
// can jump to, with what to do about it.
type Error struct {
	// File is the environment file as named to Load or Parse.
	File      string
	Line, Col int
	// Msg says what is wrong; Fix says how to put it right (never empty).
	Msg string
	Fix string
}

// Error formats the problem as compilers do ("file:line:col: msg"), so that
// editors and CI annotate the right line, with the fix on a second line.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	if e.Fix != "" {
		s += "\n\tfix: " + e.Fix
	}
	return s
}

// Errors is every problem found in an environment file, sorted by
// position: Parse collects all of them rather than stopping at the first,
// so that one run shows everything to fix.
type Errors []*Error

// Error prints the problems one after the other.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ErrRefused is wrapped by every refusal of the allow-list (AllowURL,
// AllowProxy, AllowContainer, CheckLimits), so that callers tell a refusal
// (the file does not allow it: bad input) from a failure.
var ErrRefused = errors.New("refused by the environment file")

// refused is a refusal: what was refused, and how to allow it.
type refused struct {
	what, fix string
}

func (r *refused) Error() string { return r.what + " (fix: " + r.fix + ")" }

func (r *refused) Unwrap() error { return ErrRefused }

func refuse(fix, format string, args ...any) error {
	return &refused{what: fmt.Sprintf(format, args...), fix: fix}
}

// report collects the problems of one file.
type report struct {
	file string
	errs Errors
}

// at records a problem at a node's position.
func (r *report) at(n *yaml.Node, fix, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = max(n.Line, 1), max(n.Column, 1)
	}
	r.add(line, col, fix, format, args...)
}

func (r *report) add(line, col int, fix, format string, args ...any) {
	if fix == "" {
		// Every problem says how to fix it; an empty fix is a bug here,
		// but the reader still deserves a direction.
		fix = "see docs/examples/env/staging.yaml"
	}
	r.errs = append(r.errs, &Error{
		File: r.file, Line: max(line, 1), Col: max(col, 1),
		Msg: fmt.Sprintf(format, args...), Fix: fix,
	})
}

// sorted returns the problems sorted by position, without repeats (an
// alias makes the walk meet the anchor's node more than once).
func (r *report) sorted() Errors {
	sort.SliceStable(r.errs, func(i, j int) bool {
		a, b := r.errs[i], r.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := r.errs[:0]
	for i, e := range r.errs {
		if i > 0 && *e == *r.errs[i-1] {
			continue
		}
		out = append(out, e)
	}
	r.errs = out
	return out
}

// suggest names the closest of valid to got, to start a fix with: `did
// you mean "toxiproxies"? `, or "" when nothing is close.
func suggest(got string, valid []string) string {
	best, bestD := "", -1
	for _, v := range valid {
		d := levenshtein(strings.ToLower(got), strings.ToLower(v))
		if d <= max(2, len(v)/3) && (bestD < 0 || d < bestD) {
			best, bestD = v, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("did you mean %q? ", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// A suggestion for a key this long would not help, and the cost
		// is quadratic in hostile input.
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
