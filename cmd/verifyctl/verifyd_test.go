package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
)

// verifyd is an in-process verifyd on a SQLite store in Dir, served on
// loopback HTTP, with one provisioned account.
type verifyd struct {
	URL        string
	Dir        string // the data dir: Dir/verifyd.db
	Store      store.Store
	AccountSID string
	AuthToken  string
	APIKey     string
	APISecret  string
	ServiceSID string
}

// newVerifyd starts a verifyd for one test, stopped when the test ends.
func newVerifyd(t *testing.T) *verifyd {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "verifyd.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now()
	keys, err := provision.KeySet(ctx, st, now)
	if err != nil {
		t.Fatal(err)
	}
	acc, authToken, err := provision.Account(ctx, st, "test", now)
	if err != nil {
		t.Fatal(err)
	}
	key, secret, err := provision.APIKey(ctx, st, acc.SID, "test key", now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := provision.Service(ctx, st, acc.SID, "test service", now)
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{}, st, keys, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return &verifyd{
		URL:        srv.URL,
		Dir:        dir,
		Store:      st,
		AccountSID: acc.SID,
		AuthToken:  authToken,
		APIKey:     key.SID,
		APISecret:  secret,
		ServiceSID: svc.SID,
	}
}
