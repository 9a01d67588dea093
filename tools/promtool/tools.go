//go:build tools

// Package promtool pins promtool's module: `go build
// github.com/prometheus/prometheus/cmd/promtool` from this folder builds
// the version go.mod names.
package promtool

import _ "github.com/prometheus/prometheus/cmd/promtool"
