package api

import (
	"context"
	"fmt"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
)

// defaultTTL is the token lifetime when the create request leaves Ttl out.
const defaultTTL = 60

// CreateAccessToken implements operation CreateAccessToken.
func (s *server) CreateAccessToken(ctx context.Context, req verifyserver.CreateAccessTokenRequestObject) (verifyserver.CreateAccessTokenResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin() // before anything is stored
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, errInvalidParameter("Identity")
	}
	ttl := defaultTTL
	if req.Body.TTL != nil {
		ttl = *req.Body.TTL
	}
	now := s.now().UTC().Truncate(time.Second)
	t := store.AccessToken{
		SID:                sid.New(sid.AccessToken),
		AccountSID:         sc.AccountSID,
		ServiceSID:         req.ServiceSID,
		Identity:           req.Body.Identity,
		FactorType:         string(req.Body.FactorType),
		FactorFriendlyName: req.Body.FactorFriendlyName,
		TTL:                ttl,
		DateCreated:        now,
	}
	claims := token.Claims{
		Identity:   t.Identity,
		AccountSID: t.AccountSID,
		ServiceSID: t.ServiceSID,
		FactorType: t.FactorType,
		IssuedAt:   now.Unix(),
		ExpiresAt:  now.Add(time.Duration(ttl) * time.Second).Unix(),
		SID:        t.SID,
	}
	if t.FactorFriendlyName != nil {
		claims.FactorFriendlyName = *t.FactorFriendlyName
	}
	if t.Token, err = token.Mint(s.keys, claims); err != nil {
		return nil, fmt.Errorf("mint access token: %w", err)
	}
	sctx, cancel := scope.StoreContext(ctx)
	defer cancel()
	if err := s.store.CreateAccessToken(sctx, t); err != nil {
		// ErrNotFound: the service is unknown or not the principal's.
		return nil, fmt.Errorf("create access token: %w", err)
	}
	c := &cachedToken{row: t, origin: origin, model: accessToken(t, origin)}
	s.tokens.Add(t.SID, c)
	return verifyserver.CreateAccessToken201JSONResponse{Body: c.model}, nil
}

// FetchAccessToken implements operation FetchAccessToken, with the store's
// ownership rule: all of account, service and SID must match.
func (s *server) FetchAccessToken(ctx context.Context, req verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	sc := scope.From(ctx)
	origin, err := sc.Origin()
	if err != nil {
		return nil, err
	}
	c, ok := s.tokens.Get(req.SID)
	if !ok {
		sctx, cancel := scope.StoreContext(ctx)
		defer cancel()
		t, err := s.store.FetchAccessToken(sctx, sc.AccountSID, req.ServiceSID, req.SID)
		if err != nil {
			// ErrNotFound also when the token or service is another account's.
			return nil, fmt.Errorf("fetch access token: %w", err)
		}
		c = &cachedToken{row: t}
	}
	if c.row.AccountSID != sc.AccountSID || c.row.ServiceSID != req.ServiceSID {
		return nil, fmt.Errorf("fetch access token: %w", store.ErrNotFound)
	}
	if c.origin != origin {
		c = &cachedToken{row: c.row, origin: origin, model: accessToken(c.row, origin)}
		s.tokens.Add(c.row.SID, c)
	}
	// The header fields of the response (Twilio-Request-Id, CORS) are set
	// by the chain on every response, not per operation.
	return verifyserver.FetchAccessToken200JSONResponse{Body: c.model}, nil
}

// accessToken maps a stored token to the wire resource, with its url under
// origin.
func accessToken(t store.AccessToken, origin string) models.AccessToken {
	created := t.DateCreated.UTC()
	u := origin + "/v2/Services/" + t.ServiceSID + "/AccessTokens/" + t.SID
	return models.AccessToken{
		SID:                &t.SID,
		AccountSID:         &t.AccountSID,
		ServiceSID:         &t.ServiceSID,
		EntityIdentity:     &t.Identity,
		FactorType:         models.FactorType(t.FactorType),
		FactorFriendlyName: t.FactorFriendlyName,
		Token:              &t.Token,
		URL:                &u,
		TTL:                t.TTL,
		DateCreated:        &created,
	}
}
