// Package pgtest helps tests that need a real PostgreSQL server: it finds
// the server, gives each test a fresh database of its own, and puts a TCP
// proxy in front of it that a test can cut and restore, to see what a store
// and its callers do while the database is unreachable.
//
// The server is the one VERIFYKIT_TEST_POSTGRES names (scripts/postgres.sh
// start prints such a DSN, and make test exports it). Without it, tests
// skip, except under CI (CI set to anything), where they fail: CI must
// never skip the PostgreSQL engine silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable that names the test server.
const EnvDSN = "VERIFYKIT_TEST_POSTGRES"

// adminTimeout bounds creating and dropping a test database.
const adminTimeout = 30 * time.Second

// ServerDSN returns the DSN of the test server. Without one it skips the
// test, or fails it when the CI environment variable is set.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	const why = EnvDSN + " is not set; run scripts/postgres.sh start and export the DSN it prints, or use make test"
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (CI must not skip PostgreSQL)")
	}
	t.Skip(why)
	return ""
}

// NewDatabase creates an empty database named vk_<random hex> on the test
// server, drops it again when the test ends, and returns its DSN. Only
// URL-form DSNs are supported.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := ServerDSN(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s is not a postgres:// URL: %v", EnvDSN, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "vk_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := adminExec(ctx, server, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		// FORCE ends connections a test left open (a killed process's).
		if err := adminExec(ctx, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// adminExec runs one statement on a connection of its own to dsn.
func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// WithHost returns dsn with its host and port replaced by addr.
func WithHost(t testing.TB, dsn, addr string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("DSN is not a postgres:// URL: %v", err)
	}
	u.Host = addr
	return u.String()
}

// Proxy is a TCP proxy on 127.0.0.1 in front of a PostgreSQL server. Break
// makes the server unreachable through it, as a stopped server would: new
// connections are refused and open ones closed. Stall makes it silent, as a
// network partition would: connections open but no byte gets through.
// Restore makes it work again on the same address.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener          // nil while broken
	conns map[net.Conn]struct{} // both ends of every proxied connection
	stall chan struct{}         // non-nil while stalled; closed when that ends
	wg    sync.WaitGroup        // the accept loop and the copiers
}

// NewProxy starts a proxy to the host and port of dsn and stops it when the
// test ends.
func NewProxy(t testing.TB, dsn string) *Proxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("DSN is not a postgres:// URL: %v", err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{})}
	p.serve(ln)
	t.Cleanup(func() {
		p.Break()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.addr }

// DSN returns dsn with its host and port replaced by the proxy's.
func (p *Proxy) DSN(t testing.TB, dsn string) string {
	t.Helper()
	return WithHost(t, dsn, p.addr)
}

// Break closes the listener, so new connections are refused, and every
// proxied connection, so connections in use fail. It is a no-op on a broken
// proxy.
func (p *Proxy) Break() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unstall()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Stall holds every byte in both directions, and every new connection,
// until Restore or Break. Connections stay open, so only deadlines end the
// calls that use them.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall == nil {
		p.stall = make(chan struct{})
	}
}

// unstall ends a stall; p.mu must be held.
func (p *Proxy) unstall() {
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
}

// wait returns once the proxy is not stalled.
func (p *Proxy) wait() {
	p.mu.Lock()
	stall := p.stall
	p.mu.Unlock()
	if stall != nil {
		<-stall
	}
}

// Restore ends a stall, and after Break listens again on the proxy's
// address. It is a no-op on a working proxy.
func (p *Proxy) Restore(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	p.unstall()
	working := p.ln != nil
	p.mu.Unlock()
	if working {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// serve makes ln the proxy's listener and accepts on it until Break.
func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return // closed by Break
			}
			p.wg.Go(func() { p.pipe(ln, client) })
		}
	})
}

// pipe connects client to the target and copies both ways until either
// side closes or Break closes both.
func (p *Proxy) pipe(ln net.Listener, client net.Conn) {
	p.wait()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.ln != ln { // broken, and maybe restored, since the accept
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	copyHalf := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.wait()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return // EOF, or Break closed src
			}
		}
	}
	go copyHalf(server, client)
	go copyHalf(client, server)
	<-done
	client.Close()
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}
