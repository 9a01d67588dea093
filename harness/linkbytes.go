package harness

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/fault"
)

// linkBytes reads Toxiproxy's byte counters (its -proxy-metrics), summed by
// proxy over both directions, received and sent. A link that never carried
// a byte has no series: it reads as 0.
func linkBytes(ctx context.Context, api string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case err != nil:
		return nil, fmt.Errorf("toxiproxy metrics: read: %w", err)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("toxiproxy metrics: status %d: %.200s", resp.StatusCode, body)
	}
	return parseLinkBytes(body), nil
}

// parseLinkBytes sums toxiproxy_proxy_{received,sent}_bytes_total by their
// proxy label from the text exposition format.
func parseLinkBytes(body []byte) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "toxiproxy_proxy_received_bytes_total{") && !strings.HasPrefix(line, "toxiproxy_proxy_sent_bytes_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `proxy="`)
		proxy, _, ok := strings.Cut(rest, `"`)
		end := strings.LastIndexByte(line, '}')
		if !ok || end < 0 {
			continue
		}
		fields := strings.Fields(line[end+1:])
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[proxy] += v
		}
	}
	return out
}

// caseLinks lists the links the case's network faults act on, sorted.
func (r *Runner) caseLinks(c catalog.Case) ([]string, error) {
	seen := map[string]bool{}
	for _, cf := range c.Faults {
		ls, err := fault.Links(fault.Spec{Type: cf.Type, Target: strings.Join(cf.TargetNames(), ",")}, r.System.Definition())
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			seen[l] = true
		}
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Strings(out)
	return out, nil
}

// linkUse is one look at the links: their byte counters and open
// connections.
type linkUse struct {
	bytes map[string]float64
	conns map[string]int
}

// idleLinks are the links among links with no connection open at either
// look and byte counters that did not move between them.
func idleLinks(links []string, before, after linkUse) []string {
	var out []string
	for _, l := range links {
		if before.conns[l] == 0 && after.conns[l] == 0 && after.bytes[l]-before.bytes[l] <= 0 {
			out = append(out, l)
		}
	}
	return out
}
