package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/internal/credential"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
)

// authenticator checks HTTP Basic credentials against the store: an Account
// SID with its auth token, or an API key SID with its secret.
type authenticator struct {
	store store.Store
	// decoy is compared against when the SID is unknown, so that an unknown
	// SID costs the same time as a wrong secret.
	decoy string
}

func newAuthenticator(st store.Store) *authenticator {
	return &authenticator{store: st, decoy: credential.Hash(credential.Generate())}
}

// middleware rejects every request without valid credentials with
// 401 · 20003, and stores the principal in the request context.
func (a *authenticator) middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			p, err := a.authenticate(r)
			if err != nil {
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
	ctx := r.Context()
	var (
		hash    string
		account string
		err     error
	)
	switch {
	case sid.Valid(sid.Account, user):
		var acc store.Account
		acc, err = a.store.FetchAccount(ctx, user)
		hash, account = acc.AuthTokenHash, acc.SID
	case sid.Valid(sid.APIKey, user):
		var key store.APIKey
		key, err = a.store.FetchAPIKey(ctx, user)
		hash, account = key.SecretHash, key.AccountSID
	default:
		err = store.ErrNotFound
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		credential.Verify(a.decoy, pass)
		return principal{}, errAuthenticate
	case err != nil:
		return principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if !credential.Verify(hash, pass) {
		return principal{}, errAuthenticate
	}
	return principal{AccountSID: account, CredentialSID: user}, nil
}
