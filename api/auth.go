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
	decoy string
	// limit refuses clients that failed too often; nil limits nothing.
	limit *failureLimiter
}

// credentialRow is what authentication needs of an account or API key.
type credentialRow struct {
	hash    string // credential.Hash of the auth token or secret
	account string // the account the credential acts for
}

// credentialCacheSize bounds the credential cache (about 100 bytes each).
const credentialCacheSize = 10_000

func newAuthenticator(st store.Store, limit *failureLimiter) *authenticator {
	return &authenticator{
		store: st,
		creds: cache.New[string, credentialRow](credentialCacheSize),
		decoy: credential.Hash(credential.Generate()),
		limit: limit,
	}
}

// middleware rejects every request without valid credentials with
// 401 · 20003, and stores the principal in the request context. A client
// that failed too often gets 429 · 20429 before its credentials are
// looked at, even valid ones, until its allowance refills. Only requests
// that present an Authorization header and fail count as failures: one
// without any guesses nothing, and costs no store lookup.
func (a *authenticator) middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			var client string
			if a.limit != nil {
				client = a.limit.client(r)
				if wait := a.limit.wait(client); wait > 0 {
					return errTooManyFailures(wait)
				}
			}
			p, err := a.authenticate(r)
			if err != nil {
				if a.limit != nil && errors.Is(err, errAuthenticate) && r.Header.Get("Authorization") != "" {
					a.limit.fail(client)
				}
				return err
			}
			c.SetRequest(r.WithContext(withPrincipal(r.Context(), p)))
			return next(c)
		}
	}
}

func (a *authenticator) authenticate(r *http.Request) (principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return principal{}, errAuthenticate
	}
	row, err := a.lookup(r.Context(), user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		credential.Verify(a.decoy, pass)
		return principal{}, errAuthenticate
	case err != nil:
		return principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !credential.Verify(row.hash, pass) {
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
		acc, err := a.store.FetchAccount(ctx, user)
		if err != nil {
			return row, err
		}
		row = credentialRow{hash: acc.AuthTokenHash, account: acc.SID}
	case sid.Valid(sid.APIKey, user):
		key, err := a.store.FetchAPIKey(ctx, user)
		if err != nil {
			return row, err
		}
		row = credentialRow{hash: key.SecretHash, account: key.AccountSID}
	default:
		return row, store.ErrNotFound
	}
	a.creds.Put(user, row)
	return row, nil
}
