// Package verifydtest runs verifyd inside a test, the way net/http/httptest
// runs a handler: Start serves verifyd's real HTTP stack (api.NewHandler,
// with authentication and request and response validation against
// openapi.yaml) on a loopback port, over a SQLite store in a temporary
// directory, with an account, an API key and a Verify service already
// provisioned. The server stops when the test ends.
//
// Code that talks to Twilio Verify through an SDK needs no change to run
// against it: [Server.Client] and [RedirectClient] return an http.Client
// that sends every request for verify.twilio.com (and its edge and region
// forms) to the server, and refuses requests for any other host, so that a
// test cannot reach the internet by mistake.
package verifydtest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/internal/webhook"
)

const (
	// clientTimeout bounds each request of the clients this package builds.
	clientTimeout = 30 * time.Second
	// shutdownTimeout bounds how long Close waits for requests in flight.
	shutdownTimeout = 5 * time.Second
	// readHeaderTimeout is the server's, as verifyd sets one.
	readHeaderTimeout = 10 * time.Second
	// webhookTimeout bounds each webhook delivery; webhookPoll is how often
	// due deliveries are looked for besides the server's nudges.
	webhookTimeout = 5 * time.Second
	webhookPoll    = 100 * time.Millisecond
)

// Account is one provisioned account: its credentials, both ways of
// authenticating, and one Verify service it owns.
type Account struct {
	// AccountSID (AC…) and AuthToken authenticate as the account.
	AccountSID string
	AuthToken  string
	// APIKeySID (SK…) and APIKeySecret authenticate as the account too.
	APIKeySID    string
	APIKeySecret string
	// ServiceSID (VA…) is a Verify service of the account.
	ServiceSID string
}

// Server is a verifyd server listening on a loopback port. Its embedded
// Account is the first of [Server.Accounts].
type Server struct {
	// URL is the base URL of the server, such as http://127.0.0.1:43121,
	// with no trailing slash.
	URL string
	Account

	accounts  []Account
	keys      *token.KeySet
	client    *http.Client
	transport *http.Transport
	closeOnce sync.Once
	close     func()
}

// Claims are the decrypted contents of an access token.
type Claims struct {
	// SID is the access token's own SID (YK…).
	SID string
	// Identity is the entity the token was issued to.
	Identity string
	// AccountSID and ServiceSID say whose token it is.
	AccountSID string
	ServiceSID string
	// FactorType is the factor the token may create, "push".
	FactorType string
	// FactorFriendlyName is empty when the create request gave none.
	FactorFriendlyName string
	// IssuedAt is when the token was minted, and ExpiresAt when it stops
	// being valid: IssuedAt plus its TTL.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// KeyID is the ID of the key that minted the token (its kid header).
	KeyID string
}

// An Option changes how Start sets up a server.
type Option struct {
	apply func(*config)
}

type config struct {
	accounts  int
	now       func() time.Time
	key       *token.Key
	apiConfig []func(*api.Config)
	log       *slog.Logger
}

// WithAccounts provisions n accounts in all, each with an API key and a
// service, instead of one; for example two, to test that one account cannot
// reach another's tokens. n must be at least 1.
func WithAccounts(n int) Option {
	return Option{func(c *config) { c.accounts = n }}
}

// WithClock makes now the server's clock: it dates the provisioned records
// and every access token (date_created, and the token's iat and exp).
func WithClock(now func() time.Time) Option {
	return Option{func(c *config) { c.now = now }}
}

// WithTokenKey makes the server mint every access token with this key, so
// that code under test can decrypt tokens itself. secret must be 32 bytes
// (AES-256); the server keeps a copy.
func WithTokenKey(id string, secret []byte) Option {
	return Option{func(c *config) {
		c.key = &token.Key{ID: id, Secret: bytes.Clone(secret)}
	}}
}

// WithConfig lets f change the api.Config that the handler is built with,
// for example its PublicURL or BodyLimit. It runs after the other options,
// so it sees the clock of WithClock in Config.Now.
func WithConfig(f func(*api.Config)) Option {
	return Option{func(c *config) { c.apiConfig = append(c.apiConfig, f) }}
}

// WithLogger sends the server's logs, one JSON or text line per request and
// per error, to log. By default errors and warnings go to the test's log
// (t.Log), and nothing else is logged.
func WithLogger(log *slog.Logger) Option {
	return Option{func(c *config) { c.log = log }}
}

// Start starts a verifyd server for the test t and stops it when the test
// ends. Any failure to start is fatal to the test.
//
// The server listens on 127.0.0.1 on a free port, stores its data in
// t.TempDir(), and has one account (see WithAccounts) with an auth token,
// an API key and a service, all with fresh random SIDs and secrets.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	c := config{accounts: 1}
	for _, opt := range opts {
		if opt.apply != nil { // the zero Option changes nothing
			opt.apply(&c)
		}
	}
	if c.accounts < 1 {
		t.Fatalf("verifydtest: WithAccounts(%d): want at least 1", c.accounts)
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(newTestLog(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx := context.Background()

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "verifyd.db"))
	if err != nil {
		t.Fatalf("verifydtest: open store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("verifydtest: close store: %v", err)
		}
	})
	keys, err := keySet(ctx, st, c.key, now())
	if err != nil {
		t.Fatalf("verifydtest: %v", err)
	}
	s := &Server{keys: keys}
	for i := range c.accounts {
		a, err := provisionAccount(ctx, st, fmt.Sprintf("verifydtest account %d", i+1), now())
		if err != nil {
			t.Fatalf("verifydtest: %v", err)
		}
		s.accounts = append(s.accounts, a)
	}
	s.Account = s.accounts[0]

	// Webhook deliveries are signed with the accounts' auth tokens, and
	// retried soon: a test waits seconds, not minutes.
	tokens := map[string]string{}
	for _, a := range s.accounts {
		tokens[a.AccountSID] = a.AuthToken
	}
	loopback, err := webhook.ParseHosts(webhook.Loopback)
	if err != nil {
		t.Fatalf("verifydtest: %v", err)
	}
	deliverer, err := webhook.NewDeliverer(st, webhook.Config{
		Secrets: func(acc string) (string, bool) { tok, ok := tokens[acc]; return tok, ok },
		Client:  webhook.NewClient(webhookTimeout, loopback),
		Lease:   3 * webhookTimeout,
		Poll:    webhookPoll,
		Backoff: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		Now:     now,
		Log:     c.log,
	})
	if err != nil {
		t.Fatalf("verifydtest: %v", err)
	}
	cfg := api.Config{Now: c.now, EventsRecorded: deliverer.Notify, WebhookHosts: loopback,
		Collectors: []prometheus.Collector{deliverer.Collector()}}
	for _, f := range c.apiConfig {
		f(&cfg)
	}
	h, err := api.NewHandler(cfg, st, keys, c.log)
	if err != nil {
		t.Fatalf("verifydtest: %v", err)
	}
	hookCtx, stopHooks := context.WithCancel(context.Background())
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		_ = deliverer.Run(hookCtx) // returns only hookCtx's error
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("verifydtest: listen on 127.0.0.1: %v", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(c.log.Handler(), slog.LevelWarn),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // always http.ErrServerClosed after Shutdown or Close
	}()
	s.URL = "http://" + ln.Addr().String()

	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	rt, err := RedirectTransport(s.URL, s.transport)
	if err != nil {
		t.Fatalf("verifydtest: %v", err)
	}
	s.client = newClient(rt)
	s.close = func() {
		s.transport.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close() // requests still running after the deadline are cut
		}
		<-served
		stopHooks()
		<-hooksDone
	}
	t.Cleanup(s.Close)
	return s
}

// keySet stores key, when given, as the only token key, and returns the
// store's key set the way verifyd loads it.
func keySet(ctx context.Context, st store.Store, key *token.Key, now time.Time) (*token.KeySet, error) {
	if key != nil {
		key.Created = now.UTC()
		if _, err := token.NewKeySet(*key); err != nil { // checks the ID and the length
			return nil, fmt.Errorf("WithTokenKey: %w", err)
		}
		if err := st.AddTokenKey(ctx, store.TokenKey{ID: key.ID, Secret: key.Secret, Created: key.Created}); err != nil {
			return nil, fmt.Errorf("WithTokenKey: %w", err)
		}
	}
	return provision.KeySet(ctx, st, now)
}

// provisionAccount creates an account with an API key and a service.
func provisionAccount(ctx context.Context, st store.Store, name string, now time.Time) (Account, error) {
	acc, authToken, err := provision.Account(ctx, st, name, now)
	if err != nil {
		return Account{}, err
	}
	key, secret, err := provision.APIKey(ctx, st, acc.SID, name+" key", now)
	if err != nil {
		return Account{}, err
	}
	svc, err := provision.Service(ctx, st, acc.SID, name+" service", now)
	if err != nil {
		return Account{}, err
	}
	return Account{
		AccountSID:   acc.SID,
		AuthToken:    authToken,
		APIKeySID:    key.SID,
		APIKeySecret: secret,
		ServiceSID:   svc.SID,
	}, nil
}

// Client returns an http.Client for the server. It sends requests for
// s.URL as they are, redirects requests for the Twilio Verify hosts to
// s.URL (see [RedirectTransport]), and refuses all others. Give it to a
// Twilio SDK as its HTTP client, and the SDK talks to s. Client returns the
// same client every time; it does not follow redirects.
func (s *Server) Client() *http.Client { return s.client }

// Accounts returns every provisioned account, the first being the one
// embedded in s. The slice is a copy.
func (s *Server) Accounts() []Account {
	return append([]Account(nil), s.accounts...)
}

// OpenToken decrypts an access token that s minted, such as the token
// field of a created access token, and returns its claims. It does not check
// expiry.
func (s *Server) OpenToken(compact string) (Claims, error) {
	c, err := token.Open(s.keys, compact)
	if err != nil {
		return Claims{}, fmt.Errorf("verifydtest: open token: %w", err)
	}
	h, err := token.Inspect(compact)
	if err != nil { // unreachable: Open inspected it already
		return Claims{}, fmt.Errorf("verifydtest: open token: %w", err)
	}
	return Claims{
		SID:                c.SID,
		Identity:           c.Identity,
		AccountSID:         c.AccountSID,
		ServiceSID:         c.ServiceSID,
		FactorType:         c.FactorType,
		FactorFriendlyName: c.FactorFriendlyName,
		IssuedAt:           time.Unix(c.IssuedAt, 0).UTC(),
		ExpiresAt:          time.Unix(c.ExpiresAt, 0).UTC(),
		KeyID:              h.KeyID,
	}, nil
}

// Close shuts the server down, waiting a few seconds for requests in
// flight, and closes the client's idle connections. Start arranges for it
// to run when the test ends; calling it earlier, for example to test what
// code does when Verify is unreachable, is safe, and so is calling it
// twice. The store stays until the test ends.
func (s *Server) Close() {
	s.closeOnce.Do(s.close)
}

// testLog writes log lines to a test's log. Its cleanup runs after the
// server has stopped (cleanups run last-registered first); lines written
// after that, when t.Log would panic, are dropped.
type testLog struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func newTestLog(t testing.TB) *testLog {
	l := &testLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.done = true
	})
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("verifyd: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
