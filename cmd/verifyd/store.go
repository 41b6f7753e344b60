package main

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/postgres"
	"github.com/verifykit/verifykit/internal/store/sqlite"
)

// dbFile is the SQLite database's name inside the data directory.
const dbFile = "verifyd.db"

// openStore opens the store that -store names, and says which it opened.
// The data directory is created either way, 0700: with PostgreSQL it holds
// only dev-credentials.json.
func openStore(ctx context.Context, cfg config) (store.Store, string, error) {
	isPostgres := strings.HasPrefix(cfg.store, "postgres://") || strings.HasPrefix(cfg.store, "postgresql://")
	if cfg.store != "" && cfg.store != "sqlite" && !isPostgres {
		return nil, "", fmt.Errorf("-store: want empty (SQLite in -data-dir) or a postgres:// URL")
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("data directory: %w", err)
	}
	if isPostgres {
		st, err := postgres.Open(ctx, cfg.store)
		if err != nil {
			return nil, "", fmt.Errorf("-store: %w", err)
		}
		return st, "postgres " + redactDSN(cfg.store), nil
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.dataDir, dbFile))
	if err != nil {
		return nil, "", err // it names the store and its path
	}
	return st, "sqlite", nil
}

// dataDirOpen returns the permission bits of the data directory and whether
// users other than its owner can list or enter it. verifyd only warns then:
// its files there are 0600, and refusing would break setups made 0755 by
// hand or by older versions.
func dataDirOpen(dir string) (fs.FileMode, bool) {
	info, err := os.Stat(dir)
	if err != nil {
		return 0, false // openStore has just made it; nothing to say
	}
	perm := info.Mode().Perm()
	return perm, perm&0o077 != 0
}

// redactDSN shortens a postgres:// URL to host and database for the logs:
// no user, password or parameters, any of which may be secret.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Host + u.Path
}
