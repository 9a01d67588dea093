package alertsource

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/okbreak/okbreak/harness/alert"
)

// PrometheusSource reads GET /api/v1/alerts of a Prometheus server (or of
// anything that serves Prometheus' API: Thanos, a Mimir or Cortex ruler
// under its path prefix). Safe for concurrent use.
type PrometheusSource struct{ c *client }

// Prometheus returns the source of the Prometheus server at baseURL, e.g.
// http://127.0.0.1:9090, or https://example.com/prometheus for a server
// with a path prefix.
func Prometheus(baseURL string, opts ...Option) (*PrometheusSource, error) {
	c, err := newClient("Prometheus", baseURL, opts)
	if err != nil {
		return nil, err
	}
	return &PrometheusSource{c: c}, nil
}

// Name implements Source.
func (p *PrometheusSource) Name() string { return p.c.name }

// promAlerts is the answer of /api/v1/alerts.
type promAlerts struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		Alerts []promAlert `json:"alerts"`
	} `json:"data"`
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    *time.Time        `json:"activeAt"`
	Value       string            `json:"value"`
}

// Alerts implements Source: the pending and firing alerts of every
// alerting rule the server evaluates.
func (p *PrometheusSource) Alerts(ctx context.Context) ([]Alert, error) {
	var res promAlerts
	if err := p.c.getJSON(ctx, "api/v1/alerts", nil, &res); err != nil {
		return nil, err
	}
	return decodePrometheus(p.c.name, res)
}

func decodePrometheus(name string, res promAlerts) ([]Alert, error) {
	if res.Status != "success" {
		return nil, fmt.Errorf("alerts from %s: status %q: %s: %s", name, res.Status, res.ErrorType, res.Error)
	}
	out := make([]Alert, 0, len(res.Data.Alerts))
	for _, a := range res.Data.Alerts {
		var st alert.State
		switch a.State {
		case "pending":
			st = alert.StatePending
		case "firing":
			st = alert.StateFiring
		case "inactive":
			// Resolved alerts that Prometheus still resends: not active.
			continue
		default:
			return nil, fmt.Errorf("alerts from %s: alert %s has state %q, want pending or firing: is this a Prometheus API?", name, a.Labels["alertname"], a.State)
		}
		if a.Labels["alertname"] == "" {
			return nil, fmt.Errorf("alerts from %s: an alert without an alertname label (%v): is this a Prometheus API?", name, a.Labels)
		}
		if a.ActiveAt == nil || a.ActiveAt.IsZero() {
			return nil, fmt.Errorf("alerts from %s: alert %s has no activeAt", name, a.Labels["alertname"])
		}
		v := 0.0
		if a.Value != "" {
			f, err := strconv.ParseFloat(a.Value, 64)
			if err != nil {
				return nil, fmt.Errorf("alerts from %s: alert %s: value %q: %w", name, a.Labels["alertname"], a.Value, err)
			}
			v = f
		}
		out = append(out, Alert{
			Name: a.Labels["alertname"], Labels: a.Labels, Annotations: a.Annotations,
			State: st, Since: *a.ActiveAt, Value: v,
		})
	}
	return out, nil
}
