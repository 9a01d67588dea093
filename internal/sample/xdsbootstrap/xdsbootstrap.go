// Package xdsbootstrap loads and checks a gRPC xDS bootstrap file before gRPC
// sees it, and hands it to gRPC.
//
// Why it exists: gRPC reads the bootstrap lazily, at the first RPC on an
// xds:/// channel, and a broken one then fails every RPC while the process
// keeps running. The frontend checks the file at start so that a bad
// bootstrap stops the process at once with the path and the reason.
//
// Handing the contents to gRPC has a trap: gRPC-Go (v1.85.0,
// internal/envconfig) copies GRPC_XDS_BOOTSTRAP and GRPC_XDS_BOOTSTRAP_CONFIG
// into package variables during package initialisation, before main runs, so
// os.Setenv in main comes too late. The only public, non-testing ways in are
// those two variables at process start. InEffect tells whether the running
// process already has them right; if not, the caller re-executes itself with
// ExecEnv (see cmd/sample-service).
package xdsbootstrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	grpcbootstrap "google.golang.org/grpc/xds/bootstrap"
)

// Environment variables gRPC reads the bootstrap from, at process start.
const (
	EnvFile     = "GRPC_XDS_BOOTSTRAP"
	EnvContents = "GRPC_XDS_BOOTSTRAP_CONFIG"
)

// knownTopLevel are the top-level fields gRPC-Go v1.85.0 understands. Any
// other field is almost surely a typo that gRPC would silently ignore.
var knownTopLevel = []string{
	"xds_servers",
	"node",
	"certificate_providers",
	"server_listener_resource_name_template",
	"client_default_listener_resource_name_template",
	"authorities",
	"allowed_grpc_services",
}

// Load reads the bootstrap file at path and validates it. Errors name the
// path.
func Load(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load xds bootstrap %s: %w", path, err)
	}
	if err := Validate(data); err != nil {
		return nil, fmt.Errorf("load xds bootstrap %s: %w", path, err)
	}
	return data, nil
}

type server struct {
	ServerURI    string            `json:"server_uri"`
	ChannelCreds []json.RawMessage `json:"channel_creds"`
}

type creds struct {
	Type string `json:"type"`
}

// Validate checks what the frontend needs from a bootstrap: valid JSON, no
// unknown top-level field, a non-empty node.id, and a non-empty xds_servers
// list (top level, and in every authority that has one) whose entries have a
// server_uri of the form host:port (optionally dns:/// or passthrough:///)
// and at least one channel_creds type gRPC knows (insecure, tls,
// google_default).
func Validate(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if top == nil {
		return errors.New("not a JSON object: null")
	}
	var unknown []string
	for k := range top {
		if !slices.Contains(knownTopLevel, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("unknown top-level field(s) %s (known: %s)", strings.Join(unknown, ", "), strings.Join(knownTopLevel, ", "))
	}

	var node struct {
		ID string `json:"id"`
	}
	if raw, ok := top["node"]; !ok {
		return errors.New("node is missing (node.id must name this data plane to the control plane)")
	} else if err := json.Unmarshal(raw, &node); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if strings.TrimSpace(node.ID) == "" {
		return errors.New("node.id is empty (it must name this data plane to the control plane)")
	}

	raw, ok := top["xds_servers"]
	if !ok {
		return errors.New("xds_servers is missing")
	}
	if err := validateServers("xds_servers", raw); err != nil {
		return err
	}
	if raw, ok := top["authorities"]; ok {
		var auths map[string]map[string]json.RawMessage
		if err := json.Unmarshal(raw, &auths); err != nil {
			return fmt.Errorf("authorities: %w", err)
		}
		for name, a := range auths {
			if servers, ok := a["xds_servers"]; ok {
				if err := validateServers(fmt.Sprintf("authorities[%q].xds_servers", name), servers); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func validateServers(where string, raw json.RawMessage) error {
	var servers []server
	if err := json.Unmarshal(raw, &servers); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if len(servers) == 0 {
		return fmt.Errorf("%s is empty", where)
	}
	for i, s := range servers {
		at := fmt.Sprintf("%s[%d]", where, i)
		if err := checkServerURI(s.ServerURI); err != nil {
			return fmt.Errorf("%s.server_uri: %w", at, err)
		}
		if len(s.ChannelCreds) == 0 {
			return fmt.Errorf("%s.channel_creds is empty (want e.g. [{\"type\": \"insecure\"}])", at)
		}
		var types []string
		known := false
		for j, rc := range s.ChannelCreds {
			var c creds
			if err := json.Unmarshal(rc, &c); err != nil {
				return fmt.Errorf("%s.channel_creds[%d]: %w", at, j, err)
			}
			types = append(types, strconv.Quote(c.Type))
			if c.Type != "" && grpcbootstrap.GetChannelCredentials(c.Type) != nil {
				known = true
			}
		}
		if !known {
			return fmt.Errorf("%s.channel_creds has no type gRPC knows: %s (known: \"insecure\", \"tls\", \"google_default\")", at, strings.Join(types, ", "))
		}
	}
	return nil
}

func checkServerURI(uri string) error {
	if uri == "" {
		return errors.New("is empty (want host:port)")
	}
	host, port, err := net.SplitHostPort(hostPort(uri))
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", uri, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", uri)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no valid port", uri)
	}
	return nil
}

// InEffect reports whether gRPC in this process will use exactly contents:
// GRPC_XDS_BOOTSTRAP (which gRPC prefers) names a file holding contents, or
// it is unset and GRPC_XDS_BOOTSTRAP_CONFIG holds contents. lookupEnv is
// os.LookupEnv outside tests. It must be asked about the environment the
// process started with, which is the one gRPC captured.
func InEffect(contents []byte, lookupEnv func(string) (string, bool)) bool {
	if file, ok := lookupEnv(EnvFile); ok && file != "" {
		onDisk, err := os.ReadFile(file)
		return err == nil && bytes.Equal(onDisk, contents)
	}
	v, _ := lookupEnv(EnvContents)
	return v == string(contents)
}

// ExecEnv returns environ with the bootstrap variables replaced so that a new
// process gets contents: GRPC_XDS_BOOTSTRAP removed (gRPC would prefer it) and
// GRPC_XDS_BOOTSTRAP_CONFIG set to contents.
func ExecEnv(environ []string, contents []byte) []string {
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if k == EnvFile || k == EnvContents {
			continue
		}
		out = append(out, kv)
	}
	return append(out, EnvContents+"="+string(contents))
}

// ServerURI returns the first xds_servers entry's server_uri as host:port
// (a dns:/// or passthrough:/// scheme taken off) from a valid bootstrap.
func ServerURI(contents []byte) (string, error) {
	var b struct {
		XDSServers []server `json:"xds_servers"`
	}
	if err := json.Unmarshal(contents, &b); err != nil {
		return "", err
	}
	if len(b.XDSServers) == 0 {
		return "", errors.New("xds_servers is empty")
	}
	return hostPort(b.XDSServers[0].ServerURI), nil
}

// hostPort takes a dns:/// or passthrough:/// scheme off a server URI.
func hostPort(uri string) string {
	for _, scheme := range []string{"dns:///", "passthrough:///"} {
		if rest, ok := strings.CutPrefix(uri, scheme); ok {
			return rest
		}
	}
	return uri
}
