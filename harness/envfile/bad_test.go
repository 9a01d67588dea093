package envfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// minimal is the smallest good file; bad cases edit its lines.
const minimal = `version: 1
name: staging
scale: 1
toxiproxies:
  - {name: tp-1, api: http://127.0.0.1:8474}
links:
  - {name: edge->backend-1, toxiproxy: tp-1, proxy: edge_backend-1}
probe:
  url: http://127.0.0.1:10000
` + minimalAlerts

const minimalAlerts = `alerts:
  source: prometheus
  prometheus: http://127.0.0.1:9090
`

// edit replaces lines of minimal (1-based; "" deletes the line's text, a
// text with newlines becomes several lines) and appends more.
func edit(lines map[int]string, more ...string) string {
	ls := strings.Split(strings.TrimSuffix(minimal, "\n"), "\n")
	for n, l := range lines {
		ls[n-1] = l
	}
	return strings.Join(append(ls, more...), "\n") + "\n"
}

type badCase struct {
	name string
	src  string
	// at is the problem's "line:col"; want is in its message or fix.
	at, want string
}

var badCases = []badCase{
	{"empty", "", "1:1", "the environment file is empty"},
	{"comments only", "# nothing\n", "1:1", "the environment file is empty"},
	{"not a mapping", "- version: 1\n", "1:1", "is a mapping, not a list"},
	{"two documents", minimal + "---\nname: other\n", "13:1", "a second YAML document"},
	{"YAML syntax", edit(map[int]string{9: "  url: [http://127.0.0.1:10000"}), "9:3", "YAML syntax"},
	{"unknown key", edit(nil, "tocsiproxies: []"), "13:1", `unknown key "tocsiproxies" in the environment file`},
	{"unknown key suggests", edit(nil, "tocsiproxies: []"), "13:1", `did you mean "toxiproxies"?`},
	{"unknown key in probe", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  pth: /x"}), "10:3", `unknown key "pth" in probe`},
	{"key twice", edit(map[int]string{3: "name: again"}), "3:1", `key "name" set twice`},
	{"merge key", edit(map[int]string{9: "  <<: {url: http://127.0.0.1:10000}"}), "9:3", "merge keys (<<) are not read"},
	{"missing version", edit(map[int]string{1: ""}), "2:1", "the environment file has no version"},
	{"missing probe", edit(map[int]string{8: "", 9: ""}), "1:1", "the environment file has no probe"},
	{"missing probe url", edit(map[int]string{9: "  path: /"}), "9:3", "probe has no url"},
	{"version 2", edit(map[int]string{1: "version: 2"}), "1:10", `unsupported version "2"`},
	{"version as text", edit(map[int]string{1: `version: "1"`}), "1:10", "write version: 1"},
	{"bad name", edit(map[int]string{2: "name: Staging"}), "2:7", `bad name "Staging"`},
	{"name with a dot", edit(map[int]string{2: "name: stag.ing"}), "2:7", "lowercase letters, digits and '-'"},
	{"name a list", edit(map[int]string{2: "name: [a]"}), "2:7", "name must be text, not a list"},
	{"scale text", edit(map[int]string{3: "scale: fast"}), "3:8", `scale must be a number, not "fast"`},
	{"scale under 1", edit(map[int]string{3: "scale: 0.5"}), "3:8", "scale 0.5 is out of range: want 1 to 100000"},
	{"scale infinite", edit(map[int]string{3: "scale: .inf"}), "3:8", "out of range"},
	{"toxiproxies empty", edit(map[int]string{4: "toxiproxies: []", 5: ""}), "4:14", "toxiproxies must be a list, not empty"},
	{"toxiproxy without api", edit(map[int]string{5: "  - {name: tp-1}"}), "5:5", "a toxiproxy has no api"},
	{"toxiproxy twice", edit(map[int]string{5: "  - {name: tp-1, api: http://127.0.0.1:8474}\n  - {name: tp-1, api: http://127.0.0.1:8475}"}), "6:12", `toxiproxy "tp-1" declared twice`},
	{"toxiproxy api twice", edit(map[int]string{5: "  - {name: tp-1, api: http://127.0.0.1:8474}\n  - {name: tp-2, api: \"http://127.0.0.1:8474/\"}"}), "6:23", "toxiproxy api http://127.0.0.1:8474 declared twice"},
	{"api scheme", edit(map[int]string{5: "  - {name: tp-1, api: ftp://127.0.0.1:8474}"}), "5:23", `toxiproxy api "ftp://127.0.0.1:8474" has scheme "ftp"`},
	{"api without scheme", edit(map[int]string{5: "  - {name: tp-1, api: \"127.0.0.1:8474\"}"}), "5:23", "add the scheme: http://127.0.0.1:8474"},
	{"api with credentials", edit(map[int]string{5: "  - {name: tp-1, api: \"http://u:p@127.0.0.1:8474\"}"}), "5:23", "an environment file holds no secrets"},
	{"api with query", edit(map[int]string{5: "  - {name: tp-1, api: \"http://127.0.0.1:8474/?a=1\"}"}), "5:23", "has a query"},
	{"api port", edit(map[int]string{5: "  - {name: tp-1, api: \"http://127.0.0.1:70000\"}"}), "5:23", "write a port from 1 to 65535"},
	{"api no host", edit(map[int]string{5: "  - {name: tp-1, api: \"http:///x\"}"}), "5:23", "has no host"},
	{"link undeclared toxiproxy", edit(map[int]string{7: "  - {name: edge->backend-1, toxiproxy: tp-2, proxy: edge_backend-1}"}), "7:40", `link "edge->backend-1" names toxiproxy "tp-2", which toxiproxies does not declare`},
	{"link undeclared toxiproxy suggests", edit(map[int]string{7: "  - {name: edge->backend-1, toxiproxy: tp-2, proxy: edge_backend-1}"}), "7:40", `did you mean "tp-1"?`},
	{"link twice", edit(map[int]string{7: "  - {name: edge->backend-1, toxiproxy: tp-1, proxy: a}\n  - {name: edge->backend-1, toxiproxy: tp-1, proxy: b}"}), "8:12", `link "edge->backend-1" declared twice`},
	{"proxy for two links", edit(map[int]string{7: "  - {name: edge->backend-1, toxiproxy: tp-1, proxy: a}\n  - {name: edge->backend-2, toxiproxy: tp-1, proxy: a}"}), "8:53", `proxy "a" of toxiproxy "tp-1" given to two links`},
	{"bad link name", edit(map[int]string{7: "  - {name: edge -> backend-1, toxiproxy: tp-1, proxy: a}"}), "7:12", `bad link name "edge -> backend-1"`},
	{"bad proxy name", edit(map[int]string{7: "  - {name: edge->backend-1, toxiproxy: tp-1, proxy: a/b}"}), "7:53", `bad proxy name "a/b"`},
	{"link without proxy", edit(map[int]string{7: "  - {name: edge->backend-1, toxiproxy: tp-1}"}), "7:5", "a link has no proxy"},
	{"link not a mapping", edit(map[int]string{7: "  - edge->backend-1"}), "7:5", `a link must be a mapping, not "edge->backend-1"`},
	{"probe url path", edit(map[int]string{9: "  url: http://127.0.0.1:10000/health"}), "9:8", "write the path as probe.path"},
	{"probe url https port", edit(map[int]string{9: "  url: https://127.0.0.1:0"}), "9:8", "write a port from 1 to 65535"},
	{"probe path", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  path: health"}), "10:9", `bad probe path "health"`},
	{"probe host", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  host: http://shop"}), "10:9", `bad probe host "http://shop"`},
	{"probe Host header", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  header: {Host: shop}"}), "10:12", "write it as probe.host"},
	{"probe header name", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  header: {\"x probe\": 1}"}), "10:12", `bad header name "x probe"`},
	{"probe header twice", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  header: {x-probe: 1, X-Probe: 2}"}), "10:24", `header "X-Probe" set twice`},
	{"probe header value", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  header: {x-probe: true}"}), "10:21", `quote it: "true"`},
	{"expect_instances twice", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  expect_instances: [a, b, a]"}), "10:28", `"a" listed twice in expect_instances`},
	{"expect_instances text", edit(map[int]string{9: "  url: http://127.0.0.1:10000\n  expect_instances: a"}), "10:21", "expect_instances must be a list"},
	{"source unknown", edit(map[int]string{11: "  source: promethus"}), "11:11", `did you mean "prometheus"?`},
	{"source missing", edit(map[int]string{11: ""}), "12:3", "alerts has no source"},
	{"prometheus without url", edit(map[int]string{12: ""}), "11:11", "alerts source prometheus needs alerts.prometheus"},
	{"alertmanager without url", edit(map[int]string{11: "  source: alertmanager"}), "11:11", "alerts source alertmanager needs alerts.alertmanager"},
	{"engine without rules", edit(map[int]string{11: "  source: engine"}, "scrape: [{job: j, instance: i, url: http://127.0.0.1:9101/metrics}]"), "11:11", "alerts source engine needs rules"},
	{"engine without scrape", edit(map[int]string{11: "  source: engine", 12: "  rules: [r.yml]"}), "11:11", "alerts source engine needs scrape targets"},
	{"scrape with prometheus", edit(nil, "scrape: [{job: j, instance: i, url: http://127.0.0.1:9101/metrics}]"), "13:1", "scrape is read only with alerts source engine"},
	{"bad rule glob", edit(map[int]string{11: "  source: engine", 12: "  rules: [\"r/[a.yml\"]"}, "scrape: [{job: j, instance: i, url: http://127.0.0.1:9101/metrics}]"), "12:11", `bad rule pattern "r/[a.yml"`},
	{"page label", edit(map[int]string{12: "  prometheus: http://127.0.0.1:9090\n  page: {sev-erity: page}"}), "13:10", `bad label name "sev-erity"`},
	{"page empty", edit(map[int]string{12: "  prometheus: http://127.0.0.1:9090\n  page: {}"}), "13:9", "alerts page must be a mapping of names to values"},
	{"scrape twice", edit(map[int]string{11: "  source: engine", 12: "  rules: [r.yml]"}, "scrape:", "  - {job: j, instance: i, url: http://127.0.0.1:9101/metrics}", "  - {job: j, instance: i, url: http://127.0.0.1:9102/metrics}"), "15:5", `scrape target job "j" instance "i" given twice`},
	{"scrape url", edit(map[int]string{11: "  source: engine", 12: "  rules: [r.yml]"}, "scrape: [{job: j, instance: i, url: \"127.0.0.1:9101/metrics\"}]"), "13:37", "add the scheme"},
	{"scrape label job", edit(map[int]string{11: "  source: engine", 12: "  rules: [r.yml]"}, "scrape: [{job: j, instance: i, url: http://127.0.0.1:9101/, labels: {job: x}}]"), "13:70", "write it as the target's job: field"},
	{"scrape label reserved", edit(map[int]string{11: "  source: engine", 12: "  rules: [r.yml]"}, "scrape: [{job: j, instance: i, url: http://127.0.0.1:9101/, labels: {__x: x}}]"), "13:70", `reserved label name "__x"`},
	{"container twice", edit(nil, "docker:", "  engine: local", "  containers:", "    - {component: a, container: c}", "    - {component: b, container: c}"), "17:33", `container "c" declared twice in docker.containers`},
	{"component twice", edit(nil, "docker:", "  engine: local", "  containers:", "    - {component: a, container: c}", "    - {component: a, container: d}"), "17:19", `component "a" declared twice in docker.containers`},
	{"docker without engine", edit(nil, "docker:", "  containers: [{component: a, container: c}]"), "14:3", "docker has no engine"},
	{"docker engine tcp port", edit(nil, "docker:", "  engine: tcp://127.0.0.1", "  containers: [{component: a, container: c}]"), "14:11", "needs a host and port"},
	{"docker engine scheme", edit(nil, "docker:", "  engine: ssh://127.0.0.1:22", "  containers: [{component: a, container: c}]"), "14:11", `has scheme "ssh"`},
	{"docker engine word", edit(nil, "docker:", "  engine: remote", "  containers: [{component: a, container: c}]"), "14:11", "neither local nor a URL"},
	{"bad container name", edit(nil, "docker:", "  engine: local", "  containers: [{component: a, container: /c}]"), "15:42", `bad container "/c"`},
	{"duration days", edit(nil, "limits: {max_fault_duration: 2d}"), "13:30", "Go durations have no days: write 48h"},
	{"duration no unit", edit(nil, "limits: {max_fault_duration: 30}"), "13:30", "add a unit, e.g. 30s"},
	{"duration bad", edit(nil, "limits: {max_fault_duration: soon}"), "13:30", `bad duration "soon" for max_fault_duration`},
	{"duration zero", edit(nil, "limits: {max_fault_duration: 0s}"), "13:30", "must be longer than zero"},
	{"max_targets zero", edit(nil, "limits: {max_targets: 0}"), "13:23", "max_targets 0 is out of range: want 1 to 1000"},
	{"max_targets fraction", edit(nil, "limits: {max_targets: 1.5}"), "13:23", "max_targets must be a whole number"},
	{"limits empty", edit(nil, "limits:"), "13:8", "limits must be a mapping, not empty"},
	{"min_success over 1", edit(nil, "halt: {min_success: 1.5, for: 30s}"), "13:21", "min_success 1.5 is out of range: want 0 to 1"},
	{"min_success under 0", edit(nil, "halt: {min_success: -0.1, for: 30s}"), "13:21", "out of range"},
	{"min_success percent", edit(nil, "halt: {min_success: 50%, for: 30s}"), "13:21", "e.g. 0.5 for 50%"},
	{"min_success without for", edit(nil, "halt: {min_success: 0.5}"), "13:8", "halt min_success without for"},
	{"for without min_success", edit(nil, "halt: {for: 30s}"), "13:8", "halt for without min_success"},
	{"halt for bad", edit(nil, "halt: {min_success: 0.5, for: 1 minute}"), "13:31", `bad duration "1 minute" for halt for`},
	{"halt alerts text", edit(nil, "halt: {alerts: EdgeDown}"), "13:16", "halt alerts must be a list"},
	{"halt alerts twice", edit(nil, "halt: {alerts: [A, A]}"), "13:20", `"A" listed twice in halt alerts`},
	{"halt alerts null", edit(nil, "halt: {alerts: [~]}"), "13:17", "an item of halt alerts must be text, not empty"},
}

// Each bad file is refused with a problem at the expected line:col whose
// message or fix says the expected thing; every problem has a fix.
func TestBadFiles(t *testing.T) {
	for _, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := Parse("bad.yaml", []byte(tc.src))
			if env != nil || err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.src)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			found := false
			for _, e := range es {
				if e.File != "bad.yaml" || e.Fix == "" || e.Line < 1 || e.Col < 1 {
					t.Errorf("bad problem %#v", e)
				}
				if fmt.Sprintf("%d:%d", e.Line, e.Col) == tc.at && strings.Contains(e.Msg+"\n"+e.Fix, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem at %s saying %q; got:\n%v\nfile:\n%s", tc.at, tc.want, err, tc.src)
			}
		})
	}
}

// The message is what an editor and a person both read: file:line:col,
// what is wrong, then the fix on its own line.
func TestErrorFormat(t *testing.T) {
	_, err := Parse("envs/staging.yaml", []byte(edit(map[int]string{3: "scale: 0.5"})))
	want := "envs/staging.yaml:3:8: scale 0.5 is out of range: want 1 to 100000\n\tfix: write scale: 1 for a real game day, or the factor the environment's rules are compressed by"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
