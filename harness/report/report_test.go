package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/harness"
	"github.com/okbreak/okbreak/harness/catalog"
	"github.com/okbreak/okbreak/harness/stack"
)

// fixture is a report recorded from a real `okbreak run --json` of the
// default catalog (testdata/README.md says how). Decoding it strictly with
// the current types keeps it from drifting: a renamed field fails here.
func fixture(t *testing.T) *Report {
	t.Helper()
	r, err := ReadFile("testdata/run.json")
	require.NoError(t, err, "testdata/run.json must decode with the current types (re-record it: see testdata/README.md)")
	return r
}

func TestFixtureIsARealRunOfTheWholeCatalog(t *testing.T) {
	r := fixture(t)
	require.Len(t, r.Cases, 19)
	c := r.Counts()
	assert.Equal(t, 11, c.Survived)
	assert.Equal(t, 8, c.Alerted)
	compound := 0
	for _, res := range r.Cases {
		assert.True(t, Passed(res), "%s: %s", res.Name, res.Verdict)
		assert.NotEmpty(t, res.Series, "%s has a probe series", res.Name)
		assert.NotEmpty(t, res.FaultSpans, "%s has its faults' spans", res.Name)
		if len(res.FaultSpans) > 1 {
			compound++
		}
		require.NotNil(t, res.Marks, res.Name)
		assert.Greater(t, res.Marks.RevertS, 0.0, res.Name)
	}
	assert.Equal(t, 3, compound, "the compound cases, each with a span per fault")
	assert.NotEmpty(t, r.Inputs)
	assert.NotEmpty(t, r.Version)
}

func TestDecodeRefusesUnknownFields(t *testing.T) {
	_, err := Decode(strings.NewReader(`{"run":"x","cases":[],"colour":"red"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "colour")
	_, err = Decode(strings.NewReader(`{"run":"x","cases":[{"name":"a","verdikt":"survived"}]}`))
	require.Error(t, err)
	_, err = Decode(strings.NewReader(`{"run":"x"} {"run":"y"}`))
	require.Error(t, err)
}

// mixed is the fixture with one case of each non-passing verdict.
func mixed(t *testing.T) *Report {
	t.Helper()
	r := fixture(t)
	r.Cases[0].Verdict, r.Cases[0].Reason = harness.Failed, "during the fault: success 90.00% < 99.00%"
	r.Cases[0].Evidence = &harness.Evidence{Logs: map[string]string{"edge": "last line of the edge"}}
	r.Cases[1].Verdict, r.Cases[1].Reason = harness.Invalid, "no steady state before the fault"
	r.Cases[2].Verdict, r.Cases[2].Reason = harness.Skipped, "needs the envoy data plane"
	return r
}

func TestJUnitParsesBackWithTheRightElements(t *testing.T) {
	r := mixed(t)
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, r))
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc), buf.String())
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	require.Len(t, s.Cases, len(r.Cases))
	assert.Equal(t, 19, doc.Tests)
	assert.Equal(t, 1, doc.Failures)
	assert.Equal(t, 1, doc.Errors)
	assert.Equal(t, 1, doc.Skipped)
	for i, jc := range s.Cases {
		res := r.Cases[i]
		assert.Equal(t, res.Name, jc.Name)
		props := map[string]string{}
		for _, p := range jc.Properties {
			props[p.Name] = p.Value
		}
		assert.Equal(t, string(res.Verdict), props["verdict"], res.Name)
		assert.Equal(t, optSeconds(res.TimeToDetectS), props["time_to_detect_s"], res.Name)
		assert.Equal(t, optSeconds(res.TimeToRecoverS), props["time_to_recover_s"], res.Name)
		switch i {
		case 0:
			require.NotNil(t, jc.Failure)
			assert.Contains(t, jc.Failure.Message, "success 90.00%")
			assert.Contains(t, jc.Failure.Body, "last line of the edge", "the failure text holds the evidence")
			assert.Nil(t, jc.Error)
		case 1:
			require.NotNil(t, jc.Error)
			assert.Contains(t, jc.Error.Message, "no steady state")
			assert.Nil(t, jc.Failure)
		case 2:
			require.NotNil(t, jc.Skipped)
			assert.Equal(t, "needs the envoy data plane", jc.Skipped.Message)
		default:
			assert.Nil(t, jc.Failure, res.Name)
			assert.Nil(t, jc.Error, res.Name)
			assert.Nil(t, jc.Skipped, res.Name)
		}
	}
}

func TestJUnitFailsAPassingVerdictOfTheWrongClass(t *testing.T) {
	r := fixture(t)
	for i := range r.Cases {
		if r.Cases[i].Class == catalog.NotOK {
			r.Cases[i].Verdict = harness.Survived // the alert never came
			break
		}
	}
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, r))
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, 1, doc.Failures)
}

// mdRows reads the rows of the table under a "## title" heading.
func mdRows(t *testing.T, md, title string) [][]string {
	t.Helper()
	var rows [][]string
	in := false
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## "+title)
			continue
		}
		if !in || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Case ") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestMarkdownTablesHoldEveryCaseAsTheJSONSays(t *testing.T) {
	r := fixture(t)
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, r))
	md := buf.String()
	for _, tt := range []struct {
		title string
		class catalog.Class
		time  func(harness.Result) *float64
	}{
		{"Ok to break", catalog.OkToBreak, func(r harness.Result) *float64 { return r.TimeToRecoverS }},
		{"Not ok", catalog.NotOK, func(r harness.Result) *float64 { return r.TimeToDetectS }},
	} {
		rows := mdRows(t, md, tt.title)
		cases := r.ByClass(tt.class)
		require.Len(t, rows, len(cases), tt.title)
		for i, res := range cases {
			require.Len(t, rows[i], 5, "row %v", rows[i])
			assert.Equal(t, res.Name, rows[i][0])
			assert.Equal(t, string(res.Verdict), rows[i][2])
			assert.Equal(t, fmtSeconds(tt.time(res)), rows[i][3], res.Name)
		}
	}
	assert.Len(t, mdRows(t, md, "Ok to break"), 11)
	assert.Len(t, mdRows(t, md, "Not ok"), 8)
}

func TestMarkdownMarksAWrongVerdict(t *testing.T) {
	r := mixed(t)
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, r))
	assert.Contains(t, buf.String(), "**failed** (want ")
}

func TestDiffListsChangedVerdictsAndTimes(t *testing.T) {
	a := fixture(t)
	b := fixture(t)
	assert.Empty(t, Diff(a, b), "a report does not differ from itself")
	var notOK, ok int = -1, -1
	for i, res := range b.Cases {
		if res.Class == catalog.NotOK && notOK < 0 {
			notOK = i
		}
		if res.Class == catalog.OkToBreak && ok < 0 {
			ok = i
		}
	}
	b.Cases[ok].Verdict = harness.Failed
	slower := *b.Cases[notOK].TimeToDetectS + 30
	b.Cases[notOK].TimeToDetectS = &slower
	b.Cases = append(b.Cases, harness.Result{Name: "new-case", Verdict: harness.Survived})
	changes := Diff(a, b)
	require.Len(t, changes, 3, "%v", changes)
	assert.Equal(t, Change{Case: b.Cases[ok].Name, What: "verdict", Before: "survived", After: "failed"}, changes[0])
	assert.Equal(t, "time to detect", changes[1].What)
	assert.Equal(t, "added", changes[2].What)

	c := fixture(t)
	jitter := *c.Cases[notOK].TimeToDetectS + 0.5
	c.Cases[notOK].TimeToDetectS = &jitter
	c.Cases = c.Cases[1:]
	changes = Diff(a, c)
	require.Len(t, changes, 1, "half a second of detection jitter is no change: %v", changes)
	assert.Equal(t, "removed", changes[0].What)
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	r := mixed(t)
	r.Cases[3].Reason = `<script>alert("x")</script>`
	var buf bytes.Buffer
	require.NoError(t, HTML(&buf, r))
	page := buf.String()
	assert.NotContains(t, page, "<script")
	assert.Contains(t, page, "&lt;script&gt;")
	for _, ref := range []string{"<link", "src=", "@import", "url("} {
		assert.NotContains(t, page, ref)
	}
	assert.Equal(t, strings.Count(page, "http"), strings.Count(page, `xmlns="http://www.w3.org/2000/svg"`),
		"the only URL is the SVG namespace")
	assert.Equal(t, len(r.Cases)-countNoChart(r), strings.Count(page, `<svg class="chart"`))
	for _, col := range []string{ColourSuccess, ColourP99, ColourFault, ColourFiring} {
		assert.Contains(t, page, col)
	}
	assert.NotContains(t, page, ">-0 s<", "the axis' zero has no sign")
	// A compound case gets a lane per fault: the fixture has three, of two
	// faults each.
	assert.Equal(t, 6, strings.Count(page, `<rect class="fault-span"`))
}

func countNoChart(r *Report) int {
	n := 0
	for _, res := range r.Cases {
		if res.Marks == nil || len(res.Series) == 0 {
			n++
		}
	}
	return n
}

func TestAlertSpansFollowTheTimeline(t *testing.T) {
	r := fixture(t)
	checked := 0
	for _, res := range r.Cases {
		if res.Class != catalog.NotOK || res.TimeToDetectS == nil {
			continue
		}
		_, spans := alertSpans(res.Timeline, res.Marks.Injected, res.Marks.EndS)
		for _, a := range res.AlertsFired {
			var firstFiring *span
			for i, s := range spans[a.Name] {
				if s.State == "firing" {
					firstFiring = &spans[a.Name][i]
					break
				}
			}
			require.NotNil(t, firstFiring, "%s: %s fired, so it has a firing span", res.Name, a.Name)
			assert.InDelta(t, a.FirstFiredS, firstFiring.From, 0.001, "%s: %s", res.Name, a.Name)
			assert.GreaterOrEqual(t, firstFiring.To, firstFiring.From)
			checked++
		}
	}
	assert.Greater(t, checked, 5)
}

func TestWriteWritesTheFourFiles(t *testing.T) {
	dir := t.TempDir()
	r := fixture(t)
	require.NoError(t, Write(dir, r, true))
	for _, name := range Files {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Greater(t, st.Size(), int64(100), name)
	}
	back, err := ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(back)
	assert.JSONEq(t, string(a), string(b), "report.json round-trips")
}

// TestJUnitNamesEachFaultOfAFailedCompoundCase: the failure text a person
// reads in CI says when each fault of a compound case was in force, and
// what the case left active.
func TestJUnitNamesEachFaultOfAFailedCompoundCase(t *testing.T) {
	r := fixture(t)
	var compound *harness.Result
	for i := range r.Cases {
		if len(r.Cases[i].FaultSpans) > 1 && r.Cases[i].Class == catalog.OkToBreak {
			compound = &r.Cases[i]
		}
	}
	require.NotNil(t, compound, "the fixture holds a compound ok-to-break case")
	compound.Verdict, compound.Reason = harness.Failed, "paged: DataPlaneDown"
	compound.LeftActive = []string{"ControlPlaneDisconnected (firing)"}
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, r))
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	for _, jc := range doc.Suites[0].Cases {
		if jc.Name != compound.Name {
			continue
		}
		require.NotNil(t, jc.Failure)
		for i, f := range compound.FaultSpans {
			assert.Contains(t, jc.Failure.Body, fmt.Sprintf("%d. %s: from %+.1f s to %+.1f s", i+1, f.Fault, f.StartS, *f.EndS))
		}
		assert.Contains(t, jc.Failure.Body, "still active at the end: ControlPlaneDisconnected (firing)")
		return
	}
	t.Fatalf("no testcase %s", compound.Name)
}

func TestRunInputsNamesNoMachinePath(t *testing.T) {
	in := harness.Inputs{
		Catalog: harness.Source{Name: "/home/someone/shop/catalog.yaml", Data: []byte("version: 1\n")},
		Rules: []harness.Source{
			{Name: "/home/someone/shop/rules/shop.yml", Data: []byte("groups: []\n")},
			{Name: "embedded:fixtures/alerts/common.yml", Data: []byte("groups: []\n")},
		},
	}
	ins, err := RunInputs(stack.Definition{DataPlane: stack.GRPC}, in)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ins[1:] {
		names = append(names, i.Name)
	}
	if want := "catalog.yaml shop.yml embedded:fixtures/alerts/common.yml"; strings.Join(names, " ") != want {
		t.Fatalf("input names %q, want %q", names, want)
	}
}
