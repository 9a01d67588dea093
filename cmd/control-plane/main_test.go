package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/okbreak/okbreak/internal/controlplane"
	"github.com/okbreak/okbreak/internal/controlplane/translate"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	cfg, lvl, err := parseConfig(nil, env(nil), &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, ":18000", cfg.ListenAddr)
	require.Equal(t, ":9901", cfg.AdminAddr)
	require.Equal(t, []string{"toxiproxy:10002"}, cfg.EtcdEndpoints)
	require.Equal(t, time.Second, cfg.EtcdCheckInterval)
	require.Equal(t, controlplane.DefaultEtcdDialTimeout, cfg.EtcdDialTimeout)
	require.Equal(t, translate.UpstreamHTTP1, cfg.EnvoyUpstreamProtocol)
	require.Equal(t, controlplane.EtcdLossKeep, cfg.OnEtcdLoss, "the cache is on unless the test switch is set")
	require.Equal(t, slog.LevelInfo, lvl)
}

func TestEnvironmentAndFlagsWin(t *testing.T) {
	e := env(map[string]string{
		"OKBREAK_LISTEN":                  "127.0.0.1:1",
		"OKBREAK_ETCD":                    "a:1, http://b:2",
		"OKBREAK_ETCD_CHECK_INTERVAL":     "250ms",
		"OKBREAK_ETCD_DIAL_TIMEOUT":       "3s",
		"OKBREAK_ENVOY_UPSTREAM_PROTOCOL": "h2",
		"OKBREAK_LOG_LEVEL":               "debug",
		"OKBREAK_ON_ETCD_LOSS":            "clear",
	})
	cfg, lvl, err := parseConfig([]string{"--etcd-check-interval", "2s"}, e, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1", cfg.ListenAddr)
	require.Equal(t, []string{"a:1", "http://b:2"}, cfg.EtcdEndpoints)
	require.Equal(t, 2*time.Second, cfg.EtcdCheckInterval, "the flag wins over the environment")
	require.Equal(t, 3*time.Second, cfg.EtcdDialTimeout)
	require.Equal(t, translate.UpstreamHTTP2, cfg.EnvoyUpstreamProtocol)
	require.Equal(t, slog.LevelDebug, lvl)
	require.Equal(t, controlplane.EtcdLossClear, cfg.OnEtcdLoss)

	cfg, _, err = parseConfig([]string{"--on-etcd-loss=keep"}, e, &bytes.Buffer{})
	require.NoError(t, err)
	require.Equal(t, controlplane.EtcdLossKeep, cfg.OnEtcdLoss, "the flag wins over the environment")
}

func TestBadInputExitsTwoWithAClearMessage(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad env duration":  {env: map[string]string{"OKBREAK_ETCD_CHECK_INTERVAL": "often"}, want: "OKBREAK_ETCD_CHECK_INTERVAL"},
		"bad flag duration": {args: []string{"--etcd-dial-timeout", "soon"}, want: "etcd-dial-timeout"},
		"zero interval":     {args: []string{"--etcd-check-interval", "0s"}, want: "etcd check interval"},
		"no port":           {args: []string{"--listen", "localhost"}, want: "listen address"},
		"no etcd":           {args: []string{"--etcd", " , "}, want: "etcd endpoints"},
		"bad etcd scheme":   {args: []string{"--etcd", "ftp://x:1"}, want: "scheme"},
		"unknown flag":      {args: []string{"--nope"}, want: "nope"},
		"stray argument":    {args: []string{"serve"}, want: "unexpected arguments"},
		"bad protocol":      {args: []string{"--envoy-upstream-protocol", "spdy"}, want: "spdy"},
		"bad log level":     {args: []string{"--log-level", "loud"}, want: "log level"},
		"bad on-etcd-loss":  {env: map[string]string{"OKBREAK_ON_ETCD_LOSS": "forget"}, want: `on etcd loss "forget"`},
	} {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tc.args, env(tc.env), &stderr)
			require.Equal(t, 2, code, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-h"}, env(nil), &stderr))
	require.Contains(t, stderr.String(), "OKBREAK_ETCD_CHECK_INTERVAL")
	require.Contains(t, stderr.String(), "a control plane without a cache, for regression tests")
}
