package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
)

// Config configures one Session.
type Config struct {
	// Rules are the rule files as written (production durations), e.g.
	// LoadRules(alerts.FS, "grpc"). They must pass Lint.
	Rules []RuleFile
	// Targets are scraped every Timing.ScrapeInterval; include
	// ContainerTarget for container state.
	Targets []Target
	// Factor is the time scale (>= 1; 0 means 1).
	Factor float64
	// Dir is where the session's TSDB directory is created ("" = the
	// system's temporary directory). The directory is removed by Stop.
	Dir string
	// HTTPClient scrapes URL targets (nil = a client of the session's own,
	// whose connections Stop closes).
	HTTPClient *http.Client
	// Logger receives the rule manager's, TSDB's and scraper's logs (nil =
	// discard).
	Logger *slog.Logger
}

// Session is one case's measurement: a fresh TSDB, a scraper, and
// Prometheus's rule manager over the time-scaled rules. Sessions share no
// state. All methods are safe for concurrent use.
type Session struct {
	cfg    Config
	timing Timing
	scaled []RuleFile
	log    *slog.Logger

	startOnce sync.Once
	stopOnce  sync.Once
	started   bool
	stopErr   error
	stopped   chan struct{}

	dir string
	// dbMu guards db: queries hold it for reading while they run, Stop
	// takes it to close the TSDB.
	dbMu    sync.RWMutex
	db      *tsdb.DB
	engine  *promql.Engine
	mgr     *rules.Manager
	scraper *Scraper
	// idle closes the keep-alive connections of the session's own scrape
	// client (nil with Config.HTTPClient): each would hold a file
	// descriptor and two goroutines for 90 s after Stop.
	idle   func()
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu        sync.Mutex
	timeline  Timeline
	evaluated map[*rules.AlertingRule]bool
	instances map[instanceKey]State
	evals     int
	evalCh    chan struct{}
}

type instanceKey struct {
	rule     *rules.AlertingRule
	instance string
}

// NewSession lints and scales the rules and checks the targets; it starts
// nothing.
func NewSession(cfg Config) (*Session, error) {
	if cfg.Factor == 0 {
		cfg.Factor = 1
	}
	tm, err := TimingFor(cfg.Factor)
	if err != nil {
		return nil, fmt.Errorf("alert session: %w", err)
	}
	if len(cfg.Rules) == 0 {
		return nil, errors.New("alert session: no rule files")
	}
	if errs, _ := SplitFindings(LintFiles(cfg.Rules, nil)); len(errs) > 0 {
		return nil, fmt.Errorf("alert session: rules fail the lint: %w", errors.Join(errs...))
	}
	seen := map[string]bool{}
	for _, f := range cfg.Rules {
		if f.Name == "" || seen[f.Name] {
			return nil, fmt.Errorf("alert session: rule file name %q empty or repeated", f.Name)
		}
		seen[f.Name] = true
	}
	scaled, err := ScaleFiles(cfg.Rules, cfg.Factor)
	if err != nil {
		return nil, fmt.Errorf("alert session: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Session{
		cfg: cfg, timing: tm, scaled: scaled, log: log,
		stopped:   make(chan struct{}),
		evaluated: map[*rules.AlertingRule]bool{},
		instances: map[instanceKey]State{},
		evalCh:    make(chan struct{}),
	}
	if err := validateTargets(cfg.Targets); err != nil {
		return nil, fmt.Errorf("alert session: %w", err)
	}
	return s, nil
}

// Timing returns the session's compressed timing.
func (s *Session) Timing() Timing { return s.timing }

// Rules returns the time-scaled rule files the rule manager evaluates.
func (s *Session) Rules() []RuleFile { return s.scaled }

// Start opens a fresh TSDB, scrapes every target once (waiting at most the
// scrape timeout), and starts scraping and rule evaluation. The session
// runs until Stop (or until ctx is done, which stops scraping and
// evaluation but still needs Stop to release the TSDB). A session starts
// once.
func (s *Session) Start(ctx context.Context) error {
	err := errors.New("alert session: already started")
	s.startOnce.Do(func() { err = s.start(ctx) })
	return err
}

func (s *Session) start(ctx context.Context) (err error) {
	s.dir, err = os.MkdirTemp(s.cfg.Dir, "okbreak-tsdb-")
	if err != nil {
		return fmt.Errorf("alert session: tsdb dir: %w", err)
	}
	defer func() {
		if err != nil {
			if s.idle != nil {
				s.idle()
			}
			if s.db != nil {
				_ = s.db.Close()
			}
			_ = os.RemoveAll(s.dir)
		}
	}()
	s.db, err = tsdb.Open(s.dir, s.log, nil, tsdbOptions(), nil)
	if err != nil {
		return fmt.Errorf("alert session: open tsdb %s: %w", s.dir, err)
	}
	evalMs := s.timing.EvalInterval.Milliseconds()
	s.engine = promql.NewEngine(promql.EngineOpts{
		Logger:                   s.log,
		MaxSamples:               50_000_000,
		Timeout:                  time.Minute,
		LookbackDelta:            s.timing.Lookback,
		NoStepSubqueryIntervalFn: func(int64) int64 { return evalMs },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
	})
	hc := s.cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		hc, s.idle = &http.Client{Transport: tr}, tr.CloseIdleConnections
	}
	s.scraper, err = NewScraper(s.db, s.cfg.Targets, s.timing.ScrapeInterval, s.timing.ScrapeTimeout, hc, s.log)
	if err != nil {
		return fmt.Errorf("alert session: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	loader, names := GroupLoader(s.scaled)
	s.mgr = rules.NewManager(&rules.ManagerOptions{
		QueryFunc:              rules.EngineQueryFunc(s.engine, s.db),
		NotifyFunc:             func(context.Context, string, ...*rules.Alert) {},
		Context:                runCtx,
		AppendableV2:           s.db,
		Queryable:              s.db,
		Logger:                 s.log,
		ResendDelay:            time.Minute,
		GroupLoader:            loader,
		DefaultRuleQueryOffset: func() time.Duration { return 0 },
	})
	if err := s.mgr.Update(s.timing.EvalInterval, names, labels.EmptyLabels(), "", s.evalIteration); err != nil {
		cancel()
		s.mgr.Stop()
		return fmt.Errorf("alert session: load rules: %w", err)
	}
	// One scrape before the first evaluation, so that no rule sees an
	// empty TSDB (absent() would go pending for nothing).
	s.scraper.ScrapeOnce(runCtx)
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		s.scraper.run(runCtx, false)
	}()
	go func() {
		defer s.done.Done()
		s.mgr.Run()
	}()
	return nil
}

// tsdbOptions are Prometheus's defaults without the write-ahead log: a
// session's TSDB lives for one case and is never recovered, so the WAL
// would only cost disk writes on a machine the stack already keeps busy.
func tsdbOptions() *tsdb.Options {
	o := tsdb.DefaultOptions()
	o.WALSegmentSize = -1
	return o
}

// Stop stops scraping and evaluation, closes the TSDB and removes its
// directory. The timeline stays readable; queries fail. Stop is idempotent.
func (s *Session) Stop() error {
	s.stopOnce.Do(func() {
		defer close(s.stopped)
		s.startOnce.Do(func() {}) // a session stopped before Start never starts
		if !s.isStarted() {
			return
		}
		s.cancel()
		s.mgr.Stop()
		s.done.Wait()
		if s.idle != nil {
			s.idle()
		}
		s.dbMu.Lock() // no query may hold the TSDB while it closes
		defer s.dbMu.Unlock()
		s.stopErr = errors.Join(s.db.Close(), os.RemoveAll(s.dir))
		if s.stopErr != nil {
			s.stopErr = fmt.Errorf("alert session: stop: %w", s.stopErr)
		}
		s.db = nil
	})
	return s.stopErr
}

// evalIteration runs one evaluation of a group, then records the alerts'
// transitions: the notifier only hears about firing and resolved alerts,
// and a pending alert that clears leaves no trace anywhere else.
func (s *Session) evalIteration(ctx context.Context, g *rules.Group, ts time.Time) {
	rules.DefaultEvalIterationFunc(ctx, g, ts)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ar := range g.AlertingRules() {
		s.recordRule(ar, ts)
	}
	s.evals++
	close(s.evalCh)
	s.evalCh = make(chan struct{})
}

func (s *Session) recordRule(ar *rules.AlertingRule, ts time.Time) {
	name := ar.Name()
	sev := ar.Labels().Get("severity")
	if !s.evaluated[ar] {
		s.evaluated[ar] = true
		s.timeline = append(s.timeline, Transition{Alert: name, Severity: sev, To: StateInactive, At: ts})
	}
	add := func(a *rules.Alert, inst string, from, to State, at time.Time, v float64) {
		s.timeline = append(s.timeline, Transition{
			Alert: name, Severity: sev, Instance: inst, Labels: a.Labels.Map(),
			From: from, To: to, At: at, Value: v,
		})
	}
	seen := map[string]bool{}
	ar.ForEachActiveAlert(func(a *rules.Alert) {
		inst := a.Labels.String()
		seen[inst] = true
		key := instanceKey{ar, inst}
		prev, ok := s.instances[key]
		if !ok {
			prev = StateInactive
		}
		switch a.State {
		case rules.StatePending:
			if prev != StatePending {
				add(a, inst, prev, StatePending, a.ActiveAt, a.Value)
				s.instances[key] = StatePending
			}
		case rules.StateFiring:
			if prev != StateFiring {
				if prev != StatePending {
					add(a, inst, prev, StatePending, a.ActiveAt, a.Value)
				}
				add(a, inst, StatePending, StateFiring, a.FiredAt, a.Value)
				s.instances[key] = StateFiring
			}
		case rules.StateInactive:
			// Prometheus keeps a resolved alert for a while.
			if prev == StateFiring {
				add(a, inst, StateFiring, StateResolved, a.ResolvedAt, 0)
				s.instances[key] = StateResolved
			}
		}
	})
	for key, st := range s.instances {
		if key.rule != ar || seen[key.instance] {
			continue
		}
		switch st {
		case StatePending:
			s.timeline = append(s.timeline, Transition{Alert: name, Severity: sev, Instance: key.instance,
				Labels: instanceLabels(key.instance), From: StatePending, To: StateInactive, At: ts})
			s.instances[key] = StateInactive
		case StateFiring:
			s.timeline = append(s.timeline, Transition{Alert: name, Severity: sev, Instance: key.instance,
				Labels: instanceLabels(key.instance), From: StateFiring, To: StateResolved, At: ts})
			s.instances[key] = StateResolved
		}
	}
}

// instanceLabels parses an instance key (a label set in PromQL syntax) back
// into a map.
func instanceLabels(inst string) map[string]string {
	ms, err := promqlParser.ParseMetric(inst)
	if err != nil {
		return nil
	}
	return ms.Map()
}

// Timeline returns a copy of the transitions recorded so far.
func (s *Session) Timeline() Timeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(Timeline(nil), s.timeline...)
}

// FirstFired returns when the named alert first went firing.
func (s *Session) FirstFired(name string) (time.Time, bool) { return s.Timeline().FirstFired(name) }

// FiringAt returns the names of alerts firing at t.
func (s *Session) FiringAt(t time.Time) []string { return s.Timeline().FiringAt(t) }

// Evaluations counts group evaluations so far (a group's every run counts).
func (s *Session) Evaluations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evals
}

// ActiveAlert is a pending or firing alert at the last evaluation.
type ActiveAlert struct {
	Alert    string
	Severity string
	Labels   map[string]string
	State    State
	ActiveAt time.Time
	FiredAt  time.Time
	Value    float64
}

// Active returns the pending and firing alerts of the named rule ("" = all
// rules), sorted by name and labels.
func (s *Session) Active(name string) []ActiveAlert {
	if !s.isStarted() {
		return nil
	}
	var out []ActiveAlert
	for _, ar := range s.mgr.AlertingRules() {
		if name != "" && ar.Name() != name {
			continue
		}
		for _, a := range ar.ActiveAlerts() {
			st := StatePending
			if a.State == rules.StateFiring {
				st = StateFiring
			}
			out = append(out, ActiveAlert{
				Alert: ar.Name(), Severity: ar.Labels().Get("severity"), Labels: a.Labels.Map(),
				State: st, ActiveAt: a.ActiveAt, FiredAt: a.FiredAt, Value: a.Value,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Alert != out[j].Alert {
			return out[i].Alert < out[j].Alert
		}
		return labels.FromMap(out[i].Labels).String() < labels.FromMap(out[j].Labels).String()
	})
	return out
}

// State returns the named alert's state at the last evaluation: firing if
// any instance fires, else pending if any is pending, else inactive; ""
// for an unknown alert or before its first evaluation.
func (s *Session) State(name string) State {
	if !s.isStarted() {
		return ""
	}
	var st State
	for _, ar := range s.mgr.AlertingRules() {
		if ar.Name() != name {
			continue
		}
		switch ar.State() {
		case rules.StateFiring:
			return StateFiring
		case rules.StatePending:
			st = StatePending
		case rules.StateInactive:
			if st == "" {
				st = StateInactive
			}
		}
	}
	return st
}

// RuleHealth is the evaluation health of one rule.
type RuleHealth struct {
	Name      string
	Health    string // ok, err or unknown (not evaluated yet)
	LastError string
}

// RuleHealth returns every alerting rule's health: a rule whose query fails
// can never fire, which makes a not-ok case's verdict meaningless.
func (s *Session) RuleHealth() []RuleHealth {
	if !s.isStarted() {
		return nil
	}
	var out []RuleHealth
	for _, ar := range s.mgr.AlertingRules() {
		h := RuleHealth{Name: ar.Name(), Health: string(ar.Health())}
		if err := ar.LastError(); err != nil {
			h.LastError = err.Error()
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Targets returns the scrape targets' health.
func (s *Session) Targets() []TargetHealth {
	if !s.isStarted() {
		return nil
	}
	return s.scraper.Health()
}

// Query runs a PromQL instant query at t against the session's TSDB, for
// evidence. The expression is taken as written: wrap production windows
// with ScaleExpr first.
func (s *Session) Query(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
	if !s.isStarted() {
		return nil, errors.New("alert session: query before start")
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return nil, errors.New("alert session: query after stop")
	}
	v, err := rules.EngineQueryFunc(s.engine, s.db)(ctx, expr, t)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	return v, nil
}

// WaitUntil returns nil once cond holds, checking it now and after every
// evaluation; an error when ctx is done or the session stops first.
func (s *Session) WaitUntil(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.evalCh
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("alert session: wait: %w", ctx.Err())
		case <-s.stopped:
			return errors.New("alert session: wait: session stopped")
		}
	}
}

func (s *Session) isStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// GroupLoader returns a rule manager loader that hands it files already
// parsed, keyed by file name, and those names in order: nothing is written
// to disk, and the manager evaluates exactly what was linted (the
// session's scaled rules; a rule test's replay of the rules as written).
func GroupLoader(files []RuleFile) (rules.GroupLoader, []string) {
	l := memLoader{files: map[string]*rulefmt.RuleGroups{}}
	names := make([]string, 0, len(files))
	for _, f := range files {
		l.files[f.Name] = &rulefmt.RuleGroups{Groups: f.Groups}
		names = append(names, f.Name)
	}
	return l, names
}

type memLoader struct {
	files map[string]*rulefmt.RuleGroups
}

func (l memLoader) Load(identifier string, _ bool, _ model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	g, ok := l.files[identifier]
	if !ok {
		return nil, []error{fmt.Errorf("no rule file %q", identifier)}
	}
	return g, nil
}

func (l memLoader) Parse(query string) (parser.Expr, error) { return promqlParser.ParseExpr(query) }
