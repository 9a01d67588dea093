package fault_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/okbreak/okbreak/harness/stack"
)

// unitEnv is an Env without containers: a definition, a state folder, and
// optionally an embedded etcd. Network and process faults need the stack.
type unitEnv struct {
	def      stack.Definition
	dir      string
	etcdAddr string
}

func (e *unitEnv) Definition() stack.Definition { return e.def }
func (e *unitEnv) Run() string                  { return "unit" }
func (e *unitEnv) StateDir() string             { return e.dir }
func (e *unitEnv) ToxiproxyAPI(context.Context, string) (string, error) {
	return "", errors.New("no toxiproxy in unit tests")
}
func (e *unitEnv) Refresh(context.Context, string) error { return nil }
func (e *unitEnv) ContainerName(component string) (string, error) {
	return "okbreak-unit-" + component, nil
}
func (e *unitEnv) Etcd(ctx context.Context) (*clientv3.Client, error) {
	if e.etcdAddr == "" {
		return nil, errors.New("no etcd in this test")
	}
	return clientv3.New(clientv3.Config{Endpoints: []string{e.etcdAddr}, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// embeddedEtcd starts a single-member etcd on loopback and returns its
// client address.
func embeddedEtcd(t *testing.T) string {
	t.Helper()
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	cfg := embed.NewConfig()
	cfg.Name = "okbreak-fault-test"
	cfg.Dir = t.TempDir()
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		t.Fatal("embedded etcd did not start")
	}
	return client.Host
}
