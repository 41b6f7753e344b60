// Package sqlite is verifyd's embedded default storage engine: one SQLite
// file, driven by modernc.org/sqlite (pure Go, no cgo).
//
// Durability: the database runs in WAL mode with synchronous=FULL, so every
// acknowledged write has been synced to the WAL before the call returns and
// survives a crash or power loss.
//
// Concurrency: SQLite allows one writer at a time. A Store therefore keeps
// two connection pools on the file: a writer with a single connection, used
// only by one goroutine, the committer, so concurrent creates queue instead
// of failing with SQLITE_BUSY; and a pool of query-only readers, which WAL
// lets read while the writer commits. The committer runs a lone write as one
// autocommit statement, and writes that queued up meanwhile as one short
// transaction with one sync (group commit), so throughput under load is not
// capped by the disk's sync rate. A write of several statements, such as
// creating a factor (find or create the entity, count its factors, record
// the access token, insert), goes through the committer as one unit: a
// transaction of its own, or a savepoint inside a batch. Since the
// committer runs one write at a time, what such a write reads cannot
// change before it writes.
//
// The schema is migrated at Open from the numbered files embedded from
// migrations/.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/migration"
)

// busyTimeoutMillis bounds how long a statement waits for a lock held by
// another connection to the file (a second process, a backup) before it
// fails with store.ErrUnavailable. A call's context deadline ends the wait
// sooner.
const busyTimeoutMillis = 5000

// Store is a store.Store backed by a SQLite file. It is safe for concurrent
// use.
type Store struct {
	writer *sql.DB // exactly one connection, used by the committer only
	reader *sql.DB // query_only connections for fetches and lists
	stmts  statements

	writes   chan *writeReq // to the committer, see exec
	quit     chan struct{}  // closed by Close to stop the committer
	loopDone chan struct{}  // closed by the committer when it returns
	closed   atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open opens, creating it if needed, the SQLite database at path and
// migrates it to the current schema. The directory must already exist.
// The database and its -wal and -shm files are kept private to the user:
// a new database file is created 0600, and group and other permissions
// are taken away from existing ones. The caller must Close the returned
// Store. An error names path, so callers need not repeat it.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, explainOpen(path, err))
	}
	return s, nil
}

// open does the work of Open; on failure it closes whatever it opened.
func open(ctx context.Context, path string) (_ *Store, err error) {
	migrations, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}

	if err := makePrivate(path); err != nil {
		return nil, err
	}

	s := &Store{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.closeDBs())
		}
	}()

	// _txlock=immediate makes the migration transaction take the write lock
	// up front, so it cannot fail halfway with SQLITE_BUSY on lock upgrade.
	s.writer, err = sql.Open("sqlite", dsn(path, url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMillis)},
		"_foreign_keys": {"on"},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		"_txlock":       {"immediate"},
	}))
	if err != nil {
		return nil, err
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	if err := checkWriter(ctx, s.writer); err != nil {
		return nil, translate(err)
	}
	if err := migrate(ctx, s.writer, migrations); err != nil {
		return nil, translate(err)
	}

	// The readers open the file only after the writer has switched it to WAL
	// mode, which persists in the file, so they need not set it themselves.
	s.reader, err = sql.Open("sqlite", dsn(path, url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMillis)},
		"_query_only":   {"on"},
	}))
	if err != nil {
		return nil, err
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.reader.SetMaxOpenConns(readers)
	s.reader.SetMaxIdleConns(readers) // keep them: opening one runs its pragmas again
	if err := s.reader.PingContext(ctx); err != nil {
		return nil, translate(err)
	}

	if err := s.stmts.prepare(ctx, s.writer, s.reader); err != nil {
		return nil, translate(err)
	}

	s.writes = make(chan *writeReq)
	s.quit = make(chan struct{})
	s.loopDone = make(chan struct{})
	go s.commitLoop()
	return s, nil
}

// makePrivate keeps the database file and its -wal and -shm files, which
// hold the token keys in clear and every token, from other users. It
// creates a missing database file 0600 before SQLite opens it, because
// SQLite creates it 0644 less the umask and then gives the -wal and -shm
// files the database file's mode; and it takes group and other permissions
// away from those of the three files that exist, such as files an older
// verifyd made or a crash left behind. Owner bits are kept, so a read-only
// file stays read-only.
//
// When the file cannot be created (a missing or read-only directory), it
// leaves the failure to SQLite, whose error explainOpen explains.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return fmt.Errorf("create the database file: %w", cause(err))
		}
	case errors.Is(err, fs.ErrExist):
	default:
		return nil
	}
	for _, f := range []struct{ path, what string }{
		{path, "the database file"},
		{path + "-wal", "its -wal file"},
		{path + "-shm", "its -shm file"},
	} {
		info, err := os.Stat(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check the mode of %s: %w", f.what, cause(err))
		}
		perm := info.Mode().Perm()
		if !info.Mode().IsRegular() || perm&0o077 == 0 {
			continue
		}
		if err := os.Chmod(f.path, perm&^0o077); err != nil {
			return fmt.Errorf("make %s private (mode %v): %w", f.what, perm, cause(err))
		}
	}
	return nil
}

// dsn returns a SQLite URI for path with the driver parameters in params.
// The URI form keeps a path containing '?' or '#' intact, and lets SQLite
// read its own URI parameters too.
func dsn(path string, params url.Values) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	if strings.HasPrefix(escaped, "//") {
		// "file://" would start an authority; a run of slashes is one slash.
		escaped = "/" + strings.TrimLeft(escaped, "/")
	}
	return "file:" + escaped + "?" + params.Encode()
}

// checkWriter opens the writer's connection and verifies that the pragmas the
// durability and ownership guarantees rest on took effect: SQLite ignores a
// WAL request it cannot honour (some network file systems) and reports the
// old mode instead of failing.
func checkWriter(ctx context.Context, db *sql.DB) error {
	checks := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
	}
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	for _, c := range checks {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			return fmt.Errorf("read pragma %s: %w", c.pragma, err)
		}
		if !strings.EqualFold(got, c.want) {
			return fmt.Errorf("pragma %s is %q, want %q", c.pragma, got, c.want)
		}
	}
	return nil
}

// Close stops the committer, after it has answered the writes it took, and
// closes both connection pools. Calls made after Close fail with
// store.ErrUnavailable. Later calls to Close return nil.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.quit)
	<-s.loopDone
	if err := s.closeDBs(); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// closeDBs closes whatever Open got as far as creating. The writer closes
// last: the last connection to close checkpoints the WAL into the database
// file.
func (s *Store) closeDBs() error {
	errs := []error{s.stmts.close()}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	return errors.Join(errs...)
}

// Ping reads the database from a reader connection, so it fails once the
// file can no longer be read or no longer holds verifyd's schema (a disk
// error, a file truncated or overwritten). A write lock held by another
// connection does not fail it: in WAL mode readers go on, and so do the
// store's fetches.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.ping(ctx); err != nil {
		return fmt.Errorf("ping sqlite store: %w", s.translate(err))
	}
	return nil
}

// ping does the work of Ping. A connection keeps the pages it read in its
// own cache while the WAL is unchanged, so the connection drops them first
// (PRAGMA shrink_memory), and its query reads page 1 and a table from the
// file again; SELECT 1 would read nothing. Only that connection's cache is
// dropped, and the operating system's cache still serves the reads, so a
// ping stays cheap.
func (s *Store) ping(ctx context.Context) error {
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA shrink_memory"); err != nil {
		return err
	}
	var n int
	return conn.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n)
}

// unix converts t to the stored form: whole seconds since the Unix epoch.
// Dropping the fraction truncates toward the past, as time.Truncate does.
func unix(t time.Time) int64 { return t.Unix() }

// fromUnix converts a stored time back to a UTC time.Time.
func fromUnix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
