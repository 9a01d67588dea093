package controlplane

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"sort"
	"sync"
	"time"
)

// resolver keeps the IP address of each endpoint host name, for Envoy: EDS
// endpoints must be IP literals there, while the registry names hosts
// (toxiproxy). A host that stops resolving keeps its last address, so a DNS
// hiccup does not empty an endpoint set. Safe for concurrent use.
type resolver struct {
	lookup  func(ctx context.Context, host string) ([]string, error)
	timeout time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	addrs  map[string]string
	tried  map[string]bool
	failed map[string]bool
}

func newResolver(timeout time.Duration, log *slog.Logger) *resolver {
	return &resolver{
		lookup:  net.DefaultResolver.LookupHost,
		timeout: timeout,
		log:     log,
		addrs:   map[string]string{},
		tried:   map[string]bool{},
		failed:  map[string]bool{},
	}
}

// addresses returns a copy of the current host -> IP map.
func (r *resolver) addresses() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.addrs)
}

// resolve looks up hosts (only the ones never tried before, if onlyNew) and
// reports whether any host's address changed.
func (r *resolver) resolve(ctx context.Context, hosts []string, onlyNew bool) (changed bool) {
	for _, h := range hosts {
		r.mu.Lock()
		skip := onlyNew && r.tried[h]
		r.tried[h] = true
		r.mu.Unlock()
		if skip {
			continue
		}
		ip, err := r.lookupOne(ctx, h)
		r.mu.Lock()
		switch {
		case err != nil:
			if !r.failed[h] {
				r.log.Warn("cannot resolve endpoint host for Envoy; keeping its last address", "host", h,
					"last_address", r.addrs[h], "err", err)
			}
			r.failed[h] = true
		default:
			if r.failed[h] {
				r.log.Info("endpoint host resolves again", "host", h, "address", ip)
			}
			r.failed[h] = false
			if r.addrs[h] != ip {
				r.log.Info("endpoint host resolved", "host", h, "address", ip, "previous", r.addrs[h])
				r.addrs[h] = ip
				changed = true
			}
		}
		r.mu.Unlock()
	}
	return changed
}

// lookupOne returns one address for host, the same one every time for the
// same answer: the lowest IPv4 address, else the lowest IPv6 address.
func (r *resolver) lookupOne(ctx context.Context, host string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	addrs, err := r.lookup(ctx, host)
	if err != nil {
		return "", err
	}
	var v4, v6 []string
	for _, a := range addrs {
		ip := net.ParseIP(a)
		switch {
		case ip == nil:
			continue
		case ip.To4() != nil:
			v4 = append(v4, ip.String())
		default:
			v6 = append(v6, ip.String())
		}
	}
	sort.Strings(v4)
	sort.Strings(v6)
	if len(v4) > 0 {
		return v4[0], nil
	}
	if len(v6) > 0 {
		return v6[0], nil
	}
	return "", &net.DNSError{Err: "no IP address", Name: host, IsNotFound: true}
}
