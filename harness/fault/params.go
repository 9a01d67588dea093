package fault

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// params reads a Spec's parameters, collecting every problem, and at the
// end reports keys nobody asked for (a typo must not pass silently).
type params struct {
	m     map[string]any
	known []string
	used  map[string]bool
	errs  []error
}

func newParams(m map[string]any, known ...string) *params {
	return &params{m: m, known: known, used: map[string]bool{}}
}

func (p *params) get(key string) (any, bool) {
	p.used[key] = true
	v, ok := p.m[key]
	return v, ok && v != nil
}

func (p *params) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

// duration reads a Go duration string ("2s", "250ms") or a time.Duration.
func (p *params) duration(key string, def time.Duration, required bool) time.Duration {
	v, ok := p.get(key)
	if !ok {
		if required {
			p.fail("param %s is required (a duration such as \"2s\")", key)
		}
		return def
	}
	switch x := v.(type) {
	case time.Duration:
		if x < 0 {
			p.fail("param %s: %s is negative", key, x)
		}
		return x
	case string:
		d, err := time.ParseDuration(x)
		if err != nil {
			p.fail("param %s: %q is not a duration such as \"2s\"", key, x)
			return def
		}
		if d < 0 {
			p.fail("param %s: %s is negative", key, x)
		}
		return d
	}
	p.fail("param %s: %v (%T) is not a duration: write it as a string such as \"2s\"", key, v, v)
	return def
}

// millis reads a duration that Toxiproxy takes in whole milliseconds.
func (p *params) millis(key string, def time.Duration, required bool) int64 {
	d := p.duration(key, def, required)
	if d%time.Millisecond != 0 {
		p.fail("param %s: %s is not a whole number of milliseconds", key, d)
	}
	return d.Milliseconds()
}

// integer reads a whole number in [lo, hi].
func (p *params) integer(key string, def, lo, hi int64, required bool) int64 {
	v, ok := p.get(key)
	if !ok {
		if required {
			p.fail("param %s is required (a whole number)", key)
		}
		return def
	}
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case int32:
		n = int64(x)
	case uint:
		n = int64(x)
	case uint32:
		n = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			p.fail("param %s: %d is too large", key, x)
			return def
		}
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			p.fail("param %s: %v is not a whole number", key, x)
			return def
		}
		n = int64(x)
	default:
		p.fail("param %s: %v (%T) is not a whole number", key, v, v)
		return def
	}
	if n < lo || n > hi {
		p.fail("param %s: %d is out of range [%d, %d]", key, n, lo, hi)
	}
	return n
}

// ratio reads a number in [0, 1].
func (p *params) ratio(key string, def float64) float64 {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		p.fail("param %s: %v (%T) is not a number between 0 and 1", key, v, v)
		return def
	}
	if f < 0 || f > 1 || math.IsNaN(f) {
		p.fail("param %s: %v is not between 0 and 1", key, f)
	}
	return f
}

// choice reads a string that must be one of allowed.
func (p *params) choice(key, def string, allowed ...string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr {
		p.fail("param %s: %v (%T) is not a string: want one of %s", key, v, v, strings.Join(allowed, ", "))
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.fail("param %s: %q: want one of %s", key, s, strings.Join(allowed, ", "))
	return def
}

// str reads any string.
func (p *params) str(key, def string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr {
		p.fail("param %s: %v (%T) is not a string", key, v, v)
		return def
	}
	return s
}

// boolean reads true or false.
func (p *params) boolean(key string, def bool) bool {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		p.fail("param %s: %v (%T) is not true or false", key, v, v)
		return def
	}
	return b
}

// err returns every problem found, plus unknown keys, listing the valid
// ones.
func (p *params) err() error {
	var unknown []string
	for k := range p.m {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	errs := p.errs
	if len(unknown) > 0 {
		valid := "none"
		if len(p.known) > 0 {
			valid = strings.Join(p.known, ", ")
		}
		errs = append(errs, fmt.Errorf("unknown params %s: valid params are %s", strings.Join(unknown, ", "), valid))
	}
	return errors.Join(errs...)
}
