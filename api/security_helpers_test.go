package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/postgres"
	"github.com/verifykit/verifykit/internal/store/postgres/pgtest"
)

// engine opens one kind of store for the tests that must hold on both.
type engine struct {
	name string
	open func(t testing.TB) store.Store
}

// engines are SQLite, and PostgreSQL when VERIFYKIT_TEST_POSTGRES names a
// server (pgtest skips without one, and fails under CI).
func engines() []engine {
	return []engine{{"sqlite", openStore}, {"postgres", openPostgres}}
}

func openPostgres(t testing.TB) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// countingStore is a real store that counts what the tests ask about:
// credential lookups (each one reaches the database) and stored tokens.
type countingStore struct {
	store.Store
	lookups atomic.Int64
	created atomic.Int64
}

func (s *countingStore) FetchAccount(ctx context.Context, sid string) (store.Account, error) {
	s.lookups.Add(1)
	return s.Store.FetchAccount(ctx, sid)
}

func (s *countingStore) FetchAPIKey(ctx context.Context, sid string) (store.APIKey, error) {
	s.lookups.Add(1)
	return s.Store.FetchAPIKey(ctx, sid)
}

func (s *countingStore) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	err := s.Store.CreateAccessToken(ctx, t)
	if err == nil {
		s.created.Add(1)
	}
	return err
}

// serveEnv serves verifyd's handler over st with an http.Server of its
// own on 127.0.0.1, configured as verifyd configures it unless configure
// changes it.
func serveEnv(t testing.TB, st store.Store, cfg api.Config, configure func(*http.Server)) *env {
	t.Helper()
	ctx := context.Background()
	keys, err := provision.KeySet(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	h, err := api.NewHandler(cfg, st, keys, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	if configure != nil {
		configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &env{URL: "http://" + ln.Addr().String(), Store: st, Keys: keys, A: newTenant(t, st, "A"), B: newTenant(t, st, "B"), Logs: logs}
}

// addr is the host:port of the env's server.
func (e *env) addr() string { return strings.TrimPrefix(e.URL, "http://") }

// basicHeader is the value of an Authorization header for user:pass.
func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// rawConn is a TCP connection to the env's server, for requests that
// net/http's client will not send as written.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, e *env) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response reads the next response, with its body, within d.
func (c *rawConn) response(d time.Duration) (*http.Response, string, error) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// closed reports whether the server closed the connection within d:
// nothing more arrives, only EOF.
func (c *rawConn) closed(d time.Duration) (bool, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c.r)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		return false, string(b) // still open
	}
	return len(b) == 0, string(b)
}

// readAll reads a response's body.
func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reset drops the logs collected so far.
func (l *logBuffer) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = strings.Builder{}
}

func bodyContains(b []byte, s string) bool { return strings.Contains(string(b), s) }
