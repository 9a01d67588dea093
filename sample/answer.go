package sample

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/okbreak/okbreak/harness/probe"
)

// answer is the sample's JSON body: who served the request, and on failure
// the frontend's {code, message, attempts}.
type answer struct {
	Service  string `json:"service"`
	Instance string `json:"instance"`
	Attempts int    `json:"attempts"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// Check is the sample system's answer check: a 200 whose JSON body names
// service (and an instance) is OK; a 200 from another service is
// WrongService (traffic routed to the wrong place, the worst kind of
// "success"); a 200 that does not say who served it cannot be judged for
// correctness, so it is an Error. It is safe for concurrent use.
func Check(service string) probe.Check {
	return func(code int, body []byte) probe.Answer {
		var a answer
		jsonErr := json.Unmarshal(body, &a)
		out := probe.Answer{Outcome: probe.Error}
		if jsonErr == nil {
			out.Service, out.Instance, out.Attempts = a.Service, a.Instance, a.Attempts
		}
		switch {
		case code != 200 && jsonErr == nil && (a.Code != "" || a.Message != ""):
			out.Err = fmt.Sprintf("%d: %s: %s", code, a.Code, a.Message)
		case code != 200:
			out.Err = probe.StatusErr(code, body)
		case jsonErr != nil:
			out.Err = fmt.Sprintf("200 with an answer that is not JSON: %q", clip(body))
		case a.Service == "" || a.Instance == "":
			out.Err = "200 without service and instance: " + strings.TrimSpace(string(clip(body)))
		case a.Service != service:
			out.Outcome = probe.WrongService
			out.Err = fmt.Sprintf("answer from service %q (instance %q), want %q", a.Service, a.Instance, service)
		default:
			out.Outcome = probe.OK
		}
		return out
	}
}

// clip keeps the start of a body for a message; probe clips the message
// again to its own bound.
func clip(b []byte) []byte {
	if len(b) > 256 {
		return b[:256]
	}
	return b
}
