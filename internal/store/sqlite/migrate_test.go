package sqlite

import (
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/internal/store/migration"
)

// TestEmbeddedMigrations checks the files this build ships: numbered from 1
// without gaps, so a missing file is caught before release.
func TestEmbeddedMigrations(t *testing.T) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatalf("migration.Load(embedded): %v", err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("migration %s has version %d, want %d", m.Name, m.Version, i+1)
		}
	}
}

func TestDSN(t *testing.T) {
	tests := []struct {
		name, path, want string
	}{
		{"Absolute", "/var/lib/verifyd/verifyd.db", "file:/var/lib/verifyd/verifyd.db?_k=v"},
		{"Relative", "data/verifyd.db", "file:data/verifyd.db?_k=v"},
		{"URIMetacharacters", "/d/a?b#c%d.db", "file:/d/a%3fb%23c%25d.db?_k=v"},
		{"LeadingDoubleSlash", "//d/verifyd.db", "file:/d/verifyd.db?_k=v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dsn(tt.path, map[string][]string{"_k": {"v"}}); got != tt.want {
				t.Errorf("dsn(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// TestMigrateAtomic checks that a failing migration leaves the database as
// it was: no table of the good one before it, no schema_migrations row.
func TestMigrateAtomic(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "m.db"), url.Values{"_txlock": {"immediate"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := migration.Migration{Version: 1, Name: "0001_good.sql", SQL: "CREATE TABLE good (x INTEGER); CREATE TABLE good2 (y INTEGER);"}
	bad := migration.Migration{Version: 2, Name: "0002_bad.sql", SQL: "CREATE TABLE bad (x INTEGER); NOT SQL;"}
	if err := migrate(ctx, db, []migration.Migration{good, bad}); err == nil || !strings.Contains(err.Error(), bad.Name) {
		t.Fatalf("migrate(good, bad) error = %v, want one naming %s", err, bad.Name)
	}
	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) != 0 {
		t.Errorf("tables after a failed migration = %q, want none", tables)
	}

	// Both statements of a multi-statement file run.
	if err := migrate(ctx, db, []migration.Migration{good}); err != nil {
		t.Fatalf("migrate(good): %v", err)
	}
	for _, table := range []string{"good", "good2"} {
		if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1)"); err != nil {
			t.Errorf("insert into %s after migrate(good): %v", table, err)
		}
	}
}
