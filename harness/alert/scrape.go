package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// Target is one scrape target. Job, Instance and Labels become labels of
// every series scraped from it, as in Prometheus with honor_labels: false
// (a scraped label of the same name is kept as exported_<name>).
type Target struct {
	Job      string
	Instance string
	// Labels are static labels of the target (namespace, pod, container,
	// ...), as a static_config's labels; they may not set job or instance.
	Labels map[string]string
	// URL is the metrics endpoint, e.g. http://127.0.0.1:32771/metrics.
	URL string
	// Resolve, when set instead of URL, is called before each scrape to
	// find the URL: a container's published port can change when it
	// restarts, and a stale port would read as the component being down.
	Resolve func(ctx context.Context) (string, error)
	// Source, when set, is scraped in-process instead of URL: the harness's
	// own exporters (container state).
	Source Source
}

// Source yields one exposition in-process, as an HTTP scrape would.
type Source interface {
	// Scrape returns the exposition and its content type (Prometheus text
	// format when empty).
	Scrape(ctx context.Context) (body []byte, contentType string, err error)
}

func (t Target) String() string { return fmt.Sprintf("%s/%s", t.Job, t.Instance) }

// TargetHealth is what the scraper knows about one target, for verdicts
// ("invalid: a scrape target was down") and reports.
type TargetHealth struct {
	Job, Instance, URL string
	// Up is the result of the last scrape.
	Up           bool
	LastScrape   time.Time
	LastDuration time.Duration
	LastError    string
	Scrapes      int
	Failures     int
	// Timeouts counts failures because the scrape ran out of time: on a
	// loaded machine that measures the harness, not the target, and makes
	// a case's measurements too thin to judge.
	Timeouts int
	// Samples is the number of samples in the last successful scrape.
	Samples int
	// Rejected counts samples the TSDB refused (duplicates in one
	// exposition, out of order).
	Rejected int
}

// maxScrapeBytes bounds one exposition; Envoy's stats are a few hundred KB.
const maxScrapeBytes = 64 << 20

// Scraper scrapes targets into a TSDB with Prometheus's semantics: every
// sample of a scrape carries one timestamp (when the exposition was read);
// up{job,instance} is 1 or 0 at
// each scrape, with scrape_duration_seconds and scrape_samples_scraped;
// series that vanish from a target, and every series of a target whose
// scrape fails, get a staleness marker, so that they disappear from instant
// queries at once (and absent() or up == 0 rules behave as in production).
//
// Health is safe for concurrent use; Run and ScrapeOnce must not run at the
// same time.
type Scraper struct {
	app      storage.AppendableV2
	interval time.Duration
	timeout  time.Duration
	client   *http.Client
	log      *slog.Logger
	loops    []*scrapeLoop

	mu     sync.Mutex
	health map[*scrapeLoop]*TargetHealth
}

type scrapeLoop struct {
	t Target
	// prev holds the series of the last successful scrape, keyed by their
	// label string, so that vanished ones can be marked stale.
	prev map[string]labels.Labels
}

// NewScraper checks targets and returns a scraper appending to app. timeout
// must be positive; it may exceed interval (each target is scraped by one
// loop, so a slow scrape delays the next one and never overlaps it). A nil
// client means a plain http.Client (the timeout comes from each request's
// context).
func NewScraper(app storage.AppendableV2, targets []Target, interval, timeout time.Duration, client *http.Client, logger *slog.Logger) (*Scraper, error) {
	if app == nil {
		return nil, errors.New("scraper: no storage")
	}
	if interval <= 0 || timeout <= 0 {
		return nil, fmt.Errorf("scraper: interval %s and timeout %s must be positive", interval, timeout)
	}
	if client == nil {
		client = &http.Client{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := validateTargets(targets); err != nil {
		return nil, fmt.Errorf("scraper: %w", err)
	}
	s := &Scraper{app: app, interval: interval, timeout: timeout, client: client, log: logger, health: map[*scrapeLoop]*TargetHealth{}}
	for _, t := range targets {
		l := &scrapeLoop{t: t, prev: map[string]labels.Labels{}}
		s.loops = append(s.loops, l)
		s.health[l] = &TargetHealth{Job: t.Job, Instance: t.Instance, URL: t.URL}
	}
	return s, nil
}

// validateTargets checks that each target is named, has one way to be
// scraped, and appears once.
func validateTargets(targets []Target) error {
	seen := map[string]bool{}
	for _, t := range targets {
		switch {
		case t.Job == "" || t.Instance == "":
			return fmt.Errorf("target %+v: job and instance are required", t)
		case countTrue(t.URL != "", t.Resolve != nil, t.Source != nil) != 1:
			return fmt.Errorf("target %s: exactly one of URL, Resolve and Source is required", t)
		case seen[t.String()]:
			return fmt.Errorf("target %s listed twice", t)
		case t.Labels["job"] != "" || t.Labels["instance"] != "":
			return fmt.Errorf("target %s: static labels may not set job or instance", t)
		}
		for k := range t.Labels {
			if !model.LabelName(k).IsValidLegacy() || strings.HasPrefix(k, "__") {
				return fmt.Errorf("target %s: static label %q: want a Prometheus label name (letters, digits, _; not starting with __)", t, k)
			}
		}
		seen[t.String()] = true
	}
	return nil
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// Run scrapes every target at once and then every interval, each target in
// its own goroutine, until ctx is done.
func (s *Scraper) Run(ctx context.Context) { s.run(ctx, true) }

// run is Run; with first false the loops wait one interval before their
// first scrape (the caller has just scraped with ScrapeOnce).
func (s *Scraper) run(ctx context.Context, first bool) {
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(s.interval)
			defer tick.Stop()
			if !first {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
			for {
				s.scrape(ctx, l)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
}

// ScrapeOnce scrapes every target once, concurrently, and returns when all
// are stored.
func (s *Scraper) ScrapeOnce(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.scrape(ctx, l)
		}()
	}
	wg.Wait()
}

// Health returns every target's health, sorted by job and instance.
func (s *Scraper) Health() []TargetHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TargetHealth, 0, len(s.health))
	for _, h := range s.health {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Job != out[j].Job {
			return out[i].Job < out[j].Job
		}
		return out[i].Instance < out[j].Instance
	})
	return out
}

type sample struct {
	lset labels.Labels
	v    float64
}

func (s *Scraper) scrape(ctx context.Context, l *scrapeLoop) {
	start := time.Now()
	samples, err := s.fetch(ctx, l.t)
	if ctx.Err() != nil {
		// The session is stopping: this is not a failure of the target,
		// and nothing more may be written.
		return
	}
	// Samples are stamped when the exposition has been read, not when the
	// scrape started as Prometheus does: a value is then never older than
	// its timestamp, so an alert that fires from a fault's effect always
	// fires after the fault's wall-clock injection time.
	read := time.Now()
	ts := read.UnixMilli()
	dur := read.Sub(start)

	app := s.app.AppenderV2(ctx)
	rejected := 0
	add := func(ls labels.Labels, v float64) {
		if _, aerr := app.Append(0, ls, 0, ts, v, nil, nil, storage.AOptions{}); aerr != nil {
			rejected++
		}
	}
	cur := make(map[string]labels.Labels, len(samples))
	for _, sm := range samples {
		ls := withTargetLabels(sm.lset, l.t)
		key := ls.String()
		if _, dup := cur[key]; dup {
			rejected++
			continue
		}
		cur[key] = ls
		add(ls, sm.v)
	}
	for key, ls := range l.prev {
		if _, ok := cur[key]; !ok {
			add(ls, math.Float64frombits(value.StaleNaN))
		}
	}
	up := 1.0
	if err != nil {
		up = 0
	}
	add(withTargetLabels(labels.FromStrings(labels.MetricName, "up"), l.t), up)
	add(withTargetLabels(labels.FromStrings(labels.MetricName, "scrape_duration_seconds"), l.t), dur.Seconds())
	add(withTargetLabels(labels.FromStrings(labels.MetricName, "scrape_samples_scraped"), l.t), float64(len(samples)))
	if cerr := app.Commit(); cerr != nil {
		s.log.Warn("scrape commit failed", "target", l.t.String(), "err", cerr)
		err = errors.Join(err, fmt.Errorf("commit: %w", cerr))
	} else {
		l.prev = cur
	}

	s.mu.Lock()
	h := s.health[l]
	h.Up = err == nil
	h.LastScrape = start
	h.LastDuration = dur
	h.Scrapes++
	h.Rejected += rejected
	if err != nil {
		h.Failures++
		if errors.Is(err, context.DeadlineExceeded) {
			h.Timeouts++
		}
		h.LastError = err.Error()
		s.log.Debug("scrape failed", "target", l.t.String(), "duration", dur, "err", err)
	} else {
		h.LastError = ""
		h.Samples = len(samples)
	}
	s.mu.Unlock()
}

// withTargetLabels attaches job, instance and the static labels; scraped
// labels of the same names are kept as exported_<name> (Prometheus's
// honor_labels: false).
func withTargetLabels(lset labels.Labels, t Target) labels.Labels {
	b := labels.NewBuilder(lset)
	tls := [][2]string{{"job", t.Job}, {"instance", t.Instance}}
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		tls = append(tls, [2]string{k, t.Labels[k]})
	}
	for _, tl := range tls {
		if v := lset.Get(tl[0]); v != "" {
			name := "exported_" + tl[0]
			for lset.Has(name) {
				name = "exported_" + name
			}
			b.Set(name, v)
		}
		b.Set(tl[0], tl[1])
	}
	return b.Labels()
}

// fetch scrapes one target and parses its exposition; an error means the
// scrape failed (up = 0).
func (s *Scraper) fetch(ctx context.Context, t Target) ([]sample, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var (
		body []byte
		ct   string
		err  error
	)
	if t.Source != nil {
		body, ct, err = t.Source.Scrape(ctx)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", t, err)
		}
	} else {
		url := t.URL
		if t.Resolve != nil {
			if url, err = t.Resolve(ctx); err != nil {
				return nil, fmt.Errorf("scrape %s: resolve url: %w", t, err)
			}
		}
		body, ct, err = s.get(ctx, url)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", t, err)
		}
	}
	samples, err := parseExposition(body, ct)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", t, err)
	}
	return samples, nil
}

func (s *Scraper) get(ctx context.Context, url string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("request %s: %w", url, err)
	}
	// The text format is what every component here speaks (Envoy's
	// /stats/prometheus only speaks it).
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(s.timeout.Seconds(), 'f', -1, 64))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, "", fmt.Errorf("get %s: HTTP status %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxScrapeBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", url, err)
	}
	if len(b) > maxScrapeBytes {
		return nil, "", fmt.Errorf("read %s: exposition larger than %d bytes", url, maxScrapeBytes)
	}
	return b, resp.Header.Get("Content-Type"), nil
}

// parseExposition parses a text (or OpenMetrics) exposition with
// Prometheus's own parser. Timestamps in the exposition are ignored: every
// sample takes the scrape's time, as none of the components set them.
func parseExposition(body []byte, contentType string) ([]sample, error) {
	p, err := textparse.New(body, contentType, labels.NewSymbolTable(), textparse.ParserOptions{FallbackContentType: "text/plain"})
	if p == nil {
		return nil, fmt.Errorf("content type %q: %w", contentType, err)
	}
	var out []sample
	for {
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse exposition: %w", err)
		}
		if et != textparse.EntrySeries {
			continue
		}
		_, _, v := p.Series()
		var ls labels.Labels
		p.Labels(&ls)
		out = append(out, sample{lset: ls, v: v})
	}
}
