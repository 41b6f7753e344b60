package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/verify"
)

// verifyd is an in-process verifyd on a SQLite store, served on loopback
// HTTP, with one provisioned account.
type verifyd struct {
	URL        string
	AccountSID string
	AuthToken  string
	APIKey     string
	APISecret  string
	ServiceSID string
	close      func()
}

// startVerifyd starts a verifyd whose database lives in dir. The caller
// must call Close. Examples use it directly; tests use newVerifyd.
func startVerifyd(dir string) (_ *verifyd, err error) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "verifyd.db"))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, st.Close())
		}
	}()
	now := time.Now()
	keys, err := provision.KeySet(ctx, st, now)
	if err != nil {
		return nil, err
	}
	acc, authToken, err := provision.Account(ctx, st, "example", now)
	if err != nil {
		return nil, err
	}
	key, secret, err := provision.APIKey(ctx, st, acc.SID, "example key", now)
	if err != nil {
		return nil, err
	}
	svc, err := provision.Service(ctx, st, acc.SID, "example service", now)
	if err != nil {
		return nil, err
	}
	h, err := api.NewHandler(api.Config{}, st, keys, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	return &verifyd{
		URL:        srv.URL,
		AccountSID: acc.SID,
		AuthToken:  authToken,
		APIKey:     key.SID,
		APISecret:  secret,
		ServiceSID: svc.SID,
		close: func() {
			srv.Close()
			_ = st.Close()
		},
	}, nil
}

// Close stops the server and closes the store.
func (v *verifyd) Close() { v.close() }

// newVerifyd starts a verifyd for one test, stopped when the test ends.
func newVerifyd(t *testing.T) *verifyd {
	t.Helper()
	v, err := startVerifyd(t.TempDir())
	if err != nil {
		t.Fatalf("start verifyd: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// authTokenConfig returns a Config that authenticates with the account's
// auth token.
func (v *verifyd) authTokenConfig() verify.Config {
	return verify.Config{AccountSID: v.AccountSID, AuthToken: v.AuthToken, BaseURL: v.URL}
}

// apiKeyConfig returns a Config that authenticates with the API key.
func (v *verifyd) apiKeyConfig() verify.Config {
	return verify.Config{AccountSID: v.AccountSID, APIKey: v.APIKey, APISecret: v.APISecret, BaseURL: v.URL}
}

// mustTempDir is os.MkdirTemp for examples, which have no testing.T.
func mustTempDir() (dir string, cleanup func()) {
	dir, err := os.MkdirTemp("", "verify-example-")
	if err != nil {
		panic(fmt.Sprintf("temp dir: %v", err))
	}
	return dir, func() { _ = os.RemoveAll(dir) }
}
