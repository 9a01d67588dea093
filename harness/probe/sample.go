package probe

import (
	"encoding/json"
	"fmt"
	"net/http"
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

// Answer is what a Check reads from one answer: its outcome, who served it
// (when the answer says), and why it is not OK.
type Answer struct {
	Outcome           Outcome
	Service, Instance string
	// Attempts is how many tries the entry reports it made (0: unknown).
	Attempts int
	// Err is empty for OK, else a short reason; it is clipped to a few
	// hundred bytes.
	Err string
}

// Check judges one answer that came with an HTTP status (any status: a
// system may answer a failure with a body worth keeping). It must be safe
// for concurrent use and quick: it runs once per request. Requests without
// a status (refused, reset, timed out) never reach it.
type Check func(code int, body []byte) Answer

// HeaderCheck judges the headers of an answer its Check found OK: a
// correctness check a system states on a response header (a stack file's
// probe check). It returns Outcome OK, or what is wrong with the answer.
// It must be safe for concurrent use.
type HeaderCheck func(h http.Header) Answer

// Judge judges one answer with a status: check (StatusOK when nil), then
// header, when set, on an answer check found OK. The probe and the wait for
// a serving stack judge answers alike with it.
func Judge(check Check, header HeaderCheck, code int, h http.Header, body []byte) Answer {
	if check == nil {
		check = StatusOK
	}
	a := check(code, body)
	if a.Outcome == OK && header != nil {
		if ha := header(h); ha.Outcome != OK {
			a.Outcome, a.Err = ha.Outcome, ha.Err
		}
	}
	return a
}

// StatusOK is the default Check: a 200 is OK, anything else an Error that
// quotes the start of the body. It cannot tell a wrong answer from a right
// one; a system that can should bring its own Check.
func StatusOK(code int, body []byte) Answer {
	if code == 200 {
		return Answer{Outcome: OK}
	}
	return Answer{Outcome: Error, Err: StatusErr(code, body)}
}

// StatusErr is "<code>: <body>" ("status <code>" without a body), for
// Checks that fail an answer on its status.
func StatusErr(code int, body []byte) string {
	if b := strings.TrimSpace(string(body)); b != "" {
		return fmt.Sprintf("%d: %s", code, clip(b))
	}
	return fmt.Sprintf("status %d", code)
}

// maxErrLen bounds the error text kept per sample: a long run of failures
// must not hold every body the edge sent.
const maxErrLen = 200

// classify turns one vegeta result into a Sample. check judges answers with
// a status; timeout is the probe's per-request timeout.
func classify(r *vegeta.Result, check Check, header HeaderCheck, timeout time.Duration) Sample {
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
	a := Judge(check, header, int(r.Code), r.Headers, r.Body)
	s.Outcome, s.Service, s.Instance, s.Attempts, s.Err = a.Outcome, a.Service, a.Instance, a.Attempts, clip(a.Err)
	if s.Outcome == "" {
		s.Outcome, s.Err = Error, "the answer check gave no outcome"
	}
	if r.Code != 200 && s.Outcome == OK {
		// Whatever a check says, only a 200 is a success: a 204 or a 3xx
		// from the entry is not the answer a user asked for.
		s.Outcome, s.Err = Error, StatusErr(int(r.Code), r.Body)
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
