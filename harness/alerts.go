package harness

import (
	"context"
	"slices"

	"github.com/okbreak/okbreak/harness/alert"
)

// AlertSource is where a case's alerts come from: the embedded rule engine
// (alert.Session: the team's rules evaluated on what it scrapes), or a
// running environment's own Prometheus or Alertmanager. Whatever the
// source, its Timeline feeds the same pure judge. Implementations are safe
// for concurrent use; Start and Stop are called once each.
type AlertSource interface {
	Start(ctx context.Context) error
	Stop() error
	// Timeline is every alert transition seen so far.
	Timeline() alert.Timeline
	// Active is the pending and firing alerts of the named rule ("": all)
	// as last seen.
	Active(name string) []alert.ActiveAlert
	// Evaluations counts how often the source has been looked at (rule
	// evaluations, polls): the steady-state gate wants two quiet ones.
	Evaluations() int
	// WaitUntil returns when cond holds after an evaluation, or ctx's error.
	WaitUntil(ctx context.Context, cond func() bool) error
	// Targets is the health of what the source scrapes (nil when it does
	// not say).
	Targets() []alert.TargetHealth
}

var _ AlertSource = (*alert.Session)(nil)

// Firing names the alerts src saw firing at its last look, once each.
func Firing(src AlertSource) []string {
	var out []string
	for _, a := range src.Active("") {
		if a.State == alert.StateFiring && !slices.Contains(out, a.Alert) {
			out = append(out, a.Alert)
		}
	}
	return out
}

// alertSource makes a case's alert source at its time scale.
func (r *Runner) alertSource(scale float64) (AlertSource, error) {
	if r.AlertSource != nil {
		return r.AlertSource(scale)
	}
	sess, err := alert.NewSession(alert.Config{Rules: r.Rules, Targets: r.targets(), Factor: scale})
	if err != nil {
		return nil, err
	}
	return sess, nil
}
