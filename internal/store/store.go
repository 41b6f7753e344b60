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

	// ErrAnswered reports that a challenge was approved or denied already.
	// Nothing was changed.
	ErrAnswered = errors.New("store: challenge answered already")

	// ErrExpired reports that a challenge's expiration date has passed
	// without an answer. Nothing was changed.
	ErrExpired = errors.New("store: challenge expired")

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

// Challenge statuses as stored. A pending challenge whose ExpirationDate
// has passed reads ChallengeExpired: engines compute it on every read,
// from the now they are given, so no background job is needed.
const (
	ChallengePending  = "pending"
	ChallengeExpired  = "expired"
	ChallengeApproved = "approved"
	ChallengeDenied   = "denied"
)

// Challenge is a push challenge (YC…) of one factor: a request for the
// device to approve or deny.
type Challenge struct {
	SID        string
	AccountSID string
	ServiceSID string
	EntitySID  string
	Identity   string // the entity's
	FactorSID  string
	// Status is one of the Challenge* constants; ChallengeExpired only as
	// read, never as written.
	Status  string
	Details ChallengeDetails
	// HiddenDetails and Metadata are JSON objects of strings; nil for none.
	// Metadata is what the device sent with its answer.
	HiddenDetails  map[string]string
	Metadata       map[string]string
	DateCreated    time.Time
	DateUpdated    time.Time
	DateResponded  *time.Time // nil until answered
	ExpirationDate time.Time
}

// ChallengeDetails is what the user is shown.
type ChallengeDetails struct {
	Message string
	// Fields may be nil or empty when there are none; they are read back
	// as an empty, non-nil slice.
	Fields []ChallengeField
}

// ChallengeField is one label and value shown to the user.
type ChallengeField struct {
	Label string
	Value string
}

// ChallengeFilter narrows a list of challenges. Now decides which pending
// challenges read as expired, for the Status filter as for the items.
type ChallengeFilter struct {
	FactorSID string // "" for every factor of the entity
	Status    string // "" for every status; else a Challenge* constant (another is an error)
	Desc      bool   // newest first: After and Before follow this order
	Now       time.Time
}

// Answer is a device's answer to a challenge.
type Answer struct {
	Status   string            // ChallengeApproved or ChallengeDenied; another is an error
	Metadata map[string]string // nil for none
	At       time.Time         // when it was given: DateResponded and DateUpdated
}

// Notification is a push (NT…) recorded for a challenge: the one sent
// when it was created, or one sent again.
type Notification struct {
	SID          string
	AccountSID   string
	ServiceSID   string
	EntitySID    string
	Identity     string
	ChallengeSID string
	FactorSID    string
	// Message is the push's text: its challenge's details message, which
	// the store takes from the challenge (on create as on a resend).
	Message     string
	Priority    string
	TTL         int
	DateCreated time.Time
}

// Webhook is where a service's events are delivered (YW…).
type Webhook struct {
	SID          string
	AccountSID   string
	ServiceSID   string
	FriendlyName string
	// EventTypes are event type names, or "*" for all; none is empty or
	// holds a comma. No types reads back as nil.
	EventTypes  []string
	Status      string // "enabled" or "disabled"
	Version     string // "v1" or "v2"
	URL         string
	DateCreated time.Time
	DateUpdated time.Time
}

// Changed returns w as change leaves it, with what an update may not
// change (SID, account, service, DateCreated) kept as it was.
func (w Webhook) Changed(change func(*Webhook)) Webhook {
	c := w
	change(&c)
	c.SID, c.AccountSID, c.ServiceSID, c.DateCreated = w.SID, w.AccountSID, w.ServiceSID, w.DateCreated
	return c
}

// Event is a change that webhooks are told about. A store that makes the
// change records one Delivery of the event for each enabled webhook of
// its service whose EventTypes hold Type or "*", in the same transaction;
// with no such webhook it records nothing. An event whose ID a webhook has
// a delivery of already is not recorded for it again.
type Event struct {
	ID         string // unique; every delivery of the event carries it
	Type       string // such as "factor.created"
	AccountSID string
	ServiceSID string
	// Body is the form-encoded payload, sent as is.
	Body    string
	Created time.Time
}

// Events builds the events of a change from the record as the
// transaction sees it: the factor created, verified or deleted, or the
// challenge answered. It runs inside the transaction and must not block.
// A nil Events records none.
type Events[T any] func(T) []Event

// Delivery is one event due to one webhook.
type Delivery struct {
	EventID    string
	EventType  string
	WebhookSID string
	AccountSID string
	ServiceSID string
	// URL is the webhook's URL when the delivery was claimed.
	URL         string
	Body        string
	Attempts    int // attempts finished so far
	Created     time.Time
	NextAttempt time.Time
}

// DeliveryResult is how an attempt to deliver ended.
type DeliveryResult struct {
	At     time.Time
	Status int    // the HTTP status received; 0 for none
	Error  string // why it failed, for the log; "" when delivered
	// Delivered ends the delivery. Otherwise Next is when to try again,
	// or, when Next is zero, the delivery is given up.
	Delivered bool
	Next      time.Time
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
	// DeleteEntity deletes the entity, its factors and their challenges, or
	// returns ErrNotFound; events gets each factor deleted.
	DeleteEntity(ctx context.Context, accountSID, serviceSID, identity string, events Events[Factor]) error

	// CreateFactor stores a new factor, and the entity e when the service
	// has no entity with its Identity yet (e is ignored when it has; the
	// factor joins the existing entity, whose SID and Identity it takes).
	// When consumeToken is not empty, it also records that access token
	// SID as used, in the same transaction. It returns ErrNotFound unless
	// the service exists and belongs to f.AccountSID; ErrUsed if the token
	// was used already; ErrConflict if the entity has a factor with the
	// same public key; ErrTooMany if the entity holds MaxFactorsPerEntity
	// factors already. Nothing is stored when it fails. It returns the
	// factor as stored, and records the events of that factor.
	CreateFactor(ctx context.Context, e Entity, f Factor, consumeToken string, events Events[Factor]) (Factor, error)
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
	// DateUpdated. It returns ErrNotFound when there is none. events gets
	// the factor as it was before the update, under the transaction's lock,
	// so that of two updates that verify a factor only one sees it
	// unverified.
	UpdateFactor(ctx context.Context, f Factor, events Events[Factor]) error
	// DeleteFactor deletes the factor and its challenges, or returns
	// ErrNotFound; events gets the factor deleted.
	DeleteFactor(ctx context.Context, accountSID, serviceSID, identity, sid string, events Events[Factor]) error

	// CreateChallenge stores a new pending challenge of the factor
	// c.FactorSID, and n, the push sent for it, in one transaction. It
	// returns ErrNotFound unless the factor exists in that account,
	// service and entity (whose SID and Identity the challenge takes), and
	// ErrConflict if a SID exists. It returns the challenge as stored:
	// pending, without Metadata or DateResponded, whatever c says. n takes
	// its account, service, entity, factor and challenge from the
	// challenge. Whether the factor is verified is the caller's to check.
	CreateChallenge(ctx context.Context, c Challenge, n Notification) (Challenge, error)
	// FetchChallenge returns the challenge with that SID of that account,
	// service and entity Identity, or ErrNotFound; a pending one whose
	// ExpirationDate is not after now reads ChallengeExpired.
	FetchChallenge(ctx context.Context, accountSID, serviceSID, identity, sid string, now time.Time) (Challenge, error)
	// ListChallenges returns one page of the entity's challenges that pass
	// f, as ListEntities (newest first when f.Desc).
	ListChallenges(ctx context.Context, accountSID, serviceSID, identity string, f ChallengeFilter, p Page) ([]Challenge, bool, error)
	// AnswerChallenge sets a pending challenge to a.Status with a.Metadata,
	// if its ExpirationDate is after a.At, and returns it as stored; of two
	// answers at once, exactly one succeeds. It returns ErrNotFound,
	// ErrAnswered (approved or denied already) or ErrExpired, and changes
	// nothing then. events gets the challenge as answered.
	AnswerChallenge(ctx context.Context, accountSID, serviceSID, identity, sid string, a Answer, events Events[Challenge]) (Challenge, error)
	// CreateNotification stores n, a push of the challenge n.ChallengeSID
	// sent again, if that challenge is pending and its ExpirationDate is
	// after n.DateCreated. It returns ErrNotFound (no such challenge in
	// that account, service and entity), ErrAnswered or ErrExpired, or
	// ErrConflict if the SID exists; it fills the entity and factor
	// fields from the challenge and returns n as stored.
	CreateNotification(ctx context.Context, n Notification) (Notification, error)
	// ListNotifications returns one page of the pushes recorded for a
	// factor, as ListEntities. A factor that does not exist has none.
	ListNotifications(ctx context.Context, accountSID, serviceSID, identity, factorSID string, p Page) ([]Notification, bool, error)

	// CreateWebhook stores a new webhook. It returns ErrNotFound unless the
	// service exists and belongs to w.AccountSID, and ErrConflict if the
	// SID exists.
	CreateWebhook(ctx context.Context, w Webhook) error
	// FetchWebhook returns the webhook with that SID of that account and
	// service, or ErrNotFound.
	FetchWebhook(ctx context.Context, accountSID, serviceSID, sid string) (Webhook, error)
	// ListWebhooks returns one page of the service's webhooks, as
	// ListEntities.
	ListWebhooks(ctx context.Context, accountSID, serviceSID string, p Page) ([]Webhook, bool, error)
	// UpdateWebhook reads the webhook with that SID, account and service,
	// lets change set its FriendlyName, EventTypes, Status, Version, URL
	// and DateUpdated, stores them, and returns the webhook as stored; or
	// ErrNotFound. The read and the write are one transaction that holds
	// the row, so two updates at once each apply to the other's result
	// (a partial update reads what it does not change). The webhook's
	// unfinished deliveries follow it, in the same transaction: they take
	// its new URL, and those it no longer takes (it is disabled, or no
	// longer lists their event type) end unsent, as given up.
	UpdateWebhook(ctx context.Context, accountSID, serviceSID, sid string, change func(*Webhook)) (Webhook, error)
	// DeleteWebhook deletes the webhook and its undelivered deliveries, or
	// returns ErrNotFound.
	DeleteWebhook(ctx context.Context, accountSID, serviceSID, sid string) error

	// ClaimDeliveries returns up to limit deliveries that are due (not
	// finished, NextAttempt not after now, and not claimed by a lease that
	// runs past now), oldest NextAttempt first (then by Created, EventID
	// and WebhookSID), and leases them until now+lease, so that another
	// instance does not claim them meanwhile. A lease that runs out (the
	// claimer died) makes them due again. A limit below 1, or a lease
	// under a second (times are whole seconds), is an error.
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// FinishDelivery records an attempt of the delivery of eventID to
	// webhookSID: it counts the attempt and ends the lease; r says whether
	// it ends the delivery (delivered or given up) or when to try again.
	// It returns ErrNotFound, and changes nothing, when the delivery is
	// gone (its webhook was deleted) or finished already (another
	// instance, whose claim came after this one's lease ran out, finished
	// it).
	FinishDelivery(ctx context.Context, eventID, webhookSID string, r DeliveryResult) error
	// PruneDeliveries deletes the finished deliveries that finished before
	// before, and returns how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)

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
