// Package ruletest turns what one case recorded into a `promtool test
// rules` file: the series the rules read, stretched back from the case's
// time scale to world time, as input_series; the alerts the case needed as
// exp_alerts (a not-ok case), or the page alerts expected absent (an
// ok-to-break case: nobody paged); the team's rule files referenced as
// written. The file then checks the team's rules against a real incident
// with no Docker and no okbreak, in the team's own CI.
//
// Build replays the stretched series through Prometheus's rule engine with
// the rules as written, as promtool will, and refuses to write a test that
// promtool would fail: a recording whose replay does not fire the alert the
// case saw, or pages where the case paged nobody, is an error naming the
// alert. Build is safe for concurrent use.
package ruletest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"gopkg.in/yaml.v3"

	"github.com/okbreak/okbreak/harness/alert"
)

// Input is one case's recording and what its rule test must check.
type Input struct {
	// Case names the case, for the test's name.
	Case string
	// Rules are the team's rule files as written (production durations),
	// parsed; RuleFiles are the paths the test file names them by (relative
	// to the test file), in the same order.
	Rules     []alert.RuleFile
	RuleFiles []string
	// Series are the series the rules read (alert.Session.Recorded), at
	// real time.
	Series []alert.Series
	// Start is the real time that becomes world time 0; Inject and End
	// bound the span the test checks. Factor is the case's effective time
	// scale.
	Start, Inject, End time.Time
	Factor             float64
	// Fire lists the alerts that must fire (a not-ok case: those of its
	// expected alerts that fired in its detection window); Absent the
	// alerts that must not (an ok-to-break case: every alert whose rule
	// pages). One of the two is set.
	Fire, Absent []string
	// PageLabels mark an alert instance that pages (the catalog's
	// page_label): with Absent, no instance of any alert may carry them
	// at any evaluation of the replay.
	PageLabels map[string]string
}

// File is a promtool rule test file.
type File struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	// GroupEvalOrder pins the order the replay evaluated the groups in:
	// without it promtool's order is random, and a recording rule read
	// by an alert of another group would be a step late now and then.
	GroupEvalOrder []string `yaml:"group_eval_order"`
	Tests          []Test   `yaml:"tests"`
}

// Test is one of a file's test groups.
type Test struct {
	Name        string          `yaml:"name"`
	Interval    model.Duration  `yaml:"interval"`
	InputSeries []InputSeries   `yaml:"input_series"`
	Alerts      []AlertRuleTest `yaml:"alert_rule_test"`
}

// InputSeries is one series in promtool's expanding notation.
type InputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// AlertRuleTest says which instances of an alert fire at one time.
type AlertRuleTest struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []ExpAlert     `yaml:"exp_alerts"`
}

// ExpAlert is one firing instance, its labels without alertname.
type ExpAlert struct {
	Labels      map[string]string `yaml:"exp_labels,omitempty"`
	Annotations map[string]string `yaml:"exp_annotations,omitempty"`
}

// Marshal writes the file as promtool reads it, after a comment header.
func (f *File) Marshal(header string) ([]byte, error) {
	b, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("rule test: %w", err)
	}
	var sb strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(header), "\n") {
		sb.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
	sb.Write(b)
	return []byte(sb.String()), nil
}

// absentChecks is how many evaluation times an ok-to-break test checks
// each page alert at, spread over the span from injection to the end.
const absentChecks = 6

// Build stretches the recording to world time, replays it through the
// rules as written, and returns the test file; an error when the input is
// incomplete or the replay disagrees with what the case saw.
func Build(ctx context.Context, in Input) (*File, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	st, err := stretch(in)
	if err != nil {
		return nil, err
	}
	injectAt := st.world(in.Inject)
	endAt := st.world(in.End)
	var checks []time.Duration
	if len(in.Absent) > 0 {
		checks = spread(injectAt, endAt, st.step, absentChecks)
	}
	rep, err := replay(ctx, in.Rules, st, endAt)
	if err != nil {
		return nil, err
	}
	t := Test{Name: testName(in), Interval: model.Duration(st.step), InputSeries: st.series}
	for _, name := range in.Fire {
		at, alerts, ok := rep.firstFiring(name, injectAt)
		if !ok {
			return nil, fmt.Errorf("rule test for %s: replayed at world time, %s never fires after the injection at %s: the recording is too short or too sparse to stand for the case",
				in.Case, name, model.Duration(injectAt))
		}
		t.Alerts = append(t.Alerts, AlertRuleTest{EvalTime: model.Duration(at), Alertname: name, ExpAlerts: alerts})
	}
	if len(in.Absent) > 0 {
		// Every evaluation is checked here; the file keeps a few.
		if name, at, ok := rep.paged(in.PageLabels, injectAt, endAt); ok {
			return nil, fmt.Errorf("rule test for %s: replayed at world time, %s pages at %s although the case paged nobody", in.Case, name, model.Duration(at))
		}
		for _, at := range checks {
			for _, name := range in.Absent {
				t.Alerts = append(t.Alerts, AlertRuleTest{EvalTime: model.Duration(at), Alertname: name, ExpAlerts: []ExpAlert{}})
			}
		}
	}
	return &File{RuleFiles: in.RuleFiles, EvaluationInterval: model.Duration(st.step), GroupEvalOrder: rep.order, Tests: []Test{t}}, nil
}

func (in Input) check() error {
	var errs []error
	if len(in.Rules) == 0 || len(in.Rules) != len(in.RuleFiles) {
		errs = append(errs, errors.New("rules and their file names are missing or differ in number"))
	}
	if (len(in.Fire) == 0) == (len(in.Absent) == 0) {
		errs = append(errs, errors.New("exactly one of Fire and Absent must be set"))
	}
	if !in.Start.Before(in.Inject) || !in.Inject.Before(in.End) {
		errs = append(errs, errors.New("start, inject and end must be in that order"))
	}
	if math.IsNaN(in.Factor) || in.Factor < 1 {
		errs = append(errs, fmt.Errorf("time scale %v: must be >= 1", in.Factor))
	}
	if len(errs) > 0 {
		return fmt.Errorf("rule test for %s: %w", in.Case, errors.Join(errs...))
	}
	return nil
}

func testName(in Input) string {
	what := "nobody is paged"
	switch len(in.Fire) {
	case 0:
	case 1:
		what = in.Fire[0] + " fires"
	default:
		what = strings.Join(in.Fire, ", ") + " fire"
	}
	return fmt.Sprintf("okbreak case %s: %s (recorded at time scale %s, stretched back to world time)",
		in.Case, what, strconv.FormatFloat(in.Factor, 'f', -1, 64))
}

// spread returns n evaluation times from from to to, each a multiple of
// step (promtool checks alerts at the evaluation at or before eval_time).
func spread(from, to, step time.Duration, n int) []time.Duration {
	var out []time.Duration
	for i := range n {
		at := from + (to-from)*time.Duration(i)/time.Duration(n-1)
		at = at / step * step
		if len(out) == 0 || out[len(out)-1] != at {
			out = append(out, at)
		}
	}
	return out
}

// stretched is the recording at world time: one value per step.
type stretched struct {
	start  time.Time
	real   time.Duration // the evaluation interval the case ran at
	step   time.Duration // the same at world time
	steps  int
	series []InputSeries
	// values[i][k] is series i at step k: nil when missing; labels[i]
	// its labels.
	values [][]*float64
	labels []labels.Labels
}

// world maps a real instant to world time since start on the same grid
// as the samples: real interval k is world step k.
func (s *stretched) world(t time.Time) time.Duration {
	return time.Duration(float64(t.Sub(s.start)) / float64(s.real) * float64(s.step))
}

// stretch resamples every series on the evaluation grid: step k holds the
// last sample scraped in the k-th interval before start+k·interval (real),
// or nothing; a staleness marker stays one.
func stretch(in Input) (*stretched, error) {
	tm, err := alert.TimingFor(in.Factor)
	if err != nil {
		return nil, fmt.Errorf("rule test for %s: %w", in.Case, err)
	}
	real := tm.EvalInterval
	// PromQL durations have millisecond resolution: the step is the scaled
	// interval stretched back, to the millisecond, and world() maps on the
	// same grid so that the two never drift apart.
	st := &stretched{start: in.Start, real: real,
		step: time.Duration(float64(real) * in.Factor).Round(time.Millisecond)}
	st.steps = int(in.End.Sub(in.Start)/real) + 1
	for _, s := range in.Series {
		vals := make([]*float64, st.steps)
		for _, smp := range s.Samples {
			off := smp.T.Sub(in.Start)
			if off < -real || smp.T.After(in.End) {
				continue
			}
			k := int((off + real - 1) / real) // the first grid point at or after the sample
			if k < 0 || k >= st.steps {
				continue
			}
			v := smp.V
			vals[k] = &v
		}
		if slices.IndexFunc(vals, func(v *float64) bool { return v != nil }) < 0 {
			continue
		}
		is := InputSeries{Series: selector(s.Labels), Values: notation(vals)}
		// The replay reads what promtool will read: the text, parsed back.
		ls, parsed, err := readBack(is, len(vals))
		if err != nil {
			return nil, fmt.Errorf("rule test for %s: %w", in.Case, err)
		}
		st.values = append(st.values, parsed)
		st.labels = append(st.labels, ls)
		st.series = append(st.series, is)
	}
	if len(st.series) == 0 {
		return nil, fmt.Errorf("rule test for %s: no series the rules read was recorded", in.Case)
	}
	return st, nil
}

// readBack parses an input series as promtool does, into n values.
func readBack(is InputSeries, n int) (labels.Labels, []*float64, error) {
	ls, seq, err := promqlParser.ParseSeriesDesc(is.Series + " " + is.Values)
	if err != nil {
		return labels.EmptyLabels(), nil, fmt.Errorf("series %s: promtool could not read its values %q: %w", is.Series, is.Values, err)
	}
	if len(seq) != n {
		return labels.EmptyLabels(), nil, fmt.Errorf("series %s: %d values written, %d read back", is.Series, n, len(seq))
	}
	out := make([]*float64, n)
	for i, sv := range seq {
		if !sv.Omitted {
			v := sv.Value
			out[i] = &v
		}
	}
	return ls, out, nil
}

// selector writes a series as promtool reads it: name{label="value", ...}.
func selector(m map[string]string) string {
	ls := labels.FromMap(m)
	name := ls.Get(labels.MetricName)
	ls = ls.DropMetricName()
	if name == "" || !model.IsValidLegacyMetricName(name) {
		return labels.FromMap(m).String()
	}
	if ls.IsEmpty() {
		return name
	}
	return name + ls.String()
}

// notation writes values in promtool's expanding notation: a run of equal
// values as `vxn` (v, then n more), a run of missing ones as `_xn`.
func notation(vals []*float64) string {
	var toks []string
	for i := 0; i < len(vals); {
		tok := token(vals[i])
		j := i + 1
		for j < len(vals) && token(vals[j]) == tok {
			j++
		}
		n := j - i
		if n == 1 {
			if k := steady(vals[i:]); k >= 3 {
				b := *vals[i+1] - *vals[i]
				toks = append(toks, fmt.Sprintf("%s%s%sx%d", token(vals[i]), sign(b), token(&b), k-1))
				i += k
				continue
			}
		}
		switch {
		case n == 1 || !repeatable(tok):
			for range n {
				toks = append(toks, tok)
			}
		case tok == "_":
			toks = append(toks, fmt.Sprintf("_x%d", n))
		default:
			toks = append(toks, fmt.Sprintf("%sx%d", tok, n-1))
		}
		i = j
	}
	return strings.Join(toks, " ")
}

// steady returns how many values from the first grow by the same integer
// step, when all are integers promtool's expansion reproduces exactly (a
// counter scraped at a steady rate); else 0.
func steady(vals []*float64) int {
	if len(vals) < 2 || vals[0] == nil || vals[1] == nil {
		return 0
	}
	a, b := *vals[0], *vals[1]-*vals[0]
	if !exact(a) || !exact(b) || b == 0 || value.IsStaleNaN(a) {
		return 0
	}
	k := 0
	for k < len(vals) && vals[k] != nil && *vals[k] == a+float64(k)*b && exact(*vals[k]) {
		k++
	}
	return k
}

func exact(v float64) bool { return v == math.Trunc(v) && math.Abs(v) < 1<<53 }

func sign(b float64) string {
	if b < 0 {
		return ""
	}
	return "+"
}

// repeatable tells whether promtool's expansion can repeat a token:
// `stale`, `NaN`, `Inf` and `-Inf` are read one by one only.
func repeatable(tok string) bool {
	switch tok {
	case "stale", "NaN", "Inf", "-Inf":
		return false
	}
	return true
}

func token(v *float64) string {
	switch {
	case v == nil:
		return "_"
	case value.IsStaleNaN(*v):
		return "stale"
	case math.IsNaN(*v):
		return "NaN"
	case math.IsInf(*v, 1):
		return "Inf"
	case math.IsInf(*v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}
