package harness

import (
	"time"

	"github.com/okbreak/okbreak/harness/alert"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/probe"
)

// Verdict is the outcome of one case.
type Verdict string

// Verdicts, as README "One case, start to finish" defines them.
const (
	// Survived: an ok-to-break case held its SLO during and after the
	// fault, recovered, and paged nobody.
	Survived Verdict = "survived"
	// Alerted: every alert a not-ok case expects went from inactive to
	// firing within the detection window.
	Alerted Verdict = "alerted"
	// Failed: anything else, with evidence.
	Failed Verdict = "failed"
	// Invalid: the measurement cannot judge the case (no steady state
	// before the fault, a scrape target down, too few samples). Never a
	// pass.
	Invalid Verdict = "invalid"
	// Skipped: the case cannot run here; Reason says why.
	Skipped Verdict = "skipped"
)

// Passed tells whether a verdict lets a run succeed.
func (v Verdict) Passed() bool { return v == Survived || v == Alerted || v == Skipped }

// Expected is the verdict a case of a class must reach to pass.
func Expected(c catalog.Class) Verdict {
	if c == catalog.NotOK {
		return Alerted
	}
	return Survived
}

// AlertFired is an alert that fired during a case, with its first firing
// time in seconds after injection (negative: before it).
type AlertFired struct {
	Name        string  `json:"name"`
	Severity    string  `json:"severity,omitempty"`
	FirstFiredS float64 `json:"first_fired_s"`
}

// Windows are the probe's numbers before, during (after the grace period)
// and after the fault.
type Windows struct {
	Before probe.Stats `json:"before"`
	During probe.Stats `json:"during"`
	After  probe.Stats `json:"after"`
}

// Evidence is what a failed or invalid case keeps for a person to read.
type Evidence struct {
	// Logs holds the last lines of each component's log.
	Logs map[string]string `json:"logs,omitempty"`
	// Toxiproxy is the Toxiproxy API's /proxies answer at the end.
	Toxiproxy string `json:"toxiproxy,omitempty"`
	// Endpoints holds the answers of the definition's evidence endpoints
	// by name (the sample system's data_plane_config: its /config_dump).
	Endpoints map[string]string `json:"endpoints,omitempty"`
	// Targets is the scrape targets' health.
	Targets []alert.TargetHealth `json:"targets,omitempty"`
	// Containers is the engine's view of every component at the end.
	Containers []alert.ContainerState `json:"containers,omitempty"`
}

// Result is one case's verdict with its evidence.
type Result struct {
	Name  string        `json:"name"`
	Class catalog.Class `json:"class"`
	// Why is the catalog's one line on why the case is ok to break, or not.
	Why     string  `json:"why,omitempty"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
	// Halted is the halt condition that stopped the case (and the run),
	// if one did (Runner.Halt).
	Halted string `json:"halted,omitempty"`
	// Fault says what was injected, and Facts what the fault observed
	// (exit codes, time to exit).
	Fault string         `json:"fault,omitempty"`
	Facts map[string]any `json:"facts,omitempty"`
	// FaultSpans are when each fault was actually in force: one for a
	// case of one fault, one per fault of a compound case.
	FaultSpans []FaultSpan `json:"faults,omitempty"`
	// EffectiveScale and Plan are the time scale and durations in force
	// after the case's cap.
	EffectiveScale float64       `json:"effective_scale"`
	Plan           *catalog.Plan `json:"plan,omitempty"`
	// AlertsFired lists every alert that fired from the start of the
	// measurement to its end.
	AlertsFired []AlertFired `json:"alerts_fired"`
	// TimeToDetectS is the time from injection to the last expected alert
	// firing (not-ok cases); TimeToRecoverS the time from revert to the
	// probe meeting the SLO again.
	TimeToDetectS  *float64 `json:"time_to_detect_s"`
	TimeToRecoverS *float64 `json:"time_to_recover_s"`
	Windows        *Windows `json:"windows,omitempty"`
	// LeftActive are the alerts still pending or firing when the case
	// ended: what the next case's steady-state gate waits to see cleared.
	// A case that leaves one for good leaves the system out of its steady
	// state even when its verdict is right.
	LeftActive []string `json:"left_active,omitempty"`
	// Timeline is every alert state transition, in time order.
	Timeline alert.Timeline `json:"timeline,omitempty"`
	// Series is the probe second by second and Marks the case's moments,
	// for a report's chart.
	Series   []Point   `json:"series,omitempty"`
	Marks    *Marks    `json:"marks,omitempty"`
	Evidence *Evidence `json:"evidence,omitempty"`
	// RuleTest is the promtool rule test written for the case (its file
	// name, Runner.RuleTests); RuleTestError why none could be written.
	RuleTest      string    `json:"rule_test,omitempty"`
	RuleTestError string    `json:"rule_test_error,omitempty"`
	Started       time.Time `json:"started"`
	Elapsed       float64   `json:"elapsed_s"`
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
