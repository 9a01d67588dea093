package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/okbreak/okbreak/harness"
)

// The JUnit document is written with encoding/xml, element and attribute
// names as in the JUnit XML schema that Jenkins, GitLab and GitHub's test
// reporters read. github.com/jstemmer/go-junit-report/v2/junit is served
// here, but its Testcase has no <properties>, and a case's verdict, time to
// detect and time to recover belong there.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name       string          `xml:"name,attr"`
	Classname  string          `xml:"classname,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Failure    *junitResult    `xml:"failure,omitempty"`
	Error      *junitResult    `xml:"error,omitempty"`
	Skipped    *junitResult    `xml:"skipped,omitempty"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// JUnit writes one testsuite for the run and one testcase per case: failed
// is a <failure>, invalid an <error>, skipped a <skipped>, each with the
// reason as message and the reason plus evidence as text; a case that got
// the wrong passing verdict (survived where an alert was due) is a failure
// too. Verdict, time to detect and time to recover are properties.
func JUnit(w io.Writer, r *Report) error {
	c := r.Counts()
	suite := junitSuite{
		Name:  fmt.Sprintf("okbreak %s (%s, time scale %g)", r.Run, r.DataPlane, r.TimeScale),
		Tests: c.Cases, Skipped: c.Skipped, Time: fmt.Sprintf("%.3f", r.ElapsedS),
		Properties: []junitProperty{
			{"okbreak_version", r.Version}, {"run", r.Run}, {"data_plane", r.DataPlane},
			{"time_scale", fmt.Sprint(r.TimeScale)},
		},
	}
	if !r.Started.IsZero() {
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	for _, in := range r.Inputs {
		suite.Properties = append(suite.Properties, junitProperty{in.Kind + ":" + in.Name, "sha256:" + in.SHA256})
	}
	for _, res := range r.Cases {
		jc := junitCase{
			Name: res.Name, Classname: "okbreak." + string(res.Class), Time: fmt.Sprintf("%.3f", res.Elapsed),
			Properties: []junitProperty{
				{"verdict", string(res.Verdict)}, {"expected", string(harness.Expected(res.Class))},
				{"time_to_detect_s", optSeconds(res.TimeToDetectS)}, {"time_to_recover_s", optSeconds(res.TimeToRecoverS)},
				{"effective_scale", fmt.Sprint(res.EffectiveScale)},
			},
			SystemOut: res.Reason,
		}
		if res.Fault != "" {
			jc.Properties = append(jc.Properties, junitProperty{"fault", res.Fault})
		}
		msg := string(res.Verdict) + ": " + res.Reason
		switch {
		case res.Verdict == harness.Skipped:
			jc.Skipped = &junitResult{Message: res.Reason}
		case res.Verdict == harness.Invalid:
			jc.Error = &junitResult{Message: msg, Type: "invalid", Body: evidenceText(res)}
			suite.Errors++
		case !Passed(res):
			jc.Failure = &junitResult{Message: msg, Type: string(res.Verdict), Body: evidenceText(res)}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, jc)
	}
	doc := junitSuites{
		Name: "okbreak", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func optSeconds(p *float64) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%.3f", *p)
}

// evidenceText is what a person reads in CI under a failed case: the
// reason, the probe's windows, the alerts, and the evidence kept.
func evidenceText(res harness.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: want %s, got %s\n%s\n", res.Class, res.Name, harness.Expected(res.Class), res.Verdict, res.Reason)
	switch {
	case len(res.FaultSpans) > 1:
		b.WriteString("\nfaults:\n")
		for i, f := range res.FaultSpans {
			end := "never reverted"
			if f.EndS != nil {
				end = fmt.Sprintf("to %+.1f s", *f.EndS)
			}
			fmt.Fprintf(&b, "  %d. %s: from %+.1f s %s\n", i+1, f.Fault, f.StartS, end)
		}
	case res.Fault != "":
		fmt.Fprintf(&b, "\nfault: %s\n", res.Fault)
	}
	if w := res.Windows; w != nil {
		fmt.Fprintf(&b, "\nprobe before: %.2f%% ok of %d, p99 %s\n", 100*w.Before.SuccessRatio, w.Before.Count, w.Before.P99)
		fmt.Fprintf(&b, "probe during: %.2f%% ok of %d, p99 %s\n", 100*w.During.SuccessRatio, w.During.Count, w.During.P99)
		fmt.Fprintf(&b, "probe after:  %.2f%% ok of %d, p99 %s\n", 100*w.After.SuccessRatio, w.After.Count, w.After.P99)
	}
	if len(res.AlertsFired) > 0 {
		b.WriteString("\nalerts fired:\n")
		for _, a := range res.AlertsFired {
			fmt.Fprintf(&b, "  %s (%s) at %+.1f s\n", a.Name, a.Severity, a.FirstFiredS)
		}
	}
	if len(res.LeftActive) > 0 {
		fmt.Fprintf(&b, "\nstill active at the end: %s\n", strings.Join(res.LeftActive, ", "))
	}
	if ev := res.Evidence; ev != nil {
		for _, t := range ev.Targets {
			if !t.Up {
				fmt.Fprintf(&b, "\nscrape target down: %s/%s: %s\n", t.Job, t.Instance, t.LastError)
			}
		}
		names := make([]string, 0, len(ev.Logs))
		for n := range ev.Logs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "\n--- %s (last lines)\n%s\n", n, ev.Logs[n])
		}
		if ev.Toxiproxy != "" {
			fmt.Fprintf(&b, "\n--- toxiproxy /proxies\n%s\n", ev.Toxiproxy)
		}
	}
	return b.String()
}
