//go:build tools

// Package okbreak pins the modules the project builds against, so that
// `go mod tidy` keeps them while packages that use them are being written.
package okbreak

import (
	_ "github.com/Shopify/toxiproxy/v2/client"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	_ "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/prometheus/rules"
	_ "github.com/prometheus/prometheus/tsdb"
	_ "github.com/spf13/cobra"
	_ "github.com/stretchr/testify/require"
	_ "github.com/testcontainers/testcontainers-go"
	_ "github.com/testcontainers/testcontainers-go/network"
	_ "github.com/tsenart/vegeta/v12/lib"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/xds"
	_ "gopkg.in/yaml.v3"
)
