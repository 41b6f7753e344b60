package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the "sqlite" driver, to inspect the file a killed verifyd left

	"github.com/verifykit/verifykit/internal/store/postgres/pgtest"
)

// This file holds the crash test and the HTTP and store helpers that
// fault_test.go shares; process_test.go runs verifyd as a child process.

// stablePublicURL makes every instance build the same resource urls, so a
// body fetched after a restart can be compared byte for byte with the body
// the create returned before it.
const stablePublicURL = "https://verify.example.test"

// reply is what a test keeps of one HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// twilioCode is the code of a Twilio error body, or 0.
func (r reply) twilioCode() int {
	var e struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

// apiClient talks to one verifyd as one credential.
type apiClient struct {
	base       string // http://host:port
	user, pass string
	service    string
	hc         *http.Client
}

func newAPIClient(addr string, creds *devCreds) *apiClient {
	return &apiClient{
		base:    "http://" + addr,
		user:    creds.AccountSID,
		pass:    creds.AuthToken,
		service: creds.ServiceSID,
		hc: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		},
	}
}

// tokens is the path of the service's AccessTokens collection.
func (c *apiClient) tokens() string { return "/v2/Services/" + c.service + "/AccessTokens" }

// do sends one request. A transport error is returned as is: after a
// SIGKILL it is the expected outcome.
func (c *apiClient) do(ctx context.Context, method, path string, form url.Values) (reply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return reply{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(c.user, c.pass)
	begin := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(begin)}, nil
}

// create creates a token for identity.
func (c *apiClient) create(ctx context.Context, identity string) (reply, error) {
	return c.do(ctx, http.MethodPost, c.tokens(), url.Values{"Identity": {identity}, "FactorType": {"push"}})
}

// fetch fetches the token with the given SID.
func (c *apiClient) fetch(ctx context.Context, sid string) (reply, error) {
	return c.do(ctx, http.MethodGet, c.tokens()+"/"+sid, nil)
}

// created is an acknowledged create: the token's SID and the 201 body.
type created struct {
	sid, identity string
	body          []byte
}

// mustCreateToken creates a token and fails the test unless it gets 201.
func mustCreateToken(t *testing.T, c *apiClient, identity string) created {
	t.Helper()
	r, err := c.create(t.Context(), identity)
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("create %s: %v (status %d, body %s)", identity, err, r.status, r.body)
	}
	tok, err := parseCreated(identity, r)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// parseCreated reads the SID out of a 201 body.
func parseCreated(identity string, r reply) (created, error) {
	var tok struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(r.body, &tok); err != nil {
		return created{}, fmt.Errorf("create %s: body %s: %w", identity, r.body, err)
	}
	if tok.SID == "" {
		return created{}, fmt.Errorf("create %s: body %s: no sid", identity, r.body)
	}
	return created{sid: tok.SID, identity: identity, body: r.body}, nil
}

// verifyFetches fetches every token with workers goroutines and reports
// each one that does not come back 200 with the body its create returned.
// It returns how many did.
func verifyFetches(t *testing.T, c *apiClient, tokens []created, workers int) int {
	t.Helper()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(tokens); i += workers {
				tok := tokens[i]
				r, err := c.fetch(t.Context(), tok.sid)
				switch {
				case err != nil:
					t.Errorf("fetch %s: %v", tok.sid, err)
				case r.status != http.StatusOK:
					t.Errorf("fetch %s: status %d, body %s; want 200", tok.sid, r.status, r.body)
				case string(r.body) != string(tok.body):
					t.Errorf("fetch %s:\n%s\nwant the body its create returned:\n%s", tok.sid, r.body, tok.body)
				default:
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(ok.Load())
}

// storedIdentities lists the identity of every access token in a database,
// read with SQL: the store interface has no way to list tokens.
func storedIdentities(t *testing.T, rows func(ctx context.Context, query string) ([]string, error)) []string {
	t.Helper()
	ids, err := rows(t.Context(), "SELECT identity FROM access_tokens")
	if err != nil {
		t.Fatalf("list stored tokens: %v", err)
	}
	return ids
}

// sqliteRows runs a one-column query on the SQLite file of a data dir that no
// process is using.
func sqliteRows(dataDir string) func(ctx context.Context, query string) ([]string, error) {
	return func(ctx context.Context, query string) ([]string, error) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, dbFile)+"?_busy_timeout=5000")
		if err != nil {
			return nil, err
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}
}

// postgresRows runs a one-column query on the database dsn names.
func postgresRows(dsn string) func(ctx context.Context, query string) ([]string, error) {
	return func(ctx context.Context, query string) ([]string, error) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return nil, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		rows, err := conn.Query(ctx, query)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
}

// checkSQLiteIntegrity runs SQLite's own consistency checks on the file of a
// data dir that no process is using.
func checkSQLiteIntegrity(t *testing.T, dataDir string) {
	t.Helper()
	rows := sqliteRows(dataDir)
	got, err := rows(t.Context(), "PRAGMA integrity_check")
	if err != nil || !slices.Equal(got, []string{"ok"}) {
		t.Errorf("PRAGMA integrity_check = %q, %v; want ok", got, err)
	}
	got, err = rows(t.Context(), "SELECT \"table\" FROM pragma_foreign_key_check")
	if err != nil || len(got) > 0 {
		t.Errorf("PRAGMA foreign_key_check = %q, %v; want no violations", got, err)
	}
}

// crashEngine is a store verifyd can run on, for the crash test.
type crashEngine struct {
	name string
	// prepare returns the -store value for a fresh, empty store ("" for
	// SQLite in the data dir) and a way to query it once verifyd is gone.
	prepare func(t *testing.T, dataDir string) (store string, rows func(ctx context.Context, query string) ([]string, error))
}

var crashEngines = []crashEngine{
	{
		name: "SQLite",
		prepare: func(t *testing.T, dataDir string) (string, func(context.Context, string) ([]string, error)) {
			return "", sqliteRows(dataDir)
		},
	},
	{
		name: "PostgreSQL",
		prepare: func(t *testing.T, dataDir string) (string, func(context.Context, string) ([]string, error)) {
			dsn := pgtest.NewDatabase(t) // skips without VERIFYKIT_TEST_POSTGRES, fails under CI
			requirePostgresEngine(t, dsn, dataDir)
			return dsn, postgresRows(dsn)
		},
	},
}

// requirePostgresEngine skips the test (fails it under CI) when this build's
// openStore cannot open a PostgreSQL store, and fails it when the server is
// unusable. It leaves the database migrated, which verifyd accepts.
func requirePostgresEngine(t *testing.T, dsn, dataDir string) {
	t.Helper()
	st, _, err := openStore(t.Context(), config{store: dsn, dataDir: dataDir})
	if err != nil && strings.Contains(err.Error(), "not supported") {
		if os.Getenv("CI") != "" {
			t.Fatalf("openStore: %v (CI must not skip PostgreSQL)", err)
		}
		t.Skipf("openStore: %v", err)
	}
	if err != nil {
		t.Fatalf("openStore(%s): %v", pgtest.EnvDSN, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashKeepsAcknowledgedCreates kills verifyd with SIGKILL in the middle
// of a burst of concurrent creates, starts it again on the same store, and
// checks that every create that was answered 201 before the kill is there,
// byte for byte; that nothing was stored that no request asked for; and,
// for SQLite, that the file passes integrity_check. A create whose answer
// was lost in the kill may or may not have been stored: the test counts
// those, and only checks that they are among the requests sent.
//
// With VERIFYKIT_TEST_POSTGRES set, the same runs against a fresh
// PostgreSQL database.
func TestCrashKeepsAcknowledgedCreates(t *testing.T) {
	const (
		workers   = 16
		killAfter = 300  // acknowledged creates before the SIGKILL
		maxSends  = 5000 // per worker: a bound if the kill never comes
	)
	bin := verifydBinary(t)
	for _, engine := range crashEngines {
		t.Run(engine.name, func(t *testing.T) {
			dataDir := t.TempDir()
			storeDSN, rows := engine.prepare(t, dataDir)
			args := []string{"-addr", "127.0.0.1:0", "-data-dir", dataDir, "-public-url", stablePublicURL, "-log-level", "warn"}
			if storeDSN != "" {
				args = append(args, "-store", storeDSN)
			}

			first := startChild(t, bin, args...)
			creds, err := readDevCreds(filepath.Join(dataDir, devCredentialsFile))
			if err != nil {
				t.Fatal(err)
			}
			c := newAPIClient(first.addr, creds)

			var (
				killed   atomic.Bool
				ackCount atomic.Int64
				mu       sync.Mutex
				acked    []created
				lost     []string // identities of creates whose answer the kill took
				sent     = make(map[string]bool)
			)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range maxSends {
						identity := fmt.Sprintf("crash-%d-%d", w, i)
						mu.Lock()
						sent[identity] = true
						mu.Unlock()
						r, err := c.create(t.Context(), identity)
						if err != nil {
							if !killed.Load() {
								t.Errorf("create %s failed before the kill: %v", identity, err)
							}
							mu.Lock()
							lost = append(lost, identity)
							mu.Unlock()
							return // the server is gone
						}
						if r.status != http.StatusCreated {
							t.Errorf("create %s: status %d, body %s; want 201", identity, r.status, r.body)
							return
						}
						tok, err := parseCreated(identity, r)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						acked = append(acked, tok)
						mu.Unlock()
						ackCount.Add(1)
					}
				})
			}

			// SIGKILL once enough creates are acknowledged, with every
			// worker's next create on the wire or about to be.
			begin := time.Now()
			for ackCount.Load() < killAfter && time.Since(begin) < 30*time.Second && !t.Failed() {
				time.Sleep(time.Millisecond)
			}
			killed.Store(true)
			first.kill(t)
			burst := time.Since(begin)
			wg.Wait()
			if len(acked) < killAfter {
				t.Fatalf("only %d creates acknowledged in %v before the kill, want at least %d", len(acked), burst, killAfter)
			}

			// Restart on the same store: every acknowledged create is there.
			second := startChild(t, bin, args...)
			again, err := readDevCreds(filepath.Join(dataDir, devCredentialsFile))
			if err != nil || *again != *creds {
				t.Fatalf("dev credentials after the restart = %+v, %v; want them unchanged", again, err)
			}
			verified := verifyFetches(t, newAPIClient(second.addr, creds), acked, workers)
			second.stop(t)

			// Nothing stored that was not asked for, and no acknowledged
			// create missing; some of the lost ones may be there.
			stored := storedIdentities(t, rows)
			inStore := make(map[string]bool, len(stored))
			for _, id := range stored {
				if !sent[id] {
					t.Errorf("the store holds a token for identity %q, which no request sent", id)
				}
				if inStore[id] {
					t.Errorf("the store holds identity %q twice", id)
				}
				inStore[id] = true
			}
			missing := 0
			for _, tok := range acked {
				if !inStore[tok.identity] {
					missing++
					t.Errorf("acknowledged create %s (%s) is not in the store", tok.sid, tok.identity)
				}
			}
			lostStored := 0
			for _, id := range lost {
				if inStore[id] {
					lostStored++
				}
			}
			if engine.name == "SQLite" {
				checkSQLiteIntegrity(t, dataDir)
			}
			if verified != len(acked) {
				t.Errorf("%d of %d acknowledged creates fetched identically after the restart", verified, len(acked))
			}
			t.Logf("%s: %d workers, SIGKILL after %v: %d creates acknowledged (201), %d failed in flight (%d of those stored anyway), %d/%d verified byte-identical after restart, %d tokens in the store, %d acknowledged lost",
				engine.name, workers, burst.Round(time.Millisecond), len(acked), len(lost), lostStored, verified, len(acked), len(stored), missing)
		})
	}
}
