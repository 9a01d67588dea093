package stackfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// parseBad parses src as if it were a file in testdata/ok (whose conf/,
// seed/ and rules/ it may name) and returns its problems.
func parseBad(t *testing.T, src string, env map[string]string) Errors {
	t.Helper()
	f, err := Parse(context.Background(), "stack.yaml", []byte(src), Options{Dir: "testdata/ok", Env: env})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse = %v, %v; want Errors", f, err)
	}
	if f != nil {
		t.Errorf("Parse returned a File with errors")
	}
	return es
}

// want is one expected problem: its position and words its message holds.
type want struct {
	at    string
	words []string
}

func TestBadFiles(t *testing.T) {
	cases := []struct {
		name string
		src  string
		env  map[string]string
		want []want
	}{
		{"unsupported service key", `services:
  web:
    image: nginx
    privileged: true
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"4:5", []string{`unsupported key "privileged"`, `service "web"`}}}},

		{"typo in a service key", `services:
  web:
    imagee: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{
			{"2:3", []string{`service "web" has no image`}},
			{"3:5", []string{`unknown key "imagee"`, `did you mean "image"?`}},
		}},

		{"unsupported top-level key", `services:
  web:
    image: nginx
    ports: ["80"]
networks:
  front: {}
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"5:1", []string{`unsupported key "networks" at the top level`}}}},

		{"unknown key in x-okbreak", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  probes: {link: client->web}
`, nil, []want{{"7:3", []string{`unknown key "probes" in x-okbreak`, `did you mean "probe"?`}}}},

		{"link to unknown service", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links:
    - {to: web, port: 80}
    - {from: web, to: api, port: 80}
`, nil, []want{{"8:23", []string{`link "web->api" names unknown service "api"`}}}},

		{"link to undeclared port", `services:
  web:
    image: nginx
    ports: ["80", "8080:81"]
x-okbreak:
  links:
    - to: web
      port: 8080
`, nil, []want{{"8:13", []string{`port 8080, which service "web" does not declare`, "it declares 80, 81"}}}},

		{"probe on missing link", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{from: client, to: web, port: 80}]
  probe:
    link: client->wbe
`, nil, []want{{"8:11", []string{`the probe's link "client->wbe" is not declared`, `did you mean "client->web"?`}}}},

		{"probe not from client", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  probe: {link: any->web}
`, nil, []want{{"7:17", []string{`comes from "any", not from client`}}}},

		{"missing bind file", `services:
  web:
    image: nginx
    ports: ["80"]
    volumes:
      - ./conf/nginx.conf:/etc/nginx/nginx.conf:ro
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"6:9", []string{`bind source "./conf/nginx.conf" does not exist`}}}},

		{"folder mount", `services:
  web:
    image: nginx
    ports: ["80"]
    volumes:
      - type: bind
        source: ./conf
        target: /etc/conf
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"7:17", []string{`bind source "./conf" is a folder`}}}},

		{"named volume", `services:
  web:
    image: nginx
    ports: ["80"]
    volumes:
      - data:/var/lib/data
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"6:9", []string{`named or anonymous volume "data:/var/lib/data"`}}}},

		{"missing seed file", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  seed: seed/missing.json
`, nil, []want{{"7:9", []string{`seed "seed/missing.json" does not exist`}}}},

		{"duplicate link name", `services:
  web:
    image: nginx
    ports: ["80", "81"]
x-okbreak:
  links:
    - {to: web, port: 80, name: web}
    - {to: web, port: 81, name: web}
`, nil, []want{{"8:7", []string{`two links named "web"`, "line 7"}}}},

		{"duplicate callee port", `services:
  web:
    image: nginx
    ports: ["80"]
  api:
    image: api
x-okbreak:
  links:
    - {from: client, to: web, port: 80}
    - {from: api, to: web, port: 80}
`, nil, []want{{"10:34", []string{`links "client->web" and "api->web" both go to web:80`, "cannot tell callers apart"}}}},

		{"unknown service in roles", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  roles:
    data_plane: web
    etcd: etcd
`, nil, []want{{"9:11", []string{`roles.etcd names unknown service "etcd"`}}}},

		{"unknown service in components and build", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  components:
    wbe: {job: web}
  build:
    api: {go: ./cmd/cart}
`, nil, []want{
			{"8:5", []string{`x-okbreak.components names unknown service "wbe"`, `did you mean "web"?`}},
			{"10:5", []string{`x-okbreak.build names unknown service "api"`}},
		}},

		{"bad duration, status and regexp", `services:
  web:
    image: nginx
    ports: ["80"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 5
x-okbreak:
  links: [{from: client, to: web, port: 80}]
  probe:
    link: client->web
    status: 700
    check:
      header: {name: X-Instance, matches: "web-("}
`, nil, []want{
			{"7:17", []string{`bad duration "5" for interval`}},
			{"12:13", []string{`bad status "700"`}},
			{"14:43", []string{`bad regular expression "web-("`}},
		}},

		{"no x-okbreak", `services:
  web:
    image: nginx
`, nil, []want{{"1:1", []string{"no x-okbreak block"}}}},

		{"x-okbreak without links", `services:
  web:
    image: nginx
x-okbreak:
  seed: seed/etcd.json
`, nil, []want{{"4:1", []string{"x-okbreak has no links"}}}},

		{"required variable", `services:
  web:
    image: ${WEB_IMAGE:?set the web image}
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"3:12", []string{"image needs variable WEB_IMAGE: set the web image"}}}},

		{"variable container port", `services:
  web:
    image: nginx
    ports: ["${PORT:-80}"]
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{
			{"4:13", []string{`the container port in "${PORT:-80}" must be written literally`}},
			{"6:27", []string{"port 80, which service \"web\" does not declare"}},
		}},

		{"depends on unknown service", `services:
  web:
    image: nginx
    ports: ["80"]
    depends_on:
      db: {condition: service_healthy}
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"6:7", []string{`service "web" depends on unknown service "db"`}}}},

		{"link to a service left out by profiles", `services:
  web:
    image: nginx
    ports: ["80"]
    profiles: [debug]
  api:
    image: api
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{{"9:16", []string{`names service "web", which the active profiles leave out`}}}},

		{"config not declared and missing config file", `services:
  web:
    image: nginx
    ports: ["80"]
    configs: [site]
configs:
  nginx:
    file: ./conf/nginx.conf
x-okbreak:
  links: [{to: web, port: 80}]
`, nil, []want{
			{"5:15", []string{`config "site" is not declared`}},
			{"8:11", []string{`config file "./conf/nginx.conf" does not exist`}},
		}},

		{"anchor in x-okbreak", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: &l [{to: web, port: 80}]
`, nil, []want{{"6:10", []string{"YAML anchors (&l) are not supported in x-okbreak"}}}},

		{"evidence on unknown component and undeclared port", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  components:
    web: {ready: {port: 81}}
  evidence:
    - {name: a, component: wbe, port: 80}
    - {name: b, component: web, port: 9901, path: /config_dump}
    - {name: c, component: web, port: 81}
`, nil, []want{
			{"10:28", []string{`evidence "a" names unknown service "wbe"`, `did you mean "web"?`}},
			{"11:39", []string{`evidence "b" is on port 9901, which service "web" does not declare`, "it declares 80, 81"}},
		}},

		{"evidence names and paths", `services:
  web:
    image: nginx
    ports: ["80"]
x-okbreak:
  links: [{to: web, port: 80}]
  evidence:
    - {name: status, component: web, port: 80, path: status}
    - {name: dump, component: web, port: 80}
    - {name: dump, component: web, port: 80, path: /other}
    - {name: "a b", component: web, port: 80}
    - {component: web, port: 80}
`, nil, []want{
			{"8:54", []string{`bad evidence path "status"`, "start the path with /"}},
			{"10:14", []string{`evidence "dump" named twice`, "line 9"}},
			{"11:14", []string{`bad evidence name "a b"`}},
			{"12:7", []string{"an evidence endpoint needs name, component and port"}},
		}},

		{"yaml syntax", `services:
  web:
    image: [nginx
x-okbreak: {}
`, nil, []want{{"", []string{"YAML syntax"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es := parseBad(t, c.src, c.env)
			if len(es) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(es), len(c.want), es)
			}
			for i, w := range c.want {
				e := es[i]
				if at := fmt.Sprintf("%d:%d", e.Line, e.Col); w.at != "" && at != w.at {
					t.Errorf("problem %d at %s, want %s: %v", i, at, w.at, e)
				}
				for _, word := range w.words {
					if !strings.Contains(e.Msg+" "+e.Fix, word) {
						t.Errorf("problem %d %q lacks %q", i, e.Error(), word)
					}
				}
				if e.File != "stack.yaml" || e.Fix == "" {
					t.Errorf("problem %d: file %q, fix %q", i, e.File, e.Fix)
				}
			}
		})
	}
}

// TestAllProblems checks that one file's problems of every stage are all
// reported, in order of position.
func TestAllProblems(t *testing.T) {
	src := `services:
  web:
    image: nginx
    cap_add: [NET_ADMIN]
    ports: ["80"]
volumes:
  data: {}
x-okbreak:
  links:
    - {to: nope, port: 80}
    - {to: web, port: 81}
  seed: seed/none.json
`
	es := parseBad(t, src, nil)
	var at []string
	for _, e := range es {
		at = append(at, fmt.Sprintf("%d:%d", e.Line, e.Col))
	}
	if got, want := strings.Join(at, " "), "4:5 6:1 10:12 11:23 12:9"; got != want {
		t.Errorf("problems at %s, want %s:\n%v", got, want, es)
	}
}

// TestNoValuesInMessages checks that a problem found after substitution
// quotes the file's text, not the environment's value.
func TestNoValuesInMessages(t *testing.T) {
	src := `services:
  web:
    image: nginx
    ports: ["80"]
    volumes:
      - ${SECRET_DIR}/x.conf:/etc/x.conf
x-okbreak:
  links: [{to: web, port: 80}]
`
	es := parseBad(t, src, map[string]string{"SECRET_DIR": "/very/secret/place"})
	if len(es) != 1 || !strings.Contains(es[0].Msg, "${SECRET_DIR}/x.conf") || strings.Contains(es.Error(), "secret/place") {
		t.Errorf("got %v", es)
	}
}
