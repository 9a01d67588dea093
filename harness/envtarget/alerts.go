package envtarget

import (
	"context"
	"fmt"
	"time"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/alertsource"
	"github.com/okbreak/okbreak/harness/envfile"
)

// AlertSource returns the runner's alert source for the environment's
// alerts.source: nil for engine (the runner's embedded rule engine over the
// declared scrape targets), else a source that polls the environment's
// Prometheus or Alertmanager. Both feed the same judge.
func AlertSource(env *envfile.Env) (func(scale float64) (harness.AlertSource, error), error) {
	var src alertsource.Source
	var err error
	switch env.Alerts.Source {
	case envfile.SourceEngine:
		return nil, nil
	case envfile.SourcePrometheus:
		src, err = alertsource.Prometheus(env.Alerts.Prometheus)
	case envfile.SourceAlertmanager:
		src, err = alertsource.Alertmanager(env.Alerts.Alertmanager)
	default:
		return nil, fmt.Errorf("%s: unknown alerts source %q", env.Path, env.Alerts.Source)
	}
	if err != nil {
		return nil, err
	}
	return func(float64) (harness.AlertSource, error) {
		// The environment's rules run at the file's scale whatever the
		// case's: poll well under their evaluation interval.
		interval := min(max(15*time.Second/time.Duration(max(env.Scale, 1)), 100*time.Millisecond), time.Second)
		rec, err := alertsource.NewRecorder(src, interval)
		if err != nil {
			return nil, err
		}
		return &polled{rec: rec, interval: interval}, nil
	}, nil
}

// polled is an environment's Prometheus or Alertmanager as a case's alert
// source: a Recorder polling it in the background. Safe for concurrent use.
type polled struct {
	rec      *alertsource.Recorder
	interval time.Duration
	cancel   context.CancelFunc
	done     chan struct{}
}

// Start checks the source answers, then polls it until Stop.
func (p *polled) Start(ctx context.Context) error {
	if err := p.rec.Poll(ctx); err != nil {
		return err // it names the source and the fix
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		_ = p.rec.Run(rctx)
	}()
	return nil
}

// Stop ends the polling.
func (p *polled) Stop() error {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	return nil
}

// Timeline is what the recorder saw.
func (p *polled) Timeline() alert.Timeline { return p.rec.Timeline() }

// Active is the alerts pending or firing at the last poll.
func (p *polled) Active(name string) []alert.ActiveAlert {
	var out []alert.ActiveAlert
	for _, o := range p.rec.Seen() {
		if (o.Now != alert.StatePending && o.Now != alert.StateFiring) || (name != "" && o.Name != name) {
			continue
		}
		out = append(out, alert.ActiveAlert{Alert: o.Name, Severity: o.Labels["severity"], Labels: o.Labels,
			State: o.Now, ActiveAt: o.Since, FiredAt: o.FiredAt, Value: o.Value})
	}
	return out
}

// Evaluations counts the successful polls.
func (p *polled) Evaluations() int {
	h := p.rec.Health()
	return h.Polls - h.Failed
}

// WaitUntil checks cond after each poll interval.
func (p *polled) WaitUntil(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Targets: the environment's Prometheus keeps its own.
func (p *polled) Targets() []alert.TargetHealth { return nil }
