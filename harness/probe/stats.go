package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Stats summarises the samples that started in one window [Start, End).
//
// Percentiles are exact: the window's latencies are sorted and the
// nearest-rank value is taken (p99 of n samples is the ceil(0.99·n)-th
// smallest). At 100 requests/s a window holds thousands of samples at most,
// so sorting costs nothing worth trading exactness for. Failures count in the
// latencies with the latency they had: a timeout weighs in at the timeout, so
// a partition shows in p99 as well as in the success ratio, while a fast
// refusal is caught by the success ratio alone.
type Stats struct {
	Start, End time.Time
	// Count = OK + Errors + Wrong + Timeouts.
	Count, OK, Errors, Wrong, Timeouts int
	// Retried counts OK answers the edge reports took more than one attempt.
	Retried int
	// SuccessRatio is OK / Count (0 for an empty window).
	SuccessRatio float64
	// Rate is Count per second of window: with an open model it stays at the
	// probe's rate whatever the system does, so a low Rate means the probe
	// itself fell behind (or the window is not fully observed).
	Rate               float64
	P50, P90, P99, Max time.Duration
	// ByInstance counts answers by the instance they name, whatever the
	// outcome (an "other-1" here is where wrong answers came from).
	ByInstance map[string]int
	// ByCode counts HTTP statuses; 0 stands for "no status" (transport
	// error or timeout).
	ByCode map[int]int
	// TopErrors are the most frequent failure reasons, most frequent first
	// (at most maxTopErrors): evidence for a verdict.
	TopErrors []ErrorCount
}

// ErrorCount is one failure reason and how many samples failed with it.
type ErrorCount struct {
	Err   string `json:"err"`
	Count int    `json:"count"`
}

const maxTopErrors = 5

// Compute summarises the samples that started in [from, to). A zero from or
// to leaves that side open. samples need not be sorted and are not modified.
func Compute(samples []Sample, from, to time.Time) Stats {
	st := Stats{Start: from, End: to, ByInstance: map[string]int{}, ByCode: map[int]int{}}
	lat := make([]time.Duration, 0, len(samples))
	errs := map[string]int{}
	for i := range samples {
		s := &samples[i]
		if !from.IsZero() && s.Start.Before(from) || !to.IsZero() && !s.Start.Before(to) {
			continue
		}
		st.Count++
		lat = append(lat, s.Latency)
		switch s.Outcome {
		case OK:
			st.OK++
			if s.Attempts > 1 {
				st.Retried++
			}
		case WrongService:
			st.Wrong++
		case Timeout:
			st.Timeouts++
		default:
			st.Errors++
		}
		if s.Outcome != OK {
			errs[s.Err]++
		}
		if s.Instance != "" {
			st.ByInstance[s.Instance]++
		}
		st.ByCode[s.Code]++
	}
	if st.Count == 0 {
		return st
	}
	st.SuccessRatio = float64(st.OK) / float64(st.Count)
	if !from.IsZero() && !to.IsZero() && to.After(from) {
		st.Rate = float64(st.Count) / to.Sub(from).Seconds()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st.P50 = lat[rank(500, len(lat))]
	st.P90 = lat[rank(900, len(lat))]
	st.P99 = lat[rank(990, len(lat))]
	st.Max = lat[len(lat)-1]
	for e, n := range errs {
		st.TopErrors = append(st.TopErrors, ErrorCount{Err: e, Count: n})
	}
	sort.Slice(st.TopErrors, func(i, j int) bool {
		a, b := st.TopErrors[i], st.TopErrors[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Err < b.Err
	})
	if len(st.TopErrors) > maxTopErrors {
		st.TopErrors = st.TopErrors[:maxTopErrors]
	}
	return st
}

// rank is the 0-based index of the nearest-rank per-mille percentile of n
// sorted values: ceil(pm·n/1000)-1, in integers so that p99 of 100 samples is
// exactly the 99th (floating point would make 0.99·100 a hair above 99).
func rank(perMille, n int) int {
	r := (perMille*n + 999) / 1000
	if r < 1 {
		r = 1
	}
	return r - 1
}

// SLO is what the probe must hold in a window: at least Success of requests
// OK (a ratio, 0.99 for 99 %) and p99 latency at most P99.
type SLO struct {
	Success float64
	P99     time.Duration
}

// DefaultSLO is okbreak's default for ok-to-break cases.
var DefaultSLO = SLO{Success: 0.99, P99: time.Second}

// Validate rejects an SLO that could never be missed or never be met.
func (o SLO) Validate() error {
	if !(o.Success > 0 && o.Success <= 1) {
		return fmt.Errorf("%w: success ratio %v must be in (0, 1]", ErrInvalidSLO, o.Success)
	}
	if o.P99 <= 0 {
		return fmt.Errorf("%w: p99 %s must be positive", ErrInvalidSLO, o.P99)
	}
	return nil
}

var (
	// ErrTooFewSamples means the window is too thin to judge. A verdict
	// layer must call such a window invalid, never passed and never failed.
	ErrTooFewSamples = errors.New("too few samples")
	// ErrSLOMissed means the window had enough samples and missed the SLO.
	ErrSLOMissed = errors.New("slo missed")
	// ErrInvalidSLO means the SLO itself is unusable.
	ErrInvalidSLO = errors.New("invalid slo")
)

// Meets holds the window to slo. ok is true only when the window has at
// least minSamples samples (and at least one) and meets both the success
// ratio and the p99. Otherwise why says which, and wraps exactly one of
// ErrTooFewSamples (invalid: judge nothing), ErrSLOMissed or ErrInvalidSLO;
// use errors.Is to tell them apart.
func (s Stats) Meets(slo SLO, minSamples int) (ok bool, why error) {
	if err := slo.Validate(); err != nil {
		return false, err
	}
	if s.Count == 0 || s.Count < minSamples {
		return false, fmt.Errorf("%w: %d in %s, need %d", ErrTooFewSamples, s.Count, s.span(), max(minSamples, 1))
	}
	var missed []error
	if s.SuccessRatio < slo.Success {
		missed = append(missed, fmt.Errorf("success %.2f%% < %.2f%% (%d of %d failed: %d errors, %d wrong service, %d timeouts)",
			100*s.SuccessRatio, 100*slo.Success, s.Count-s.OK, s.Count, s.Errors, s.Wrong, s.Timeouts))
	}
	if s.P99 > slo.P99 {
		missed = append(missed, fmt.Errorf("p99 %s > %s", s.P99.Round(time.Millisecond), slo.P99))
	}
	if len(missed) > 0 {
		return false, fmt.Errorf("%w: %w", ErrSLOMissed, errors.Join(missed...))
	}
	return true, nil
}

// span names the window's length for messages.
func (s Stats) span() string {
	if s.Start.IsZero() || s.End.IsZero() {
		return "the window"
	}
	return s.End.Sub(s.Start).Round(time.Millisecond).String()
}

// Windows are the three windows of one case: Before the fault (steady state),
// During it (after the grace period) and After the revert (after the grace
// period).
type Windows struct {
	Before, During, After Stats
	Grace                 time.Duration
}

// Split cuts samples into Before [start, inject), During [inject+grace,
// revert) and After [revert+grace, end), by each sample's start time. The
// grace period keeps the moments right after a change out of both
// judgements. A window whose grace outlasts it is empty (and so too thin to
// judge), never negative.
//
// Before also leaves out the few samples still in flight at inject: the
// fault may have reached them, and the steady state must be judged on the
// system before the fault. (Only requests in flight at that instant go,
// about rate × latency of them.) During keeps the samples in flight at
// revert: they were sent while the fault was in force.
//
// Samples still in flight when Split runs are not in samples: compute the
// windows after the probe stopped, or with end at least one Timeout ago.
func Split(samples []Sample, start, inject, revert, end time.Time, grace time.Duration) Windows {
	span := func(from, to time.Time) Stats {
		if to.Before(from) {
			from = to
		}
		return Compute(samples, from, to)
	}
	var settled []Sample
	for _, s := range samples {
		if !s.Start.Add(s.Latency).After(inject) {
			settled = append(settled, s)
		}
	}
	before := start
	if inject.Before(before) {
		before = inject
	}
	return Windows{
		Before: Compute(settled, before, inject),
		During: span(inject.Add(grace), revert),
		After:  span(revert.Add(grace), end),
		Grace:  grace,
	}
}

// Recovered finds the time to recover: the start of the first window of
// length window, beginning at a sample started at or after after, whose
// samples meet slo with at least minSamples samples. It also returns that
// window's Stats. Only fully observed windows count (the window must end no
// later than the last sample started), so a truncated tail cannot claim a
// recovery that thin data merely failed to contradict. ok is false when no
// such window exists or slo is invalid.
func Recovered(samples []Sample, after time.Time, slo SLO, window time.Duration, minSamples int) (t time.Time, w Stats, ok bool) {
	if slo.Validate() != nil || window <= 0 || len(samples) == 0 {
		return time.Time{}, Stats{}, false
	}
	ss := sortedCopy(samples)
	last := ss[len(ss)-1].Start
	// Prefix sums of OK answers and of answers slower than the SLO make
	// every window's check O(1): nearest-rank p99 <= slo.P99 exactly when
	// at most n - ceil(0.99·n) samples are slower than slo.P99.
	okSum := make([]int, len(ss)+1)
	slowSum := make([]int, len(ss)+1)
	for i, s := range ss {
		okSum[i+1] = okSum[i]
		if s.Outcome == OK {
			okSum[i+1]++
		}
		slowSum[i+1] = slowSum[i]
		if s.Latency > slo.P99 {
			slowSum[i+1]++
		}
	}
	i := sort.Search(len(ss), func(k int) bool { return !ss[k].Start.Before(after) })
	j := i
	for ; i < len(ss); i++ {
		from := ss[i].Start
		to := from.Add(window)
		if to.After(last) {
			break
		}
		for j < len(ss) && ss[j].Start.Before(to) {
			j++
		}
		n := j - i
		if n == 0 || n < minSamples {
			continue
		}
		if float64(okSum[j]-okSum[i])/float64(n) < slo.Success {
			continue
		}
		if slowSum[j]-slowSum[i] > n-(rank(990, n)+1) {
			continue
		}
		st := Compute(ss[i:j], from, to)
		if met, _ := st.Meets(slo, minSamples); met {
			return from, st, true
		}
	}
	return time.Time{}, Stats{}, false
}

// Buckets cuts [from, to) into consecutive windows of step and summarises
// each: the per-second (or per-step) series a timeline is drawn from. It
// returns nil for an empty range or a step <= 0.
func Buckets(samples []Sample, from, to time.Time, step time.Duration) []Stats {
	if step <= 0 || !to.After(from) {
		return nil
	}
	ss := sortedCopy(samples)
	var out []Stats
	lo := sort.Search(len(ss), func(k int) bool { return !ss[k].Start.Before(from) })
	for t := from; t.Before(to); t = t.Add(step) {
		end := t.Add(step)
		if end.After(to) {
			end = to
		}
		hi := lo + sort.Search(len(ss)-lo, func(k int) bool { return !ss[lo+k].Start.Before(end) })
		out = append(out, Compute(ss[lo:hi], t, end))
		lo = hi
	}
	return out
}

// sortedCopy returns samples sorted by start time, leaving the input alone.
func sortedCopy(samples []Sample) []Sample {
	ss := append([]Sample(nil), samples...)
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].Start.Before(ss[j].Start) })
	return ss
}

// statsJSON is Stats on the wire: durations in seconds (p99_s), counts by
// name, so reports in any language read them without knowing Go.
type statsJSON struct {
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	Count        int            `json:"count"`
	OK           int            `json:"ok"`
	Errors       int            `json:"errors"`
	Wrong        int            `json:"wrong_service"`
	Timeouts     int            `json:"timeouts"`
	Retried      int            `json:"retried"`
	SuccessRatio float64        `json:"success_ratio"`
	Rate         float64        `json:"rate_per_s"`
	P50          float64        `json:"p50_s"`
	P90          float64        `json:"p90_s"`
	P99          float64        `json:"p99_s"`
	Max          float64        `json:"max_s"`
	ByInstance   map[string]int `json:"by_instance"`
	ByCode       map[int]int    `json:"by_code"`
	TopErrors    []ErrorCount   `json:"top_errors,omitempty"`
}

// MarshalJSON writes durations as seconds (p50_s, p90_s, p99_s, max_s).
func (s Stats) MarshalJSON() ([]byte, error) {
	return json.Marshal(statsJSON{
		Start: s.Start, End: s.End, Count: s.Count, OK: s.OK, Errors: s.Errors, Wrong: s.Wrong,
		Timeouts: s.Timeouts, Retried: s.Retried, SuccessRatio: s.SuccessRatio, Rate: s.Rate,
		P50: s.P50.Seconds(), P90: s.P90.Seconds(), P99: s.P99.Seconds(), Max: s.Max.Seconds(),
		ByInstance: s.ByInstance, ByCode: s.ByCode, TopErrors: s.TopErrors,
	})
}

// UnmarshalJSON reads what MarshalJSON writes (a report read back).
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j statsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("probe stats: %w", err)
	}
	*s = Stats{
		Start: j.Start, End: j.End, Count: j.Count, OK: j.OK, Errors: j.Errors, Wrong: j.Wrong,
		Timeouts: j.Timeouts, Retried: j.Retried, SuccessRatio: j.SuccessRatio, Rate: j.Rate,
		P50: seconds(j.P50), P90: seconds(j.P90), P99: seconds(j.P99), Max: seconds(j.Max),
		ByInstance: j.ByInstance, ByCode: j.ByCode, TopErrors: j.TopErrors,
	}
	return nil
}

// MarshalJSON writes the grace period as grace_s.
func (w Windows) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Before Stats   `json:"before"`
		During Stats   `json:"during"`
		After  Stats   `json:"after"`
		Grace  float64 `json:"grace_s"`
	}{w.Before, w.During, w.After, w.Grace.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *Windows) UnmarshalJSON(b []byte) error {
	var j struct {
		Before Stats   `json:"before"`
		During Stats   `json:"during"`
		After  Stats   `json:"after"`
		Grace  float64 `json:"grace_s"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("probe windows: %w", err)
	}
	*w = Windows{Before: j.Before, During: j.During, After: j.After, Grace: seconds(j.Grace)}
	return nil
}
