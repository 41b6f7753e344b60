package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/verifykit/verifykit/internal/store"
)

// pageStmts list one kind of record a page at a time: the first page, the
// page after a cursor and the page before one. Each takes the owner's
// arguments, then the cursor's (date_created, sid) if any, then a LIMIT.
type pageStmts struct {
	first, after, before *sql.Stmt
}

// queries returns the specs of the three statements over base, a SELECT
// whose WHERE clause picks the owner's records.
func (ps *pageStmts) queries(db *sql.DB, base string) []stmtSpec {
	return []stmtSpec{
		{&ps.first, db, base + ` ORDER BY date_created, sid LIMIT ?`},
		{&ps.after, db, base + ` AND (date_created, sid) > (?, ?) ORDER BY date_created, sid LIMIT ?`},
		// Backwards from the cursor, so LIMIT takes the nearest items;
		// pageQuery.trim puts them back in ascending order.
		{&ps.before, db, base + ` AND (date_created, sid) < (?, ?) ORDER BY date_created DESC, sid DESC LIMIT ?`},
	}
}

// pageQuery is the statement and arguments that read one page.
type pageQuery struct {
	stmt     *sql.Stmt
	args     []any
	limit    int
	backward bool
}

// query returns how to read page p of the records that owner (the
// arguments of the base query) picks. It reads one item more than the page
// holds, to tell whether more follow.
func (ps *pageStmts) query(p store.Page, owner ...any) (pageQuery, error) {
	if p.Limit < 1 {
		return pageQuery{}, fmt.Errorf("page limit is %d, want at least 1", p.Limit)
	}
	if p.After != nil && p.Before != nil {
		return pageQuery{}, errors.New("page has both an After and a Before cursor")
	}
	n := p.Limit
	if n < math.MaxInt {
		n++
	}
	q := pageQuery{stmt: ps.first, limit: p.Limit, args: owner}
	switch {
	case p.After != nil:
		q.stmt = ps.after
		q.args = append(q.args, unix(p.After.Created), p.After.SID)
	case p.Before != nil:
		q.stmt, q.backward = ps.before, true
		q.args = append(q.args, unix(p.Before.Created), p.Before.SID)
	}
	q.args = append(q.args, n)
	return q, nil
}

// trim cuts the extra item that query asked for, reporting whether there
// was one, and returns the page in ascending order.
func trim[T any](q pageQuery, items []T) ([]T, bool) {
	more := len(items) > q.limit
	if more {
		items = items[:q.limit]
	}
	if q.backward {
		slices.Reverse(items)
	}
	return items, more
}

// CreateEntity implements store.Store.
func (s *Store) CreateEntity(ctx context.Context, e store.Entity) error {
	err := s.exec(ctx, s.stmts.createEntity,
		e.SID, e.AccountSID, e.ServiceSID, e.Identity, unix(e.DateCreated), unix(e.DateUpdated))
	if err != nil {
		return fmt.Errorf("create entity %s: %w", e.SID, s.translate(err))
	}
	return nil
}

// FetchEntity implements store.Store.
func (s *Store) FetchEntity(ctx context.Context, accountSID, serviceSID, identity string) (store.Entity, error) {
	e, err := scanEntity(s.stmts.fetchEntity.QueryRowContext(ctx, accountSID, serviceSID, identity))
	if err != nil {
		return store.Entity{}, fmt.Errorf("fetch entity %q of %s: %w", identity, serviceSID, s.translate(err))
	}
	return e, nil
}

// ListEntities implements store.Store.
func (s *Store) ListEntities(ctx context.Context, accountSID, serviceSID string, p store.Page) ([]store.Entity, bool, error) {
	q, err := s.stmts.listEntities.query(p, accountSID, serviceSID)
	if err != nil {
		return nil, false, fmt.Errorf("list entities of %s: %w", serviceSID, err)
	}
	es, err := list(ctx, q.stmt, scanEntity, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list entities of %s: %w", serviceSID, s.translate(err))
	}
	es, more := trim(q, es)
	return es, more, nil
}

// DeleteEntity implements store.Store. It deletes the entity's factors
// itself, to have them for events; the foreign keys from challenges and
// notifications delete theirs with them.
func (s *Store) DeleteEntity(ctx context.Context, accountSID, serviceSID, identity string, events store.Events[store.Factor]) error {
	err := s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var entitySID, entityIdentity string
		if err := tx.StmtContext(ctx, s.stmts.findEntity).QueryRowContext(ctx, accountSID, serviceSID, identity).
			Scan(&entitySID, &entityIdentity); err != nil {
			return err
		}
		fs, err := list(ctx, tx.StmtContext(ctx, s.stmts.deleteEntityFactors), scanFactor, entitySID)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.stmts.deleteEntity).ExecContext(ctx, accountSID, serviceSID, identity); err != nil {
			return err
		}
		// RETURNING has no order; events follow the factors' list order.
		slices.SortFunc(fs, func(a, b store.Factor) int {
			return cmp.Or(a.DateCreated.Compare(b.DateCreated), cmp.Compare(a.SID, b.SID))
		})
		for _, f := range fs {
			if err := s.record(ctx, tx, emit(events, f)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete entity %q of %s: %w", identity, serviceSID, s.translate(err))
	}
	return nil
}

// changeOne returns a write that runs stmt, a DELETE or UPDATE of one row
// by its key, and fails with store.ErrNotFound if it changed none.
func changeOne(stmt *sql.Stmt, args ...any) txFunc {
	return func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil
	}
}

// scanEntity reads an entity from a row of its table.
func scanEntity(sc scanner) (store.Entity, error) {
	var e store.Entity
	var created, updated int64
	if err := sc.Scan(&e.SID, &e.AccountSID, &e.ServiceSID, &e.Identity, &created, &updated); err != nil {
		return store.Entity{}, err
	}
	e.DateCreated, e.DateUpdated = fromUnix(created), fromUnix(updated)
	return e, nil
}

// CreateFactor implements store.Store. It is one write through the
// committer, which runs one write at a time on the only writer connection
// (and BEGIN IMMEDIATE holds the file's write lock against other
// processes): between counting the entity's factors and inserting one,
// and between checking and recording the token, no other write can run.
// So two creates can neither both take the last place under
// store.MaxFactorsPerEntity nor both use one token; the token's primary
// key would refuse the second anyway.
func (s *Store) CreateFactor(ctx context.Context, e store.Entity, f store.Factor, consumeToken string, events store.Events[store.Factor]) (store.Factor, error) {
	identity, err := factorIdentity(e, f)
	if err != nil {
		return store.Factor{}, fmt.Errorf("create factor %s: %w", f.SID, err)
	}
	metadata, err := encodeMetadata(f.Metadata)
	if err != nil {
		return store.Factor{}, fmt.Errorf("create factor %s: %w", f.SID, err)
	}
	var stored store.Factor
	err = s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var entitySID, entityIdentity string
		err := tx.StmtContext(ctx, s.stmts.findEntity).QueryRowContext(ctx, f.AccountSID, f.ServiceSID, identity).
			Scan(&entitySID, &entityIdentity)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Its foreign key fails (not found) unless the service is
			// the account's.
			if _, err := tx.StmtContext(ctx, s.stmts.createEntity).ExecContext(ctx,
				e.SID, f.AccountSID, f.ServiceSID, identity, unix(e.DateCreated), unix(e.DateUpdated)); err != nil {
				return fmt.Errorf("entity %s: %w", e.SID, err)
			}
			entitySID, entityIdentity = e.SID, identity
		case err != nil:
			return err
		}

		var n int
		if err := tx.StmtContext(ctx, s.stmts.countFactors).QueryRowContext(ctx, entitySID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxFactorsPerEntity {
			return fmt.Errorf("entity %s holds %d factors: %w", entitySID, n, store.ErrTooMany)
		}

		if consumeToken != "" {
			if _, err := tx.StmtContext(ctx, s.stmts.useToken).ExecContext(ctx, consumeToken, unix(f.DateCreated)); err != nil {
				if errors.Is(translate(err), store.ErrConflict) {
					return fmt.Errorf("access token %s: %w", consumeToken, store.ErrUsed)
				}
				return fmt.Errorf("use access token %s: %w", consumeToken, err)
			}
		}

		stored, err = scanFactor(tx.StmtContext(ctx, s.stmts.createFactor).QueryRowContext(ctx,
			f.SID, f.AccountSID, f.ServiceSID, entitySID, entityIdentity, f.CredentialSID,
			f.FriendlyName, f.Verified, f.PublicKey,
			f.SdkVersion, f.AppID, f.NotificationPlatform, f.NotificationToken, metadata,
			unix(f.DateCreated), unix(f.DateUpdated)))
		if err != nil {
			return err
		}
		return s.record(ctx, tx, emit(events, stored))
	})
	if err != nil {
		return store.Factor{}, fmt.Errorf("create factor %s: %w", f.SID, s.translate(err))
	}
	return stored, nil
}

// factorIdentity returns the Identity of the entity a new factor joins. e
// and f must agree on whose entity it is; that they do not is a caller's
// bug, not a missing record.
func factorIdentity(e store.Entity, f store.Factor) (string, error) {
	switch {
	case e.AccountSID != "" && e.AccountSID != f.AccountSID:
		return "", fmt.Errorf("the entity's account %s is not the factor's %s", e.AccountSID, f.AccountSID)
	case e.ServiceSID != "" && e.ServiceSID != f.ServiceSID:
		return "", fmt.Errorf("the entity's service %s is not the factor's %s", e.ServiceSID, f.ServiceSID)
	case e.Identity != "" && f.Identity != "" && e.Identity != f.Identity:
		return "", fmt.Errorf("the entity's identity %q is not the factor's %q", e.Identity, f.Identity)
	case e.Identity != "":
		return e.Identity, nil
	}
	return f.Identity, nil
}

// FetchFactor implements store.Store.
func (s *Store) FetchFactor(ctx context.Context, accountSID, serviceSID, identity, sid string) (store.Factor, error) {
	f, err := scanFactor(s.stmts.fetchFactor.QueryRowContext(ctx, sid, accountSID, serviceSID, identity))
	if err != nil {
		return store.Factor{}, fmt.Errorf("fetch factor %s: %w", sid, s.translate(err))
	}
	return f, nil
}

// FetchFactorByCredential implements store.Store.
func (s *Store) FetchFactorByCredential(ctx context.Context, credentialSID string) (store.Factor, error) {
	f, err := scanFactor(s.stmts.fetchFactorByCredential.QueryRowContext(ctx, credentialSID))
	if err != nil {
		return store.Factor{}, fmt.Errorf("fetch factor by credential %s: %w", credentialSID, s.translate(err))
	}
	return f, nil
}

// ListFactors implements store.Store.
func (s *Store) ListFactors(ctx context.Context, accountSID, serviceSID, identity string, p store.Page) ([]store.Factor, bool, error) {
	q, err := s.stmts.listFactors.query(p, accountSID, serviceSID, identity)
	if err != nil {
		return nil, false, fmt.Errorf("list factors of entity %q: %w", identity, err)
	}
	fs, err := list(ctx, q.stmt, scanFactor, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list factors of entity %q: %w", identity, s.translate(err))
	}
	fs, more := trim(q, fs)
	return fs, more, nil
}

// UpdateFactor implements store.Store. The committer runs one write at a
// time, so the factor it reads before the update is the one the update
// changes, and of two updates the second reads what the first stored.
func (s *Store) UpdateFactor(ctx context.Context, f store.Factor, events store.Events[store.Factor]) error {
	metadata, err := encodeMetadata(f.Metadata)
	if err != nil {
		return fmt.Errorf("update factor %s: %w", f.SID, err)
	}
	err = s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		old, err := scanFactor(tx.StmtContext(ctx, s.stmts.currentFactor).QueryRowContext(ctx,
			f.SID, f.AccountSID, f.ServiceSID, f.EntitySID))
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.stmts.updateFactor).ExecContext(ctx,
			f.FriendlyName, f.Verified, f.SdkVersion, f.AppID, f.NotificationPlatform, f.NotificationToken,
			metadata, unix(f.DateUpdated),
			f.SID, f.AccountSID, f.ServiceSID, f.EntitySID); err != nil {
			return err
		}
		return s.record(ctx, tx, emit(events, old))
	})
	if err != nil {
		return fmt.Errorf("update factor %s: %w", f.SID, s.translate(err))
	}
	return nil
}

// DeleteFactor implements store.Store. The foreign keys from challenges
// and notifications delete the factor's with it.
func (s *Store) DeleteFactor(ctx context.Context, accountSID, serviceSID, identity, sid string, events store.Events[store.Factor]) error {
	err := s.transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		deleted, err := scanFactor(tx.StmtContext(ctx, s.stmts.deleteFactor).QueryRowContext(ctx,
			sid, accountSID, serviceSID, identity))
		if err != nil {
			return err
		}
		return s.record(ctx, tx, emit(events, deleted))
	})
	if err != nil {
		return fmt.Errorf("delete factor %s: %w", sid, s.translate(err))
	}
	return nil
}

// scanFactor reads a factor from a row of its table.
func scanFactor(sc scanner) (store.Factor, error) {
	var f store.Factor
	var created, updated int64
	var metadata *string
	if err := sc.Scan(&f.SID, &f.AccountSID, &f.ServiceSID, &f.EntitySID, &f.Identity, &f.CredentialSID,
		&f.FriendlyName, &f.Verified, &f.PublicKey,
		&f.SdkVersion, &f.AppID, &f.NotificationPlatform, &f.NotificationToken, &metadata,
		&created, &updated); err != nil {
		return store.Factor{}, err
	}
	m, err := decodeMetadata(metadata)
	if err != nil {
		return store.Factor{}, fmt.Errorf("factor %s: %w", f.SID, err)
	}
	f.Metadata = m
	f.DateCreated, f.DateUpdated = fromUnix(created), fromUnix(updated)
	return f, nil
}

// encodeMetadata returns the stored form of a factor's metadata: NULL for
// nil, JSON otherwise, so an empty map stays an empty map.
func encodeMetadata(m map[string]string) (*string, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	text := string(b)
	return &text, nil
}

// decodeMetadata reverses encodeMetadata.
func decodeMetadata(text *string) (map[string]string, error) {
	if text == nil {
		return nil, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(*text), &m); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}
