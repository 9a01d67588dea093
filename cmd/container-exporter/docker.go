package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
)

// engine reads containers from the Docker API over a unix socket: two GET
// endpoints, no client library (whose other methods write).
type engine struct {
	http    *http.Client
	filters map[string][]string
}

func newEngine(socket string, filters map[string][]string) *engine {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: 4,
	}
	return &engine{http: &http.Client{Transport: readOnly{tr}, Timeout: 10 * time.Second}, filters: filters}
}

// readOnly refuses every request but GET: the exporter must never change
// the engine it watches, whatever a later edit asks of it.
type readOnly struct{ next http.RoundTripper }

func (r readOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return nil, fmt.Errorf("%s %s refused: the container exporter only reads the Docker API", req.Method, req.URL.Path)
	}
	return r.next.RoundTrip(req)
}

// inspected is the part of GET /containers/{id}/json the metrics need.
type inspected struct {
	ID           string `json:"Id"`
	Name         string `json:"Name"`
	RestartCount int    `json:"RestartCount"`
	State        struct {
		Running, Paused, Restarting, OOMKilled bool
		ExitCode                               int
		StartedAt, FinishedAt                  string
	} `json:"State"`
	Config struct {
		Image  string            `json:"Image"`
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
}

// containers lists the selected containers, stopped ones included, and
// inspects each. One removed between the two calls is left out.
func (e *engine) containers(ctx context.Context) ([]inspected, error) {
	q := url.Values{"all": {"1"}}
	if len(e.filters) > 0 {
		b, err := json.Marshal(e.filters)
		if err != nil {
			return nil, fmt.Errorf("docker filters: %w", err)
		}
		q.Set("filters", string(b))
	}
	var list []struct {
		ID string `json:"Id"`
	}
	if _, err := e.get(ctx, "/containers/json?"+q.Encode(), &list); err != nil {
		return nil, err
	}
	out := make([]inspected, 0, len(list))
	for _, c := range list {
		var ins inspected
		found, err := e.get(ctx, "/containers/"+url.PathEscape(c.ID)+"/json", &ins)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, ins)
		}
	}
	return out, nil
}

// get decodes the JSON answer of path into out; found is false on 404.
func (e *engine) get(ctx context.Context, path string, out any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return false, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("docker API: %w (is the Docker socket mounted, and readable by this user?)", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return false, fmt.Errorf("docker API GET %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && strings.HasPrefix(path, "/containers/") && !strings.HasPrefix(path, "/containers/json"):
		return false, nil
	case resp.StatusCode != http.StatusOK:
		return false, fmt.Errorf("docker API GET %s: HTTP %s: %.300s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("docker API GET %s: %w", path, err)
	}
	return true, nil
}

// states is the exporter's alert.StateSource over the engine. Safe for
// concurrent use: the two metric paths read it at about the same time, and
// one engine read within stateTTL serves both.
type states struct {
	eng       *engine
	labels    []string
	namespace string

	mu   sync.Mutex
	at   time.Time
	last []alert.ContainerState
	// exits remembers each component's last exit as seen while it was
	// down: Docker resets ExitCode (not FinishedAt) when the restart
	// policy starts the container again. The harness keeps the same.
	exits map[string]alert.ContainerState
}

// stateTTL is well under any scrape interval a Prometheus would use.
const stateTTL = 100 * time.Millisecond

func newStates(eng *engine, labels []string, namespace string) *states {
	return &states{eng: eng, labels: labels, namespace: namespace, exits: map[string]alert.ContainerState{}}
}

// ContainerStates implements alert.StateSource. An engine error fails the
// scrape (up == 0): it is never papered over with old state.
func (s *states) ContainerStates(ctx context.Context) ([]alert.ContainerState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil && time.Since(s.at) < stateTTL {
		return s.last, nil
	}
	ctrs, err := s.eng.containers(ctx)
	if err != nil {
		return nil, err
	}
	names := components(ctrs, s.labels)
	out := make([]alert.ContainerState, 0, len(ctrs))
	for i, c := range ctrs {
		cs := alert.ContainerState{
			Component: names[i], Namespace: s.namespace, Image: c.Config.Image,
			Running: c.State.Running, Paused: c.State.Paused, Restarting: c.State.Restarting,
			Restarts: c.RestartCount, ExitCode: c.State.ExitCode, OOMKilled: c.State.OOMKilled,
			StartedAt: dockerTime(c.State.StartedAt), FinishedAt: dockerTime(c.State.FinishedAt),
		}
		if seen, ok := s.exits[cs.Component]; ok && cs.Running && seen.FinishedAt.Equal(cs.FinishedAt) {
			cs.ExitCode, cs.OOMKilled = seen.ExitCode, seen.OOMKilled
		}
		if (!cs.Running || cs.Restarting) && !cs.FinishedAt.IsZero() {
			s.exits[cs.Component] = cs
		}
		out = append(out, cs)
	}
	s.last, s.at = out, time.Now()
	return out, nil
}

// components names each container: its first component label, else its
// name. Two containers with one label value (a scaled Compose service)
// are named by their container names instead, which stay distinct.
func components(ctrs []inspected, labels []string) []string {
	names := make([]string, len(ctrs))
	count := map[string]int{}
	for i, c := range ctrs {
		names[i] = strings.TrimPrefix(c.Name, "/")
		for _, l := range labels {
			if v := c.Config.Labels[l]; v != "" {
				names[i] = v
				break
			}
		}
		count[names[i]]++
	}
	for i, c := range ctrs {
		if count[names[i]] > 1 {
			names[i] = strings.TrimPrefix(c.Name, "/")
		}
	}
	return names
}

// dockerTime parses the engine's timestamps; "0001-01-01T00:00:00Z" (never)
// is the zero time.
func dockerTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
