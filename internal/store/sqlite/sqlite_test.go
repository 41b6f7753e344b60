package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestShared opens two stores on one file, as two verifyd processes
// pointed at the same database would: the committers of both take turns
// at the file's write lock.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "verifyd.db")
		return openAt(t, path), openAt(t, path)
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
// own, as another process would. It returns the function that releases it,
// which also runs when the test ends.
func holdWriteLock(t *testing.T, path string) (release func()) {
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
	release = sync.OnceFunc(func() {
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Errorf("release the write lock: %v", err)
		}
		conn.Close()
		db.Close()
	})
	t.Cleanup(release)
	return release
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

// TestIssueDeadlineNotStored checks that a create which failed with
// store.ErrUnavailable because its deadline passed while another connection
// held the write lock is not stored once the lock is released: verifyd
// answers it 503, and the client retries it, so storing it too would leave
// two tokens for one issue.
//
// The first create runs alone and keeps the committer busy waiting for the
// lock; the creates sent meanwhile queue up and are then committed together
// as one batch, which waits for the lock in BEGIN. With deadlines only, the
// batch must give up by the latest of them; with a create without a deadline
// among them, BEGIN waits until the lock is released, and the batch must
// then store that create alone.
func TestIssueDeadlineNotStored(t *testing.T) {
	const (
		loneDeadline    = 200 * time.Millisecond
		batchedDeadline = 400 * time.Millisecond
		// queueAfter lets the committer take the lone create first.
		queueAfter = 50 * time.Millisecond
	)
	for _, withoutDeadline := range []bool{false, true} {
		name := "AllDeadlines"
		if withoutDeadline {
			name = "OneWithoutDeadline"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verifyd.db")
			s := openAt(t, path)
			seedOwners(t, s)
			release := holdWriteLock(t, path)

			create := func(tok store.AccessToken, timeout time.Duration) <-chan error {
				done := make(chan error, 1)
				go func() {
					ctx, cancel := t.Context(), context.CancelFunc(func() {})
					if timeout > 0 {
						ctx, cancel = context.WithTimeout(ctx, timeout)
					}
					defer cancel()
					done <- s.CreateAccessToken(ctx, tok)
				}()
				return done
			}
			lone := benchToken(1)
			failing := map[string]<-chan error{lone.SID: create(lone, loneDeadline)}
			time.Sleep(queueAfter)
			for n := range int64(2) {
				tok := benchToken(10 + n)
				failing[tok.SID] = create(tok, batchedDeadline)
			}
			kept := benchToken(20)
			var keptDone <-chan error
			if withoutDeadline {
				keptDone = create(kept, 0)
			}

			for sid, done := range failing {
				err := <-done
				for _, target := range []error{store.ErrUnavailable, context.DeadlineExceeded} {
					if !errors.Is(err, target) {
						t.Errorf("CreateAccessToken %s under a held write lock: error = %v, want one wrapping %v", sid, err, target)
					}
				}
			}
			release()
			if withoutDeadline {
				if err := <-keptDone; err != nil {
					t.Errorf("CreateAccessToken %s without a deadline: %v, want it stored once the lock is released", kept.SID, err)
				}
			}
			// The committer runs writes one batch after another, so once this
			// one returns the batch above has ended.
			after := benchToken(30)
			if err := s.CreateAccessToken(t.Context(), after); err != nil {
				t.Fatalf("CreateAccessToken after the lock was released: %v", err)
			}

			ctx := t.Context()
			for sid := range failing {
				_, err := s.FetchAccessToken(ctx, lone.AccountSID, lone.ServiceSID, sid)
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("FetchAccessToken %s, whose create failed with ErrUnavailable: error = %v, want %v", sid, err, store.ErrNotFound)
				}
			}
			stored := []string{after.SID}
			if withoutDeadline {
				stored = append(stored, kept.SID)
			}
			for _, sid := range stored {
				if _, err := s.FetchAccessToken(ctx, lone.AccountSID, lone.ServiceSID, sid); err != nil {
					t.Errorf("FetchAccessToken %s, whose create succeeded: %v", sid, err)
				}
			}
		})
	}
}

// TestPingReadsTheFile checks that Ping, which /readyz calls, fails once the
// database file can no longer be read as verifyd's database while the store
// is open, and that a write lock held by another connection does not fail
// it, since WAL readers go on. Damage done behind SQLite's back stands in for
// a failing disk: the tests run as root, whom permissions do not stop.
func TestPingReadsTheFile(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		ok     bool // Ping must still succeed
	}{
		{name: "WriteLockHeld", damage: func(t *testing.T, path string) { holdWriteLock(t, path) }, ok: true},
		{name: "Truncated", damage: func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Zeroed", damage: func(t *testing.T, path string) { zero(t, path, 0) }},
		{name: "TablesZeroed", damage: func(t *testing.T, path string) { zero(t, path, 4096) }}, // page 1 intact
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verifyd.db")
			// Closing the first store checkpoints everything into the file, so
			// the second one's WAL is empty and it reads the file itself.
			s, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			seedOwners(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openAt(t, path)
			for range 3 { // warm the reader's cache
				if err := s.Ping(t.Context()); err != nil {
					t.Fatalf("Ping before the damage: %v", err)
				}
			}
			tt.damage(t, path)
			err = s.Ping(t.Context())
			if tt.ok && err != nil {
				t.Errorf("Ping = %v, want nil", err)
			}
			if !tt.ok && err == nil {
				t.Error("Ping = nil, want an error")
			}
		})
	}
}

// zero overwrites the file at path with zeros from offset on.
func zero(t *testing.T, path string, offset int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= offset {
		t.Fatalf("%s has %d bytes, want more than %d", path, fi.Size(), offset)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, fi.Size()-offset), offset); err != nil {
		t.Fatal(err)
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
	ent := store.Entity{SID: "YE1", AccountSID: "AC1", ServiceSID: "VA1", Identity: "id", DateCreated: at, DateUpdated: at}
	fac := store.Factor{SID: "YF1", AccountSID: "AC1", ServiceSID: "VA1", EntitySID: "YE1", Identity: "id", CredentialSID: "CR1", FriendlyName: "phone", Verified: true, PublicKey: []byte{0, 1, 2}, NotificationPlatform: &name, Metadata: map[string]string{"os": "iOS"}, DateCreated: at, DateUpdated: at}

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
	if _, err := s.CreateFactor(ctx, ent, fac, "YK1", nil); err != nil {
		t.Fatalf("CreateFactor: %v", err)
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
	gotEnt, err := s.FetchEntity(ctx, "AC1", "VA1", "id")
	check(t, "FetchEntity", ent, gotEnt, err)
	gotFac, err := s.FetchFactor(ctx, "AC1", "VA1", "id", "YF1")
	check(t, "FetchFactor", fac, gotFac, err)
	fac.SID, fac.CredentialSID, fac.PublicKey = "YF2", "CR2", []byte{3}
	if _, err := s.CreateFactor(ctx, ent, fac, "YK1", nil); !errors.Is(err, store.ErrUsed) {
		t.Errorf("CreateFactor with the token used before the reopen: error = %v, want one wrapping %v", err, store.ErrUsed)
	}
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
		// want, if set, is in the error.
		want string
	}{
		{
			name: "EmptyPath",
			path: func(*testing.T) string { return "" },
		},
		{
			name: "MissingDirectory",
			path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing", "verifyd.db") },
			is:   store.ErrUnavailable,
			want: "its directory does not exist",
		},
		{
			name: "Directory",
			path: func(t *testing.T) string { return t.TempDir() },
			is:   store.ErrUnavailable,
			want: "cannot write the database file (is a directory)",
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
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error = %v, want it to say %q", path, err, tt.want)
			}
			if path != "" && strings.Count(err.Error(), path) != 1 {
				t.Errorf("Open(%q) error = %v, want the path named once", path, err)
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
	seedOwners(b, s)
	return s
}

// seedOwners creates the account and service benchToken uses.
func seedOwners(tb testing.TB, s *sqlite.Store) {
	tb.Helper()
	ctx := tb.Context()
	if err := s.CreateAccount(ctx, store.Account{SID: "AC00000000000000000000000000000001", DateCreated: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	if err := s.CreateService(ctx, store.Service{SID: "VA00000000000000000000000000000001", AccountSID: "AC00000000000000000000000000000001", DateCreated: time.Now()}); err != nil {
		tb.Fatal(err)
	}
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
