package envfile

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllowURL(t *testing.T) {
	e := loadDocs(t)
	for _, u := range []string{
		"http://127.0.0.1:8474/proxies/edge_backend-1/toxics", // the toxiproxy API, any path
		"http://127.0.0.1:10000/",                             // the probe
		"http://127.0.0.1:10000/other?x=1",                    // the probe's origin, another path
		"http://127.0.0.1:9102/metrics",                       // a scrape target
		"HTTP://127.0.0.1:9101",                               // scheme case does not matter
	} {
		assert.NoError(t, e.AllowURL(u), u)
	}
	for _, tc := range []struct{ url, want string }{
		{"http://127.0.0.1:9090/api/v1/alerts", "127.0.0.1:9090 is not declared in"}, // no prometheus in the example
		{"https://127.0.0.1:8474/proxies", "https://127.0.0.1:8474 is not declared"}, // another scheme
		{"http://localhost:8474/proxies", "http://localhost:8474 is not declared"},   // hosts as written
		{"http://127.0.0.1/", "http://127.0.0.1:80 is not declared"},                 // the default port
		{"ftp://127.0.0.1:8474", "not an http(s) URL"},
		{"/proxies", "not an http(s) URL"},
		{"http://u:secret@127.0.0.1:1/", "http://u:xxxxx@127.0.0.1:1/"}, // never the password
	} {
		err := e.AllowURL(tc.url)
		require.Error(t, err, tc.url)
		assert.ErrorIs(t, err, ErrRefused)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), "fix: ")
		assert.Contains(t, err.Error(), docsExample, "the fix names the file")
		assert.NotContains(t, err.Error(), "secret")
	}
	err := e.AllowURL("http://127.0.0.1:9090/")
	assert.Contains(t, err.Error(), "declared: http://127.0.0.1:8474, http://127.0.0.1:10000, http://127.0.0.1:9100")
}

// Default ports compare equal to explicit ones, hosts case-insensitively.
func TestAllowURLDefaultPorts(t *testing.T) {
	e, err := Parse("e.yaml", []byte(edit(map[int]string{12: "  prometheus: https://Prom.example.com/prom/"})))
	require.NoError(t, err)
	assert.NoError(t, e.AllowURL("https://prom.example.com:443/api/v1/alerts"))
	assert.NoError(t, e.AllowURL("https://PROM.example.com/x"))
	assert.ErrorIs(t, e.AllowURL("http://prom.example.com/x"), ErrRefused)
}

func TestAllowProxy(t *testing.T) {
	e := loadDocs(t)
	assert.NoError(t, e.AllowProxy("tp-1", "edge_backend-1"))
	assert.NoError(t, e.AllowProxy("http://127.0.0.1:8474", "edge_backend-2"), "by the API, as ProxyOf returns it")
	assert.NoError(t, e.AllowProxy("http://127.0.0.1:8474/", "edge_backend-2"))
	for _, tc := range []struct{ tp, proxy, want string }{
		{"tp-1", "edge_backend-3", `proxy "edge_backend-3" of toxiproxy tp-1 (http://127.0.0.1:8474) is not declared`},
		{"tp-1", "Edge_backend-1", "is not declared"},
		{"tp-2", "edge_backend-1", `toxiproxy "tp-2" is not declared`},
		{"http://127.0.0.1:8475", "edge_backend-1", "is not declared"},
	} {
		err := e.AllowProxy(tc.tp, tc.proxy)
		require.Error(t, err, "%s %s", tc.tp, tc.proxy)
		assert.ErrorIs(t, err, ErrRefused)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), "fix: declare")
	}
	api, proxy, ok := e.ProxyOf("edge->backend-2")
	assert.Equal(t, []any{"http://127.0.0.1:8474", "edge_backend-2", true}, []any{api, proxy, ok})
	_, _, ok = e.ProxyOf("edge->backend-3")
	assert.False(t, ok)
	api, ok = e.ToxiproxyAPI("tp-1")
	assert.Equal(t, "http://127.0.0.1:8474", api)
	assert.True(t, ok)
}

func TestAllowContainer(t *testing.T) {
	e := loadDocs(t)
	assert.NoError(t, e.AllowContainer("staging-backend-1"))
	assert.NoError(t, e.AllowContainer("/staging-backend-2"), "Docker's API writes names with a slash")
	err := e.AllowContainer("staging-edge")
	assert.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), `container "staging-edge" is not declared in `+docsExample)
	assert.Contains(t, err.Error(), "under docker.containers: {component: COMPONENT, container: staging-edge}")
	assert.ErrorIs(t, e.AllowContainer("backend-1"), ErrRefused, "a component is not a container")

	c, ok := e.ContainerOf("backend-2")
	assert.Equal(t, "staging-backend-2", c)
	assert.True(t, ok)
	comp, ok := e.ComponentOf("/staging-backend-1")
	assert.Equal(t, "backend-1", comp)
	assert.True(t, ok)
	_, ok = e.ContainerOf("edge")
	assert.False(t, ok)

	// Without docker, no container is allowed, and the fix says how.
	e, err = Parse("e.yaml", []byte(minimal))
	require.NoError(t, err)
	err = e.AllowContainer("staging-backend-1")
	assert.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "e.yaml allows no process faults")
	assert.Contains(t, err.Error(), "add to e.yaml: docker:")
	assert.Nil(t, e.Components())
}

func TestCheckLimits(t *testing.T) {
	e := loadDocs(t) // max_fault_duration 5m, max_targets 2
	at := func(key string) string {
		p := docsValue(t, key)
		return fmt.Sprintf("%s:%d:%d", docsExample, p.Line, p.Col)
	}
	assert.NoError(t, e.CheckLimits(5*time.Minute, 2))
	assert.NoError(t, e.CheckLimits(time.Second, 1))

	err := e.CheckLimits(5*time.Minute+time.Second, 1)
	assert.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "a fault of 5m1s is over the limit of 5m0s (limits.max_fault_duration)")
	assert.Contains(t, err.Error(), "raise limits.max_fault_duration at "+at("max_fault_duration"))

	err = e.CheckLimits(time.Minute, 3)
	assert.ErrorIs(t, err, ErrRefused)
	assert.Contains(t, err.Error(), "a fault on 3 targets is over the limit of 2 (limits.max_targets)")
	assert.Contains(t, err.Error(), at("max_targets"))

	// Both at once: both said.
	err = e.CheckLimits(time.Hour, 9)
	assert.Contains(t, err.Error(), "max_fault_duration")
	assert.Contains(t, err.Error(), "max_targets")
	var r *refused
	assert.True(t, errors.As(err, &r))

	// A fault with no end is no fault within a limit.
	assert.ErrorIs(t, e.CheckLimits(0, 1), ErrRefused)

	// Defaults say they are defaults, and where to set them.
	e, err = Parse("e.yaml", []byte(minimal))
	require.NoError(t, err)
	assert.NoError(t, e.CheckLimits(DefaultMaxFaultDuration, DefaultMaxTargets))
	err = e.CheckLimits(11*time.Minute, 4)
	assert.Contains(t, err.Error(), "over the limit of 10m0s")
	assert.Contains(t, err.Error(), "raise the default: set limits.max_fault_duration in e.yaml")
	assert.Contains(t, err.Error(), "raise the default: set limits.max_targets in e.yaml")
}

func TestLocalEngine(t *testing.T) {
	for src, want := range map[string]bool{
		"docker: {engine: local, containers: [{component: a, container: b}]}":                       true,
		"docker: {engine: \"tcp://127.0.0.1:2376\", containers: [{component: a, container: b}]}":    false,
		"docker: {engine: \"unix:///run/docker.sock\", containers: [{component: a, container: b}]}": false,
	} {
		e, err := Parse("e.yaml", []byte(edit(nil, src)))
		require.NoError(t, err, src)
		assert.Equal(t, want, e.LocalEngine(), src)
	}
}
