package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/verifykit/verifykit/internal/store/migration"
)

// migrationFiles holds the schema migrations, named NNNN_description.sql.
// Released files are never edited: a schema change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies, in one transaction, every migration that the
// schema_migrations table does not list yet. It is a no-op on an up-to-date
// database and refuses one that a newer binary has migrated further.
func migrate(ctx context.Context, db *sql.DB, ms []migration.Migration) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	if err := migration.Run(ctx, sqliteTx{tx}, ms); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

// sqliteTx applies migrations in SQLite's dialect.
type sqliteTx struct{ tx *sql.Tx }

func (t sqliteTx) Applied(ctx context.Context) (map[int]bool, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := make(map[int]bool)
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

func (t sqliteTx) Apply(ctx context.Context, m migration.Migration) error {
	if _, err := t.tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().Unix())
	return err
}

// ignoreDone drops sql.ErrTxDone, which Rollback returns once the
// transaction has already ended.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
