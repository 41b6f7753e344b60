package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Engines wrap them with context, for example
// fmt.Errorf("create access token %s: %w", sid, ErrConflict), so callers
// test with errors.Is.
var (
	// ErrNotFound reports that a record does not exist, or exists but belongs
	// to another account or service. Creates return it when the owning
	// account or service does not exist, so a caller cannot tell "missing"
	// from "not yours".
	ErrNotFound = errors.New("store: not found")

	// ErrConflict reports that a record with the same primary key (SID, or
	// ID for token keys) already exists. The existing record is unchanged.
	ErrConflict = errors.New("store: already exists")

	// ErrUnavailable reports that the database cannot serve the call right
	// now: it is unreachable, locked, read-only, out of space, closed, or the
	// call's context deadline passed. Callers answer 503 and may retry. When
	// a deadline caused it, the error also wraps context.DeadlineExceeded.
	// As with any database whose answer can be lost, a create that failed
	// with ErrUnavailable may nonetheless have been stored.
	ErrUnavailable = errors.New("store: unavailable")
)

// Account is a Twilio-style account (AC…). Only a hash of its auth token is
// stored.
type Account struct {
	SID           string
	FriendlyName  string
	AuthTokenHash string
	DateCreated   time.Time
}

// APIKey is an API key (SK…) that authenticates on behalf of its account.
// Only a hash of its secret is stored.
type APIKey struct {
	SID          string
	AccountSID   string
	FriendlyName string
	SecretHash   string
	DateCreated  time.Time
}

// Service is a Verify service (VA…) owned by one account.
type Service struct {
	SID          string
	AccountSID   string
	FriendlyName string
	DateCreated  time.Time
}

// AccessToken is a minted Verify access token (YK…) owned by one service of
// one account.
type AccessToken struct {
	SID        string
	AccountSID string
	ServiceSID string
	Identity   string
	FactorType string
	// FactorFriendlyName is nil when the create request did not give one; a
	// given empty string stays an empty string.
	FactorFriendlyName *string
	TTL                int
	// Token is the compact JWE, stored and returned byte for byte.
	Token       string
	DateCreated time.Time
}

// TokenKey is a JWE encryption key. Keys are shared by every verifyd
// instance that uses the same store, so tokens minted by one instance can be
// opened by another.
type TokenKey struct {
	ID      string
	Secret  []byte
	Created time.Time
}

// Store persists verifyd's records. Implementations are safe for concurrent
// use. Every time they write or return is in UTC, truncated to whole seconds.
// Lists are ordered by creation time, then by SID (or ID), and an empty
// list may be nil.
type Store interface {
	// CreateAccount stores a new account. It returns ErrConflict if the SID
	// exists.
	CreateAccount(ctx context.Context, a Account) error
	// FetchAccount returns the account with the given SID, or ErrNotFound.
	FetchAccount(ctx context.Context, sid string) (Account, error)
	// ListAccounts returns every account.
	ListAccounts(ctx context.Context) ([]Account, error)

	// CreateAPIKey stores a new API key. It returns ErrNotFound if its
	// account does not exist and ErrConflict if the SID exists.
	CreateAPIKey(ctx context.Context, k APIKey) error
	// FetchAPIKey returns the API key with the given SID, or ErrNotFound.
	// Authentication looks keys up before it knows the account.
	FetchAPIKey(ctx context.Context, sid string) (APIKey, error)
	// ListAPIKeys returns the API keys of one account; none if the account
	// does not exist.
	ListAPIKeys(ctx context.Context, accountSID string) ([]APIKey, error)

	// CreateService stores a new service. It returns ErrNotFound if its
	// account does not exist and ErrConflict if the SID exists.
	CreateService(ctx context.Context, s Service) error
	// FetchService returns the service with the given SID if it belongs to
	// accountSID, and ErrNotFound otherwise.
	FetchService(ctx context.Context, accountSID, sid string) (Service, error)
	// ListServices returns the services of one account; none if the account
	// does not exist.
	ListServices(ctx context.Context, accountSID string) ([]Service, error)

	// CreateAccessToken stores a new access token. It returns ErrNotFound
	// unless the service exists and belongs to t.AccountSID, and ErrConflict
	// if the SID exists (in any account).
	CreateAccessToken(ctx context.Context, t AccessToken) error
	// FetchAccessToken returns the access token with the given SID if it
	// belongs to that account and service, and ErrNotFound otherwise.
	FetchAccessToken(ctx context.Context, accountSID, serviceSID, sid string) (AccessToken, error)

	// AddTokenKey stores a new JWE encryption key. It returns ErrConflict if
	// the ID exists.
	AddTokenKey(ctx context.Context, k TokenKey) error
	// TokenKeys returns every JWE encryption key, ordered by Created, then ID.
	TokenKeys(ctx context.Context) ([]TokenKey, error)

	// Ping checks that the database answers a query.
	Ping(ctx context.Context) error
	// Close releases the store. Calls made after Close return an error
	// (wrapping ErrUnavailable) and never panic. Close may be called more
	// than once; later calls return nil.
	Close() error
}
