package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/verifykit/verifykit/internal/store"
)

// The queries of entities and factors.
const (
	entityCols = `sid, account_sid, service_sid, identity, date_created, date_updated`
	factorCols = `sid, account_sid, service_sid, entity_sid, identity, credential_sid, friendly_name, verified, public_key,
sdk_version, app_id, notification_platform, notification_token, metadata, date_created, date_updated`

	// The composite foreign key (account_sid, service_sid) makes the insert
	// check that the service belongs to the account.
	createEntitySQL = `INSERT INTO entities (` + entityCols + `) VALUES ($1, $2, $3, $4, $5, $6)`
	fetchEntitySQL  = `SELECT ` + entityCols + ` FROM entities WHERE account_sid = $1 AND service_sid = $2 AND identity = $3`

	// joinEntitySQL inserts the entity, or, if the service has one with that
	// Identity, leaves it as it was; either way it returns the entity and
	// holds its row lock until the transaction ends. ON CONFLICT settles a
	// race of two inserts (the later one waits for the earlier and then
	// takes the update path), and the no-op update is what takes the lock:
	// DO NOTHING would neither lock nor return the row.
	joinEntitySQL = `INSERT INTO entities (` + entityCols + `) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (account_sid, service_sid, identity) DO UPDATE SET date_updated = entities.date_updated
RETURNING sid, identity`
	countFactorsSQL = `SELECT count(*) FROM factors WHERE entity_sid = $1`
	useTokenSQL     = `INSERT INTO used_access_tokens (sid, date_used) VALUES ($1, $2)`
	createFactorSQL = `INSERT INTO factors (` + factorCols + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING ` + factorCols

	fetchFactorSQL             = `SELECT ` + factorCols + ` FROM factors WHERE sid = $1 AND account_sid = $2 AND service_sid = $3 AND identity = $4`
	fetchFactorByCredentialSQL = `SELECT ` + factorCols + ` FROM factors WHERE credential_sid = $1`
	updateFactorSQL            = `UPDATE factors SET friendly_name = $1, verified = (verified OR $2), sdk_version = $3, app_id = $4,
notification_platform = $5, notification_token = $6, metadata = $7, date_updated = $8
WHERE sid = $9 AND account_sid = $10 AND service_sid = $11 AND entity_sid = $12`
	deleteFactorSQL = `DELETE FROM factors WHERE sid = $1 AND account_sid = $2 AND service_sid = $3 AND identity = $4
RETURNING ` + factorCols

	// lockFactorSQL reads the factor UpdateFactor changes, and holds its
	// row lock until the transaction ends, so a concurrent update waits
	// and then reads what this one stored. FOR NO KEY UPDATE is the lock
	// the UPDATE takes anyway; unlike FOR UPDATE it lets a challenge of
	// the factor be created meanwhile (its foreign key takes FOR KEY
	// SHARE).
	lockFactorSQL = `SELECT ` + factorCols + ` FROM factors
WHERE sid = $1 AND account_sid = $2 AND service_sid = $3 AND entity_sid = $4 FOR NO KEY UPDATE`

	// lockEntitySQL takes the lock of the entity DeleteEntity deletes
	// first, so that no CreateFactor (whose joinEntitySQL takes it too)
	// adds a factor between the deletes of its factors and of itself.
	lockEntitySQL          = `SELECT sid FROM entities WHERE account_sid = $1 AND service_sid = $2 AND identity = $3 FOR UPDATE`
	deleteEntityFactorsSQL = `DELETE FROM factors WHERE entity_sid = $1 RETURNING ` + factorCols
	deleteEntityBySIDSQL   = `DELETE FROM entities WHERE sid = $1`

	// Pages: the owner's arguments, then the cursor's if any, then LIMIT.
	// Before reads backwards from the cursor, so LIMIT takes the nearest
	// items; trim puts them back in ascending order.
	listEntitiesSQL       = `SELECT ` + entityCols + ` FROM entities WHERE account_sid = $1 AND service_sid = $2`
	listEntitiesFirstSQL  = listEntitiesSQL + ` ORDER BY date_created, sid LIMIT $3`
	listEntitiesAfterSQL  = listEntitiesSQL + ` AND (date_created, sid) > ($3, $4) ORDER BY date_created, sid LIMIT $5`
	listEntitiesBeforeSQL = listEntitiesSQL + ` AND (date_created, sid) < ($3, $4) ORDER BY date_created DESC, sid DESC LIMIT $5`

	// The subquery finds the entity through its unique key, once, so the
	// factors come from factors_by_entity.
	listFactorsSQL = `SELECT ` + factorCols + ` FROM factors
WHERE entity_sid = (SELECT sid FROM entities WHERE account_sid = $1 AND service_sid = $2 AND identity = $3)`
	listFactorsFirstSQL  = listFactorsSQL + ` ORDER BY date_created, sid LIMIT $4`
	listFactorsAfterSQL  = listFactorsSQL + ` AND (date_created, sid) > ($4, $5) ORDER BY date_created, sid LIMIT $6`
	listFactorsBeforeSQL = listFactorsSQL + ` AND (date_created, sid) < ($4, $5) ORDER BY date_created DESC, sid DESC LIMIT $6`
)

// pageSQL lists one kind of record a page at a time: the first page, the
// page after a cursor and the page before one.
type pageSQL struct {
	first, after, before string
}

// pageQuery is the query and arguments that read one page.
type pageQuery struct {
	sql      string
	args     []any
	limit    int
	backward bool
}

// query returns how to read page p of the records that owner (the first
// arguments of each query) picks. It reads one item more than the page
// holds, to tell whether more follow.
func (ps pageSQL) query(p store.Page, owner ...any) (pageQuery, error) {
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
	q := pageQuery{sql: ps.first, limit: p.Limit, args: owner}
	switch {
	case p.After != nil:
		q.sql = ps.after
		q.args = append(q.args, toDB(p.After.Created), p.After.SID)
	case p.Before != nil:
		q.sql, q.backward = ps.before, true
		q.args = append(q.args, toDB(p.Before.Created), p.Before.SID)
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

// changeOne runs sql, a DELETE or UPDATE of one row by its key, and fails
// with store.ErrNotFound if it changed none.
func (s *Store) changeOne(ctx context.Context, sql string, args ...any) error {
	if err := s.check(); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return s.translate(ctx, err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// CreateEntity implements store.Store.
func (s *Store) CreateEntity(ctx context.Context, e store.Entity) error {
	err := s.exec(ctx, createEntitySQL,
		e.SID, e.AccountSID, e.ServiceSID, e.Identity, toDB(e.DateCreated), toDB(e.DateUpdated))
	if err != nil {
		return fmt.Errorf("create entity %s: %w", e.SID, err)
	}
	return nil
}

// FetchEntity implements store.Store.
func (s *Store) FetchEntity(ctx context.Context, accountSID, serviceSID, identity string) (store.Entity, error) {
	e, err := fetch(ctx, s, scanEntity, fetchEntitySQL, accountSID, serviceSID, identity)
	if err != nil {
		return store.Entity{}, fmt.Errorf("fetch entity %q of %s: %w", identity, serviceSID, err)
	}
	return e, nil
}

// ListEntities implements store.Store.
func (s *Store) ListEntities(ctx context.Context, accountSID, serviceSID string, p store.Page) ([]store.Entity, bool, error) {
	q, err := pageSQL{listEntitiesFirstSQL, listEntitiesAfterSQL, listEntitiesBeforeSQL}.query(p, accountSID, serviceSID)
	if err != nil {
		return nil, false, fmt.Errorf("list entities of %s: %w", serviceSID, err)
	}
	es, err := list(ctx, s, scanEntity, q.sql, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list entities of %s: %w", serviceSID, err)
	}
	es, more := trim(q, es)
	return es, more, nil
}

// DeleteEntity implements store.Store, in one transaction that locks the
// entity, deletes its factors, to have them for events, and then the
// entity. The foreign keys from challenges and notifications delete
// theirs with the factors.
func (s *Store) DeleteEntity(ctx context.Context, accountSID, serviceSID, identity string, events store.Events[store.Factor]) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("delete entity %q of %s: %w", identity, serviceSID, err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var entitySID string
		if err := tx.QueryRow(ctx, lockEntitySQL, accountSID, serviceSID, identity).Scan(&entitySID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, deleteEntityFactorsSQL, entitySID)
		if err != nil {
			return err
		}
		fs, err := pgx.AppendRows([]store.Factor(nil), rows, func(r pgx.CollectableRow) (store.Factor, error) { return scanFactor(r) })
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, deleteEntityBySIDSQL, entitySID); err != nil {
			return err
		}
		// RETURNING has no order; events follow the factors' list order.
		slices.SortFunc(fs, func(a, b store.Factor) int {
			return cmp.Or(a.DateCreated.Compare(b.DateCreated), cmp.Compare(a.SID, b.SID))
		})
		for _, f := range fs {
			if err := record(ctx, tx, emit(events, f)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete entity %q of %s: %w", identity, serviceSID, s.translate(ctx, err))
	}
	return nil
}

// scanEntity reads an entity from a row of its table.
func scanEntity(row pgx.Row) (store.Entity, error) {
	var e store.Entity
	var created, updated time.Time
	if err := row.Scan(&e.SID, &e.AccountSID, &e.ServiceSID, &e.Identity, &created, &updated); err != nil {
		return store.Entity{}, err
	}
	e.DateCreated, e.DateUpdated = fromDB(created), fromDB(updated)
	return e, nil
}

// CreateFactor implements store.Store, in one READ COMMITTED transaction
// whose first statement, joinEntitySQL, takes the entity's row lock. Every
// CreateFactor on one entity therefore runs its count and its insert one
// after another, each seeing the factors the ones before it committed, so
// two creates cannot both take the last place under
// store.MaxFactorsPerEntity. (SERIALIZABLE would also catch it, but by
// failing one side for the caller to retry; an advisory lock would need a
// key derived from the entity.) DeleteEntity takes the same lock, so an
// entity is not deleted between the join and the insert. A token used by
// two creates at once, on any entities, is settled by the primary key of
// used_access_tokens: the later insert waits for the earlier transaction
// and fails if it commits.
func (s *Store) CreateFactor(ctx context.Context, e store.Entity, f store.Factor, consumeToken string, events store.Events[store.Factor]) (store.Factor, error) {
	stored, err := s.createFactor(ctx, e, f, consumeToken, events)
	if err != nil {
		return store.Factor{}, fmt.Errorf("create factor %s: %w", f.SID, err)
	}
	return stored, nil
}

// createFactor does the work of CreateFactor.
func (s *Store) createFactor(ctx context.Context, e store.Entity, f store.Factor, consumeToken string, events store.Events[store.Factor]) (store.Factor, error) {
	identity, err := factorIdentity(e, f)
	if err != nil {
		return store.Factor{}, err
	}
	metadata, err := encodeMetadata(f.Metadata)
	if err != nil {
		return store.Factor{}, err
	}
	if err := s.check(); err != nil {
		return store.Factor{}, err
	}
	var stored store.Factor
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var entitySID, entityIdentity string
		// Its foreign key fails (not found) unless the service is the
		// account's.
		if err := tx.QueryRow(ctx, joinEntitySQL,
			e.SID, f.AccountSID, f.ServiceSID, identity, toDB(e.DateCreated), toDB(e.DateUpdated),
		).Scan(&entitySID, &entityIdentity); err != nil {
			return fmt.Errorf("entity %s: %w", e.SID, err)
		}

		var n int
		if err := tx.QueryRow(ctx, countFactorsSQL, entitySID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxFactorsPerEntity {
			return fmt.Errorf("entity %s holds %d factors: %w", entitySID, n, store.ErrTooMany)
		}

		if consumeToken != "" {
			if _, err := tx.Exec(ctx, useTokenSQL, consumeToken, toDB(f.DateCreated)); err != nil {
				if classify(ctx, err) == failConflict {
					return fmt.Errorf("access token %s: %w", consumeToken, store.ErrUsed)
				}
				return fmt.Errorf("use access token %s: %w", consumeToken, err)
			}
		}

		var err error
		stored, err = scanFactor(tx.QueryRow(ctx, createFactorSQL,
			f.SID, f.AccountSID, f.ServiceSID, entitySID, entityIdentity, f.CredentialSID,
			f.FriendlyName, f.Verified, f.PublicKey,
			f.SdkVersion, f.AppID, f.NotificationPlatform, f.NotificationToken, metadata,
			toDB(f.DateCreated), toDB(f.DateUpdated)))
		if err != nil {
			return err
		}
		return record(ctx, tx, emit(events, stored))
	})
	if err != nil {
		return store.Factor{}, s.translate(ctx, err)
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
	f, err := fetch(ctx, s, scanFactor, fetchFactorSQL, sid, accountSID, serviceSID, identity)
	if err != nil {
		return store.Factor{}, fmt.Errorf("fetch factor %s: %w", sid, err)
	}
	return f, nil
}

// FetchFactorByCredential implements store.Store.
func (s *Store) FetchFactorByCredential(ctx context.Context, credentialSID string) (store.Factor, error) {
	f, err := fetch(ctx, s, scanFactor, fetchFactorByCredentialSQL, credentialSID)
	if err != nil {
		return store.Factor{}, fmt.Errorf("fetch factor by credential %s: %w", credentialSID, err)
	}
	return f, nil
}

// ListFactors implements store.Store.
func (s *Store) ListFactors(ctx context.Context, accountSID, serviceSID, identity string, p store.Page) ([]store.Factor, bool, error) {
	q, err := pageSQL{listFactorsFirstSQL, listFactorsAfterSQL, listFactorsBeforeSQL}.query(p, accountSID, serviceSID, identity)
	if err != nil {
		return nil, false, fmt.Errorf("list factors of entity %q: %w", identity, err)
	}
	fs, err := list(ctx, s, scanFactor, q.sql, q.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list factors of entity %q: %w", identity, err)
	}
	fs, more := trim(q, fs)
	return fs, more, nil
}

// UpdateFactor implements store.Store, in one transaction that reads the
// factor under its row lock (lockFactorSQL), updates it and records the
// events of the factor as read. Of two updates at once, the second waits
// for the first to end and then reads what it stored.
func (s *Store) UpdateFactor(ctx context.Context, f store.Factor, events store.Events[store.Factor]) error {
	metadata, err := encodeMetadata(f.Metadata)
	if err != nil {
		return fmt.Errorf("update factor %s: %w", f.SID, err)
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("update factor %s: %w", f.SID, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		old, err := scanFactor(tx.QueryRow(ctx, lockFactorSQL, f.SID, f.AccountSID, f.ServiceSID, f.EntitySID))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, updateFactorSQL,
			f.FriendlyName, f.Verified, f.SdkVersion, f.AppID, f.NotificationPlatform, f.NotificationToken,
			metadata, toDB(f.DateUpdated),
			f.SID, f.AccountSID, f.ServiceSID, f.EntitySID); err != nil {
			return err
		}
		return record(ctx, tx, emit(events, old))
	})
	if err != nil {
		return fmt.Errorf("update factor %s: %w", f.SID, s.translate(ctx, err))
	}
	return nil
}

// DeleteFactor implements store.Store. The foreign keys from challenges
// and notifications delete the factor's with it.
func (s *Store) DeleteFactor(ctx context.Context, accountSID, serviceSID, identity, sid string, events store.Events[store.Factor]) error {
	if err := s.check(); err != nil {
		return fmt.Errorf("delete factor %s: %w", sid, err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		deleted, err := scanFactor(tx.QueryRow(ctx, deleteFactorSQL, sid, accountSID, serviceSID, identity))
		if err != nil {
			return err
		}
		return record(ctx, tx, emit(events, deleted))
	})
	if err != nil {
		return fmt.Errorf("delete factor %s: %w", sid, s.translate(ctx, err))
	}
	return nil
}

// scanFactor reads a factor from a row of its table.
func scanFactor(row pgx.Row) (store.Factor, error) {
	var f store.Factor
	var created, updated time.Time
	var metadata *string
	if err := row.Scan(&f.SID, &f.AccountSID, &f.ServiceSID, &f.EntitySID, &f.Identity, &f.CredentialSID,
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
	f.DateCreated, f.DateUpdated = fromDB(created), fromDB(updated)
	return f, nil
}

// encodeMetadata returns the stored form of a factor's metadata: NULL for
// nil, JSON otherwise, so an empty map stays an empty map. The SQLite
// engine stores the same text.
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
