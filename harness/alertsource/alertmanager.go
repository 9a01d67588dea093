package alertsource

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
)

// AlertmanagerSource reads GET /api/v2/alerts of an Alertmanager: the
// alerts that reached it, which is what paging means here. Silenced,
// inhibited and not yet processed alerts are asked for too: a silence
// hides a page from a person, not from okbreak. Safe for concurrent use.
type AlertmanagerSource struct{ c *client }

// Alertmanager returns the source of the Alertmanager at baseURL, e.g.
// http://127.0.0.1:9093 (with its --web.route-prefix if it has one).
func Alertmanager(baseURL string, opts ...Option) (*AlertmanagerSource, error) {
	c, err := newClient("Alertmanager", baseURL, opts)
	if err != nil {
		return nil, err
	}
	return &AlertmanagerSource{c: c}, nil
}

// Name implements Source.
func (a *AlertmanagerSource) Name() string { return a.c.name }

// amAlert is one gettableAlert of Alertmanager's API v2.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Fingerprint string            `json:"fingerprint"`
	Receivers   []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
		MutedBy     []string `json:"mutedBy"`
	} `json:"status"`
}

// Alerts implements Source: every unresolved alert, each firing since its
// startsAt, with its status.
func (a *AlertmanagerSource) Alerts(ctx context.Context) ([]Alert, error) {
	// Every alert Alertmanager holds: the API's defaults today, written out
	// so that a changed default changes nothing.
	every := url.Values{"active": {"true"}, "silenced": {"true"}, "inhibited": {"true"}, "unprocessed": {"true"}}
	var res []amAlert
	if err := a.c.getJSON(ctx, "api/v2/alerts", every, &res); err != nil {
		return nil, err
	}
	return decodeAlertmanager(a.c.name, res)
}

func decodeAlertmanager(name string, res []amAlert) ([]Alert, error) {
	out := make([]Alert, 0, len(res))
	for _, a := range res {
		if a.Labels["alertname"] == "" {
			return nil, fmt.Errorf("alerts from %s: an alert without an alertname label (%v): is this Alertmanager's API v2?", name, a.Labels)
		}
		if a.StartsAt.IsZero() {
			return nil, fmt.Errorf("alerts from %s: alert %s has no startsAt", name, a.Labels["alertname"])
		}
		st := Status{State: a.Status.State, SilencedBy: a.Status.SilencedBy, InhibitedBy: a.Status.InhibitedBy, MutedBy: a.Status.MutedBy}
		for _, r := range a.Receivers {
			st.Receivers = append(st.Receivers, r.Name)
		}
		out = append(out, Alert{
			Name: a.Labels["alertname"], Labels: a.Labels, Annotations: a.Annotations,
			State: alert.StateFiring, Since: a.StartsAt, FiredAt: a.StartsAt, Status: st,
		})
	}
	return out, nil
}
