// Package migration loads numbered NNNN_description.sql schema migrations
// from an fs.FS. The storage engines apply them, each in its own dialect.
package migration

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int    // the number the file name starts with, above 0
	Name    string // the file name, such as 0001_init.sql
	SQL     string // the file's contents
}

// Load reads every *.sql file in dir of fsys and returns them ordered by
// version. Names must be a positive number, an underscore and a
// description; two files with the same number are an error.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	seen := make(map[int]string)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		if prev, dup := seen[version]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, version)
		}
		seen[version] = name
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: version, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Pending returns the migrations of ms, in order, that applied does not
// list. It refuses a database with a version that ms does not know: a
// newer build migrated it further, and this one must not touch it.
func Pending(ms []Migration, applied map[int]bool) ([]Migration, error) {
	known := make(map[int]bool, len(ms))
	var out []Migration
	for _, m := range ms {
		known[m.Version] = true
		if !applied[m.Version] {
			out = append(out, m)
		}
	}
	for v := range applied {
		if !known[v] {
			return nil, fmt.Errorf("database has schema version %d, which this build does not know: it was migrated by a newer verifyd", v)
		}
	}
	return out, nil
}

// Tx is what applying migrations needs of an engine's transaction, in the
// engine's own dialect.
type Tx interface {
	// Applied returns the versions the schema_migrations table lists.
	Applied(ctx context.Context) (map[int]bool, error)
	// Apply runs the SQL of m and records it in schema_migrations.
	Apply(ctx context.Context, m Migration) error
}

// Run applies, in order, every migration of ms that tx has not applied
// yet; each engine calls it inside the transaction it migrates in. It
// refuses a database that a newer build migrated further (Pending).
func Run(ctx context.Context, tx Tx, ms []Migration) error {
	applied, err := tx.Applied(ctx)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	pending, err := Pending(ms, applied)
	if err != nil {
		return err
	}
	for _, m := range pending {
		if err := tx.Apply(ctx, m); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}
