package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	// tokens caches access tokens by SID, as sent. They are immutable once
	// created, so the cache is write-through and never stale.
	tokens *cache.Cache[string, *cachedToken]
}

// cachedToken is what a fetch needs of a token: who owns it, and its
// resource encoded for the base URL it was last sent under. The body is a
// pure function of the immutable row and that base.
type cachedToken struct {
	account, service string
	// scheme and host of the request the body's url was built from;
	// empty when the server has a public URL.
	scheme, host string
	body         []byte
}

// tokenCacheSize bounds the token cache (about 1.5 KiB each).
const tokenCacheSize = 4096

func newTokenCache(size int) *cache.Cache[string, *cachedToken] {
	return cache.New[string, *cachedToken](size)
}

// VisitFetchAccessTokenResponse implements
// verifyserver.FetchAccessTokenResponseObject: a cached token is sent as
// it is.
func (c *cachedToken) VisitFetchAccessTokenResponse(w http.ResponseWriter) error {
	return jsonResponse{status: http.StatusOK, body: c.body}.write(w)
}

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
	sctx, cancel := storeContext(ctx)
	defer cancel()
	if err := s.store.CreateAccessToken(sctx, t); err != nil {
		// ErrNotFound: the service is unknown or not the principal's.
		return nil, fmt.Errorf("create access token: %w", err)
	}
	body, err := s.encode(ctx, t)
	if err != nil {
		return nil, err
	}
	return jsonResponse{status: http.StatusCreated, body: body}, nil
}

// FetchAccessToken implements operation FetchAccessToken, with the store's
// ownership rule: all of account, service and SID must match.
func (s *server) FetchAccessToken(ctx context.Context, req verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	account := principalFrom(ctx).AccountSID
	scheme, host := s.origin(ctx)
	if c, ok := s.tokens.Get(req.SID); ok && c.scheme == scheme && c.host == host {
		if c.account != account || c.service != req.ServiceSID {
			return nil, fmt.Errorf("fetch access token: %w", store.ErrNotFound)
		}
		return c, nil
	}
	sctx, cancel := storeContext(ctx)
	defer cancel()
	t, err := s.store.FetchAccessToken(sctx, account, req.ServiceSID, req.SID)
	if err != nil {
		// ErrNotFound also when the token or service is another account's.
		return nil, fmt.Errorf("fetch access token: %w", err)
	}
	body, err := s.encode(ctx, t)
	if err != nil {
		return nil, err
	}
	return jsonResponse{status: http.StatusOK, body: body}, nil
}

// encode returns the resource of t as sent, and caches it.
func (s *server) encode(ctx context.Context, t store.AccessToken) ([]byte, error) {
	body, err := json.Marshal(s.toModel(ctx, t))
	if err != nil {
		return nil, fmt.Errorf("encode access token: %w", err)
	}
	// The generated response types encode with json.Encoder, which ends
	// the body with a newline; clients see the same bytes either way.
	body = append(body, '\n')
	scheme, host := s.origin(ctx)
	s.tokens.Put(t.SID, &cachedToken{account: t.AccountSID, service: t.ServiceSID, scheme: scheme, host: host, body: body})
	return body, nil
}

// origin returns the scheme and host that resource URLs are built on for
// this request: empty with a public URL, which never changes.
func (s *server) origin(ctx context.Context) (scheme, host string) {
	if s.publicURL != nil {
		return "", ""
	}
	return originFrom(ctx)
}

// jsonResponse is a 200 or 201 with its JSON body already encoded; it is
// both operations' response object, so that a cached body is sent as it
// is instead of being encoded again.
type jsonResponse struct {
	status int
	body   []byte
}

// contentTypeJSON is the Content-Type of every JSON response; one shared
// slice, never written to, so that setting it allocates nothing.
var contentTypeJSON = []string{"application/json"}

func (r jsonResponse) write(w http.ResponseWriter) error {
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(r.status)
	_, err := w.Write(r.body)
	return err
}

// VisitFetchAccessTokenResponse implements verifyserver.FetchAccessTokenResponseObject.
func (r jsonResponse) VisitFetchAccessTokenResponse(w http.ResponseWriter) error { return r.write(w) }

// VisitCreateAccessTokenResponse implements verifyserver.CreateAccessTokenResponseObject.
func (r jsonResponse) VisitCreateAccessTokenResponse(w http.ResponseWriter) error { return r.write(w) }

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
	var u url.URL
	if s.publicURL != nil {
		u = *s.publicURL
	} else {
		u.Scheme, u.Host = originFrom(ctx)
	}
	u.Path += path
	return u.String()
}
