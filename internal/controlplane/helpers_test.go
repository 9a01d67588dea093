package controlplane

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/okbreak/okbreak/internal/registry"
)

// testEtcd is an embedded single-member etcd on loopback that can be
// stopped and started again on the same ports and data directory.
type testEtcd struct {
	dir       string
	clientURL url.URL
	peerURL   url.URL
	e         *embed.Etcd
	// closing is closed once the last stop has finished.
	closing chan struct{}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newTestEtcd(t *testing.T) *testEtcd {
	t.Helper()
	te := &testEtcd{
		dir:       t.TempDir(),
		clientURL: url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))},
		peerURL:   url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))},
	}
	t.Cleanup(func() {
		te.stop()
		te.waitStopped()
	})
	return te
}

// endpoint is what the control plane is configured with.
func (te *testEtcd) endpoint() string { return te.clientURL.Host }

func (te *testEtcd) start(t *testing.T) {
	t.Helper()
	te.waitStopped()
	cfg := embed.NewConfig()
	cfg.Name = "okbreak-test"
	cfg.Dir = te.dir
	cfg.ListenClientUrls = []url.URL{te.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{te.clientURL}
	cfg.ListenPeerUrls = []url.URL{te.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{te.peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	require.NoError(t, err)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(15 * time.Second):
		e.Close()
		t.Fatal("embedded etcd did not become ready")
	}
	te.e = e
}

// stop stops etcd. Its listeners close at once, so clients see it gone
// right away; the rest of the shutdown (which waits up to etcd's request
// timeout, 7s, for open watch streams) finishes in the background.
func (te *testEtcd) stop() {
	if te.e == nil {
		return
	}
	e, done := te.e, make(chan struct{})
	te.e, te.closing = nil, done
	go func() {
		defer close(done)
		e.Close()
	}()
}

func (te *testEtcd) waitStopped() {
	if te.closing != nil {
		<-te.closing
		te.closing = nil
	}
}

func (te *testEtcd) client(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{te.endpoint()}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

func put(t *testing.T, cli *clientv3.Client, key string, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := cli.Put(ctx, key, value)
	require.NoError(t, err)
}

func del(t *testing.T, cli *clientv3.Client, key string, opts ...clientv3.OpOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := cli.Delete(ctx, key, opts...)
	require.NoError(t, err)
}

func seed(t *testing.T, cli *clientv3.Client, reg registry.Registry) {
	t.Helper()
	kvs, err := registry.Encode(reg)
	require.NoError(t, err)
	// One transaction, so that the control plane never sees half a registry.
	ops := make([]clientv3.Op, 0, len(kvs))
	for _, kv := range kvs {
		ops = append(ops, clientv3.OpPut(kv.Key, string(kv.Value)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = cli.Txn(ctx).Then(ops...).Commit()
	require.NoError(t, err)
}

// runningCP is a control plane started by startCP.
type runningCP struct {
	*Server
	stop func() error
}

// startCP runs a control plane on loopback against etcd, with short
// intervals so that tests are fast.
func startCP(t *testing.T, etcdEndpoint string, modify ...func(*Server)) *runningCP {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ListenAddr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.EtcdEndpoints = []string{etcdEndpoint}
	cfg.EtcdCheckInterval = 100 * time.Millisecond
	cfg.EtcdDialTimeout = 500 * time.Millisecond
	cfg.ResolveInterval = time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := New(cfg)
	require.NoError(t, err)
	for _, m := range modify {
		m(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("control plane did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("control plane did not become ready")
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = fmt.Errorf("control plane did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = stop() })
	return &runningCP{Server: s, stop: stop}
}

// testWriter sends logs to t.Log, and nowhere once the test is over.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // logging after the test ended panics
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// adsClient is a raw ADS stream, the way a data plane drives it.
type adsClient struct {
	t      *testing.T
	node   *corev3.Node
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	cancel context.CancelFunc
	resps  chan *discoveryv3.DiscoveryResponse
	errc   chan error

	pending map[string][]*discoveryv3.DiscoveryResponse
	// names remembers the resource names last asked for, per type, for ACKs.
	names map[string][]string
}

func dialADS(t *testing.T, addr, nodeID string) *adsClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	require.NoError(t, err)
	c := &adsClient{
		t: t, node: &corev3.Node{Id: nodeID}, stream: stream, cancel: cancel,
		resps: make(chan *discoveryv3.DiscoveryResponse, 64), errc: make(chan error, 1),
		pending: map[string][]*discoveryv3.DiscoveryResponse{}, names: map[string][]string{},
	}
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				c.errc <- err
				return
			}
			c.resps <- r
		}
	}()
	t.Cleanup(cancel)
	return c
}

func (c *adsClient) send(typeURL string, names []string, version, nonce string, nack *status.Status) {
	c.t.Helper()
	c.names[typeURL] = names
	require.NoError(c.t, c.stream.Send(&discoveryv3.DiscoveryRequest{
		Node: c.node, TypeUrl: typeURL, ResourceNames: names,
		VersionInfo: version, ResponseNonce: nonce, ErrorDetail: nack,
	}))
}

// subscribe asks for resources of a type for the first time.
func (c *adsClient) subscribe(typeURL string, names ...string) {
	c.t.Helper()
	c.send(typeURL, names, "", "", nil)
}

// ack accepts a response, which also opens the watch for the next one.
func (c *adsClient) ack(r *discoveryv3.DiscoveryResponse) {
	c.t.Helper()
	c.send(r.GetTypeUrl(), c.names[r.GetTypeUrl()], r.GetVersionInfo(), r.GetNonce(), nil)
}

// next returns the next response of a type, or nil after wait.
func (c *adsClient) next(typeURL string, wait time.Duration) *discoveryv3.DiscoveryResponse {
	c.t.Helper()
	if q := c.pending[typeURL]; len(q) > 0 {
		c.pending[typeURL] = q[1:]
		return q[0]
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		select {
		case r := <-c.resps:
			if r.GetTypeUrl() == typeURL {
				return r
			}
			c.pending[r.GetTypeUrl()] = append(c.pending[r.GetTypeUrl()], r)
		case err := <-c.errc:
			c.errc <- err
			c.t.Fatalf("ADS stream ended while waiting for %s: %v", typeURL, err)
		case <-deadline.C:
			return nil
		}
	}
}

// expect returns the next response of a type and fails the test if none
// comes in time.
func (c *adsClient) expect(typeURL string) *discoveryv3.DiscoveryResponse {
	c.t.Helper()
	r := c.next(typeURL, 10*time.Second)
	require.NotNil(c.t, r, "no %s response", typeURL)
	return r
}

// expectNone fails the test if a response of the type comes within wait.
func (c *adsClient) expectNone(typeURL string, wait time.Duration) {
	c.t.Helper()
	r := c.next(typeURL, wait)
	require.Nil(c.t, r, "unexpected %s response, version %s", typeURL, r.GetVersionInfo())
}

// metrics scrapes the admin server's /metrics.
func scrape(t *testing.T, adminAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// metricValue returns the value of the sample of name whose labels include
// labels, and whether there is one.
func metricValue(t *testing.T, adminAddr, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mf, ok := scrape(t, adminAddr)[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

func requireMetric(t *testing.T, adminAddr, name string, labels map[string]string, want float64) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, ok := metricValue(t, adminAddr, name, labels)
		return ok && v == want
	}, 10*time.Second, 20*time.Millisecond, "%s%v never became %v", name, labels, want)
}

func healthz(t *testing.T, adminAddr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
