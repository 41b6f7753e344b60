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

	// ErrUsed reports that a single-use credential, such as an access
	// token that enrolled a factor, was used already. Nothing was stored.
	ErrUsed = errors.New("store: already used")

	// ErrTooMany reports that a create would exceed a limit, such as
	// MaxFactorsPerEntity. Nothing was stored.
	ErrTooMany = errors.New("store: limit reached")

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

// Entity is a Verify entity (YE…): a user of one service, named by an
// Identity unique within the service.
type Entity struct {
	SID         string
	AccountSID  string
	ServiceSID  string
	Identity    string
	DateCreated time.Time
	DateUpdated time.Time
}

// Factor is a push factor (YF…) of one entity: the P-256 public key of one
// device, and what the device told about itself.
type Factor struct {
	SID        string
	AccountSID string
	ServiceSID string
	EntitySID  string
	Identity   string // the entity's
	// CredentialSID (CR…) names the factor's key; it is the kid of the
	// device's JWTs, unique across the store.
	CredentialSID string
	FriendlyName  string
	Verified      bool
	// PublicKey is the DER SubjectPublicKeyInfo, as sent in
	// Binding.PublicKey (decoded from Base64).
	PublicKey []byte
	// Config, as sent; nil when not given.
	SdkVersion           *string
	AppID                *string
	NotificationPlatform *string
	NotificationToken    *string
	// Metadata is the JSON object of strings the device sent; nil for none.
	Metadata    map[string]string
	DateCreated time.Time
	DateUpdated time.Time
}

// MaxFactorsPerEntity is how many push factors an entity may hold.
const MaxFactorsPerEntity = 20

// Page asks for one page of a list ordered by creation time, then SID:
// Limit items after the cursor After, or, when Before is set, the Limit
// items just before it. The zero Page is the first page of Limit items.
// A Limit below 1, or both cursors set, is an error.
type Page struct {
	Limit  int
	After  *Cursor
	Before *Cursor
}

// Cursor is a position in a list: the creation time and SID of an item.
type Cursor struct {
	Created time.Time
	SID     string
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

	// CreateEntity stores a new entity. It returns ErrNotFound unless the
	// service exists and belongs to e.AccountSID, and ErrConflict if the
	// service has an entity with that Identity already (or the SID exists).
	CreateEntity(ctx context.Context, e Entity) error
	// FetchEntity returns the entity of that account, service and Identity,
	// or ErrNotFound.
	FetchEntity(ctx context.Context, accountSID, serviceSID, identity string) (Entity, error)
	// ListEntities returns one page of the service's entities, in order,
	// and whether more follow in the page's direction (after the last item
	// for After and the first page, before the first item for Before).
	ListEntities(ctx context.Context, accountSID, serviceSID string, p Page) ([]Entity, bool, error)
	// DeleteEntity deletes the entity and its factors, or returns
	// ErrNotFound.
	DeleteEntity(ctx context.Context, accountSID, serviceSID, identity string) error

	// CreateFactor stores a new factor, and the entity e when the service
	// has no entity with its Identity yet (e is ignored when it has; the
	// factor joins the existing entity, whose SID and Identity it takes).
	// When consumeToken is not empty, it also records that access token
	// SID as used, in the same transaction. It returns ErrNotFound unless
	// the service exists and belongs to f.AccountSID; ErrUsed if the token
	// was used already; ErrConflict if the entity has a factor with the
	// same public key; ErrTooMany if the entity holds MaxFactorsPerEntity
	// factors already. Nothing is stored when it fails. It returns the
	// factor as stored.
	CreateFactor(ctx context.Context, e Entity, f Factor, consumeToken string) (Factor, error)
	// FetchFactor returns the factor with that SID of that account,
	// service and entity Identity, or ErrNotFound.
	FetchFactor(ctx context.Context, accountSID, serviceSID, identity, sid string) (Factor, error)
	// FetchFactorByCredential returns the factor whose CredentialSID is
	// credentialSID, whatever its account (device JWT authentication looks
	// it up before it knows the account), or ErrNotFound.
	FetchFactorByCredential(ctx context.Context, credentialSID string) (Factor, error)
	// ListFactors returns one page of an entity's factors, as ListEntities.
	// An entity that does not exist has none.
	ListFactors(ctx context.Context, accountSID, serviceSID, identity string, p Page) ([]Factor, bool, error)
	// UpdateFactor stores f over the factor with f's SID, account, service
	// and entity: its FriendlyName, Verified, config fields, Metadata and
	// DateUpdated. It returns ErrNotFound when there is none.
	UpdateFactor(ctx context.Context, f Factor) error
	// DeleteFactor deletes the factor, or returns ErrNotFound.
	DeleteFactor(ctx context.Context, accountSID, serviceSID, identity, sid string) error

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
