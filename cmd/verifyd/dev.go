package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store"
)

// devCredentialsFile is written in the data directory by dev mode.
const devCredentialsFile = "dev-credentials.json"

// devPhoneDir holds the virtual phone's device state files, in the data
// directory.
const devPhoneDir = "phone"

// phoneDir is where the virtual phone keeps its devices, or "" when it is
// off: it is served only in dev mode on a loopback address, even with
// -allow-dev-remote, since its endpoints take no credentials.
func phoneDir(dev *devCreds, cfg config) string {
	if dev == nil || !isLoopback(cfg.addr) {
		return ""
	}
	return filepath.Join(cfg.dataDir, devPhoneDir)
}

// devCreds are the credentials dev mode generates, as written to
// dev-credentials.json.
type devCreds struct {
	AccountSID   string `json:"account_sid"`
	AuthToken    string `json:"auth_token"`
	APIKeySID    string `json:"api_key_sid"`
	APIKeySecret string `json:"api_key_secret"`
	ServiceSID   string `json:"service_sid"`
}

// devCredentials runs dev mode: on a store with no account and no bootstrap
// file, it creates a dev account, API key and service once, and keeps them
// in the data directory. On later starts it reads them back. It returns nil
// when verifyd is not in dev mode.
func devCredentials(ctx context.Context, st store.Store, cfg config) (*devCreds, error) {
	if cfg.bootstrap != "" {
		return nil, nil
	}
	path := filepath.Join(cfg.dataDir, devCredentialsFile)
	accounts, err := st.ListAccounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("dev mode: %w", err)
	}
	if len(accounts) > 0 {
		creds, err := readDevCreds(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // provisioned by admin commands: not dev mode
		}
		if err != nil {
			return nil, err
		}
		if _, err := st.FetchAccount(ctx, creds.AccountSID); err != nil {
			return nil, nil // the file is from another store
		}
		return creds, checkDevAddr(cfg)
	}
	if err := checkDevAddr(cfg); err != nil {
		return nil, err
	}
	now := time.Now()
	acc, authToken, err := provision.Account(ctx, st, "dev", now)
	if err != nil {
		return nil, fmt.Errorf("dev mode: %w", err)
	}
	key, secret, err := provision.APIKey(ctx, st, acc.SID, "dev", now)
	if err != nil {
		return nil, fmt.Errorf("dev mode: %w", err)
	}
	svc, err := provision.Service(ctx, st, acc.SID, "dev", now)
	if err != nil {
		return nil, fmt.Errorf("dev mode: %w", err)
	}
	creds := &devCreds{AccountSID: acc.SID, AuthToken: authToken, APIKeySID: key.SID, APIKeySecret: secret, ServiceSID: svc.SID}
	if err := writeDevCreds(path, creds); err != nil {
		return nil, err
	}
	return creds, nil
}

// checkDevAddr refuses to serve well-known generated credentials beyond
// this machine unless the user said so.
func checkDevAddr(cfg config) error {
	if cfg.allowDevRemote || isLoopback(cfg.addr) {
		return nil
	}
	return fmt.Errorf("dev mode (generated credentials) listens only on loopback; -addr %s is not: use -allow-dev-remote, or provision with verifyd admin / -bootstrap", cfg.addr)
}

// writeDevCreds replaces the file at path with c, atomically and with mode
// 0600 whatever file was there: os.WriteFile into an existing file would
// keep that file's mode, and a stale 0644 file would take the secrets.
func writeDevCreds(path string, c *devCreds) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("dev credentials: %w", err)
	}
	if err := writePrivateFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("dev credentials: %w", err)
	}
	return nil
}

// writePrivateFile writes data to a new file of mode 0600 in path's
// directory, syncs it and renames it over path, so that path holds either
// its old content or all of data, never part of it, and never with the old
// file's mode.
func writePrivateFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // the error above is the one to report
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable. It is best effort: the file is in
// place either way, and some file systems refuse to sync a directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close() // read-only: nothing to lose
}

func readDevCreds(path string) (*devCreds, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dev credentials: %w", err)
	}
	var c devCreds
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("dev credentials %s: %w", path, err)
	}
	return &c, nil
}

// printDevBanner shows the dev credentials and a curl that works as is.
// It goes to stdout, never to the logs.
func printDevBanner(stdout io.Writer, c *devCreds, addr string, cfg config) {
	base := "http://" + addr
	fmt.Fprintf(stdout, `
verifyd dev mode: these credentials are stored in %s (mode 0600).
  account_sid     %s
  auth_token      %s
  api_key_sid     %s
  api_key_secret  %s
  service_sid     %s

Create an access token:
  curl -s -u '%s:%s' -d Identity=ff483d1ff591898a9942916050d2ca3f -d FactorType=push \
    %s/v2/Services/%s/AccessTokens

`, filepath.Join(cfg.dataDir, devCredentialsFile), c.AccountSID, c.AuthToken, c.APIKeySID, c.APIKeySecret, c.ServiceSID,
		c.AccountSID, c.AuthToken, base, c.ServiceSID)
	if phoneDir(c, cfg) != "" {
		fmt.Fprintf(stdout, "Virtual phone (enroll with that token, approve and deny challenges):\n  %s/phone\n\n", base)
	}
}
