package alertsource

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/okbreak/okbreak/harness/alert"
)

// Recorder polls a Source every interval and records what it sees as an
// alert.Timeline, the record the judge reads.
//
// Times and their resolution (interval is the poll interval):
//   - pending: the source's activeAt (exact, on the source's clock);
//   - firing: the time the source gives (Alertmanager's startsAt, when
//     Prometheus saw the alert fire), else the first poll that saw it
//     firing (Prometheus: up to one interval late; its API does not say
//     when an alert fired);
//   - resolved (or pending back to inactive): the first poll that no
//     longer saw the alert, up to one interval late;
//   - an alert that came and went between two polls is not seen at all:
//     Prometheus forgets it, Alertmanager keeps it until resolved. Poll
//     well below the rules' `for` and the fault's length.
//
// A failed poll changes no state (an unreachable source is not a resolved
// alert); Health says when the record has holes.
//
// A Recorder is safe for concurrent use: Run in one goroutine, and
// Timeline, Seen and Health from any; polls never overlap.
type Recorder struct {
	src      Source
	interval time.Duration
	now      func() time.Time

	pollMu sync.Mutex // one poll at a time

	mu        sync.Mutex
	tl        alert.Timeline
	instances map[string]*tracked
	health    Health
}

// tracked is one alert instance's state between polls.
type tracked struct {
	instance            string
	state               alert.State
	since               time.Time
	firedAt             time.Time // of the firing transition last recorded
	last                Alert
	firstSeen, lastSeen time.Time
}

// Health says how well a recording covers its time.
type Health struct {
	// Polls counts every poll; Failed those that got no alerts.
	Polls, Failed int
	// LastOK is the last successful poll (zero if none).
	LastOK time.Time
	// LastErr is the last poll's error, nil once a poll succeeds again.
	LastErr error
	// Gaps are the stretches without a successful poll.
	Gaps []Gap
}

// Gap is a stretch in which alerts are unknown: from the last successful
// poll (or the first failed one, when none had succeeded) to the next
// successful one (zero while it lasts).
type Gap struct {
	From, To time.Time
	Failed   int
	Err      string
}

// Observed is an alert instance the recorder saw, as last reported, with
// its state now (inactive or resolved once it is gone). Its FiredAt is the
// recorded one: the source's, else the poll that saw it firing (zero if it
// never fired).
type Observed struct {
	Alert
	Instance            string
	Now                 alert.State
	FirstSeen, LastSeen time.Time
}

// MinInterval is the shortest poll interval: faster polling only loads the
// source.
const MinInterval = 10 * time.Millisecond

// NewRecorder returns a recorder that polls src every interval once Run
// starts.
func NewRecorder(src Source, interval time.Duration) (*Recorder, error) {
	if src == nil {
		return nil, errors.New("alert recorder: nil source")
	}
	if interval < MinInterval {
		return nil, fmt.Errorf("alert recorder for %s: poll interval %v is below %v", src.Name(), interval, MinInterval)
	}
	return &Recorder{src: src, interval: interval, now: time.Now, instances: map[string]*tracked{}}, nil
}

// Source returns the recorder's source.
func (r *Recorder) Source() Source { return r.src }

// Run polls at once, then every interval, until ctx ends. Failed polls are
// kept in Health and polling goes on: a fault may well make the source
// unreachable for a while. It returns nil when ctx ends, or, when no poll
// ever succeeded, the last poll's error: an empty timeline from a source
// never read must not pass for "nothing fired".
func (r *Recorder) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		_ = r.Poll(ctx)
		select {
		case <-ctx.Done():
			h := r.Health()
			if h.LastOK.IsZero() {
				if h.LastErr == nil {
					return fmt.Errorf("alerts from %s: recording ended before any poll answered: %w", r.src.Name(), ctx.Err())
				}
				return fmt.Errorf("none of %d polls succeeded: %w", h.Polls, h.LastErr)
			}
			return nil
		case <-t.C:
		}
	}
}

// Poll asks the source once and records the transitions since the last
// successful poll. Calling it before a fault checks that the source
// answers. A poll cut short by ctx is not counted as the source's failure.
func (r *Recorder) Poll(ctx context.Context) error {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	alerts, err := r.src.Alerts(ctx)
	at := r.now()
	if err != nil && ctx.Err() != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed(at, err)
		return err
	}
	r.observe(alerts, at)
	return nil
}

func (r *Recorder) failed(at time.Time, err error) {
	h := &r.health
	h.Polls++
	h.Failed++
	if h.LastErr == nil {
		from := h.LastOK
		if from.IsZero() {
			from = at
		}
		h.Gaps = append(h.Gaps, Gap{From: from})
	}
	h.LastErr = err
	g := &h.Gaps[len(h.Gaps)-1]
	g.Failed++
	g.Err = err.Error()
}

// observe turns one successful poll into transitions.
func (r *Recorder) observe(alerts []Alert, at time.Time) {
	h := &r.health
	h.Polls++
	if h.LastErr != nil {
		h.Gaps[len(h.Gaps)-1].To = at
		h.LastErr = nil
	}
	h.LastOK = at

	byInstance := make(map[string]Alert, len(alerts))
	for _, a := range alerts {
		byInstance[labels.FromMap(a.Labels).String()] = a
	}
	for _, inst := range sortedKeys(byInstance) {
		tr, ok := r.instances[inst]
		if !ok {
			tr = &tracked{instance: inst, state: alert.StateInactive, firstSeen: at}
			r.instances[inst] = tr
		}
		r.advance(tr, byInstance[inst], at)
	}
	for _, inst := range sortedKeys(r.instances) {
		if _, ok := byInstance[inst]; !ok {
			r.end(r.instances[inst], at)
		}
	}
}

// advance moves one instance to the state a poll saw it in.
func (r *Recorder) advance(tr *tracked, a Alert, at time.Time) {
	if active(tr.state) && a.Since.After(tr.since) {
		// It ended and came back between two polls: by the new start at
		// the latest.
		r.end(tr, a.Since)
	}
	switch a.State {
	case alert.StatePending:
		if tr.state != alert.StatePending {
			when := a.Since
			if active(tr.state) {
				when = at // firing back to pending: only a restart does that
			}
			r.add(tr, a, alert.StatePending, when, a.Value)
		}
	case alert.StateFiring:
		if tr.state != alert.StateFiring {
			fired := a.FiredAt
			if fired.IsZero() {
				fired = at
			}
			// Pending for a while before firing, as the rule engine records
			// it; Alertmanager's alerts fire at their start.
			if tr.state != alert.StatePending && a.Since.Before(fired) {
				r.add(tr, a, alert.StatePending, a.Since, a.Value)
			}
			r.add(tr, a, alert.StateFiring, fired, a.Value)
			tr.firedAt = fired
		}
	}
	tr.since, tr.last, tr.lastSeen = a.Since, a, at
}

// end records an instance gone: pending back to inactive, firing resolved.
func (r *Recorder) end(tr *tracked, at time.Time) {
	switch tr.state {
	case alert.StatePending:
		r.add(tr, tr.last, alert.StateInactive, at, 0)
	case alert.StateFiring:
		r.add(tr, tr.last, alert.StateResolved, at, 0)
	}
}

func (r *Recorder) add(tr *tracked, a Alert, to alert.State, at time.Time, v float64) {
	r.tl = append(r.tl, alert.Transition{
		Alert: a.Name, Severity: a.Labels["severity"], Instance: tr.instance, Labels: maps.Clone(a.Labels),
		From: tr.state, To: to, At: at, Value: v,
	})
	tr.state = to
}

func active(s alert.State) bool { return s == alert.StatePending || s == alert.StateFiring }

// Timeline returns a copy of the transitions recorded so far, in the order
// they were recorded.
func (r *Recorder) Timeline() alert.Timeline {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(alert.Timeline, len(r.tl))
	for i, t := range r.tl {
		t.Labels = maps.Clone(t.Labels)
		out[i] = t
	}
	return out
}

// Seen returns every alert instance seen so far, as last reported, sorted
// by name and instance: for Alertmanager, with the status that says who
// silenced or inhibited it.
func (r *Recorder) Seen() []Observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Observed, 0, len(r.instances))
	for _, inst := range sortedKeys(r.instances) {
		tr := r.instances[inst]
		o := Observed{Alert: tr.last.clone(), Instance: inst, Now: tr.state, FirstSeen: tr.firstSeen, LastSeen: tr.lastSeen}
		o.FiredAt = tr.firedAt
		out = append(out, o)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Health returns how the polls went so far.
func (r *Recorder) Health() Health {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.health
	h.Gaps = append([]Gap(nil), h.Gaps...)
	return h
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
