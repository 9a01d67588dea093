package stackfile

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a stack file, at the position an editor can jump
// to, with what to do about it.
type Error struct {
	// File is the stack file the problem is in, as named to Load,
	// LoadFiles or Parse: the base or an overlay.
	File      string
	Line, Col int
	// Msg says what is wrong; Fix says how to put it right.
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

// Errors is every problem found in a stack file and its overlays, each
// file's sorted by position, the base's first: Load collects all of them
// rather than stopping at the first, so that one run shows everything to
// fix.
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
	r.errs = append(r.errs, &Error{
		File: r.file, Line: max(line, 1), Col: max(col, 1),
		Msg: fmt.Sprintf(format, args...), Fix: fix,
	})
}

// sorted returns the problems sorted by position, without repeats (an
// anchor merged into two services is checked once, but a cross check may
// still meet the same node twice, and compose-go may be run over a file
// more than once).
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

// suggest names the closest of valid to got, for a fix line: `did you mean
// "image"?`, or "" when nothing is close.
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

// sortedKeys returns a map's keys in order, for messages that list choices.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
