package ruletest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/okbreak/okbreak/harness/alert"
)

// replayed is what the rules did, evaluation by evaluation, on the
// stretched recording.
type replayed struct {
	step time.Duration
	// order is the groups' evaluation order, as group_eval_order names it.
	order []string
	// firingAt[k] are the alert instances firing after the k-th evaluation.
	firingAt [][]pageSeen
	// evals[k][name] are the alerts firing after the k-th evaluation.
	evals []map[string][]ExpAlert
}

// pageSeen is one alert instance that paged.
type pageSeen struct {
	name   string
	labels labels.Labels
}

// replay loads the stretched series into a fresh TSDB at world time (epoch
// 0 is world time 0, as in promtool) and evaluates the rules as written
// every step up to until, as `promtool test rules` does: same engine
// settings (5 m lookback, 10,000 samples a query, 100 s timeout), alerting
// rules marked restored; groups in file order, which the written file pins
// with group_eval_order.
func replay(ctx context.Context, files []alert.RuleFile, st *stretched, until time.Duration) (*replayed, error) {
	dir, err := os.MkdirTemp("", "okbreak-ruletest-")
	if err != nil {
		return nil, fmt.Errorf("rule test: %w", err)
	}
	defer os.RemoveAll(dir)
	opts := tsdb.DefaultOptions()
	opts.WALSegmentSize = -1
	db, err := tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("rule test: open tsdb: %w", err)
	}
	defer db.Close()
	stepMs := st.step.Milliseconds()
	engine := promql.NewEngine(promql.EngineOpts{
		Logger: slog.New(slog.DiscardHandler), MaxSamples: 10_000, Timeout: 100 * time.Second,
		NoStepSubqueryIntervalFn: func(int64) int64 { return stepMs },
		EnableAtModifier:         true, EnableNegativeOffset: true,
	})
	groups, err := loadGroups(ctx, files, engine, db, st.step)
	if err != nil {
		return nil, err
	}
	rep := &replayed{step: st.step}
	for _, g := range groups {
		rep.order = append(rep.order, g.Name())
	}
	epoch := time.Unix(0, 0).UTC()
	for k, ts := 0, time.Duration(0); ts <= until; k, ts = k+1, ts+st.step {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rule test: %w", err)
		}
		if err := load(ctx, db, st, k); err != nil {
			return nil, err
		}
		now := map[string][]ExpAlert{}
		var page []pageSeen
		for _, g := range groups {
			g.Eval(ctx, epoch.Add(ts))
			for _, r := range g.Rules() {
				if r.LastError() != nil {
					return nil, fmt.Errorf("rule test: rule %s at world time %s: %w", r.Name(), model.Duration(ts), r.LastError())
				}
				ar, ok := r.(*rules.AlertingRule)
				if !ok {
					continue
				}
				for _, a := range ar.ActiveAlerts() {
					if a.State == rules.StateFiring {
						now[ar.Name()] = append(now[ar.Name()], expAlert(a))
						page = append(page, pageSeen{name: ar.Name(), labels: a.Labels})
					}
				}
			}
		}
		rep.evals = append(rep.evals, now)
		rep.firingAt = append(rep.firingAt, page)
	}
	return rep, nil
}

func expAlert(a *rules.Alert) ExpAlert {
	ls := a.Labels.Map()
	delete(ls, labels.AlertName)
	e := ExpAlert{Labels: ls, Annotations: a.Annotations.Map()}
	if len(e.Labels) == 0 {
		e.Labels = nil
	}
	if len(e.Annotations) == 0 {
		e.Annotations = nil
	}
	return e
}

// paged returns the first alert instance carrying every page label at
// an evaluation from from to to, and when.
func (r *replayed) paged(page map[string]string, from, to time.Duration) (string, time.Duration, bool) {
	if len(page) == 0 {
		return "", 0, false
	}
	for k := max(int(from/r.step), 0); k < len(r.firingAt) && time.Duration(k)*r.step <= to; k++ {
		for _, a := range r.firingAt[k] {
			if matches(a.labels, page) {
				return a.name, time.Duration(k) * r.step, true
			}
		}
	}
	return "", 0, false
}

func matches(ls labels.Labels, want map[string]string) bool {
	for k, v := range want {
		if ls.Get(k) != v {
			return false
		}
	}
	return true
}

// firstFiring returns the first evaluation at or after from where name
// fires, with its instances.
func (r *replayed) firstFiring(name string, from time.Duration) (time.Duration, []ExpAlert, bool) {
	for k := max(int((from+r.step-1)/r.step), 0); k < len(r.evals); k++ {
		if got := r.evals[k][name]; len(got) > 0 {
			return time.Duration(k) * r.step, got, true
		}
	}
	return 0, nil, false
}

// load appends every series' value at step k, before the evaluation at
// k: as promtool's lazy loader, so that the rules' own samples (ALERTS)
// are written in time order with the recording's, as the TSDB head wants.
func load(ctx context.Context, db *tsdb.DB, st *stretched, k int) error {
	app := db.AppenderV2(ctx)
	t := (time.Duration(k) * st.step).Milliseconds()
	for i, ls := range st.labels {
		if k >= len(st.values[i]) || st.values[i][k] == nil {
			continue
		}
		if _, err := app.Append(0, ls, 0, t, *st.values[i][k], nil, nil, storage.AOptions{}); err != nil {
			_ = app.Rollback()
			return fmt.Errorf("rule test: series %s at %d ms: %w", st.series[i].Series, t, err)
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("rule test: %w", err)
	}
	return nil
}

// loadGroups builds the rule groups as written, through the rule manager's
// own loader (so every check promtool makes applies), default interval
// step.
func loadGroups(ctx context.Context, files []alert.RuleFile, engine *promql.Engine, db *tsdb.DB, step time.Duration) ([]*rules.Group, error) {
	loader, names := alert.GroupLoader(files)
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, db),
		AppendableV2: db,
		Queryable:    db,
		Context:      ctx,
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       slog.New(slog.DiscardHandler),
		GroupLoader:  loader,
	})
	byKey, errs := m.LoadGroups(step, labels.EmptyLabels(), "", nil, false, names...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("rule test: load rules: %w", errors.Join(errs...))
	}
	// Groups in file order, then in the order the file lists them; the
	// written test pins that order by group name (group_eval_order), so a
	// name may not repeat across files.
	order := map[string]int{}
	seen := map[string]string{}
	for i, f := range files {
		for j, g := range f.Groups {
			if other, ok := seen[g.Name]; ok {
				return nil, fmt.Errorf("rule test: group %q is in both %s and %s: promtool's group_eval_order names groups, so their names must differ", g.Name, other, f.Name)
			}
			seen[g.Name] = f.Name
			order[rules.GroupKey(f.Name, g.Name)] = i*10_000 + j
		}
	}
	keys := slices.SortedFunc(maps.Keys(byKey), func(a, b string) int { return order[a] - order[b] })
	out := make([]*rules.Group, 0, len(keys))
	for _, k := range keys {
		g := byKey[k]
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				ar.SetRestored(true)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// promqlParser is Prometheus's default parser, as promtool's.
var promqlParser = parser.NewParser(parser.Options{})
