package alert

import (
	"fmt"
	"math"
	"time"
)

// Production timing, as a stock Prometheus runs it. The time scale divides
// all of them by the same factor, so that a rule's windows keep the same
// number of scrapes and evaluations as in production.
const (
	ProductionScrapeInterval = 15 * time.Second
	ProductionEvalInterval   = 15 * time.Second
	ProductionLookback       = 5 * time.Minute
)

// Floors of the compressed timing. Below 250 ms a scrape of a large
// exposition (Envoy's stats) competes with the system under test for the
// machine's two cores, and the measurement starts to disturb what it
// measures.
const (
	MinScrapeInterval = 250 * time.Millisecond
	MinEvalInterval   = 250 * time.Millisecond
)

// MinScrapeTimeout is the shortest scrape timeout, whatever the factor. A
// timeout measures the test machine as much as the target: compressed to
// 200 ms, a CPU hiccup of a loaded 2-core machine would read as a component
// going down (up == 0) and page. A scrape that overruns its interval delays
// that target's next scrape; it never overlaps it.
const MinScrapeTimeout = time.Second

// Timing is the compressed timing of one case: how often targets are
// scraped and rules evaluated, and how far back an instant query looks.
type Timing struct {
	// Factor is the time scale: 1 is production timing, 60 turns a minute
	// into a second.
	Factor float64
	// ScrapeInterval is ProductionScrapeInterval/Factor, at least
	// MinScrapeInterval.
	ScrapeInterval time.Duration
	// ScrapeTimeout bounds each scrape: two thirds of ScrapeInterval (10 s
	// at production timing, Prometheus's default), at least
	// MinScrapeTimeout.
	ScrapeTimeout time.Duration
	// EvalInterval is ProductionEvalInterval/Factor, at least
	// MinEvalInterval.
	EvalInterval time.Duration
	// Lookback is ProductionLookback/Factor, at least four scrape intervals
	// and at least one interval plus the timeout, so that one slow scrape
	// does not make a live series look absent.
	Lookback time.Duration
}

// TimingFor returns the timing at a time scale factor (>= 1).
func TimingFor(factor float64) (Timing, error) {
	if math.IsNaN(factor) || math.IsInf(factor, 0) || factor < 1 {
		return Timing{}, fmt.Errorf("time scale %v: must be a finite number >= 1", factor)
	}
	t := Timing{Factor: factor}
	t.ScrapeInterval = max(t.Scale(ProductionScrapeInterval), MinScrapeInterval)
	t.ScrapeTimeout = max(t.ScrapeInterval*2/3, MinScrapeTimeout)
	t.EvalInterval = max(t.Scale(ProductionEvalInterval), MinEvalInterval)
	t.Lookback = max(t.Scale(ProductionLookback), 4*t.ScrapeInterval, t.ScrapeInterval+t.ScrapeTimeout)
	return t, nil
}

// Scale divides a production duration by the factor, rounded to the
// millisecond (PromQL's resolution). A positive duration never scales to 0.
func (t Timing) Scale(d time.Duration) time.Duration {
	if t.Factor <= 1 || d == 0 {
		return d
	}
	s := time.Duration(math.Round(float64(d)/t.Factor/float64(time.Millisecond))) * time.Millisecond
	if s == 0 {
		if d > 0 {
			return time.Millisecond
		}
		return -time.Millisecond
	}
	return s
}

// minRange is the floor of a scaled range selector whose production range
// is w: a window must keep as many scrapes as it had in production, up to
// two (the least rate() needs). Until the scrape interval reaches
// MinScrapeInterval (factor 60 with production timing) the floor is exactly
// the scaled window, so nothing is floored; beyond it, short windows are
// widened rather than left empty.
func (t Timing) minRange(w time.Duration) time.Duration {
	samples := math.Min(float64(w)/float64(ProductionScrapeInterval), 2)
	return time.Duration(samples * float64(t.ScrapeInterval)).Round(time.Millisecond)
}
