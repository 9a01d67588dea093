package catalog

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a catalog file, 1-based, as a text editor counts.
type Pos struct {
	Line   int
	Column int
}

// Error is one problem in a catalog file, with the position an editor can
// jump to and a hint that says how to fix it.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
	// Hint says what to write instead; it may be empty.
	Hint string
}

// Error formats the problem as "file:line:column: msg (hint: ...)", the form
// compilers use, so that editors and CI annotate the right line.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

// Errors is every problem found in a catalog, sorted by position. Parsing and
// validation collect all of them rather than stopping at the first, so that
// one run of `okbreak validate` shows everything to fix.
type Errors []*Error

// Error prints one problem a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// err returns the sorted problems as an error, or nil when there are none (a
// nil Errors in an error interface would not compare equal to nil).
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	sortErrors(es)
	return es
}

func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
}

// report collects problems for one file.
type report struct {
	file string
	errs Errors
}

func (r *report) add(p Pos, hint, format string, args ...any) {
	if p.Line < 1 {
		p.Line = 1
	}
	if p.Column < 1 {
		p.Column = 1
	}
	r.errs = append(r.errs, &Error{File: r.file, Line: p.Line, Column: p.Column, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// suggest returns a hint naming the closest valid choices to got, and then
// all of them, e.g. `did you mean "duration"? valid fields: ...`.
func suggest(got, kind string, valid []string) string {
	var parts []string
	if c := closest(got, valid, 3); len(c) > 0 {
		parts = append(parts, "did you mean "+quoteJoin(c, " or ")+"?")
	}
	if len(valid) > 0 {
		parts = append(parts, "valid "+kind+": "+strings.Join(valid, ", "))
	}
	return strings.Join(parts, " ")
}

func quoteJoin(ss []string, sep string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, sep)
}

// closest returns up to n names from valid that are a plausible typo of got:
// within an edit distance of a third of the name (at least 2), differing only
// in case and separators, or one holding the other. Nearest first.
func closest(got string, valid []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	var cs []cand
	for _, v := range valid {
		d := levenshtein(strings.ToLower(got), strings.ToLower(v))
		if norm(got) == norm(v) {
			d = 0
		}
		limit := max(2, len(v)/3)
		lg, lv := strings.ToLower(got), strings.ToLower(v)
		// One name inside the other: "backend" for "backend-1", or "etcd"
		// for the link "xds->etcd" given where a component belongs.
		inside := (len(got) >= 4 && strings.Contains(lv, lg)) || (len(v) >= 3 && strings.Contains(lg, lv))
		if d <= limit || inside {
			cs = append(cs, cand{v, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
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
