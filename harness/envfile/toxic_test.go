package envfile

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestToxicNames(t *testing.T) {
	e := &Env{Name: "staging"}
	other := &Env{Name: "prod"}
	name := e.ToxicName("3f9a01bc", "latency-downstream")
	assert.Equal(t, "okbreak.staging.3f9a01bc.latency-downstream", name)
	assert.True(t, e.OwnToxic(name, "3f9a01bc"))
	run, ok := e.ToxicRun(name)
	assert.Equal(t, "3f9a01bc", run)
	assert.True(t, ok)

	for _, foreign := range []struct{ name, why string }{
		{e.ToxicName("3f9a01bd", "latency-downstream"), "another run"},
		{e.ToxicName("3f9a01bc0", "latency-downstream"), "a run whose ID starts with this one's"},
		{other.ToxicName("3f9a01bc", "latency-downstream"), "another environment, same run ID"},
		{"okbreak-latency-3f9a01bc-downstream", "okbreak's own stacks' toxics"},
		{"latency_downstream", "Toxiproxy's default name"},
		{"okbreak.staging.3f9a01bc.", "no fault"},
		{"okbreak.staging.3f9a01bc", "no fault, no dot"},
		{"okbreak.staging.3f9a01bc.Latency", "not a name okbreak writes"},
		{"xokbreak.staging.3f9a01bc.latency", "a prefix within a longer name"},
	} {
		assert.False(t, e.OwnToxic(foreign.name, "3f9a01bc"), "%s claimed: %s", foreign.name, foreign.why)
	}
	_, ok = e.ToxicRun("okbreak.prod.3f9a01bc.latency")
	assert.False(t, ok)
	_, ok = e.ToxicRun("okbreak.staging.3f9a01bc")
	assert.False(t, ok)
}

// Names outside the charset are made into valid parts, the same every
// time, and two different names stay different.
func TestToxicNamesSanitised(t *testing.T) {
	e := &Env{Name: "staging"}
	name := e.ToxicName("Run 7", "Latency 1/down")
	assert.Regexp(t, `^okbreak\.staging\.run-7-[0-9a-f]{8}\.latency-1-down-[0-9a-f]{8}$`, name)
	assert.Equal(t, name, e.ToxicName("Run 7", "Latency 1/down"))
	assert.True(t, e.OwnToxic(name, "Run 7"))
	assert.False(t, e.OwnToxic(name, "run-7"))
	assert.NotEqual(t, e.ToxicName("r", "Latency 1"), e.ToxicName("r", "latency-1"))
	assert.NotEqual(t, e.ToxicName("r", "a b"), e.ToxicName("r", "a/b"))
	// A dot in a run ID would end the run's part early: it goes.
	assert.Regexp(t, `^okbreak\.staging\.a-b-[0-9a-f]{8}\.f$`, e.ToxicName("a.b", "f"))
	// Long names are cut, still told apart.
	long := strings.Repeat("x", 200)
	assert.LessOrEqual(t, len(e.ToxicName(long, long)), len("okbreak.staging.")+40+9+1+64+9)
	assert.NotEqual(t, e.ToxicName("r", long), e.ToxicName("r", long+"y"))
	assert.Regexp(t, `^okbreak\.staging\.[0-9a-f]{8}\.[0-9a-f]{8}$`, e.ToxicName("", "!!!"))
}

// Whatever the run and fault, the name keeps to [a-z0-9._-], is claimed
// by its run, and by no other.
func TestToxicNamesProperty(t *testing.T) {
	e := &Env{Name: "staging"}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcXYZ019._-/ :>\u00e9\x00"
	word := func() string {
		var b strings.Builder
		for range rng.IntN(50) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 5000 {
		run, run2, fault := word(), word(), word()
		name := e.ToxicName(run, fault)
		assert.Regexp(t, `^[a-z0-9._-]+$`, name)
		assert.True(t, e.OwnToxic(name, run), "%q %q -> %q", run, fault, name)
		got, ok := e.ToxicRun(name)
		assert.True(t, ok, name)
		assert.True(t, strings.HasPrefix(name, ToxicPrefix+"staging."+got+"."), name)
		if run2 != run {
			assert.False(t, e.OwnToxic(name, run2), "%q claimed by run %q and %q", name, run, run2)
		}
	}
}
