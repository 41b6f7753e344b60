package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/verifykit/verifykit/internal/store"
)

// maxBatch caps how many writes share one transaction.
const maxBatch = 128

// writeReq is one write handed to the committer. It carries the caller's
// context because it is a message for one call, as an *http.Request is:
// the committer checks it before running the write.
//
// A write is either one prepared statement (stmt and args) or a function
// of several statements (fn), which runs as a unit: see transact.
type writeReq struct {
	ctx  context.Context
	stmt *sql.Stmt // prepared on the writer pool
	args []any
	fn   txFunc
	done chan error // buffered, so the committer never waits for a caller that gave up
}

// txFunc is a write of several statements, run on the writer connection
// inside a transaction that the committer owns. It must use only tx and
// ctx, and must not commit or roll back. It may read what it needs to
// decide (a count against a limit, whether a row exists): the committer
// runs one write at a time, so nothing changes between its reads and its
// writes.
//
// Its error decides what happens to the batch it shares a transaction
// with: a constraint violation or a store sentinel (see ownFailure) undoes
// its own statements only, anything else fails the whole batch.
type txFunc func(ctx context.Context, tx *sql.Tx) error

// exec runs a prepared write and returns once it is durable or has failed.
//
// All writes go through one goroutine, the committer (see commitLoop). A
// write that arrives while the committer is idle runs on its own as one
// autocommit statement. Writes that arrive while it is busy are committed
// together in one transaction, and so share one WAL sync: group commit. That
// is what lets concurrent creates outrun the disk's sync rate, which alone
// would cap them at one create per sync.
//
// If ctx ends first, exec returns ctx.Err(). A write that has not run by
// then is never committed (see commitBatch); one that was running may still
// be, as with any database whose acknowledgement is lost.
func (s *Store) exec(ctx context.Context, stmt *sql.Stmt, args ...any) error {
	return s.send(ctx, &writeReq{ctx: ctx, stmt: stmt, args: args, done: make(chan error, 1)})
}

// transact runs fn through the committer as one atomic write, as exec
// runs a statement: alone, fn runs in a transaction of its own under ctx;
// batched, it runs between a SAVEPOINT and its RELEASE in the batch's
// transaction, and a failure rolls back to the savepoint. Either way
// nothing fn wrote is stored unless it returned nil and the transaction
// committed. Values fn computes may be read once transact returns nil.
func (s *Store) transact(ctx context.Context, fn txFunc) error {
	return s.send(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// send hands req to the committer and waits for its answer or ctx.
func (s *Store) send(ctx context.Context, req *writeReq) error {
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errClosed
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop is the committer. It runs from Open until Close closes quit,
// taking whatever writes are waiting, up to maxBatch, and committing them.
func (s *Store) commitLoop() {
	defer close(s.loopDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case req := <-s.writes:
			batch = append(batch[:0], req)
		case <-s.quit:
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case req := <-s.writes:
				batch = append(batch, req)
			default:
				break collect
			}
		}
		s.commit(batch)
		clear(batch) // let the finished requests be collected
	}
}

// commit runs a batch and answers every request in it.
func (s *Store) commit(batch []*writeReq) {
	live := batch[:0]
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.done <- err // the caller has gone; do not write for it
			continue
		}
		live = append(live, req)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		// Alone, the write runs under its caller's context, so a deadline
		// also ends a wait for a lock held by another process.
		req := live[0]
		if req.fn != nil {
			req.done <- s.runAlone(req)
			return
		}
		_, err := req.stmt.ExecContext(req.ctx, req.args...)
		req.done <- err
		return
	}
	errs := make([]error, len(live))
	err := s.commitBatch(live, errs)
	for i, req := range live {
		if err != nil {
			req.done <- err
		} else {
			req.done <- errs[i]
		}
	}
}

// commitBatch runs the writes of batch in one transaction, recording in errs
// those that fail on their own account (ownFailure): a statement that breaks
// a constraint (a duplicate key, a missing owner), which SQLite undoes alone,
// or a txFunc that failed, which runSavepoint rolls back to its savepoint;
// the transaction goes on. Any other failure rolls the whole transaction
// back and is returned, so every write in the batch fails with it.
//
// A caller whose deadline passes has been answered store.ErrUnavailable,
// which verifyd turns into a 503 that clients retry, so the batch must not
// store its write after that. BEGIN IMMEDIATE, which waits for a write lock
// held by another connection, therefore gives up at the latest deadline in
// the batch (or after busy_timeout if a write has none), and once it holds
// the lock every write whose context has ended is left out and answered with
// its context's error. The transaction is bound to that latest deadline too:
// if it passes before COMMIT, database/sql rolls the transaction back and no
// write of the batch is stored, since every caller has then given up. Only
// a caller whose deadline passes after its write has run, while the batch
// finishes, can be answered ErrUnavailable for a stored write, as the store
// contract allows: its answer was lost.
//
// The statements do not run under their callers' contexts: interrupting one
// statement would roll back the whole transaction. Once the write lock is
// held they do not wait for anything but the disk.
func (s *Store) commitBatch(batch []*writeReq, errs []error) error {
	ctx, cancel := batchContext(batch)
	defer cancel()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return batchErr(ctx, err)
	}
	run := context.Background() // see above: statements are not interrupted
	ran := 0
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			errs[i] = err // the caller has been answered; do not write for it
			continue
		}
		var err error
		if req.fn != nil {
			err = runSavepoint(run, tx, req.fn)
		} else {
			_, err = tx.StmtContext(run, req.stmt).ExecContext(run, req.args...)
		}
		if err != nil && !ownFailure(err) {
			return batchErr(ctx, errors.Join(err, ignoreDone(tx.Rollback())))
		}
		errs[i] = err
		ran++
	}
	if ran == 0 {
		// Nothing to store: a rollback spares the sync a commit would cost.
		return ignoreDone(tx.Rollback())
	}
	return batchErr(ctx, tx.Commit())
}

// runAlone runs req.fn in a transaction of its own, under the caller's
// context: BEGIN IMMEDIATE takes the write lock before fn reads anything.
func (s *Store) runAlone(req *writeReq) error {
	tx, err := s.writer.BeginTx(req.ctx, nil)
	if err != nil {
		return err
	}
	if err := req.fn(req.ctx, tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// runSavepoint runs fn inside tx between a savepoint and its release. When
// fn fails on its own account (ownFailure), everything it wrote is rolled
// back to the savepoint and its error returned, and the transaction goes
// on; any other error is returned for the caller to abandon tx.
func runSavepoint(ctx context.Context, tx *sql.Tx, fn txFunc) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
		return err
	}
	err := fn(ctx, tx)
	if err != nil {
		if !ownFailure(err) {
			return err
		}
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO write"); rerr != nil {
			return rerr
		}
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE write"); rerr != nil {
		return rerr
	}
	return err
}

// batchContext returns the context a batch's transaction runs under: it ends
// at the latest deadline of the batch's requests, or never if one of them
// has no deadline.
func batchContext(batch []*writeReq) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, req := range batch {
		d, ok := req.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}

// batchErr returns err, or the batch context's error if that has ended: then
// database/sql has rolled the transaction back, or is about to, and err may
// be only the sql.ErrTxDone that follows.
func batchErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// ownFailure reports whether err fails only the write that returned it: a
// constraint violation (a duplicate key, a missing owner) or a store
// sentinel that a txFunc decided on (not found, a limit reached, a
// challenge answered or expired). The batch's other writes go on.
func ownFailure(err error) bool {
	return isConstraint(err) || errors.Is(err, sql.ErrNoRows) ||
		errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrTooMany) || errors.Is(err, store.ErrUsed) ||
		errors.Is(err, store.ErrAnswered) || errors.Is(err, store.ErrExpired)
}

// isConstraint reports whether err is a SQLite constraint violation.
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
