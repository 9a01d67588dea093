package sample_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/okbreak/okbreak/harness/probe"
	"github.com/okbreak/okbreak/sample"
)

func TestCheck(t *testing.T) {
	check := sample.Check(sample.BackendService)
	for _, c := range []struct {
		name     string
		code     int
		body     string
		outcome  probe.Outcome
		err      string
		instance string
	}{
		{"correct", 200, `{"service":"backend","instance":"backend-2","attempts":1}`, probe.OK, "", "backend-2"},
		{"other service", 200, `{"service":"other","instance":"other-1"}`, probe.WrongService, `answer from service "other"`, "other-1"},
		{"no instance", 200, `{"service":"backend"}`, probe.Error, "without service and instance", ""},
		{"not json", 200, `hello`, probe.Error, "not JSON", ""},
		{"envoy 503", 503, "no healthy upstream", probe.Error, "503: no healthy upstream", ""},
		{"frontend 504", 504, `{"code":"DeadlineExceeded","message":"slow","attempts":2}`, probe.Error, "504: DeadlineExceeded: slow", ""},
		{"empty 500", 500, "", probe.Error, "status 500", ""},
	} {
		a := check(c.code, []byte(c.body))
		assert.Equal(t, c.outcome, a.Outcome, c.name)
		assert.Contains(t, a.Err, c.err, c.name)
		assert.Equal(t, c.instance, a.Instance, c.name)
	}
}
