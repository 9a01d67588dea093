package incidentrun

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/incident"
)

// Status is what became of a case or an incident.
type Status string

// The statuses. A skipped case passes, except under before, which must
// fail; a skipped incident did not run.
const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// Alone is the variant of an incident that is a case alone: the stack
// files as they are, with no configuration laid over them.
const Alone incident.Variant = ""

// Variants are the configurations in runs under, in order: before then
// after, or Alone.
func Variants(in *incident.Incident) []incident.Variant {
	if in.HasVariants() {
		return []incident.Variant{incident.Before, incident.After}
	}
	return []incident.Variant{Alone}
}

// CaseOutcome is one case's recorded result under one variant, judged.
type CaseOutcome struct {
	Variant incident.Variant
	Case    catalog.Case
	Result  harness.Result
	// Report is the folder of the stack's report ("" when none is written).
	Report string
	Status Status
	// Why is the judgement in a line: how before reproduced the incident,
	// why a case failed, or why it was skipped.
	Why string
	// expect is the incident's expect_before, for Message.
	expect string
}

// JudgeCase judges one case's result: under before, it must be the failure
// the incident had (incident.Reproduced; a skipped case reproduces
// nothing); otherwise it must be the class's verdict, and a skipped case
// is skipped with its reason. It is a pure function of its arguments.
func JudgeCase(in *incident.Incident, v incident.Variant, c catalog.Case, d catalog.Defaults, res harness.Result, report string) CaseOutcome {
	co := CaseOutcome{Variant: v, Case: c, Result: res, Report: report}
	if v == incident.Before {
		if in.ExpectBefore == nil {
			co.Status, co.Why = Failed, fmt.Sprintf("incident %s has before but no expect_before", in.Name)
			return co
		}
		co.expect = in.ExpectBefore.String()
		ok, why := incident.Reproduced(*in.ExpectBefore, c, d, res)
		co.Status, co.Why = Failed, why
		if ok {
			co.Status = Passed
		}
		return co
	}
	want := harness.Expected(c.Class)
	switch res.Verdict {
	case harness.Skipped:
		co.Status, co.Why = Skipped, res.Reason
	case want:
		co.Status = Passed
	default:
		co.Status, co.Why = Failed, fmt.Sprintf("want %s, got %s: %s", want, res.Verdict, res.Reason)
	}
	return co
}

// Message is what a test says of the case: the reason of a skip, how
// before reproduced the incident, or the failure with where its report is
// (and, for a wrong verdict, the result as JSON, evidence included). It is
// "" for a case with its class's verdict.
func (co CaseOutcome) Message() string {
	c, res := co.Case, co.Result
	switch {
	case co.Status == Skipped:
		return co.Why
	case co.Variant == incident.Before && co.Status == Passed:
		return "before reproduced the incident: " + co.Why
	case co.Variant == incident.Before:
		return fmt.Sprintf("before did not fail as the incident did (%s): %s\nreport: %s", co.expect, co.Why, co.Report)
	case co.Status == Passed:
		return ""
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return fmt.Sprintf("%s %s: want %s, got %s: %s\nreport (at the end of the run): %s\n%s",
		c.Class, c.Name, harness.Expected(c.Class), res.Verdict, res.Reason, co.Report, b)
}

// line is the case's result in a line, for an incident's message.
func (co CaseOutcome) line() string {
	r := co.Result
	s := fmt.Sprintf("%s: %s (%s), report %s", co.Case.Name, r.Verdict, r.Reason, co.Report)
	if co.Variant != Alone {
		s = string(co.Variant) + ", " + s
	}
	return s
}

// VariantRun is what one stack's run recorded: the cases that ran, judged,
// those that did not, and what stopped the run.
type VariantRun struct {
	Variant incident.Variant
	// RunID names the stack's run, Report its report folder; both "" when
	// the stack did not come up.
	RunID, Report string
	Cases         []CaseOutcome
	// NotRun are the cases planned and not run (the run was interrupted,
	// or a caller declined to run them).
	NotRun []string
	// Err is why the run could not be made: the configuration did not
	// load, the stack did not come up, or its teardown failed.
	Err error
}

// Outcome is an incident's judgement, with every result it rests on.
type Outcome struct {
	Incident *incident.Incident
	Status   Status
	// Why is the reason of a skip, the results of a pass in a line, or
	// the failure with every result under every variant.
	Why  string
	Runs []VariantRun
}

// Judge judges an incident from its runs: it passes when every variant
// ran, every case planned ran, and each got what JudgeCase asks (before
// reproduced the incident, after or a case alone its class's verdict).
// It is a pure function of its arguments.
func Judge(in *incident.Incident, runs []VariantRun) Outcome {
	out := Outcome{Incident: in, Runs: runs, Status: Passed}
	var lines []string
	seen := map[incident.Variant]bool{}
	for _, r := range runs {
		seen[r.Variant] = true
		for _, co := range r.Cases {
			lines = append(lines, co.line())
			if co.Status == Failed {
				out.Status = Failed
			}
		}
		for _, n := range r.NotRun {
			lines = append(lines, prefix(r.Variant, n+": not run"))
			out.Status = Failed
		}
		if r.Err != nil {
			lines = append(lines, prefix(r.Variant, r.Err.Error()))
			out.Status = Failed
		}
	}
	for _, v := range Variants(in) {
		if !seen[v] {
			lines = append(lines, prefix(v, "not run"))
			out.Status = Failed
		}
	}
	if out.Status == Passed {
		out.Why = passed(in, runs)
		return out
	}
	want := "every case must get its class's verdict"
	if in.HasVariants() {
		want = fmt.Sprintf("before must fail with %s and after get the class's verdict", in.ExpectBefore)
	}
	out.Why = fmt.Sprintf("incident %s: %s; got:\n  %s", in.Name, want, strings.Join(lines, "\n  "))
	return out
}

// Skip is the outcome of an incident that does not run, and why.
func Skip(in *incident.Incident, why string) Outcome {
	return Outcome{Incident: in, Status: Skipped, Why: why}
}

// passed says a passing incident's results in a line.
func passed(in *incident.Incident, runs []VariantRun) string {
	var parts []string
	for _, r := range runs {
		var vs []string
		for _, co := range r.Cases {
			switch {
			case r.Variant == incident.Before:
				vs = append(vs, co.Why)
			case co.Status == Skipped:
				vs = append(vs, fmt.Sprintf("%s skipped (%s)", co.Case.Name, co.Why))
			default:
				vs = append(vs, fmt.Sprintf("%s %s", co.Case.Name, co.Result.Verdict))
			}
		}
		switch r.Variant {
		case incident.Before:
			parts = append(parts, "reproduced before: "+strings.Join(vs, "; "))
		case incident.After:
			parts = append(parts, "fixed after: "+strings.Join(vs, ", "))
		default:
			parts = append(parts, strings.Join(vs, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func prefix(v incident.Variant, s string) string {
	if v == Alone {
		return s
	}
	return string(v) + ": " + s
}

// Summary is the outcome in a line (more for a failure): the incident's
// name, then reproduced and fixed, passed, skipped with the reason, or
// failed with every result.
func (o Outcome) Summary() string {
	head := "incident " + o.Incident.Name + ": "
	switch o.Status {
	case Skipped:
		return head + "skipped: " + o.Why
	case Passed:
		return head + "passed: " + o.Why
	}
	return head + "FAILED: " + strings.TrimPrefix(o.Why, head)
}
