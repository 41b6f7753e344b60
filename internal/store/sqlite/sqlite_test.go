package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/internal/store/storetest"
)

// openAt opens a store at path and closes it when the test ends.
func openAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "verifyd.db"))
	})
}

// TestUnavailable breaks the store the way SQLite really becomes unavailable
// to a running verifyd: another process holds the write lock (a backup, a
// second verifyd pointed at the same file). Making the file unwritable is no
// test here, because the tests run as root, whom permissions do not stop.
// Writes wait for the lock until the call's deadline and then fail with
// store.ErrUnavailable; WAL readers keep serving.
func TestUnavailable(t *testing.T) {
	storetest.RunUnavailable(t, func(t *testing.T) (store.Store, func()) {
		path := filepath.Join(t.TempDir(), "verifyd.db")
		s := openAt(t, path)
		return s, func() { holdWriteLock(t, path) }
	})
}

// holdWriteLock takes the database's write lock from a connection of its
// own, as another process would, and releases it when the test ends.
func holdWriteLock(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background() // outlives t.Context for the cleanup
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	t.Cleanup(func() {
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Errorf("release the write lock: %v", err)
		}
		conn.Close()
		db.Close()
	})
}

// TestUnavailableDeadlineWrapsCause checks that the error a lock timeout
// produces still tells the deadline apart, for logging.
func TestUnavailableDeadlineWrapsCause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verifyd.db")
	s := openAt(t, path)
	holdWriteLock(t, path)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := s.CreateAccount(ctx, store.Account{SID: "AC1"})
	for _, target := range []error{store.ErrUnavailable, context.DeadlineExceeded} {
		if !errors.Is(err, target) {
			t.Errorf("CreateAccount under a held write lock: error = %v, want one wrapping %v", err, target)
		}
	}
}

// TestPersistence writes one record of every kind, closes the store, opens
// the same file again and reads them back.
func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verifyd.db")
	at := time.Date(2024, time.July, 1, 12, 0, 0, 0, time.UTC)
	acct := store.Account{SID: "AC1", FriendlyName: "acct", AuthTokenHash: "h", DateCreated: at}
	key := store.APIKey{SID: "SK1", AccountSID: "AC1", FriendlyName: "key", SecretHash: "h", DateCreated: at}
	svc := store.Service{SID: "VA1", AccountSID: "AC1", FriendlyName: "svc", DateCreated: at}
	name := "phone"
	tok := store.AccessToken{SID: "YK1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "id", FactorType: "push", FactorFriendlyName: &name, TTL: 60, Token: "a.b.c.d.e", DateCreated: at}
	tk := store.TokenKey{ID: "k1", Secret: []byte{1, 2, 3}, Created: at}

	ctx := t.Context()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, err := range []error{
		s.CreateAccount(ctx, acct),
		s.CreateAPIKey(ctx, key),
		s.CreateService(ctx, svc),
		s.CreateAccessToken(ctx, tok),
		s.AddTokenKey(ctx, tk),
	} {
		if err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path)
	gotAcct, err := s.FetchAccount(ctx, "AC1")
	check(t, "FetchAccount", acct, gotAcct, err)
	gotKey, err := s.FetchAPIKey(ctx, "SK1")
	check(t, "FetchAPIKey", key, gotKey, err)
	gotSvc, err := s.FetchService(ctx, "AC1", "VA1")
	check(t, "FetchService", svc, gotSvc, err)
	gotTok, err := s.FetchAccessToken(ctx, "AC1", "VA1", "YK1")
	check(t, "FetchAccessToken", tok, gotTok, err)
	gotKeys, err := s.TokenKeys(ctx)
	check(t, "TokenKeys", []store.TokenKey{tk}, gotKeys, err)
}

// check reports err, or any difference between want and got.
func check(t *testing.T, call string, want, got any, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s after reopen: %v", call, err)
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s after reopen mismatch (-want +got):\n%s", call, diff)
	}
}

// TestMigrationsIdempotent opens the same file three times and checks that
// each migration is recorded once and the schema is not applied again.
func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verifyd.db")
	for i := range 3 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migration files found: %v", err)
	}
	var wantNames []string
	for _, f := range files {
		wantNames = append(wantNames, filepath.Base(f))
	}

	db := rawDB(t, path)
	var gotNames []string
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		gotNames = append(gotNames, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("schema_migrations after three opens mismatch (-want +got):\n%s", diff)
	}
}

// rawDB opens path with the driver alone, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDurabilitySettings checks, from a connection of its own, that the file
// is in WAL mode, the setting that persists in the database itself.
func TestDurabilitySettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verifyd.db")
	openAt(t, path)
	var mode string
	if err := rawDB(t, path).QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want %q", mode, "wal")
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
		// is, if set, is a sentinel the error must wrap.
		is error
	}{
		{
			name: "EmptyPath",
			path: func(*testing.T) string { return "" },
		},
		{
			name: "MissingDirectory",
			path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing", "verifyd.db") },
			is:   store.ErrUnavailable,
		},
		{
			name: "Directory",
			path: func(t *testing.T) string { return t.TempDir() },
			is:   store.ErrUnavailable,
		},
		{
			name: "NotADatabase",
			path: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "verifyd.db")
				if err := os.WriteFile(p, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
		},
		{
			name: "NewerSchema",
			path: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "verifyd.db")
				s, err := sqlite.Open(t.Context(), p)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := rawDB(t, p).ExecContext(t.Context(),
					`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
					t.Fatal(err)
				}
				return p
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			s, err := sqlite.Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", path)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Open(%q) error = %v, want one wrapping %v", path, err, tt.is)
			}
		})
	}
}

// TestOpenPathSpecialCharacters checks that characters that mean something
// in a SQLite URI reach the file system unchanged.
func TestOpenPathSpecialCharacters(t *testing.T) {
	for _, name := range []string{"a?b.db", "a#b.db", "a%20b.db", "a&_txlock=x.db", "spaced name.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			openAt(t, path)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("Open(%q) did not create that file: %v", path, err)
			}
		})
	}
}

// benchToken is an access token of realistic size.
func benchToken(n int64) store.AccessToken {
	name := "John Doe iPhone"
	return store.AccessToken{
		SID:                fmt.Sprintf("YK%032x", n),
		AccountSID:         "AC00000000000000000000000000000001",
		ServiceSID:         "VA00000000000000000000000000000001",
		Identity:           "ff483d1ff591898a9942916050d2ca3f",
		FactorType:         "push",
		FactorFriendlyName: &name,
		TTL:                300,
		Token:              strings.Repeat("x", 560),
		DateCreated:        time.Now(),
	}
}

// benchStore opens a store seeded with the account and service benchToken
// uses.
func benchStore(b *testing.B) *sqlite.Store {
	b.Helper()
	s := openAt(b, filepath.Join(b.TempDir(), "verifyd.db"))
	ctx := b.Context()
	if err := s.CreateAccount(ctx, store.Account{SID: "AC00000000000000000000000000000001", DateCreated: time.Now()}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateService(ctx, store.Service{SID: "VA00000000000000000000000000000001", AccountSID: "AC00000000000000000000000000000001", DateCreated: time.Now()}); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkCreateAccessToken measures durable creates; creates/s is the
// number to watch.
func BenchmarkCreateAccessToken(b *testing.B) {
	b.Run("Serial", func(b *testing.B) {
		s := benchStore(b)
		ctx := b.Context()
		var n int64
		for b.Loop() {
			n++
			if err := s.CreateAccessToken(ctx, benchToken(n)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})
	b.Run("Parallel", func(b *testing.B) {
		s := benchStore(b)
		ctx := b.Context()
		var n atomic.Int64
		b.SetParallelism(16) // many concurrent requests, as behind an HTTP server
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.CreateAccessToken(ctx, benchToken(n.Add(1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})
}

// BenchmarkFetchAccessToken measures concurrent fetches from 1,000 tokens.
func BenchmarkFetchAccessToken(b *testing.B) {
	const tokens = 1000
	s := benchStore(b)
	ctx := b.Context()
	for i := range int64(tokens) {
		if err := s.CreateAccessToken(ctx, benchToken(i)); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tok := benchToken(n.Add(1) % tokens)
			if _, err := s.FetchAccessToken(ctx, tok.AccountSID, tok.ServiceSID, tok.SID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fetches/s")
}
