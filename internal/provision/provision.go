// Package provision creates the records that verifyd serves from:
// accounts with auth tokens, API keys, services and token keys. The dev
// mode of verifyd, its admin commands and the tests all go through it, so
// secrets are generated and hashed in one place.
package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/verifykit/verifykit/internal/credential"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
)

// Account creates an account and returns it with its auth token, which is
// stored only as a hash and cannot be shown again.
func Account(ctx context.Context, st store.Store, friendlyName string, now time.Time) (store.Account, string, error) {
	secret := credential.Generate()
	a := store.Account{
		SID:           sid.New(sid.Account),
		FriendlyName:  friendlyName,
		AuthTokenHash: credential.Hash(secret),
		DateCreated:   now.UTC().Truncate(time.Second),
	}
	if err := st.CreateAccount(ctx, a); err != nil {
		return store.Account{}, "", fmt.Errorf("provision account: %w", err)
	}
	return a, secret, nil
}

// APIKey creates an API key of an account and returns it with its secret,
// which is stored only as a hash and cannot be shown again.
func APIKey(ctx context.Context, st store.Store, accountSID, friendlyName string, now time.Time) (store.APIKey, string, error) {
	secret := credential.Generate()
	k := store.APIKey{
		SID:          sid.New(sid.APIKey),
		AccountSID:   accountSID,
		FriendlyName: friendlyName,
		SecretHash:   credential.Hash(secret),
		DateCreated:  now.UTC().Truncate(time.Second),
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return store.APIKey{}, "", fmt.Errorf("provision API key: %w", err)
	}
	return k, secret, nil
}

// Service creates a Verify service of an account.
func Service(ctx context.Context, st store.Store, accountSID, friendlyName string, now time.Time) (store.Service, error) {
	s := store.Service{
		SID:          sid.New(sid.Service),
		AccountSID:   accountSID,
		FriendlyName: friendlyName,
		DateCreated:  now.UTC().Truncate(time.Second),
	}
	if err := st.CreateService(ctx, s); err != nil {
		return store.Service{}, fmt.Errorf("provision service: %w", err)
	}
	return s, nil
}

// RotateKey adds a new token key to the store. New tokens use it; tokens
// minted with older keys still open.
func RotateKey(ctx context.Context, st store.Store, now time.Time) (token.Key, error) {
	k, err := token.NewKey(now.UTC())
	if err != nil {
		return token.Key{}, fmt.Errorf("rotate token key: %w", err)
	}
	err = st.AddTokenKey(ctx, store.TokenKey{ID: k.ID, Secret: k.Secret, Created: k.Created})
	if err != nil {
		return token.Key{}, fmt.Errorf("rotate token key: %w", err)
	}
	return k, nil
}

// FirstKeyID is the ID of the token key created on an empty store. It is
// fixed so that instances racing to create it agree on one key.
const FirstKeyID = "initial"

// KeySet loads the token keys from the store, creating the first one when
// there is none. Keys live in the store so that every instance sharing it
// mints and opens with the same set.
func KeySet(ctx context.Context, st store.Store, now time.Time) (*token.KeySet, error) {
	stored, err := st.TokenKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load token keys: %w", err)
	}
	if len(stored) == 0 {
		// Instances starting together on an empty store all try to add the
		// first key under the same ID: exactly one wins, the others get
		// ErrConflict, and all of them reload the winner's key.
		k, err := token.NewKey(now.UTC())
		if err != nil {
			return nil, fmt.Errorf("first token key: %w", err)
		}
		err = st.AddTokenKey(ctx, store.TokenKey{ID: FirstKeyID, Secret: k.Secret, Created: k.Created})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("first token key: %w", err)
		}
		if stored, err = st.TokenKeys(ctx); err != nil {
			return nil, fmt.Errorf("load token keys: %w", err)
		}
	}
	keys := make([]token.Key, len(stored))
	for i, k := range stored {
		keys[i] = token.Key{ID: k.ID, Secret: k.Secret, Created: k.Created}
	}
	ks, err := token.NewKeySet(keys...)
	if err != nil {
		return nil, fmt.Errorf("load token keys: %w", err)
	}
	return ks, nil
}
