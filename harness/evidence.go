package harness

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/stack"
)

// evidenceLogLines is how many of each component's last log lines a failed
// case keeps.
const evidenceLogLines = 40

// evidence gathers what a person needs to see why a case did not pass: the
// components' last log lines, Toxiproxy's state, the data plane's config as
// it saw it, and the scrape targets' health. It never fails: whatever cannot
// be had is left out.
func (r *Runner) evidence(ctx context.Context, sess *alert.Session) *Evidence {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	ev := &Evidence{Logs: map[string]string{}}
	for _, c := range r.Stack.Def.Components {
		if tail, err := r.Stack.LogTail(ctx, c.Name, evidenceLogLines); err == nil {
			ev.Logs[c.Name] = tail
		}
	}
	if api, err := r.Stack.ToxiproxyAPI(ctx); err == nil {
		ev.Toxiproxy = httpGet(ctx, api+"/proxies")
	}
	if addr, err := r.Stack.HostAddr(ctx, stack.Edge, "admin"); err == nil {
		ev.DataPlaneConfig = httpGet(ctx, "http://"+addr+"/config_dump")
	}
	if sess != nil {
		ev.Targets = sess.Targets()
	}
	if states, err := stateSource(r.Stack).ContainerStates(ctx); err == nil {
		ev.Containers = states
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
