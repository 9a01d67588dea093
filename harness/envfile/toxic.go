package envfile

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// ToxicPrefix starts the name of every toxic okbreak creates through an
// environment file. The dot sets it apart from the toxics of okbreak's own
// stacks ("okbreak-<type>-..."), which recover finds by other means.
const ToxicPrefix = "okbreak."

const (
	maxRunPart   = 40
	maxFaultPart = 64
)

var (
	runPart   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	faultPart = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// ToxicName names the toxic a run creates for a fault:
// okbreak.<env>.<run>.<fault>. A run ID or fault name already within
// [a-z0-9_-] (the run) or [a-z0-9._-] (the fault), starting with a letter or
// digit and at most 40 or 64 bytes, is kept as is; any other is lowercased,
// its other characters turned to '-', cut, and suffixed with 8 hex digits
// of its SHA-256, so that two different names stay different
// ("Latency 1" -> "latency-1-3c4f...", not "latency-1"). The name is the
// same for the same arguments, every time: recover recomputes it.
func (e *Env) ToxicName(run, fault string) string {
	return e.runPrefix(run) + sanitize(fault, faultPart, maxFaultPart, true)
}

// OwnToxic tells whether the toxic called name is one ToxicName made for
// run in this environment: not another run's, not another environment's,
// not a toxic people or other tools made.
func (e *Env) OwnToxic(name, run string) bool {
	rest, ok := strings.CutPrefix(name, e.runPrefix(run))
	return ok && faultPart.MatchString(rest)
}

// ToxicRun returns the run part of a toxic ToxicName made in this
// environment (the run ID as it appears in the name, sanitised if it had
// to be), so that recover can list the runs that left toxics behind.
func (e *Env) ToxicRun(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, ToxicPrefix+e.Name+".")
	if !ok {
		return "", false
	}
	run, fault, ok := strings.Cut(rest, ".")
	if !ok || !runPart.MatchString(run) || !faultPart.MatchString(fault) {
		return "", false
	}
	return run, true
}

func (e *Env) runPrefix(run string) string {
	return ToxicPrefix + e.Name + "." + sanitize(run, runPart, maxRunPart, false) + "."
}

// sanitize keeps s when it is a valid part, and otherwise makes one of it
// that no other s gives (short of a SHA-256 collision in 32 bits, which
// for names within one run and environment is not a concern).
func sanitize(s string, valid *regexp.Regexp, maxLen int, dots bool) string {
	if len(s) <= maxLen && valid.MatchString(s) {
		return s
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || (dots && r == '.')
		switch {
		case ok:
			b.WriteRune(r)
			dash = r == '-'
		case !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= maxLen {
			break
		}
	}
	sum := sha256.Sum256([]byte(s))
	tag := hex.EncodeToString(sum[:4])
	clean := strings.Trim(b.String(), "-_.")
	if len(clean) > maxLen {
		clean = strings.TrimRight(clean[:maxLen], "-_.")
	}
	if clean == "" {
		return tag
	}
	return clean + "-" + tag
}
