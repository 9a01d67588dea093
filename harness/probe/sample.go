package probe

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Outcome says how one probe request ended. Only OK counts as a success:
// an answer from the wrong service is a failure of correctness, not a
// success with a caveat.
type Outcome string

const (
	// OK is a 200 whose body names the expected service.
	OK Outcome = "ok"
	// Error is anything else the edge or the network did: a non-200 status,
	// a refused or reset connection, an answer that does not say who served it.
	Error Outcome = "error"
	// WrongService is a 200 from a service other than the one asked for:
	// traffic routed to the wrong place, the worst kind of "success".
	WrongService Outcome = "wrong_service"
	// Timeout is a request that got no complete answer within the probe's
	// Timeout (a partition, a hung edge). Its latency is the timeout.
	Timeout Outcome = "timeout"
)

// Sample is one probe request. Start is when the request was sent, and every
// window and percentile is computed from it, so a slow answer belongs to the
// moment it was asked, not the moment it came back.
type Sample struct {
	Start   time.Time
	Latency time.Duration
	// Code is the HTTP status, 0 when there was none (transport error, timeout).
	Code int
	// Instance and Service are what the answer said served it (empty when the
	// answer said nothing).
	Instance, Service string
	// Attempts is how many tries the edge reports it made (the grpc frontend
	// reports it; Envoy does not: 0). A success after retries is still a
	// success, but worth seeing.
	Attempts int
	// Err is empty for OK, else a short reason.
	Err     string
	Outcome Outcome
}

// sampleJSON is Sample on the wire: latencies in seconds like the rest of the
// reports.
type sampleJSON struct {
	Start    time.Time `json:"start"`
	Latency  float64   `json:"latency_s"`
	Code     int       `json:"code"`
	Instance string    `json:"instance,omitempty"`
	Service  string    `json:"service,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Err      string    `json:"err,omitempty"`
	Outcome  Outcome   `json:"outcome"`
}

// MarshalJSON writes the latency as latency_s (seconds).
func (s Sample) MarshalJSON() ([]byte, error) {
	return json.Marshal(sampleJSON{
		Start: s.Start, Latency: s.Latency.Seconds(), Code: s.Code, Instance: s.Instance,
		Service: s.Service, Attempts: s.Attempts, Err: s.Err, Outcome: s.Outcome,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Sample) UnmarshalJSON(b []byte) error {
	var j sampleJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("probe sample: %w", err)
	}
	*s = Sample{
		Start: j.Start, Latency: seconds(j.Latency), Code: j.Code, Instance: j.Instance,
		Service: j.Service, Attempts: j.Attempts, Err: j.Err, Outcome: j.Outcome,
	}
	return nil
}

// answer is the part of an edge's JSON body the probe judges: who served the
// request, and on failure the frontend's {code, message, attempts}.
type answer struct {
	Service  string `json:"service"`
	Instance string `json:"instance"`
	Attempts int    `json:"attempts"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// maxErrLen bounds the error text kept per sample: a long run of failures
// must not hold every body the edge sent.
const maxErrLen = 200

// classify turns one vegeta result into a Sample. want is the service a
// correct answer names; timeout is the probe's per-request timeout.
func classify(r *vegeta.Result, want string, timeout time.Duration) Sample {
	s := Sample{Start: r.Timestamp, Latency: r.Latency, Code: int(r.Code)}
	if r.Code == 0 {
		// No status: the request never got a complete answer. The latency
		// rule catches a timeout whatever the error text says; the text
		// catches one that fired a hair early by the clock we read.
		s.Err = clip(r.Error)
		if r.Error == "" {
			s.Err = "no answer"
		}
		if r.Latency >= timeout || strings.Contains(r.Error, "deadline exceeded") || strings.Contains(r.Error, "Client.Timeout") {
			s.Outcome = Timeout
			return s
		}
		s.Outcome = Error
		return s
	}
	var a answer
	jsonErr := json.Unmarshal(r.Body, &a)
	if jsonErr == nil {
		s.Service, s.Instance, s.Attempts = a.Service, a.Instance, a.Attempts
	}
	if r.Code != 200 {
		s.Outcome = Error
		switch {
		case jsonErr == nil && (a.Code != "" || a.Message != ""):
			s.Err = clip(fmt.Sprintf("%d: %s: %s", r.Code, a.Code, a.Message))
		case len(r.Body) > 0:
			s.Err = clip(fmt.Sprintf("%d: %s", r.Code, strings.TrimSpace(string(r.Body))))
		default:
			s.Err = fmt.Sprintf("status %d", r.Code)
		}
		return s
	}
	switch {
	case jsonErr != nil:
		s.Outcome = Error
		s.Err = clip(fmt.Sprintf("200 with an answer that is not JSON: %q", r.Body))
	case a.Service == "" || a.Instance == "":
		// An answer that does not say who served it cannot be judged
		// for correctness, so it cannot count as correct.
		s.Outcome = Error
		s.Err = clip(fmt.Sprintf("200 without service and instance: %s", strings.TrimSpace(string(r.Body))))
	case a.Service != want:
		s.Outcome = WrongService
		s.Err = clip(fmt.Sprintf("answer from service %q (instance %q), want %q", a.Service, a.Instance, want))
	default:
		s.Outcome = OK
	}
	return s
}

// clip shortens s to maxErrLen bytes without splitting a UTF-8 rune.
func clip(s string) string {
	if len(s) <= maxErrLen {
		return s
	}
	cut := maxErrLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// seconds converts seconds from JSON back to a Duration, rounding to the
// nanosecond so that a round trip is exact.
func seconds(f float64) time.Duration {
	if f >= 0 {
		return time.Duration(f*1e9 + 0.5)
	}
	return time.Duration(f*1e9 - 0.5)
}
