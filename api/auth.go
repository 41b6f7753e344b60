package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/internal/cache"
	"github.com/verifykit/verifykit/internal/credential"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
)

// authenticator checks HTTP Basic credentials against the store: an Account
// SID with its auth token, or an API key SID with its secret.
type authenticator struct {
	store store.Store
	// creds caches SID → credential. Rows are immutable (no API rotates or
	// deletes a secret), so a hit is always current; only the bound matters.
	creds *cache.Cache[string, credentialRow]
	// decoy is compared against when the SID is unknown, so that an unknown
	// SID costs the same time as a wrong secret.
	decoy *credential.Verifier
	// limit refuses clients that failed too often; nil limits nothing.
	limit *failureLimiter
}

// credentialRow is what authentication needs of an account or API key.
type credentialRow struct {
	secret  *credential.Verifier // of the auth token or secret; nil if the stored hash is malformed
	account string               // the account the credential acts for
}

// credentialCacheSize bounds the credential cache (about 100 bytes each).
const credentialCacheSize = 10_000

func newAuthenticator(st store.Store, limit *failureLimiter) *authenticator {
	decoy, _ := credential.NewVerifier(credential.Hash(credential.Generate()))
	return &authenticator{
		store: st,
		creds: cache.New[string, credentialRow](credentialCacheSize),
		decoy: decoy,
		limit: limit,
	}
}

// check rejects a request without valid credentials with 401 · 20003, and
// records the principal in ri. A client that failed too often gets
// 429 · 20429 before its credentials are looked at, even valid ones, until
// its allowance refills. Only requests that present an Authorization
// header and fail count as failures: one without any guesses nothing, and
// costs no store lookup.
func (a *authenticator) check(c echo.Context, ri *requestInfo) error {
	r := c.Request()
	if a.limit != nil {
		if wait := a.limit.waitRequest(r); wait > 0 {
			return errTooManyFailures(wait)
		}
	}
	p, err := a.authenticate(r)
	if err != nil {
		if a.limit != nil && errors.Is(err, errAuthenticate) && r.Header.Get("Authorization") != "" {
			a.limit.fail(a.limit.client(r))
		}
		return err
	}
	ri.principal = p
	return nil
}

func (a *authenticator) authenticate(r *http.Request) (principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return principal{}, errAuthenticate
	}
	row, err := a.lookup(r.Context(), user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.decoy.Verify(pass)
		return principal{}, errAuthenticate
	case err != nil:
		return principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if row.secret == nil || !row.secret.Verify(pass) {
		return principal{}, errAuthenticate
	}
	return principal{AccountSID: row.account, CredentialSID: user}, nil
}

// lookup finds the credential of an Account or API key SID.
func (a *authenticator) lookup(ctx context.Context, user string) (credentialRow, error) {
	if row, ok := a.creds.Get(user); ok {
		return row, nil
	}
	var row credentialRow
	switch {
	case sid.Valid(sid.Account, user):
		ctx, cancel := storeContext(ctx)
		defer cancel()
		acc, err := a.store.FetchAccount(ctx, user)
		if err != nil {
			return row, err
		}
		row = credentialRow{account: acc.SID}
		row.secret, _ = credential.NewVerifier(acc.AuthTokenHash)
	case sid.Valid(sid.APIKey, user):
		ctx, cancel := storeContext(ctx)
		defer cancel()
		key, err := a.store.FetchAPIKey(ctx, user)
		if err != nil {
			return row, err
		}
		row = credentialRow{account: key.AccountSID}
		row.secret, _ = credential.NewVerifier(key.SecretHash)
	default:
		return row, store.ErrNotFound
	}
	a.creds.Put(user, row)
	return row, nil
}
