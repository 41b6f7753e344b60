package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
