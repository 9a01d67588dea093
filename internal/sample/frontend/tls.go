package frontend

import (
	"context"
	"crypto/tls"
	"net"

	"google.golang.org/grpc/credentials"
)

// backendCredentials are the transport credentials of the channel to the
// backends under Config.BackendTLS: TLS, with TLS session resumption when
// sessions > 0 (Config.TLSSessionCache) and without it at 0, as Go's
// tls.Config has it by default (no ClientSessionCache). The xDS client's
// own connection to the control plane takes its credentials from the
// bootstrap and is not concerned.
//
// The backends' certificates are not verified: each backend makes its own
// self-signed certificate in memory at start (the project keeps no key or
// certificate in its fixtures, and a CA the stack could share would need a
// key in the repository), so there is nothing to verify them against. This
// TLS exists to show whether reconnects resume sessions, a test-only
// mechanism check; it authenticates nothing and must not be copied as is.
func backendCredentials(sessions int) credentials.TransportCredentials {
	cfg := &tls.Config{
		InsecureSkipVerify: true, // see above: a mechanism check, not authentication
		MinVersion:         tls.VersionTLS12,
	}
	c := &sessionCredentials{TransportCredentials: credentials.NewTLS(cfg), cfg: cfg}
	if sessions > 0 {
		c.cache = tls.NewLRUClientSessionCache(sessions)
	}
	return c
}

// sessionCredentials are gRPC's TLS credentials with a session cache keyed
// by server. gRPC sets every connection's TLS server name to the channel's
// authority ("backend" for xds:///backend, whichever endpoint it dials),
// and Go keys its session cache by server name, so a plain cache would
// hold one ticket for all backends and offer each one the ticket of
// whichever connected last. A backend cannot decrypt another's ticket
// (each draws its own ticket keys), so most reconnects would still be full
// handshakes. Keyed by the remote address as well, each backend gets back
// the ticket it issued.
type sessionCredentials struct {
	credentials.TransportCredentials
	cfg   *tls.Config
	cache tls.ClientSessionCache // nil: no resumption
}

// ClientHandshake does gRPC's TLS handshake, with the session cache seen
// through rawConn's remote address.
func (c *sessionCredentials) ClientHandshake(ctx context.Context, authority string, rawConn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if c.cache == nil {
		return c.TransportCredentials.ClientHandshake(ctx, authority, rawConn)
	}
	cfg := c.cfg.Clone()
	cfg.ClientSessionCache = perServerCache{cache: c.cache, server: rawConn.RemoteAddr().String()}
	return credentials.NewTLS(cfg).ClientHandshake(ctx, authority, rawConn)
}

// Clone shares the session cache: a clone is the same client.
func (c *sessionCredentials) Clone() credentials.TransportCredentials {
	return &sessionCredentials{TransportCredentials: c.TransportCredentials.Clone(), cfg: c.cfg, cache: c.cache}
}

// perServerCache is one server's view of a shared session cache.
type perServerCache struct {
	cache  tls.ClientSessionCache
	server string
}

func (p perServerCache) Get(key string) (*tls.ClientSessionState, bool) {
	return p.cache.Get(p.server + " " + key)
}

func (p perServerCache) Put(key string, cs *tls.ClientSessionState) {
	p.cache.Put(p.server+" "+key, cs)
}
