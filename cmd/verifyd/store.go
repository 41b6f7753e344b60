package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
)

// dbFile is the SQLite database's name inside the data directory.
const dbFile = "verifyd.db"

// openStore opens the store that -store names, and says which it opened.
func openStore(ctx context.Context, cfg config) (store.Store, string, error) {
	switch {
	case cfg.store == "" || cfg.store == "sqlite":
		if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
			return nil, "", fmt.Errorf("data directory: %w", err)
		}
		path := filepath.Join(cfg.dataDir, dbFile)
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, "", fmt.Errorf("open SQLite store %s: %w", path, err)
		}
		return st, "sqlite", nil
	case strings.HasPrefix(cfg.store, "postgres://"), strings.HasPrefix(cfg.store, "postgresql://"):
		return nil, "", fmt.Errorf("-store: PostgreSQL is not supported by this build")
	default:
		return nil, "", fmt.Errorf("-store: want empty (SQLite in -data-dir) or a postgres:// URL")
	}
}
