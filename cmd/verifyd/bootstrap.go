package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
// Existing records are left as they are, so it is safe on every start. It
// returns the auth token of each account it names, by SID, with which
// webhook deliveries are signed.
func applyBootstrapFile(ctx context.Context, st store.Store, path string, now time.Time) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	var f bootstrapFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", path, err)
	}
	now = now.UTC().Truncate(time.Second)
	tokens := map[string]string{}
	for _, a := range f.Accounts {
		if !sid.Valid(sid.Account, a.SID) {
			return nil, fmt.Errorf("bootstrap %s: account sid %q: want AC followed by 32 hex digits", path, a.SID)
		}
		if len(a.AuthToken) < minSecretLen {
			return nil, fmt.Errorf("bootstrap %s: account %s: auth_token must have at least %d characters", path, a.SID, minSecretLen)
		}
		err := st.CreateAccount(ctx, store.Account{SID: a.SID, FriendlyName: a.FriendlyName, AuthTokenHash: credential.Hash(a.AuthToken), DateCreated: now})
		if err := ignoreConflict(err); err != nil {
			return nil, fmt.Errorf("bootstrap account %s: %w", a.SID, err)
		}
		tokens[a.SID] = a.AuthToken
		for _, k := range a.APIKeys {
			if !sid.Valid(sid.APIKey, k.SID) || len(k.Secret) < minSecretLen {
				return nil, fmt.Errorf("bootstrap %s: API key %q: want SK followed by 32 hex digits and a secret of at least %d characters", path, k.SID, minSecretLen)
			}
			err := st.CreateAPIKey(ctx, store.APIKey{SID: k.SID, AccountSID: a.SID, FriendlyName: k.FriendlyName, SecretHash: credential.Hash(k.Secret), DateCreated: now})
			if err := ignoreConflict(err); err != nil {
				return nil, fmt.Errorf("bootstrap API key %s: %w", k.SID, err)
			}
		}
		for _, s := range a.Services {
			if !sid.Valid(sid.Service, s.SID) {
				return nil, fmt.Errorf("bootstrap %s: service sid %q: want VA followed by 32 hex digits", path, s.SID)
			}
			err := st.CreateService(ctx, store.Service{SID: s.SID, AccountSID: a.SID, FriendlyName: s.FriendlyName, DateCreated: now})
			if err := ignoreConflict(err); err != nil {
				return nil, fmt.Errorf("bootstrap service %s: %w", s.SID, err)
			}
		}
	}
	return tokens, nil
}

func ignoreConflict(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// signingSecrets returns the lookup of the auth tokens that webhook
// deliveries are signed with: those of tokens (by account SID) that match
// the hash the store holds. A token that does not (the account existed
// with another one) is left out, with a warning, rather than used to sign
// what the receiver would refuse.
func signingSecrets(ctx context.Context, st store.Store, tokens map[string]string, log *slog.Logger) (func(string) (string, bool), error) {
	known := make(map[string]string, len(tokens))
	for acc, tok := range tokens {
		a, err := st.FetchAccount(ctx, acc)
		if err != nil {
			return nil, fmt.Errorf("webhook secrets: account %s: %w", acc, err)
		}
		v, ok := credential.NewVerifier(a.AuthTokenHash)
		if !ok || !v.Verify(tok) {
			log.Warn("webhooks of this account stay unsent: its auth token in the store is not the one given",
				slog.String("account_sid", acc))
			continue
		}
		known[acc] = tok
	}
	return func(acc string) (string, bool) {
		tok, ok := known[acc]
		return tok, ok
	}, nil
}
