package envfile

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// urlKind says which parts beyond scheme, host and port a URL may have.
type urlKind int

const (
	// baseURL is an API's base (Toxiproxy, Prometheus, Alertmanager): a
	// path prefix is fine (a reverse proxy), a query is not, since okbreak
	// appends its own paths.
	baseURL urlKind = iota
	// originURL is scheme, host and port only (the probe's entry, whose
	// path is a field of its own).
	originURL
	// fullURL may also have a path and a query (a metrics endpoint).
	fullURL
)

// url reads a URL okbreak may call, and returns it in a form ready to use:
// a base without its trailing slash, an origin without a path.
func (p *parser) url(n *yaml.Node, what string, kind urlKind) (string, bool) {
	example := "http://127.0.0.1:8474"
	if kind == fullURL {
		example = "http://127.0.0.1:9101/metrics"
	}
	fix := "write an http or https URL such as " + example
	s, ok := p.text(n, what, fix)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || !strings.Contains(s, "://") {
		if !strings.Contains(s, "://") {
			fix = "add the scheme: http://" + strings.TrimPrefix(s, "//")
		}
		p.r.at(n, fix, "%s %q is not a URL", what, s)
		return "", false
	}
	if msg, fix := badURL(u, kind); msg != "" {
		p.r.at(n, fix, "%s %q %s", what, s, msg)
		return "", false
	}
	switch kind {
	case originURL:
		return u.Scheme + "://" + u.Host, true
	case baseURL:
		return strings.TrimSuffix(u.String(), "/"), true
	}
	return u.String(), true
}

// badURL says what is wrong with a parsed URL of kind, and how to fix it;
// "" when nothing is.
func badURL(u *url.URL, kind urlKind) (msg, fix string) {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("has scheme %q", u.Scheme), "okbreak speaks http and https: write http://HOST:PORT"
	case u.Host == "" || u.Hostname() == "":
		return "has no host", "write http://HOST:PORT, e.g. http://127.0.0.1:8474"
	case u.User != nil:
		return "holds credentials", "remove USER:PASSWORD@: an environment file holds no secrets"
	case u.Fragment != "" || strings.Contains(u.String(), "#"):
		return "has a fragment (#...)", "remove it: a fragment is never sent"
	case strings.HasSuffix(u.Host, ":"):
		return "has an empty port", "write the port after the colon, or drop the colon"
	case kind == originURL && (u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery):
		return "has a path or query", "give scheme, host and port only, and write the path as probe.path"
	case kind == baseURL && (u.RawQuery != "" || u.ForceQuery):
		return "has a query", "remove the query: okbreak appends the API's paths to this base"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("has port %s", port), "write a port from 1 to 65535"
		}
	}
	return "", ""
}

// origin is a URL's scheme, host and port, the port made explicit and the
// host lowercased, so that http://Host and http://host:80 compare equal.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// originOf is origin for a URL the parser already checked.
func originOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return origin(u)
}
