package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/verifykit/verifykit/internal/credential"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
)

// bootstrapFile declares accounts, API keys and services with fixed SIDs
// and secrets, for setups that need known credentials (CI, shared dev).
type bootstrapFile struct {
	Accounts []struct {
		SID          string `json:"sid"`
		AuthToken    string `json:"auth_token"`
		FriendlyName string `json:"friendly_name"`
		APIKeys      []struct {
			SID          string `json:"sid"`
			Secret       string `json:"secret"`
			FriendlyName string `json:"friendly_name"`
		} `json:"api_keys"`
		Services []struct {
			SID          string `json:"sid"`
			FriendlyName string `json:"friendly_name"`
		} `json:"services"`
	} `json:"accounts"`
}

// minSecretLen keeps guessable secrets out of bootstrap files.
const minSecretLen = 16

// applyBootstrapFile creates whatever the file declares and the store lacks.
// Existing records are left as they are, so it is safe on every start.
func applyBootstrapFile(ctx context.Context, st store.Store, path string, now time.Time) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	var f bootstrapFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("bootstrap %s: %w", path, err)
	}
	now = now.UTC().Truncate(time.Second)
	for _, a := range f.Accounts {
		if !sid.Valid(sid.Account, a.SID) {
			return fmt.Errorf("bootstrap %s: account sid %q: want AC followed by 32 hex digits", path, a.SID)
		}
		if len(a.AuthToken) < minSecretLen {
			return fmt.Errorf("bootstrap %s: account %s: auth_token must have at least %d characters", path, a.SID, minSecretLen)
		}
		err := st.CreateAccount(ctx, store.Account{SID: a.SID, FriendlyName: a.FriendlyName, AuthTokenHash: credential.Hash(a.AuthToken), DateCreated: now})
		if err := ignoreConflict(err); err != nil {
			return fmt.Errorf("bootstrap account %s: %w", a.SID, err)
		}
		for _, k := range a.APIKeys {
			if !sid.Valid(sid.APIKey, k.SID) || len(k.Secret) < minSecretLen {
				return fmt.Errorf("bootstrap %s: API key %q: want SK followed by 32 hex digits and a secret of at least %d characters", path, k.SID, minSecretLen)
			}
			err := st.CreateAPIKey(ctx, store.APIKey{SID: k.SID, AccountSID: a.SID, FriendlyName: k.FriendlyName, SecretHash: credential.Hash(k.Secret), DateCreated: now})
			if err := ignoreConflict(err); err != nil {
				return fmt.Errorf("bootstrap API key %s: %w", k.SID, err)
			}
		}
		for _, s := range a.Services {
			if !sid.Valid(sid.Service, s.SID) {
				return fmt.Errorf("bootstrap %s: service sid %q: want VA followed by 32 hex digits", path, s.SID)
			}
			err := st.CreateService(ctx, store.Service{SID: s.SID, AccountSID: a.SID, FriendlyName: s.FriendlyName, DateCreated: now})
			if err := ignoreConflict(err); err != nil {
				return fmt.Errorf("bootstrap service %s: %w", s.SID, err)
			}
		}
	}
	return nil
}

func ignoreConflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}
