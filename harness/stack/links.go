package stack

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// LinkConnections counts, for every link, the client connections open
// through its Toxiproxy listener right now, read from the Toxiproxy
// container's network namespace (/proc/<pid>/net/tcp and tcp6 of its main
// process, so okbreak must run on the engine's host, as for crashes).
//
// Toxiproxy's own byte counters cannot tell whether a link is in use: it
// adds a connection's bytes only when the connection closes, so a link
// busy with one long-lived connection reads 0. Safe for concurrent use.
func (s *Stack) LinkConnections(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, proxy := range s.Def.Proxies() {
		byPort, err := s.establishedIn(ctx, proxy)
		if err != nil {
			return nil, err
		}
		for _, l := range s.Def.Links {
			if l.ProxyComponent() == proxy {
				out[l.Name] = byPort[l.Listen]
			}
		}
	}
	return out, nil
}

// establishedIn counts ESTABLISHED connections by local port in the network
// namespace of a component's container.
func (s *Stack) establishedIn(ctx context.Context, component string) (map[int]int, error) {
	name, err := s.ContainerName(component)
	if err != nil {
		return nil, err
	}
	pid, err := MainPID(ctx, name)
	if err != nil {
		return nil, err
	}
	byPort := map[int]int{}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			if f == "tcp6" && os.IsNotExist(err) {
				continue // no IPv6 in this kernel
			}
			return nil, fmt.Errorf("connections of %s: %w", name, err)
		}
		for port, n := range establishedByLocalPort(b) {
			byPort[port] += n
		}
	}
	return byPort, nil
}

// establishedByLocalPort counts ESTABLISHED sockets by local port in the
// /proc/net/tcp format ("sl local_address rem_address st ...", addresses as
// hex IP:PORT, state 01 = ESTABLISHED).
func establishedByLocalPort(b []byte) map[int]int {
	out := map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "01" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			continue
		}
		out[int(port)]++
	}
	return out
}
