package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/verifykit/verifykit/internal/store"
)

// errClosed is the cause wrapped with store.ErrUnavailable for calls made
// after Close.
var errClosed = errors.New("postgres store is closed")

// SQLSTATE codes the store tells apart. See
// https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// unavailableState reports whether a SQLSTATE means "the database cannot
// serve this now; try again": the connection broke (class 08), the server
// is out of connections, memory or disk (53), shutting down, restarting or
// not yet accepting connections (57P01, 57P02, 57P03), the statement was
// cancelled or timed out (57014), a lock could not be had (55P03), the
// server is a read-only standby, as after a failover (25006), the server
// hit an I/O error (58), or the transaction lost a serialization race or a
// deadlock (40001, 40P01).
func unavailableState(code string) bool {
	switch class(code) {
	case "08", "53", "58":
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03", "57014", "55P03", "25006", "40001", "40P01":
		return true
	}
	return false
}

// brokenState reports whether a SQLSTATE, one of the unavailable ones, says
// that every pooled connection is likely dead: the connection failed, or
// the server shut down or crashed. See Store.translate.
func brokenState(code string) bool {
	return class(code) == "08" || code == "57P01" || code == "57P02"
}

// class is the two-character class of a SQLSTATE.
func class(code string) string {
	if len(code) < 2 {
		return code
	}
	return code[:2]
}

// failure is what translate makes of an error.
type failure int

const (
	// failOther is an error the store passes on as is: a bug in a query, a
	// cancelled context, an unexpected server error.
	failOther failure = iota
	// failNotFound is no rows, or a failed foreign key.
	failNotFound
	// failConflict is a duplicate primary key.
	failConflict
	// failUnavailable is a database that answered "not now", or a deadline
	// that passed.
	failUnavailable
	// failBroken is a lost or refused connection: unavailable, and the other
	// pooled connections are suspect too.
	failBroken
)

// classify sorts a pgx error into a failure. ctx is the context of the call
// that failed: pgx does not always wrap the context's error when a deadline
// or cancellation cuts a connection short.
func classify(ctx context.Context, err error) failure {
	if errors.Is(err, pgx.ErrNoRows) {
		return failNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == uniqueViolation:
			return failConflict
		case pe.Code == foreignKeyViolation:
			return failNotFound
		case brokenState(pe.Code):
			return failBroken
		case unavailableState(pe.Code):
			return failUnavailable
		}
		return failOther
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(ctx.Err(), context.Canceled):
		return failOther
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded):
		return failUnavailable
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, pgconn.ErrConnClosed), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return failBroken
	}
	return failOther
}

// translate maps a pgx error onto the store sentinels, so callers never need
// to know the driver:
//
//   - no rows, and a failed foreign key (the owning account or service does
//     not exist or belongs to another account), are store.ErrNotFound;
//   - a unique violation is store.ErrConflict;
//   - a refused or lost connection, a server that is shutting down, full or
//     read-only, and a passed context deadline, are store.ErrUnavailable,
//     which then also wraps the cause (context.DeadlineExceeded among them)
//     so it can be logged and told apart.
//
// A cancelled context stays context.Canceled. Anything else is returned as
// is.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	err = oneLine(err)
	switch classify(ctx, err) {
	case failNotFound:
		return store.ErrNotFound
	case failConflict:
		return store.ErrConflict
	case failUnavailable, failBroken:
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			return fmt.Errorf("%w: %w: %w", store.ErrUnavailable, cerr, err)
		}
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// oneLine returns err, or, if its message spans several lines (pgx lists
// every address it tried to connect to on a line of its own), err behind a
// message on one line, for the command line and the logs. errors.Is and
// errors.As see through it.
func oneLine(err error) error {
	if !strings.Contains(err.Error(), "\n") {
		return err
	}
	return &oneLineError{err: err}
}

// oneLineError is an error whose message is put on one line.
type oneLineError struct{ err error }

func (e *oneLineError) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	// "prefix:\n\tfirst\n\tsecond" reads "prefix: first; second".
	msg := lines[0]
	for i, l := range lines[1:] {
		switch {
		case l == "":
		case i == 0 && strings.HasSuffix(msg, ":"):
			msg += " " + l
		default:
			msg += "; " + l
		}
	}
	return msg
}

func (e *oneLineError) Unwrap() error { return e.err }
