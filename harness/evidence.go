package harness

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/fault"
)

// evidenceLogLines is how many of each component's last log lines a failed
// case keeps.
const evidenceLogLines = 40

// evidence gathers what a person needs to see why a case did not pass: the
// components' last log lines, Toxiproxy's state, the data plane's config as
// it saw it, and the scrape targets' health. It never fails: whatever cannot
// be had is left out.
func (r *Runner) evidence(ctx context.Context, sess AlertSource) *Evidence {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	ev := &Evidence{Logs: map[string]string{}}
	def := r.System.Definition()
	if lt, ok := r.System.(LogTailer); ok {
		for _, c := range def.Components {
			if tail, err := lt.LogTail(ctx, c.Name, evidenceLogLines); err == nil {
				ev.Logs[c.Name] = tail
			}
		}
	}
	if te, ok := r.System.(fault.ToxiproxyEnv); ok {
		ev.Toxiproxy = toxiproxyProxies(ctx, te)
	}
	for _, e := range def.Evidence {
		addr, err := r.System.HostAddr(ctx, e.Component, e.Port)
		if err != nil {
			continue
		}
		if ev.Endpoints == nil {
			ev.Endpoints = map[string]string{}
		}
		ev.Endpoints[e.Name] = httpGet(ctx, "http://"+addr+e.Path)
	}
	if sess != nil {
		ev.Targets = sess.Targets()
	}
	if cs, ok := r.System.(ContainerStater); ok {
		if states, err := stateSource(cs, def).ContainerStates(ctx); err == nil {
			ev.Containers = states
		}
	}
	return ev
}

func httpGet(ctx context.Context, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "unavailable: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	return strings.TrimSpace(string(b))
}

// toxiproxyProxies is the /proxies answer of the system's Toxiproxy, or,
// for a system with one Toxiproxy per callee, a JSON object of each one's
// answer by component.
func toxiproxyProxies(ctx context.Context, te fault.ToxiproxyEnv) string {
	proxies := te.Definition().Proxies()
	answers := map[string]string{}
	for _, p := range proxies {
		if api, err := te.ToxiproxyAPI(ctx, p); err == nil {
			answers[p] = httpGet(ctx, api+"/proxies")
		}
	}
	if len(proxies) == 1 {
		return answers[proxies[0]]
	}
	if len(answers) == 0 {
		return ""
	}
	b, _ := json.Marshal(answers) // strings only: cannot fail
	return string(b)
}
