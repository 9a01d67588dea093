// Package alertsource reads the alerts of a running environment, from a
// Prometheus server's HTTP API (the team's rules, evaluated by the team's
// Prometheus) or from Alertmanager's API v2 (what reached the pager), and
// records them as an alert.Timeline, so that the judge reads a game day's
// alerts exactly as it reads the embedded rule engine's.
//
// The clients are plain net/http: they need two GET endpoints, not a
// generated client and its dependencies.
package alertsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
)

// Source is where alerts are read from. Implementations are safe for
// concurrent use.
type Source interface {
	// Name says which source this is, for messages, e.g. "Prometheus at
	// http://127.0.0.1:9090" (never with a password).
	Name() string
	// Alerts returns the alerts the source holds now: pending and firing
	// ones from Prometheus, every alert Alertmanager has not resolved.
	Alerts(ctx context.Context) ([]Alert, error)
}

// Alert is one alert as a source reports it.
type Alert struct {
	// Name is the alertname label.
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	// State is alert.StatePending or alert.StateFiring. Alertmanager only
	// holds firing alerts.
	State alert.State
	// Since is when the alert became active, on the source's clock:
	// Prometheus' activeAt (when it went pending), Alertmanager's startsAt
	// (when Prometheus saw it fire).
	Since time.Time
	// FiredAt is when the source says the alert went firing, or zero when
	// it does not say: Prometheus' API does not, Alertmanager's startsAt
	// does.
	FiredAt time.Time
	// Value is the rule expression's value (Prometheus; 0 from
	// Alertmanager).
	Value float64
	// Status is Alertmanager's view of the alert (zero from Prometheus).
	Status Status
}

// clone returns a deep copy, so that what a caller gets cannot change what
// a recorder keeps.
func (a Alert) clone() Alert {
	a.Labels, a.Annotations = maps.Clone(a.Labels), maps.Clone(a.Annotations)
	s := &a.Status
	s.SilencedBy, s.InhibitedBy = slices.Clone(s.SilencedBy), slices.Clone(s.InhibitedBy)
	s.MutedBy, s.Receivers = slices.Clone(s.MutedBy), slices.Clone(s.Receivers)
	return a
}

// Status is what Alertmanager did with an alert. A silenced or inhibited
// alert still reached Alertmanager: for okbreak it paged.
type Status struct {
	// State is "active", "suppressed" or "unprocessed".
	State       string
	SilencedBy  []string
	InhibitedBy []string
	MutedBy     []string
	// Receivers are the receivers the alert was routed to.
	Receivers []string
}

// Muted reports whether Alertmanager held the notification back (silence,
// inhibition or mute time interval).
func (s Status) Muted() bool {
	return s.State == "suppressed" || len(s.SilencedBy)+len(s.InhibitedBy)+len(s.MutedBy) > 0
}

// Option configures a source.
type Option func(*client)

// WithHTTPClient replaces the HTTP client (default: a client with a
// 10-second timeout). A client with TLS settings reaches an HTTPS server.
func WithHTTPClient(c *http.Client) Option {
	return func(cl *client) {
		if c != nil {
			cl.http = c
		}
	}
}

// WithHeader adds a header to every request, e.g. Authorization for a
// server behind a proxy, or X-Scope-OrgID for a multi-tenant Mimir or
// Cortex. Its value never appears in messages.
func WithHeader(name, value string) Option {
	return func(cl *client) { cl.header.Add(name, value) }
}

// DefaultTimeout bounds one request when no HTTP client is given.
const DefaultTimeout = 10 * time.Second

// maxBody bounds a response: a server with many thousands of alerts fits,
// a wrong URL that streams forever does not.
const maxBody = 64 << 20

// client is what both sources share: a base URL and how to GET JSON from
// it.
type client struct {
	kind   string   // "Prometheus", "Alertmanager"
	base   *url.URL // the server's base URL, path prefix included
	name   string   // for messages: kind and URL, password redacted
	http   *http.Client
	header http.Header
}

func newClient(kind, baseURL string, opts []Option) (*client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		// url.Error quotes the URL, password and all.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%s URL: %w: want http://host:port or https://host:port", kind, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s URL %q: want http://host:port or https://host:port (the server's base URL, with its path prefix if it has one)", kind, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s URL %q: want the server's base URL, without a query or fragment", kind, u.Redacted())
	}
	c := &client{kind: kind, base: u, http: &http.Client{Timeout: DefaultTimeout}, header: http.Header{}}
	c.name = kind + " at " + u.Redacted()
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// getJSON GETs path (below the base URL) and decodes the JSON answer into
// out. Errors say the URL and the likely fix.
func (c *client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	u := c.base.JoinPath(path)
	u.RawQuery = query.Encode()
	shown := u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("alerts from %s: GET %s: %w", c.name, shown, err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("alerts from %s: GET %s: %w%s", c.name, shown, err, c.unreachableHint(ctx, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("alerts from %s: GET %s: read the answer: %w", c.name, shown, err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("alerts from %s: GET %s: answer larger than %d MiB: is the URL the %s's base URL?", c.name, shown, maxBody>>20, c.kind)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("alerts from %s: GET %s: %w", c.name, shown, c.statusError(resp, body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("alerts from %s: GET %s: the answer is not the %s API's JSON (%w): is the URL the %s's base URL? It begins %.120q",
			c.name, shown, c.kind, err, c.kind, body)
	}
	return nil
}

// unreachableHint says what to check when a request got no answer.
func (c *client) unreachableHint(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return ""
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf(": the host name does not resolve: is the URL right (%s)?", c.base.Redacted())
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf(": nothing answers there: is %s running, and is the URL right (%s)?", c.kind, c.base.Redacted())
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf(": no answer in time: is %s overloaded, or the URL a host that drops packets?", c.kind)
	}
	return fmt.Sprintf(": is %s running, and is the URL right (%s)?", c.kind, c.base.Redacted())
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// statusError turns a non-200 answer into an error with its fix.
func (c *client) statusError(resp *http.Response, body []byte) error {
	msg := strings.TrimSpace(string(body))
	// Prometheus answers errors as {"status":"error","error":"..."}.
	var perr struct{ ErrorType, Error string }
	if json.Unmarshal(body, &perr) == nil && perr.Error != "" {
		msg = perr.ErrorType + ": " + perr.Error
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	hint := ""
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone, http.StatusMethodNotAllowed:
		hint = fmt.Sprintf(": no such API there: is the URL the %s's base URL (with its path prefix, without /api/...)?", c.kind)
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = ": the server wants credentials: give them with WithHeader (e.g. Authorization) or a client WithHTTPClient"
	}
	return fmt.Errorf("HTTP %s: %s%s", resp.Status, msg, hint)
}
