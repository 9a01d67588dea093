package probe

import (
	"encoding/json"
	"fmt"
)

// backendCheck is a test double of a system's answer check, for unit tests
// of the probe's own logic: a 200 whose JSON names service "backend" is OK,
// another service WrongService, and a failure's {code, message, attempts}
// is kept. The sample system's real check is sample.Check, tested in its
// own package.
func backendCheck(code int, body []byte) Answer {
	var a struct {
		Service, Instance, Code, Message string
		Attempts                         int
	}
	jsonErr := json.Unmarshal(body, &a)
	out := Answer{Outcome: Error, Service: a.Service, Instance: a.Instance, Attempts: a.Attempts}
	switch {
	case code != 200 && jsonErr == nil:
		out.Err = fmt.Sprintf("%d: %s: %s", code, a.Code, a.Message)
	case code != 200:
		out.Err = StatusErr(code, body)
	case jsonErr != nil || a.Instance == "":
		out.Err = fmt.Sprintf("200 with an answer that is not the backend's JSON: %q", body)
	case a.Service != "backend":
		out.Outcome, out.Err = WrongService, fmt.Sprintf("answer from service %q", a.Service)
	default:
		out.Outcome = OK
	}
	return out
}
