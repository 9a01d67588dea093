package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// toxiproxy is a small ctx-aware client of Toxiproxy's HTTP API (the
// official Go client takes no context). Proxy names hold "->", which is
// path-escaped ("edge-%3Ebackend-1"). It keeps its connection to the API
// alive, so that an inject is one round trip. When the API cannot be
// reached it resolves the URL again once (a restarted Toxiproxy container
// has a new host port). Its owner calls closeIdle once done with it: an
// idle connection holds a file descriptor and two goroutines until it
// times out (90 s). Safe for concurrent use.
type toxiproxy struct {
	resolve func(ctx context.Context) (string, error)
	hc      *http.Client

	mu   sync.Mutex
	base string
}

func newToxiproxy(resolve func(ctx context.Context) (string, error)) *toxiproxy {
	return &toxiproxy{
		resolve: resolve,
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second,
		}},
	}
}

// closeIdle closes the client's idle connections; it stays usable.
func (t *toxiproxy) closeIdle() { t.hc.CloseIdleConnections() }

// apiError is an answer other than 2xx from Toxiproxy.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("toxiproxy answered %d: %s", e.Status, e.Msg) }

func isAPINotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

func (t *toxiproxy) url(ctx context.Context, fresh bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.base != "" && !fresh {
		return t.base, nil
	}
	u, err := t.resolve(ctx)
	if err != nil {
		return "", fmt.Errorf("toxiproxy API: %w", err)
	}
	t.base = strings.TrimSuffix(u, "/")
	return t.base, nil
}

func (t *toxiproxy) do(ctx context.Context, method, path string, body, out any) error {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = b
	}
	for attempt := 0; ; attempt++ {
		base, err := t.url(ctx, attempt > 0)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := t.hc.Do(req)
		if err != nil {
			if attempt == 0 && ctx.Err() == nil {
				continue // the API moved or restarted: look it up again
			}
			return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("toxiproxy %s %s: %w", method, path, &apiError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))})
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("toxiproxy %s %s: decode %q: %w", method, path, b, err)
			}
		}
		return nil
	}
}

// proxyPath is the API path of a proxy.
func proxyPath(name string) string { return "/proxies/" + url.PathEscape(name) }

// apiToxic is a toxic as Toxiproxy's API shows it.
type apiToxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// apiProxy is a proxy as Toxiproxy's API shows it.
type apiProxy struct {
	Name     string     `json:"name"`
	Listen   string     `json:"listen"`
	Upstream string     `json:"upstream"`
	Enabled  bool       `json:"enabled"`
	Toxics   []apiToxic `json:"toxics"`
}

func (t *toxiproxy) proxy(ctx context.Context, name string) (apiProxy, error) {
	var p apiProxy
	err := t.do(ctx, http.MethodGet, proxyPath(name), nil, &p)
	return p, err
}

func (t *toxiproxy) proxies(ctx context.Context) (map[string]apiProxy, error) {
	ps := map[string]apiProxy{}
	err := t.do(ctx, http.MethodGet, "/proxies", nil, &ps)
	return ps, err
}

func (t *toxiproxy) setEnabled(ctx context.Context, name string, enabled bool) error {
	// POST rather than PATCH: older Toxiproxy servers know only POST.
	return t.do(ctx, http.MethodPost, proxyPath(name), map[string]any{"enabled": enabled}, nil)
}

func (t *toxiproxy) addToxic(ctx context.Context, proxy string, tx apiToxic) error {
	return t.do(ctx, http.MethodPost, proxyPath(proxy)+"/toxics", tx, nil)
}

// removeToxic deletes a toxic; one that is already gone counts as removed.
func (t *toxiproxy) removeToxic(ctx context.Context, proxy, toxic string) error {
	err := t.do(ctx, http.MethodDelete, proxyPath(proxy)+"/toxics/"+url.PathEscape(toxic), nil, nil)
	if isAPINotFound(err) {
		return nil
	}
	return err
}

// reset re-enables every proxy and removes every toxic.
func (t *toxiproxy) reset(ctx context.Context) error {
	return t.do(ctx, http.MethodPost, "/reset", nil, nil)
}

// ToxiproxyState is what is not at rest in a Toxiproxy: toxics by proxy,
// and disabled proxies.
type ToxiproxyState struct {
	Toxics   map[string][]string // proxy -> toxic names
	Disabled []string
}

// Clean tells whether no toxic and no disabled proxy is left.
func (s ToxiproxyState) Clean() bool { return len(s.Toxics) == 0 && len(s.Disabled) == 0 }

// Only is the state of the named proxies alone.
func (s ToxiproxyState) Only(proxies []string) ToxiproxyState {
	out := ToxiproxyState{Toxics: map[string][]string{}}
	for p, ts := range s.Toxics {
		if slices.Contains(proxies, p) {
			out.Toxics[p] = ts
		}
	}
	for _, p := range s.Disabled {
		if slices.Contains(proxies, p) {
			out.Disabled = append(out.Disabled, p)
		}
	}
	return out
}

// String says what is not at rest, for reports.
func (s ToxiproxyState) String() string {
	if s.Clean() {
		return "no toxics, every proxy enabled"
	}
	var parts []string
	for p, ts := range s.Toxics {
		parts = append(parts, fmt.Sprintf("%s has toxics %s", p, strings.Join(ts, ",")))
	}
	for _, p := range s.Disabled {
		parts = append(parts, p+" disabled")
	}
	return strings.Join(parts, "; ")
}

func (t *toxiproxy) state(ctx context.Context) (ToxiproxyState, error) {
	ps, err := t.proxies(ctx)
	if err != nil {
		return ToxiproxyState{}, err
	}
	st := ToxiproxyState{Toxics: map[string][]string{}}
	for name, p := range ps {
		if !p.Enabled {
			st.Disabled = append(st.Disabled, name)
		}
		for _, tx := range p.Toxics {
			st.Toxics[name] = append(st.Toxics[name], tx.Name)
		}
	}
	return st, nil
}

// InspectToxiproxy reports the toxics and disabled proxies of the Toxiproxy
// whose API is at apiURL.
func InspectToxiproxy(ctx context.Context, apiURL string) (ToxiproxyState, error) {
	t := newToxiproxy(func(context.Context) (string, error) { return apiURL, nil })
	defer t.closeIdle()
	return t.state(ctx)
}

// ResetToxiproxy re-enables every proxy and removes every toxic of the
// Toxiproxy whose API is at apiURL, and says what it found before.
func ResetToxiproxy(ctx context.Context, apiURL string) (ToxiproxyState, error) {
	t := newToxiproxy(func(context.Context) (string, error) { return apiURL, nil })
	defer t.closeIdle()
	st, err := t.state(ctx)
	if err != nil {
		return st, err
	}
	if st.Clean() {
		return st, nil
	}
	return st, t.reset(ctx)
}

// RemoveToxic removes one toxic of a proxy of the Toxiproxy whose API is at
// apiURL; a toxic already gone counts as removed.
func RemoveToxic(ctx context.Context, apiURL, proxy, toxic string) error {
	t := newToxiproxy(func(context.Context) (string, error) { return apiURL, nil })
	defer t.closeIdle()
	return t.removeToxic(ctx, proxy, toxic)
}

// ListProxies names the proxies of the Toxiproxy whose API is at apiURL
// (a read: nothing changes), sorted.
func ListProxies(ctx context.Context, apiURL string) ([]string, error) {
	t := newToxiproxy(func(context.Context) (string, error) { return apiURL, nil })
	defer t.closeIdle()
	ps, err := t.proxies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ps))
	for name := range ps {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}
