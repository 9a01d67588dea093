package fault_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/okbreak/okbreak/harness/fault"
	"github.com/okbreak/okbreak/harness/retry"
	"github.com/okbreak/okbreak/harness/stack"
	"github.com/okbreak/okbreak/harness/stack/stacktest"
	"github.com/okbreak/okbreak/internal/registry"
	"github.com/okbreak/okbreak/sample"
)

// requireDocker fails (never skips) when there is no engine, unless
// OKBREAK_SKIP_DOCKER_TESTS=1 asks to skip on purpose.
func requireDocker(t testing.TB) {
	t.Helper()
	if os.Getenv("OKBREAK_SKIP_DOCKER_TESTS") == "1" {
		t.Skip("OKBREAK_SKIP_DOCKER_TESTS=1: stack tests skipped on request")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	require.NoError(t, err, "fault tests need a Docker engine")
	defer cli.Close()
	_, err = cli.Ping(ctx, client.PingOptions{})
	require.NoError(t, err, "fault tests need a Docker engine (set OKBREAK_SKIP_DOCKER_TESTS=1 to skip them on purpose)")
}

// sut wraps a running stack with what the tests observe it by.
type sut struct {
	s    *stack.Stack
	edge string // http://127.0.0.1:<port> of client->edge
}

func newSUT(t testing.TB, ctx context.Context, s *stack.Stack) *sut {
	t.Helper()
	edge, err := s.EntryURL(ctx)
	require.NoError(t, err)
	return &sut{s: s, edge: edge}
}

func (h *sut) fault(t testing.TB, spec fault.Spec) fault.Fault {
	t.Helper()
	f, err := fault.New(spec, h.s)
	require.NoError(t, err)
	return f
}

// answer is the data plane's answer to one request.
type answer struct {
	Status   int
	Service  string `json:"service"`
	Instance string `json:"instance"`
	Attempts int    `json:"attempts"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Took     time.Duration
}

// get sends one request for the backend route through client->edge.
func (h *sut) get(ctx context.Context, hc *http.Client) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.edge+"/", nil)
	if err != nil {
		return answer{}, err
	}
	req.Host = registry.BackendRoute
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return answer{Took: time.Since(t0)}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a := answer{Status: resp.StatusCode, Took: time.Since(t0)}
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return a, fmt.Errorf("answer %q: %w", body, err)
	}
	a.Status, a.Took = resp.StatusCode, time.Since(t0)
	return a, nil
}

// tally counts n answers: successes by instance, failures by what failed.
type tally struct {
	ok       map[string]int
	failed   map[string]int
	slowest  time.Duration
	fastest  time.Duration
	attempts int
}

func (ty tally) okTotal() int {
	n := 0
	for _, v := range ty.ok {
		n += v
	}
	return n
}

func (ty tally) failTotal() int {
	n := 0
	for _, v := range ty.failed {
		n += v
	}
	return n
}

func (ty tally) String() string {
	return fmt.Sprintf("ok %v, failed %v, fastest %s, slowest %s", ty.ok, ty.failed, ty.fastest, ty.slowest)
}

func (h *sut) sample(ctx context.Context, n int, timeout time.Duration) tally {
	hc := &http.Client{Timeout: timeout}
	defer hc.CloseIdleConnections()
	ty := tally{ok: map[string]int{}, failed: map[string]int{}, fastest: time.Hour}
	for range n {
		a, err := h.get(ctx, hc)
		switch {
		case err != nil:
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			ty.failed["error: "+msg]++
		case a.Status != http.StatusOK:
			ty.failed[fmt.Sprintf("%d %s", a.Status, a.Code)]++
		case a.Service != registry.BackendService:
			ty.failed["wrong service "+a.Service]++
		default:
			ty.ok[a.Instance]++
			ty.attempts += a.Attempts
		}
		ty.slowest = max(ty.slowest, a.Took)
		ty.fastest = min(ty.fastest, a.Took)
	}
	return ty
}

// eventually polls cond through retry.Until and fails the test on timeout.
func eventually(t testing.TB, ctx context.Context, what string, timeout time.Duration, cond func(ctx context.Context) error) {
	t.Helper()
	require.NoError(t, retry.Until(ctx, what, timeout, 50*time.Millisecond, cond))
}

// metric sums the samples of a metric whose labels include every
// key="value" pair given, scraped from a component's /metrics.
func (h *sut) metric(ctx context.Context, component, name string, labels ...string) (float64, error) {
	u, err := h.s.MetricsURL(ctx, component)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue // a longer metric name
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(rest, labels[i]+`="`+labels[i+1]+`"`) {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", u, line, err)
		}
		sum, found = sum+v, true
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%s has no %s%v", u, name, labels)
	}
	return sum, nil
}

// labelOf returns the value of one label of the first series of a metric
// whose labels include the pairs given.
func (h *sut) labelOf(ctx context.Context, component, name, label string, labels ...string) (string, error) {
	u, err := h.s.MetricsURL(ctx, component)
	if err != nil {
		return "", err
	}
	resp, err := http.Get(u) //nolint:noctx // bounded by the client's default transport in tests
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			ok = ok && strings.Contains(line, labels[i]+`="`+labels[i+1]+`"`)
		}
		key := label + `="`
		if i := strings.Index(line, key); ok && i >= 0 {
			v := line[i+len(key):]
			return v[:strings.IndexByte(v, '"')], nil
		}
	}
	return "", fmt.Errorf("%s has no %s{%v} with label %s", u, name, labels, label)
}

func (h *sut) inspect(t testing.TB, ctx context.Context, component string) container.InspectResponse {
	t.Helper()
	ctr, err := stack.Inspect(ctx, stack.ContainerName(h.s.RunID, component))
	require.NoError(t, err)
	return ctr
}

func (h *sut) toxics(t testing.TB, ctx context.Context) fault.ToxiproxyState {
	t.Helper()
	return stacktest.Toxiproxies(t, ctx, h.s)
}

func (h *sut) registry(t testing.TB, ctx context.Context) map[string]string {
	t.Helper()
	cli, err := h.s.Etcd(ctx)
	require.NoError(t, err)
	defer cli.Close()
	res, err := cli.Get(ctx, registry.Prefix, clientv3.WithPrefix())
	require.NoError(t, err)
	out := map[string]string{}
	for _, kv := range res.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

func (h *sut) defaultRegistry(t testing.TB) map[string]string {
	t.Helper()
	return h.s.Def.SeedMap()
}

// steady checks that the stack is back to its steady state after a test:
// no toxic or disabled proxy, every component running and not paused, no
// container a fault left, the registry as seeded, traffic to every backend.
// On failure it repairs what it can so that the next test starts clean.
func (h *sut) steady(t *testing.T, ctx context.Context) {
	t.Helper()
	if st := h.toxics(t, ctx); !st.Clean() {
		t.Errorf("not steady: toxiproxy: %s", st)
		for _, p := range h.s.Def.Proxies() {
			if api, err := h.s.ToxiproxyAPI(ctx, p); err == nil {
				_, _ = fault.ResetToxiproxy(ctx, api)
			}
		}
	}
	ctrs, err := stack.RunContainers(ctx, h.s.RunID)
	require.NoError(t, err)
	var names []string
	for _, c := range ctrs {
		names = append(names, c.Name)
		if c.FaultID() != "" {
			t.Errorf("not steady: %s was left by fault %s", c.Name, c.FaultID())
		}
		if c.State != "running" {
			t.Errorf("not steady: %s is %s", c.Name, c.State)
		}
	}
	require.Len(t, names, len(h.s.Def.Components), "containers: %v", names)
	if got, want := h.registry(t, ctx), h.defaultRegistry(t); !equalMaps(got, want) {
		t.Errorf("not steady: registry differs from the seed:\n got %v\nwant %v", got, want)
		require.NoError(t, h.s.WriteSeed(ctx))
	}
	require.NoError(t, h.s.WaitServing(ctx), "not steady: traffic")
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// raw is one HTTP/1.1 request over a plain TCP connection to client->edge,
// timed read by read. The host reaches Toxiproxy through Docker's port
// publishing (docker-proxy on loopback), which turns a reset into a plain
// close: a client on the host sees reset_peer as EOF, never ECONNRESET.
type raw struct {
	Reads     []int           // bytes per read
	ReadAt    []time.Duration // when each read returned
	Data      []byte
	FirstByte time.Duration
	LastByte  time.Duration
	End       time.Duration // EOF or error
	Err       error
}

func (h *sut) raw(ctx context.Context, timeout time.Duration) raw {
	return h.rawConn(ctx, timeout, true)
}

// rawConn sends the request with Connection: close when closeAfter, else
// keeps the connection open (the server never closes it), so that only the
// proxy can end it.
func (h *sut) rawConn(ctx context.Context, timeout time.Duration, closeAfter bool) raw {
	return rawAt(ctx, strings.TrimPrefix(h.edge, "http://"), registry.BackendRoute, "/", timeout, closeAfter)
}

// rawAt sends GET path with Host host to addr over a new TCP connection.
func rawAt(ctx context.Context, addr, host, path string, timeout time.Duration, closeAfter bool) raw {
	return rawOn(ctx, nil, addr, host, path, timeout, closeAfter)
}

// rawOn is rawAt on conn, a connection dialed beforehand, when not nil
// (times then count from the request, not from the dial).
func rawOn(ctx context.Context, conn net.Conn, addr, host, path string, timeout time.Duration, closeAfter bool) raw {
	var r raw
	t0 := time.Now()
	if conn == nil {
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			r.Err, r.End = err, time.Since(t0)
			return r
		}
		conn = c
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	hdr := "Connection: close\r\n"
	if !closeAfter {
		hdr = ""
	}
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\n"+hdr+"\r\n"); err != nil {
		r.Err, r.End = err, time.Since(t0)
		return r
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if len(r.Reads) == 0 {
				r.FirstByte = time.Since(t0)
			}
			r.LastByte = time.Since(t0)
			r.Reads = append(r.Reads, n)
			r.ReadAt = append(r.ReadAt, r.LastByte)
			r.Data = append(r.Data, buf[:n]...)
		}
		if err != nil {
			r.End = time.Since(t0)
			if err != io.EOF {
				r.Err = err
			}
			return r
		}
	}
}

// complete tells whether the raw answer is a whole 200: its body is as
// long as its Content-Length says.
func (r raw) complete() bool {
	s := string(r.Data)
	head, body, ok := strings.Cut(s, "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "HTTP/1.1 200") {
		return false
	}
	for _, line := range strings.Split(head, "\r\n") {
		if v, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return err == nil && n == len(body)
		}
	}
	return false
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nudge makes a harmless registry change (the backend service's connect
// timeout), measures how long the edge takes to use the new cluster config,
// and puts the old value back without waiting for it to arrive.
func (h *sut) nudge(t testing.TB, ctx context.Context, within time.Duration) time.Duration {
	t.Helper()
	version := func(ctx context.Context) (string, error) {
		return h.labelOf(ctx, sample.Edge, "okbreak_frontend_xds_config_info", "version", "type", "cds")
	}
	before, err := version(ctx)
	require.NoError(t, err)
	cli, err := h.s.Etcd(ctx)
	require.NoError(t, err)
	defer cli.Close()
	key := registry.ServiceKey(registry.BackendService)
	res, err := cli.Get(ctx, key)
	require.NoError(t, err)
	require.Len(t, res.Kvs, 1)
	orig := string(res.Kvs[0].Value)
	changed := strings.Replace(orig, `"connect_timeout":"1s"`, `"connect_timeout":"1.5s"`, 1)
	require.NotEqual(t, orig, changed, "service document %s", orig)
	t0 := time.Now()
	_, err = cli.Put(ctx, key, changed)
	require.NoError(t, err)
	defer func() {
		_, err := cli.Put(ctx, key, orig)
		require.NoError(t, err)
	}()
	eventually(t, ctx, "the edge to get the changed cluster", within, func(ctx context.Context) error {
		v, err := version(ctx)
		if err == nil && v == before {
			err = fmt.Errorf("cds version still %s", v)
		}
		return err
	})
	return time.Since(t0)
}

// linkAddr is where the host reaches a link's Toxiproxy listener on the
// Toxiproxy container's own address on the run's network: the host routes
// to Docker's bridge networks, and no docker-proxy sits in between, so a
// reset arrives as a reset, and a request costs a fraction of a
// millisecond.
func (h *sut) linkAddr(t testing.TB, ctx context.Context, link string) string {
	t.Helper()
	l, ok := h.s.Def.Link(link)
	require.True(t, ok, link)
	ctr := h.inspect(t, ctx, l.ProxyComponent())
	var ip string
	for _, n := range ctr.NetworkSettings.Networks {
		if n.IPAddress.IsValid() {
			ip = n.IPAddress.String()
		}
	}
	require.NotEmpty(t, ip, "toxiproxy has no address on the run's network")
	return net.JoinHostPort(ip, strconv.Itoa(l.Listen))
}

// linkGet sends one HTTP/1.1 request through a link (see linkAddr) and
// returns what came back.
func (h *sut) linkGet(t testing.TB, ctx context.Context, link, path string) (string, error) {
	t.Helper()
	l, _ := h.s.Def.Link(link)
	r := rawAt(ctx, h.linkAddr(t, ctx, link), l.To, path, 3*time.Second, true)
	return string(r.Data), r.Err
}
