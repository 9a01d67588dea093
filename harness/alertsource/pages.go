package alertsource

import (
	"maps"
	"sort"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
)

// Page is one alert instance that paged: it went firing with every page
// label.
type Page struct {
	Alert    string
	Instance string
	Labels   map[string]string
	// At is when it first went firing; Times counts how often it did.
	At    time.Time
	Times int
}

// Pages returns the alert instances of tl that went firing with every
// label of page (the catalog's page_label, e.g. {severity: page}; empty:
// every firing alert), sorted by first firing. It reads a timeline of any
// source; from an Alertmanager's, it is who was paged, silenced or not.
func Pages(tl alert.Timeline, page map[string]string) []Page {
	byInstance := map[string]*Page{}
	for _, tr := range sortedByTime(tl) {
		if tr.To != alert.StateFiring || tr.Instance == "" || !hasLabels(tr.Labels, page) {
			continue
		}
		key := tr.Alert + "\x00" + tr.Instance
		if p, ok := byInstance[key]; ok {
			p.Times++
			continue
		}
		byInstance[key] = &Page{Alert: tr.Alert, Instance: tr.Instance, Labels: maps.Clone(tr.Labels), At: tr.At, Times: 1}
	}
	out := make([]Page, 0, len(byInstance))
	for _, p := range byInstance {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Alert+out[i].Instance < out[j].Alert+out[j].Instance
	})
	return out
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func sortedByTime(tl alert.Timeline) alert.Timeline {
	out := append(alert.Timeline(nil), tl...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}
