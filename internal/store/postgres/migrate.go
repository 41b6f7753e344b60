package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/verifykit/verifykit/internal/store/migration"
)

// MigrationLockID is the key of the PostgreSQL advisory lock that Open holds
// while it migrates, so that instances starting together migrate one after
// the other. It is the ASCII of "vkmigrat". Anything else that changes the
// schema by hand should take the same lock:
//
//	SELECT pg_advisory_xact_lock(8533034218458079604);
const MigrationLockID int64 = 0x766b6d6967726174

// migrationFiles holds the schema migrations, named NNNN_description.sql.
// Released files are never edited: a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies, in one transaction, every migration that the
// schema_migrations table does not list yet. The transaction first takes
// the advisory lock MigrationLockID, which PostgreSQL releases when it
// ends, so concurrent callers run one at a time and each later one finds
// the work done. It is a no-op on an up-to-date database and refuses one
// that a newer build has migrated further.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration.Migration) (err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migrations: %w", err)
	}
	defer func() {
		if err != nil {
			// Rollback under a context of its own: ctx may be why we failed.
			rbErr := tx.Rollback(context.WithoutCancel(ctx))
			if rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
				err = errors.Join(err, fmt.Errorf("roll back migrations: %w", rbErr))
			}
		}
	}()

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, MigrationLockID); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     NOT NULL PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	if err := migration.Run(ctx, pgTx{tx}, ms); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

// pgTx applies migrations in PostgreSQL's dialect.
type pgTx struct{ tx pgx.Tx }

func (t pgTx) Applied(ctx context.Context) (map[int]bool, error) {
	rows, err := t.tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}

func (t pgTx) Apply(ctx context.Context, m migration.Migration) error {
	// Without arguments, pgx sends the file with the simple query
	// protocol, which runs every statement in it.
	if _, err := t.tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
	return err
}
