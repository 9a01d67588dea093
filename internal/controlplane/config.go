// Package controlplane is the sample xDS control plane of the system under
// test: a go-control-plane ADS server that reads the service registry from
// etcd, watches it, and pushes per-node snapshots to both data planes (Envoy
// and gRPC proxyless clients), with content-hash versions so that a restart
// with the same data changes nothing for the data plane.
//
// It serves nothing before its first successful etcd read (an empty answer
// would read as "everything deleted" to gRPC) and keeps serving its last
// snapshot while etcd is unreachable. That cache is what makes an etcd
// outage harmless; the test switch Config.OnEtcdLoss = EtcdLossClear takes
// it out, so that okbreak can show its tests catch the regression. Its
// health and its view of etcd are exported as Prometheus metrics
// (okbreak_controlplane_*).
package controlplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/okbreak/okbreak/internal/controlplane/translate"
)

// Defaults of Config, also the defaults of the control-plane command's flags.
const (
	DefaultListenAddr        = ":18000"
	DefaultAdminAddr         = ":9901"
	DefaultEtcdEndpoints     = "toxiproxy:10002"
	DefaultEtcdCheckInterval = time.Second
	DefaultEtcdDialTimeout   = 2 * time.Second
	DefaultResolveInterval   = 5 * time.Second
)

// EtcdLossPolicy is what the control plane serves while its etcd check
// finds etcd unreachable.
type EtcdLossPolicy string

const (
	// EtcdLossKeep serves the last snapshot until etcd is back: the normal
	// behaviour, and the default.
	EtcdLossKeep EtcdLossPolicy = "keep"
	// EtcdLossClear is a TEST SWITCH, a control plane without a cache for
	// okbreak's regression tests: once etcd is found unreachable, every node
	// gets a snapshot with no resources (what the control plane can read),
	// so data planes see their config deleted; the registry is served again
	// after the next successful etcd read. Never use it outside such tests.
	EtcdLossClear EtcdLossPolicy = "clear"
)

// Config configures a Server.
type Config struct {
	// ListenAddr is where the gRPC ADS server listens (host:port).
	ListenAddr string
	// AdminAddr is where the HTTP admin server (/healthz, /metrics) listens.
	AdminAddr string
	// EtcdEndpoints are the etcd client endpoints (host:port or URLs).
	EtcdEndpoints []string
	// EtcdCheckInterval is how often etcd's reachability is checked.
	EtcdCheckInterval time.Duration
	// EtcdDialTimeout bounds connecting to etcd and every etcd request the
	// control plane makes (registry reads and reachability checks).
	EtcdDialTimeout time.Duration
	// ResolveInterval is how often endpoint host names are resolved again
	// for Envoy, which takes only IP addresses in EDS.
	ResolveInterval time.Duration
	// EnvoyUpstreamProtocol is what Envoy speaks to backends (http1 or h2).
	EnvoyUpstreamProtocol translate.UpstreamProtocol
	// OnEtcdLoss is what to serve while etcd is unreachable; empty means
	// EtcdLossKeep. EtcdLossClear is a test switch (see there).
	OnEtcdLoss EtcdLossPolicy
	// Logger receives the control plane's logs; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the configuration of the default stack.
func DefaultConfig() Config {
	return Config{
		ListenAddr:            DefaultListenAddr,
		AdminAddr:             DefaultAdminAddr,
		EtcdEndpoints:         []string{DefaultEtcdEndpoints},
		EtcdCheckInterval:     DefaultEtcdCheckInterval,
		EtcdDialTimeout:       DefaultEtcdDialTimeout,
		ResolveInterval:       DefaultResolveInterval,
		EnvoyUpstreamProtocol: translate.UpstreamHTTP1,
		OnEtcdLoss:            EtcdLossKeep,
	}
}

// Validate reports every problem with c at once, each naming the setting.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct{ name, addr string }{{"listen", c.ListenAddr}, {"admin", c.AdminAddr}} {
		if err := checkHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s address %q: %w", a.name, a.addr, err))
		}
	}
	if len(c.EtcdEndpoints) == 0 {
		errs = append(errs, errors.New("etcd endpoints: at least one is required"))
	}
	for _, e := range c.EtcdEndpoints {
		if err := checkEndpoint(e); err != nil {
			errs = append(errs, fmt.Errorf("etcd endpoint %q: %w", e, err))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"etcd check interval", c.EtcdCheckInterval}, {"etcd dial timeout", c.EtcdDialTimeout}, {"resolve interval", c.ResolveInterval}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: must be greater than 0", d.name, d.v))
		}
	}
	if _, err := translate.ParseUpstreamProtocol(string(c.EnvoyUpstreamProtocol)); err != nil {
		errs = append(errs, fmt.Errorf("envoy %w", err))
	}
	switch c.OnEtcdLoss {
	case "", EtcdLossKeep, EtcdLossClear:
	default:
		errs = append(errs, fmt.Errorf("on etcd loss %q: want %q or %q", c.OnEtcdLoss, EtcdLossKeep, EtcdLossClear))
	}
	return errors.Join(errs...)
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "" {
		return errors.New("missing port")
	}
	return nil
}

// checkEndpoint accepts what the etcd client accepts: host:port, or an
// http(s) URL with a host and port.
func checkEndpoint(e string) error {
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		if err != nil {
			return err
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("scheme %q: want http or https", u.Scheme)
		}
		return checkHostPort(u.Host)
	}
	return checkHostPort(e)
}
