package backend

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TLS on the backend's port (the sample service's --tls): a connection whose
// first byte is a TLS handshake record (0x16, a ClientHello) is served over
// TLS; anything else stays plaintext, so that the harness's /metrics and
// /healthz scrapes, h2c and the default stack work unchanged beside clients
// that speak TLS. The certificate is self-signed and made in memory at start
// for the service and instance names: no key or certificate file exists to
// ship or leak, and nothing verifies it (the sample's TLS exists to show
// session resumption, not authentication). Session tickets are Go's
// default, on, with keys each process draws at random: a ticket resumes a
// session only on the instance that issued it, so a client that wants to
// resume must hand each server its own ticket.

// tlsRecordHandshake is the content type of a TLS handshake record, the
// first byte of every ClientHello (RFC 8446, section 5.1).
const tlsRecordHandshake = 0x16

// tlsHandshakeTimeout bounds the sniff and the handshake of one connection,
// as the HTTP server's ReadHeaderTimeout bounds a plaintext request's
// headers: a client that connects and sends nothing holds a goroutine and
// a socket no longer than this.
const tlsHandshakeTimeout = 10 * time.Second

// TLSListener returns a listener that serves TLS and plaintext on ln (see
// above), for Serve. It registers okbreak_sample_tls_handshakes_total,
// counted after each completed TLS handshake by whether it resumed a
// session, and may be called once per Backend.
func (b *Backend) TLSListener(ln net.Listener) (net.Listener, error) {
	cert, err := selfSigned(b.service, b.instance)
	if err != nil {
		return nil, fmt.Errorf("backend %s: TLS certificate: %w", b.instance, err)
	}
	handshakes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "okbreak_sample_tls_handshakes_total",
		Help:        `Completed TLS handshakes, by whether they resumed a session (resumed="true", abbreviated: no certificate, no key exchange signature) or were full.`,
		ConstLabels: prometheus.Labels{"service": b.service, "instance": b.instance},
	}, []string{"resumed"})
	// Both start at zero so that increase() sees the first of each.
	handshakes.WithLabelValues("true")
	handshakes.WithLabelValues("false")
	if err := b.registry.Register(handshakes); err != nil {
		return nil, fmt.Errorf("backend %s: TLS metrics: %w", b.instance, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		// gRPC-Go refuses a TLS server that negotiates no ALPN protocol,
		// and net/http serves HTTP/2 over TLS only when h2 was agreed.
		NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12,
	}
	return newSniffListener(ln, cfg, func(resumed bool) {
		handshakes.WithLabelValues(fmt.Sprint(resumed)).Inc()
	}), nil
}

// selfSigned makes an ECDSA P-256 certificate for the names, valid from an
// hour ago (clock skew between containers) for a year.
func selfSigned(names ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"okbreak sample service (self-signed, test only)"}},
		DNSNames:     names,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// sniffListener accepts on the listener it wraps and hands Accept each
// connection once its first byte is known: a TLS connection after its
// handshake (so that the count is of completed handshakes, and so that a
// slow handshake never holds up Accept), any other as it came, its first
// byte put back.
type sniffListener struct {
	net.Listener
	cfg     *tls.Config
	counted func(resumed bool)

	start sync.Once
	conns chan net.Conn
	// done is closed when the listener is closed or fails for good; err
	// says why, and is written before done is closed.
	done chan struct{}
	stop sync.Once
	err  error
}

func newSniffListener(ln net.Listener, cfg *tls.Config, counted func(resumed bool)) *sniffListener {
	return &sniffListener{Listener: ln, cfg: cfg, counted: counted, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next connection, sniffed (and handshaken when TLS).
func (l *sniffListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, l.err
	}
}

// Close stops accepting; connections being sniffed are closed.
func (l *sniffListener) Close() error {
	l.fail(net.ErrClosed)
	return l.Listener.Close()
}

func (l *sniffListener) fail(err error) {
	l.stop.Do(func() {
		l.err = err
		close(l.done)
	})
}

// acceptLoop accepts until the listener is closed. Other accept errors
// (too many open files, an aborted connection) pass, as net/http treats
// them: it waits, doubling from 5 ms to 1 s, and accepts again.
func (l *sniffListener) acceptLoop() {
	var wait time.Duration
	for {
		c, err := l.Listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			l.fail(err)
			return
		}
		if err != nil {
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(wait):
				continue
			case <-l.done:
				return
			}
		}
		wait = 0
		go l.sniff(c)
	}
}

// sniff reads c's first byte and hands c on: TLS after a completed
// handshake, counted; anything else as it came. A connection that sends
// nothing, or fails its handshake, within tlsHandshakeTimeout is closed.
func (l *sniffListener) sniff(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	r := bufio.NewReader(c)
	first, err := r.Peek(1)
	if err != nil {
		_ = c.Close()
		return
	}
	var out net.Conn = &peekedConn{Conn: c, r: r}
	if first[0] == tlsRecordHandshake {
		tc := tls.Server(out, l.cfg)
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			_ = tc.Close()
			return
		}
		l.counted(tc.ConnectionState().DidResume)
		out = tc
	}
	_ = c.SetDeadline(time.Time{})
	select {
	case l.conns <- out:
	case <-l.done:
		_ = out.Close()
	}
}

// peekedConn is a connection whose first bytes were read ahead into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
