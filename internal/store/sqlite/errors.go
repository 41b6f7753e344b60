package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/verifykit/verifykit/internal/store"
)

// errClosed is the cause wrapped with store.ErrUnavailable for calls made
// after Close.
var errClosed = errors.New("sqlite store is closed")

// translate maps a database/sql or SQLite error onto the store sentinels,
// so callers never need to know the driver:
//
//   - no rows, and a failed foreign key (the owning account or service does
//     not exist), are store.ErrNotFound;
//   - a primary key or unique violation is store.ErrConflict;
//   - a database that is busy, locked, read-only, unopenable, failing I/O or
//     full, and a passed context deadline, are store.ErrUnavailable, which
//     then also wraps the cause so it can be logged.
//
// Anything else (corruption, a bug in a query, a cancelled context) is
// returned as is.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_PERM:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// translate is the package-level translate, except that once the store is
// closed every failure is store.ErrUnavailable: database/sql reports a closed
// pool with an unexported error, and a call racing Close may see either.
func (s *Store) translate(err error) error {
	if err != nil && s.closed.Load() {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, errClosed)
	}
	return translate(err)
}

// explainOpen adds to err, an error of open, why SQLite could not open or
// write the database at path when that is a file system matter an operator
// can fix (a missing or read-only directory, files owned by another user):
// SQLite itself says only "unable to open database file" or "attempt to
// write a readonly database". It finds the reason by trying what SQLite
// needs, to create files in the directory (the database, its -wal and -shm
// files) and to write those that exist, and adds nothing if that all works
// or err is not such a failure. The result still wraps err.
func explainOpen(path string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
	default:
		return err
	}
	if reason := notWritable(path); reason != "" {
		return fmt.Errorf("%s: %w", reason, err)
	}
	return err
}

// notWritable returns why this process cannot create files beside path or
// write path and its -wal and -shm files, or "" if it can. The message does
// not repeat path, which the caller's error names.
func notWritable(path string) string {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "its directory does not exist"
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		// "permission denied", "read-only file system", ...
		return fmt.Sprintf("cannot create files in its directory (%v)", cause(err))
	}
	// Only creating the probe mattered; an empty file left behind is harmless.
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	for _, f := range []struct{ path, what string }{
		{path, "the database file"},
		{path + "-wal", "its -wal file"},
		{path + "-shm", "its -shm file"},
	} {
		file, err := os.OpenFile(f.path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Sprintf("cannot write %s (%v)", f.what, cause(err))
		}
		_ = file.Close() // opened to test the permission, never written
	}
	return ""
}

// cause returns the system error of a file operation, without the path
// and operation that *fs.PathError adds.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
