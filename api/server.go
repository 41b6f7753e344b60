package api

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/cache"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
)

// defaultTTL is the token lifetime when the create request leaves Ttl out.
const defaultTTL = 60

// server implements the generated strict interface: handlers are thin and
// return errors for renderError to write.
type server struct {
	store     store.Store
	keys      *token.KeySet
	publicURL *url.URL // nil: built from each request
	now       func() time.Time
	// tokens caches access tokens by SID. They are immutable once created,
	// so the cache is write-through and never stale.
	tokens *cache.Cache[string, store.AccessToken]
}

// tokenCacheSize bounds the token cache (about 1 KiB each).
const tokenCacheSize = 20_000

var _ verifyserver.StrictServerInterface = (*server)(nil)

// CreateAccessToken implements operation CreateAccessToken.
func (s *server) CreateAccessToken(ctx context.Context, req verifyserver.CreateAccessTokenRequestObject) (verifyserver.CreateAccessTokenResponseObject, error) {
	p := principalFrom(ctx)
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
		AccountSID:         p.AccountSID,
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
	jwe, err := token.Mint(s.keys, claims)
	if err != nil {
		return nil, fmt.Errorf("mint access token: %w", err)
	}
	t.Token = jwe
	if err := s.store.CreateAccessToken(ctx, t); err != nil {
		// ErrNotFound: the service is unknown or not the principal's.
		return nil, fmt.Errorf("create access token: %w", err)
	}
	s.tokens.Put(t.SID, t)
	return verifyserver.CreateAccessToken201JSONResponse{Body: s.toModel(ctx, t)}, nil
}

// FetchAccessToken implements operation FetchAccessToken.
func (s *server) FetchAccessToken(ctx context.Context, req verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	t, err := s.fetch(ctx, principalFrom(ctx).AccountSID, req.ServiceSID, req.SID)
	if err != nil {
		// ErrNotFound also when the token or service is another account's.
		return nil, fmt.Errorf("fetch access token: %w", err)
	}
	return verifyserver.FetchAccessToken200JSONResponse{Body: s.toModel(ctx, t)}, nil
}

// fetch reads a token through the cache, with the store's ownership rule:
// all of account, service and SID must match.
func (s *server) fetch(ctx context.Context, accountSID, serviceSID, tokenSID string) (store.AccessToken, error) {
	if t, ok := s.tokens.Get(tokenSID); ok {
		if t.AccountSID != accountSID || t.ServiceSID != serviceSID {
			return store.AccessToken{}, store.ErrNotFound
		}
		return t, nil
	}
	t, err := s.store.FetchAccessToken(ctx, accountSID, serviceSID, tokenSID)
	if err != nil {
		return t, err
	}
	s.tokens.Put(tokenSID, t)
	return t, nil
}

// toModel maps a stored token to the wire resource.
func (s *server) toModel(ctx context.Context, t store.AccessToken) models.AccessToken {
	created := t.DateCreated.UTC()
	u := s.resourceURL(ctx, t.ServiceSID, t.SID)
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

// resourceURL is the absolute URL of a token: under the configured public
// URL, or else the scheme and host the request came in on.
func (s *server) resourceURL(ctx context.Context, serviceSID, tokenSID string) string {
	path := "/v2/Services/" + serviceSID + "/AccessTokens/" + tokenSID
	base := s.publicURL
	if base == nil {
		base = baseURLFrom(ctx)
	}
	u := *base
	u.Path = u.Path + path
	return u.String()
}
