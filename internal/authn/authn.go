// Package authn is the stage of verifyd's chain that authenticates
// requests with the security schemes of openapi.yaml, all HTTP Basic: an
// Account SID with its auth token or an API key SID with its secret; an
// enrollment access token; a device JWT. It limits failed attempts per
// client and credential.
//
// Whether a SID exists never shows: an unknown SID is remembered like a
// known one and checked against a decoy hash, so both are rejected in the
// same time, and the failure limit treats both alike.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"

	"github.com/verifykit/verifykit/internal/credential"
	"github.com/verifykit/verifykit/internal/scope"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/token"
)

// ErrUnauthenticated reports missing or wrong credentials.
var ErrUnauthenticated = errors.New("authn: missing or wrong credentials")

// LimitedError refuses a request whose client or credential failed too
// often; it may try again after RetryAfter.
type LimitedError struct {
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("authn: too many failed authentications, retry after %s", e.RetryAfter)
}

// Principal is who a request authenticated as.
type Principal struct {
	Scheme        string // the security scheme that authenticated it
	AccountSID    string // the account whose data the request may touch
	CredentialSID string // the AC/SK SID, access token SID or factor credential SID presented
	// For the enrollment and device schemes: the service and Identity the
	// token was minted for, or of the device's factor; and that factor.
	ServiceSID, Identity, FactorSID string
}

// Config holds the settings of an Authenticator. The zero value is usable.
type Config struct {
	// FailureLimit is how many failed authentications a client (an IP
	// address; an IPv6 /64) may make per credential SID per FailureWindow;
	// 10 when zero, no limit when negative. Each client may also fail ten
	// times that over all credentials.
	FailureLimit int
	// FailureWindow is the time over which FailureLimit refills; one
	// minute when zero.
	FailureWindow time.Duration
	// TrustForwardedFor names clients by the last X-Forwarded-For address;
	// set it only behind a reverse proxy that appends that header.
	TrustForwardedFor bool
	// Keys open enrollment access tokens; without them the enrollment
	// scheme authenticates nothing.
	Keys *token.KeySet
	// LookupTimeout bounds a credential lookup in the store; 5 s when zero.
	LookupTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Cache sizes: credential rows are about 100 bytes, unknown SIDs 60.
const (
	credentialCacheSize = 10_000
	unknownCacheSize    = 10_000
	seenCacheSize       = 10_000
	// unknownTTL is how long a SID found missing is believed missing: a
	// credential created meanwhile by another process or instance works
	// after at most this long.
	unknownTTL           = 10 * time.Second
	defaultLookupTimeout = 5 * time.Second
)

// Authenticator checks HTTP Basic credentials against the store.
type Authenticator struct {
	store    store.Store
	keys     *token.KeySet
	timeout  time.Duration
	trustXFF bool
	now      func() time.Time
	// creds caches SID → credential. Rows are immutable (no API rotates or
	// deletes a secret); a revocation API would Remove from it.
	creds *lru.Cache[string, row]
	// unknown remembers SIDs the store does not have, with when it said
	// so, so that an unknown SID costs what a known one costs.
	unknown *lru.Cache[string, time.Time]
	// seen holds the SIDs each client has presented (see lookup).
	seen *lru.Cache[key, struct{}]
	// decoy is checked when the SID is unknown.
	decoy *credential.Verifier
	// lookups merges concurrent store lookups of one SID.
	lookups singleflight.Group
	limit   *limiter // nil: no limit
}

// row is what authentication needs of an account or API key.
type row struct {
	secret  *credential.Verifier // nil if the stored hash is malformed
	account string               // the account the credential acts for
}

// New returns an Authenticator over st.
func New(st store.Store, cfg Config) *Authenticator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = defaultLookupTimeout
	}
	decoy, _ := credential.NewVerifier(credential.Hash(credential.Generate()))
	a := &Authenticator{store: st, keys: cfg.Keys, timeout: cfg.LookupTimeout, trustXFF: cfg.TrustForwardedFor, now: cfg.Now, decoy: decoy}
	a.creds, _ = lru.New[string, row](credentialCacheSize) // fails only for a size below 1
	a.unknown, _ = lru.New[string, time.Time](unknownCacheSize)
	a.seen, _ = lru.New[key, struct{}](seenCacheSize)
	if cfg.FailureLimit >= 0 {
		a.limit = newLimiter(cfg.FailureLimit, cfg.FailureWindow, cfg.Now)
	}
	return a
}

// account checks the Basic credentials user:pass (ok when r carried
// any) as an Account SID with its auth token or an API key SID with its
// secret.
func (a *Authenticator) account(ctx context.Context, r *http.Request, user, pass string, ok bool) (Principal, error) {
	cred := ""
	if ok && (sid.Valid(sid.Account, user) || sid.Valid(sid.APIKey, user)) {
		cred = user
	}
	k := key{client: clientOf(r, a.trustXFF), cred: cred}
	if a.limit != nil {
		if wait := a.limit.wait(k); wait > 0 {
			return Principal{}, &LimitedError{RetryAfter: wait}
		}
	}
	var found row
	if cred != "" {
		var err error
		if found, err = a.lookup(ctx, k); err != nil {
			return Principal{}, err
		}
	}
	verify := func() bool {
		if found.secret == nil {
			a.decoy.Verify(pass) // the same work as for a known SID
			return false
		}
		return found.secret.Verify(pass)
	}
	if a.limit == nil {
		if !verify() {
			return Principal{}, ErrUnauthenticated
		}
	} else {
		valid, wait := a.limit.check(k, verify)
		if wait > 0 {
			return Principal{}, &LimitedError{RetryAfter: wait}
		}
		if !valid {
			return Principal{}, ErrUnauthenticated
		}
	}
	return Principal{Scheme: SchemeAccount, AccountSID: found.account, CredentialSID: cred}, nil
}

// lookup finds the credential of an Account or API key SID; the zero row
// when there is none. The first time a client presents a SID, the store is
// asked even when a cache knows the answer: otherwise a SID that others
// use, cached, would be rejected faster than one that does not exist.
func (a *Authenticator) lookup(ctx context.Context, k key) (row, error) {
	user := k.cred
	if a.seen.Contains(k) {
		if r, ok := a.creds.Get(user); ok {
			return r, nil
		}
		if since, ok := a.unknown.Get(user); ok && a.now().Sub(since) < unknownTTL {
			return row{}, nil
		}
	}
	a.seen.Add(k, struct{}{})
	// Requests released together share one store lookup per SID.
	v, err, _ := a.lookups.Do(user, func() (any, error) { return a.fetch(ctx, user) })
	if err != nil {
		return row{}, err
	}
	return v.(row), nil
}

// fetch reads the credential of user from the store and caches what it
// finds, or that it found nothing.
func (a *Authenticator) fetch(ctx context.Context, user string) (row, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var r row
	var err error
	if sid.Valid(sid.Account, user) {
		var acc store.Account
		if acc, err = a.store.FetchAccount(ctx, user); err == nil {
			r.account = acc.SID
			r.secret, _ = credential.NewVerifier(acc.AuthTokenHash)
		}
	} else {
		var key store.APIKey
		if key, err = a.store.FetchAPIKey(ctx, user); err == nil {
			r.account = key.AccountSID
			r.secret, _ = credential.NewVerifier(key.SecretHash)
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.unknown.Add(user, a.now())
		return row{}, nil
	case err != nil:
		return row{}, fmt.Errorf("look up credential %s: %w", user, err)
	}
	a.creds.Add(user, r)
	a.unknown.Remove(user)
	return r, nil
}

// The security schemes of openapi.yaml that the Authenticator checks.
const (
	// SchemeAccount is HTTP Basic with an Account SID and its auth token,
	// or an API key SID and its secret (Authenticate).
	SchemeAccount = "accountSid_authToken"
	// SchemeEnrollment is HTTP Basic with the username "token" and an
	// access token as the password.
	SchemeEnrollment = "enrollmentToken"
	// SchemeDevice is HTTP Basic with the username "token" and a device
	// JWT as the password.
	SchemeDevice = "deviceJwt"
)

// tokenUser is the username of the enrollment and device schemes.
const tokenUser = "token"

// Middleware is the authentication stage as echo middleware. schemes names
// the security schemes of the spec that may authenticate a request; a
// request for which it names none passes untouched. Any other passes only
// with credentials of one of them, and its scope then carries who it
// authenticated as.
func (a *Authenticator) Middleware(schemes func(echo.Context) []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			accepted := schemes(c)
			if len(accepted) == 0 {
				return next(c)
			}
			r := c.Request()
			p, err := a.Authenticate(r.Context(), r, accepted)
			if err != nil {
				return err
			}
			s := scope.From(r.Context())
			s.Scheme, s.AccountSID, s.CredentialSID = p.Scheme, p.AccountSID, p.CredentialSID
			s.ServiceSID, s.Identity, s.FactorSID = p.ServiceSID, p.Identity, p.FactorSID
			return next(c)
		}
	}
}

// Authenticate returns who r authenticated as, with one of the accepted
// security schemes: the username "token" names the token schemes, any
// other the account scheme. It returns ErrUnauthenticated for missing or
// wrong credentials, a *LimitedError when the client must wait, or an
// error of the store (wrapping store.ErrUnavailable) when the credential
// could not be looked up. A request without an Authorization header
// guesses nothing and is not counted as a failure.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request, accepted []string) (Principal, error) {
	if r.Header.Get("Authorization") == "" {
		return Principal{}, ErrUnauthenticated
	}
	user, pass, ok := r.BasicAuth()
	if ok && user == tokenUser {
		switch {
		case slices.Contains(accepted, SchemeEnrollment):
			return a.limited(r, func() (Principal, bool) { return a.enrollment(pass) })
		case slices.Contains(accepted, SchemeDevice):
			return a.device(ctx, r, pass)
		}
	}
	if !slices.Contains(accepted, SchemeAccount) {
		return a.limited(r, func() (Principal, bool) { return Principal{}, false })
	}
	return a.account(ctx, r, user, pass, ok)
}

// limited runs check as a credential of the token schemes, under the
// failure limit of the client (all its token credentials share one
// allowance).
func (a *Authenticator) limited(r *http.Request, check func() (Principal, bool)) (Principal, error) {
	var p Principal
	verify := func() bool {
		var ok bool
		p, ok = check()
		return ok
	}
	if a.limit == nil {
		if !verify() {
			return Principal{}, ErrUnauthenticated
		}
		return p, nil
	}
	valid, wait := a.limit.check(a.tokenKey(r), verify)
	if wait > 0 {
		return Principal{}, &LimitedError{RetryAfter: wait}
	}
	if !valid {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

// tokenKey is the limiter's key of r's token credentials: all of a
// client's share one allowance.
func (a *Authenticator) tokenKey(r *http.Request) key {
	return key{client: clientOf(r, a.trustXFF), cred: tokenUser}
}

// enrollment checks an access token presented to enroll a factor: it must
// open with the store's keys, be for a push factor, and not have expired.
// That it is of the request's service and Identity, and unused, is the
// handler's to check.
func (a *Authenticator) enrollment(jwe string) (Principal, bool) {
	if a.keys == nil {
		return Principal{}, false
	}
	c, err := token.Open(a.keys, jwe)
	if err != nil || c.Expired(a.now()) || c.FactorType != "push" {
		return Principal{}, false
	}
	return Principal{Scheme: SchemeEnrollment, AccountSID: c.AccountSID, CredentialSID: c.SID,
		ServiceSID: c.ServiceSID, Identity: c.Identity}, true
}

// deviceLeeway is how far a device's clock may be off before its JWTs are
// refused; past it, the 401's Date header lets the SDK correct its clock.
const deviceLeeway = time.Minute

// maxDeviceJWTLife bounds how long, in seconds, a device JWT may be valid:
// the SDKs make each for 600 s; a key holder cannot mint one for years.
const maxDeviceJWTLife = 3600

// device checks a device JWT: its kid names a factor's credential, whose
// key must have signed it, for the factor's account, within its time.
func (a *Authenticator) device(ctx context.Context, r *http.Request, jwt string) (Principal, error) {
	if a.limit != nil {
		// A client past its allowance costs no store lookup.
		if wait := a.limit.wait(a.tokenKey(r)); wait > 0 {
			return Principal{}, &LimitedError{RetryAfter: wait}
		}
	}
	parsed, err := token.ParseDeviceJWT(jwt)
	var f store.Factor
	if err == nil {
		lctx, cancel := context.WithTimeout(ctx, a.timeout)
		f, err = a.store.FetchFactorByCredential(lctx, parsed.KeyID)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Principal{}, fmt.Errorf("look up device credential: %w", err)
		}
	}
	return a.limited(r, func() (Principal, bool) {
		if err != nil {
			return Principal{}, false
		}
		pub, perr := token.ParseDERPublicKey(f.PublicKey)
		if perr != nil || parsed.Verify(pub, a.now(), deviceLeeway) != nil || parsed.Subject != f.AccountSID ||
			parsed.ExpiresAt < parsed.NotBefore || parsed.ExpiresAt-parsed.NotBefore > maxDeviceJWTLife {
			return Principal{}, false
		}
		return Principal{Scheme: SchemeDevice, AccountSID: f.AccountSID, CredentialSID: f.CredentialSID,
			ServiceSID: f.ServiceSID, Identity: f.Identity, FactorSID: f.SID}, true
	})
}
