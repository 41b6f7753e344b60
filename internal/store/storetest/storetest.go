// Package storetest is the conformance suite for store.Store engines. It is
// written once and run against every engine, so they agree on not-found,
// conflicts, ownership, ordering, time precision and concurrency:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "verifyd.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/verifykit/verifykit/internal/store"
)

// opener returns a fresh, empty store for one test and arranges, with
// t.Cleanup, for it to be closed. The suite may close it earlier itself, so
// Close must tolerate a second call.
type opener func(t *testing.T) store.Store

// Run runs the conformance suite: one subtest per behaviour, each on a store
// of its own from open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, open opener)
	}{
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"Ownership", testOwnership},
		{"Conflict", testConflict},
		{"Lists", testLists},
		{"TokenKeys", testTokenKeys},
		{"Entities", testEntities},
		{"Factors", testFactors},
		{"Pages", testPages},
		{"Concurrency", testConcurrency},
		{"FactorConcurrency", testFactorConcurrency},
		{"Challenges", testChallenges},
		{"ChallengePages", testChallengePages},
		{"ChallengeConcurrency", testChallengeConcurrency},
		{"Webhooks", testWebhooks},
		{"Events", testEvents},
		{"EventConcurrency", testEventConcurrency},
		{"Deliveries", testDeliveries},
		{"Context", testContext},
		{"Ping", testPing},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open) })
	}
}

// exactTime compares times by instant and location name, so a time that
// comes back in another zone than UTC fails even when it is the same instant.
var exactTime = cmp.Comparer(func(a, b time.Time) bool {
	return a.Equal(b) && a.Location().String() == b.Location().String()
})

// cmpOpts are the options every comparison in the suite uses. An empty list
// may be nil or empty, as store.Store documents.
var cmpOpts = []cmp.Option{exactTime, cmpopts.EquateEmpty()}

// when is a time with a fraction of a second in a zone other than UTC. The
// store must return it as want(when).
var when = time.Date(2024, time.March, 10, 2, 30, 15, 987654321, time.FixedZone("UTC-7", -7*60*60))

// want returns t as the store must return it: UTC, whole seconds.
func want(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// sid returns a well-formed SID with the given two-letter prefix.
func sid(prefix string, n int) string { return fmt.Sprintf("%s%032x", prefix, n) }

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// jwe is a compact JWE of realistic shape and length. The store must return
// it byte for byte.
var jwe = strings.Join([]string{
	"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazEifQ",
	"",
	"48V1_ALb6US04U3b",
	strings.Repeat("5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji", 12),
	"XFBoMYUZodetZdvTiFvSkQ",
}, ".")

// fixture is a store seeded with two accounts, each owning one service.
type fixture struct {
	s            store.Store
	acct, other  store.Account
	svc, otherSv store.Service
}

// seed fills s with the fixture's accounts and services.
func seed(t *testing.T, s store.Store) fixture {
	t.Helper()
	f := fixture{
		s:       s,
		acct:    store.Account{SID: sid("AC", 1), FriendlyName: "first", AuthTokenHash: "hash-1", DateCreated: want(when)},
		other:   store.Account{SID: sid("AC", 2), FriendlyName: "second", AuthTokenHash: "hash-2", DateCreated: want(when)},
		svc:     store.Service{SID: sid("VA", 1), AccountSID: sid("AC", 1), FriendlyName: "svc one", DateCreated: want(when)},
		otherSv: store.Service{SID: sid("VA", 2), AccountSID: sid("AC", 2), FriendlyName: "svc two", DateCreated: want(when)},
	}
	ctx := t.Context()
	must(t, "CreateAccount", s.CreateAccount(ctx, f.acct))
	must(t, "CreateAccount", s.CreateAccount(ctx, f.other))
	must(t, "CreateService", s.CreateService(ctx, f.svc))
	must(t, "CreateService", s.CreateService(ctx, f.otherSv))
	return f
}

// token returns an access token with SID number n in the fixture's first
// service.
func token(n int) store.AccessToken {
	return store.AccessToken{
		SID:                sid("YK", n),
		AccountSID:         sid("AC", 1),
		ServiceSID:         sid("VA", 1),
		Identity:           fmt.Sprintf("identity-%d", n),
		FactorType:         "push",
		FactorFriendlyName: ptr(fmt.Sprintf("phone %d", n)),
		TTL:                300,
		Token:              fmt.Sprintf("%s.%d", jwe, n),
		DateCreated:        want(when),
	}
}

// must fails the test at once if err is not nil.
func must(t *testing.T, call string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", call, err)
	}
}

// checkIs reports an error unless errors.Is(err, target).
func checkIs(t *testing.T, call string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s error = %v, want one wrapping %v", call, err, target)
	}
}

// checkDiff reports any difference between want and got.
func checkDiff(t *testing.T, call string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
	}
}

func testRoundTrip(t *testing.T, open opener) {
	tests := []struct {
		name string
		// create stores a record whose times are when, or another non-UTC
		// time with a fraction of a second; fetch reads it back.
		create func(ctx context.Context, f fixture) error
		fetch  func(ctx context.Context, f fixture) (any, error)
		want   any
	}{
		{
			name: "Account",
			create: func(ctx context.Context, f fixture) error {
				return f.s.CreateAccount(ctx, store.Account{SID: sid("AC", 9), FriendlyName: "Ünïcode ✓", AuthTokenHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.FetchAccount(ctx, sid("AC", 9)) },
			want:  store.Account{SID: sid("AC", 9), FriendlyName: "Ünïcode ✓", AuthTokenHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", DateCreated: want(when)},
		},
		{
			name: "Account/BeforeEpoch",
			create: func(ctx context.Context, f fixture) error {
				return f.s.CreateAccount(ctx, store.Account{SID: sid("AC", 9), DateCreated: time.Date(1969, time.December, 31, 23, 59, 59, 500_000_000, time.UTC)})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.FetchAccount(ctx, sid("AC", 9)) },
			want:  store.Account{SID: sid("AC", 9), DateCreated: time.Date(1969, time.December, 31, 23, 59, 59, 0, time.UTC)},
		},
		{
			name: "APIKey",
			create: func(ctx context.Context, f fixture) error {
				return f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 1), AccountSID: f.acct.SID, FriendlyName: "ci key", SecretHash: "secret-hash", DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.FetchAPIKey(ctx, sid("SK", 1)) },
			want:  store.APIKey{SID: sid("SK", 1), AccountSID: sid("AC", 1), FriendlyName: "ci key", SecretHash: "secret-hash", DateCreated: want(when)},
		},
		{
			name: "Service",
			create: func(ctx context.Context, f fixture) error {
				return f.s.CreateService(ctx, store.Service{SID: sid("VA", 9), AccountSID: f.acct.SID, FriendlyName: "My Service", DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchService(ctx, f.acct.SID, sid("VA", 9))
			},
			want: store.Service{SID: sid("VA", 9), AccountSID: sid("AC", 1), FriendlyName: "My Service", DateCreated: want(when)},
		},
		{
			name: "AccessToken/FactorFriendlyNameSet",
			create: func(ctx context.Context, f fixture) error {
				return f.s.CreateAccessToken(ctx, store.AccessToken{SID: sid("YK", 1), AccountSID: f.acct.SID, ServiceSID: f.svc.SID, Identity: "ff483d1ff591898a9942916050d2ca3f", FactorType: "push", FactorFriendlyName: ptr("John Doe iPhone"), TTL: 300, Token: jwe, DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, sid("YK", 1))
			},
			want: store.AccessToken{SID: sid("YK", 1), AccountSID: sid("AC", 1), ServiceSID: sid("VA", 1), Identity: "ff483d1ff591898a9942916050d2ca3f", FactorType: "push", FactorFriendlyName: ptr("John Doe iPhone"), TTL: 300, Token: jwe, DateCreated: want(when)},
		},
		{
			name: "AccessToken/FactorFriendlyNameEmpty",
			create: func(ctx context.Context, f fixture) error {
				return f.s.CreateAccessToken(ctx, store.AccessToken{SID: sid("YK", 2), AccountSID: f.acct.SID, ServiceSID: f.svc.SID, Identity: "id", FactorType: "push", FactorFriendlyName: ptr(""), TTL: 60, Token: jwe, DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, sid("YK", 2))
			},
			want: store.AccessToken{SID: sid("YK", 2), AccountSID: sid("AC", 1), ServiceSID: sid("VA", 1), Identity: "id", FactorType: "push", FactorFriendlyName: ptr(""), TTL: 60, Token: jwe, DateCreated: want(when)},
		},
		{
			name: "AccessToken/FactorFriendlyNameNil",
			create: func(ctx context.Context, f fixture) error {
				return f.s.CreateAccessToken(ctx, store.AccessToken{SID: sid("YK", 3), AccountSID: f.acct.SID, ServiceSID: f.svc.SID, Identity: "id", FactorType: "push", TTL: 3600, Token: jwe, DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, sid("YK", 3))
			},
			want: store.AccessToken{SID: sid("YK", 3), AccountSID: sid("AC", 1), ServiceSID: sid("VA", 1), Identity: "id", FactorType: "push", TTL: 3600, Token: jwe, DateCreated: want(when)},
		},
		{
			name: "TokenKey",
			create: func(ctx context.Context, f fixture) error {
				return f.s.AddTokenKey(ctx, store.TokenKey{ID: "k1", Secret: []byte{0x00, 0xff, 0x10, 0x00, 0x7f}, Created: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.TokenKeys(ctx) },
			want:  []store.TokenKey{{ID: "k1", Secret: []byte{0x00, 0xff, 0x10, 0x00, 0x7f}, Created: want(when)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			f := seed(t, open(t))
			must(t, "create", tt.create(ctx, f))
			got, err := tt.fetch(ctx, f)
			must(t, "fetch", err)
			checkDiff(t, "fetch after create", tt.want, got)
		})
	}
}

func testNotFound(t *testing.T, open opener) {
	tests := []struct {
		name string
		call func(ctx context.Context, f fixture) error
	}{
		{"FetchAccount", func(ctx context.Context, f fixture) error {
			_, err := f.s.FetchAccount(ctx, sid("AC", 99))
			return err
		}},
		{"FetchAPIKey", func(ctx context.Context, f fixture) error {
			_, err := f.s.FetchAPIKey(ctx, sid("SK", 99))
			return err
		}},
		{"FetchService", func(ctx context.Context, f fixture) error {
			_, err := f.s.FetchService(ctx, f.acct.SID, sid("VA", 99))
			return err
		}},
		{"FetchAccessToken", func(ctx context.Context, f fixture) error {
			_, err := f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, sid("YK", 99))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := seed(t, open(t))
			checkIs(t, tt.name, tt.call(t.Context(), f), store.ErrNotFound)
		})
	}
}

func testOwnership(t *testing.T, open opener) {
	tests := []struct {
		name string
		call func(ctx context.Context, f fixture) error
		// stored, if set, checks that the failed create left nothing behind.
		stored func(ctx context.Context, f fixture) error
	}{
		{
			name: "FetchService/OtherAccount",
			call: func(ctx context.Context, f fixture) error {
				_, err := f.s.FetchService(ctx, f.acct.SID, f.otherSv.SID)
				return err
			},
		},
		{
			name: "FetchAccessToken/OtherAccount",
			call: func(ctx context.Context, f fixture) error {
				_, err := f.s.FetchAccessToken(ctx, f.other.SID, f.svc.SID, token(1).SID)
				return err
			},
		},
		{
			name: "FetchAccessToken/OtherService",
			call: func(ctx context.Context, f fixture) error {
				_, err := f.s.FetchAccessToken(ctx, f.acct.SID, sid("VA", 3), token(1).SID)
				return err
			},
		},
		{
			name: "FetchAccessToken/OtherAccountsService",
			call: func(ctx context.Context, f fixture) error {
				_, err := f.s.FetchAccessToken(ctx, f.other.SID, f.otherSv.SID, token(1).SID)
				return err
			},
		},
		{
			name: "CreateAPIKey/UnknownAccount",
			call: func(ctx context.Context, f fixture) error {
				return f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 7), AccountSID: sid("AC", 99), DateCreated: when})
			},
			stored: func(ctx context.Context, f fixture) error {
				_, err := f.s.FetchAPIKey(ctx, sid("SK", 7))
				return err
			},
		},
		{
			name: "CreateService/UnknownAccount",
			call: func(ctx context.Context, f fixture) error {
				return f.s.CreateService(ctx, store.Service{SID: sid("VA", 7), AccountSID: sid("AC", 99), DateCreated: when})
			},
			stored: func(ctx context.Context, f fixture) error {
				_, err := f.s.FetchService(ctx, sid("AC", 99), sid("VA", 7))
				return err
			},
		},
		{
			name: "CreateAccessToken/OtherAccountsService",
			call: func(ctx context.Context, f fixture) error {
				tok := token(7)
				tok.ServiceSID = f.otherSv.SID
				return f.s.CreateAccessToken(ctx, tok)
			},
			stored: func(ctx context.Context, f fixture) error {
				_, err := f.s.FetchAccessToken(ctx, f.other.SID, f.otherSv.SID, token(7).SID)
				return err
			},
		},
		{
			name: "CreateAccessToken/UnknownService",
			call: func(ctx context.Context, f fixture) error {
				tok := token(7)
				tok.ServiceSID = sid("VA", 99)
				return f.s.CreateAccessToken(ctx, tok)
			},
		},
		{
			name: "CreateAccessToken/UnknownAccount",
			call: func(ctx context.Context, f fixture) error {
				tok := token(7)
				tok.AccountSID = sid("AC", 99)
				return f.s.CreateAccessToken(ctx, tok)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			f := seed(t, open(t))
			must(t, "CreateAccessToken", f.s.CreateAccessToken(ctx, token(1)))
			checkIs(t, tt.name, tt.call(ctx, f), store.ErrNotFound)
			if tt.stored != nil {
				checkIs(t, "fetch after failed create", tt.stored(ctx, f), store.ErrNotFound)
			}
			// Whatever failed, the rightful owner still sees its token.
			got, err := f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, token(1).SID)
			must(t, "FetchAccessToken", err)
			checkDiff(t, "FetchAccessToken", token(1), got)
		})
	}
}

func testConflict(t *testing.T, open opener) {
	tests := []struct {
		name string
		// first and dup create records with the same primary key but
		// different fields; fetch returns the stored one.
		first, dup func(ctx context.Context, f fixture) error
		fetch      func(ctx context.Context, f fixture) (any, error)
		want       any
	}{
		{
			name: "Account",
			first: func(ctx context.Context, f fixture) error {
				return f.s.CreateAccount(ctx, store.Account{SID: sid("AC", 5), FriendlyName: "original", AuthTokenHash: "h1", DateCreated: when})
			},
			dup: func(ctx context.Context, f fixture) error {
				return f.s.CreateAccount(ctx, store.Account{SID: sid("AC", 5), FriendlyName: "impostor", AuthTokenHash: "h2", DateCreated: when.Add(time.Hour)})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.FetchAccount(ctx, sid("AC", 5)) },
			want:  store.Account{SID: sid("AC", 5), FriendlyName: "original", AuthTokenHash: "h1", DateCreated: want(when)},
		},
		{
			name: "APIKey",
			first: func(ctx context.Context, f fixture) error {
				return f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 5), AccountSID: f.acct.SID, FriendlyName: "original", SecretHash: "h1", DateCreated: when})
			},
			dup: func(ctx context.Context, f fixture) error {
				return f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 5), AccountSID: f.acct.SID, FriendlyName: "impostor", SecretHash: "h2", DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.FetchAPIKey(ctx, sid("SK", 5)) },
			want:  store.APIKey{SID: sid("SK", 5), AccountSID: sid("AC", 1), FriendlyName: "original", SecretHash: "h1", DateCreated: want(when)},
		},
		{
			name: "APIKey/OtherAccount",
			first: func(ctx context.Context, f fixture) error {
				return f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 5), AccountSID: f.acct.SID, FriendlyName: "original", SecretHash: "h1", DateCreated: when})
			},
			dup: func(ctx context.Context, f fixture) error {
				return f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 5), AccountSID: f.other.SID, FriendlyName: "impostor", SecretHash: "h2", DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.FetchAPIKey(ctx, sid("SK", 5)) },
			want:  store.APIKey{SID: sid("SK", 5), AccountSID: sid("AC", 1), FriendlyName: "original", SecretHash: "h1", DateCreated: want(when)},
		},
		{
			name: "Service",
			first: func(ctx context.Context, f fixture) error {
				return f.s.CreateService(ctx, store.Service{SID: sid("VA", 5), AccountSID: f.acct.SID, FriendlyName: "original", DateCreated: when})
			},
			dup: func(ctx context.Context, f fixture) error {
				return f.s.CreateService(ctx, store.Service{SID: sid("VA", 5), AccountSID: f.acct.SID, FriendlyName: "impostor", DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchService(ctx, f.acct.SID, sid("VA", 5))
			},
			want: store.Service{SID: sid("VA", 5), AccountSID: sid("AC", 1), FriendlyName: "original", DateCreated: want(when)},
		},
		{
			name: "Service/OtherAccount",
			first: func(ctx context.Context, f fixture) error {
				return f.s.CreateService(ctx, store.Service{SID: sid("VA", 5), AccountSID: f.acct.SID, FriendlyName: "original", DateCreated: when})
			},
			dup: func(ctx context.Context, f fixture) error {
				return f.s.CreateService(ctx, store.Service{SID: sid("VA", 5), AccountSID: f.other.SID, FriendlyName: "impostor", DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchService(ctx, f.acct.SID, sid("VA", 5))
			},
			want: store.Service{SID: sid("VA", 5), AccountSID: sid("AC", 1), FriendlyName: "original", DateCreated: want(when)},
		},
		{
			name:  "AccessToken",
			first: func(ctx context.Context, f fixture) error { return f.s.CreateAccessToken(ctx, token(5)) },
			dup: func(ctx context.Context, f fixture) error {
				tok := token(6)
				tok.SID = token(5).SID
				return f.s.CreateAccessToken(ctx, tok)
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, token(5).SID)
			},
			want: token(5),
		},
		{
			name:  "AccessToken/OtherAccount",
			first: func(ctx context.Context, f fixture) error { return f.s.CreateAccessToken(ctx, token(5)) },
			dup: func(ctx context.Context, f fixture) error {
				tok := token(6)
				tok.SID, tok.AccountSID, tok.ServiceSID = token(5).SID, f.other.SID, f.otherSv.SID
				return f.s.CreateAccessToken(ctx, tok)
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, token(5).SID)
			},
			want: token(5),
		},
		{
			name: "TokenKey",
			first: func(ctx context.Context, f fixture) error {
				return f.s.AddTokenKey(ctx, store.TokenKey{ID: "k1", Secret: []byte("original"), Created: when})
			},
			dup: func(ctx context.Context, f fixture) error {
				return f.s.AddTokenKey(ctx, store.TokenKey{ID: "k1", Secret: []byte("impostor"), Created: when.Add(-time.Hour)})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.TokenKeys(ctx) },
			want:  []store.TokenKey{{ID: "k1", Secret: []byte("original"), Created: want(when)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			f := seed(t, open(t))
			must(t, "first create", tt.first(ctx, f))
			checkIs(t, "duplicate create", tt.dup(ctx, f), store.ErrConflict)
			got, err := tt.fetch(ctx, f)
			must(t, "fetch", err)
			checkDiff(t, "fetch after duplicate create", tt.want, got)
		})
	}
}

func testLists(t *testing.T, open opener) {
	// Creation times out of insertion order, with two pairs that tie once
	// truncated to the second, so the SID breaks the tie.
	base := time.Date(2025, time.January, 2, 3, 4, 5, 0, time.FixedZone("UTC+9", 9*60*60))
	times := []time.Time{
		base.Add(2 * time.Second),
		base.Add(100 * time.Millisecond),
		base.Add(900 * time.Millisecond), // ties with the one above
		base.Add(time.Second),
		base.Add(-time.Second),
		base.Add(time.Second + 999*time.Millisecond), // ties with base+1s
	}
	// order is the SID numbers in the listing order of times (0-based
	// indexes plus 10): by time, then SID.
	order := []int{14, 11, 12, 13, 15, 10}

	t.Run("Accounts", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		var wantList []store.Account
		for i, at := range times {
			must(t, "CreateAccount", s.CreateAccount(ctx, store.Account{SID: sid("AC", 10+i), FriendlyName: fmt.Sprint(i), DateCreated: at}))
		}
		for _, n := range order {
			wantList = append(wantList, store.Account{SID: sid("AC", n), FriendlyName: fmt.Sprint(n - 10), DateCreated: want(times[n-10])})
		}
		got, err := s.ListAccounts(ctx)
		must(t, "ListAccounts", err)
		checkDiff(t, "ListAccounts()", wantList, got)
	})

	t.Run("APIKeys", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		var wantList []store.APIKey
		for i, at := range times {
			must(t, "CreateAPIKey", f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 10+i), AccountSID: f.acct.SID, FriendlyName: fmt.Sprint(i), SecretHash: "h", DateCreated: at}))
			// Another account's key, which must not be listed.
			must(t, "CreateAPIKey", f.s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 20+i), AccountSID: f.other.SID, SecretHash: "h", DateCreated: at}))
		}
		for _, n := range order {
			wantList = append(wantList, store.APIKey{SID: sid("SK", n), AccountSID: f.acct.SID, FriendlyName: fmt.Sprint(n - 10), SecretHash: "h", DateCreated: want(times[n-10])})
		}
		got, err := f.s.ListAPIKeys(ctx, f.acct.SID)
		must(t, "ListAPIKeys", err)
		checkDiff(t, fmt.Sprintf("ListAPIKeys(%q)", f.acct.SID), wantList, got)
	})

	t.Run("Services", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		wantList := []store.Service{f.svc} // seeded at when, before base
		for i, at := range times {
			must(t, "CreateService", f.s.CreateService(ctx, store.Service{SID: sid("VA", 10+i), AccountSID: f.acct.SID, FriendlyName: fmt.Sprint(i), DateCreated: at}))
			must(t, "CreateService", f.s.CreateService(ctx, store.Service{SID: sid("VA", 20+i), AccountSID: f.other.SID, DateCreated: at}))
		}
		for _, n := range order {
			wantList = append(wantList, store.Service{SID: sid("VA", n), AccountSID: f.acct.SID, FriendlyName: fmt.Sprint(n - 10), DateCreated: want(times[n-10])})
		}
		got, err := f.s.ListServices(ctx, f.acct.SID)
		must(t, "ListServices", err)
		checkDiff(t, fmt.Sprintf("ListServices(%q)", f.acct.SID), wantList, got)
	})

	t.Run("Empty", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		accounts, err := s.ListAccounts(ctx)
		must(t, "ListAccounts", err)
		checkDiff(t, "ListAccounts() on an empty store", []store.Account(nil), accounts)

		f := seed(t, s)
		keys, err := s.ListAPIKeys(ctx, f.acct.SID)
		must(t, "ListAPIKeys", err)
		checkDiff(t, "ListAPIKeys() of an account without keys", []store.APIKey(nil), keys)
		services, err := s.ListServices(ctx, sid("AC", 99))
		must(t, "ListServices", err)
		checkDiff(t, "ListServices() of an unknown account", []store.Service(nil), services)
	})
}

func testTokenKeys(t *testing.T, open opener) {
	t.Run("Ordered", func(t *testing.T) {
		ctx := t.Context()
		s := open(t)
		add := []store.TokenKey{
			{ID: "c", Secret: []byte("3"), Created: when.Add(time.Hour)},
			{ID: "b", Secret: []byte("2"), Created: when},
			{ID: "a", Secret: []byte("1"), Created: when.Add(-500 * time.Millisecond)}, // same second as b
			{ID: "d", Secret: []byte("4"), Created: when.Add(-time.Hour)},
		}
		for _, k := range add {
			must(t, "AddTokenKey", s.AddTokenKey(ctx, k))
		}
		wantKeys := []store.TokenKey{
			{ID: "d", Secret: []byte("4"), Created: want(when.Add(-time.Hour))},
			{ID: "a", Secret: []byte("1"), Created: want(when)},
			{ID: "b", Secret: []byte("2"), Created: want(when)},
			{ID: "c", Secret: []byte("3"), Created: want(when.Add(time.Hour))},
		}
		got, err := s.TokenKeys(ctx)
		must(t, "TokenKeys", err)
		checkDiff(t, "TokenKeys()", wantKeys, got)
	})
	t.Run("Empty", func(t *testing.T) {
		got, err := open(t).TokenKeys(t.Context())
		must(t, "TokenKeys", err)
		checkDiff(t, "TokenKeys() on an empty store", []store.TokenKey(nil), got)
	})
}

func testConcurrency(t *testing.T, open opener) {
	const workers, perWorker = 16, 50

	t.Run("DistinctCreates", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					tok := token(w*perWorker + i)
					if err := f.s.CreateAccessToken(ctx, tok); err != nil {
						t.Errorf("CreateAccessToken(%s): %v", tok.SID, err)
						return
					}
					// Read your own write at once, on whatever connection.
					got, err := f.s.FetchAccessToken(ctx, tok.AccountSID, tok.ServiceSID, tok.SID)
					if err != nil {
						t.Errorf("FetchAccessToken(%s) right after create: %v", tok.SID, err)
						return
					}
					checkDiff(t, "FetchAccessToken right after create", tok, got)
				}
			})
		}
		wg.Wait()
		for n := range workers * perWorker {
			tok := token(n)
			got, err := f.s.FetchAccessToken(ctx, tok.AccountSID, tok.ServiceSID, tok.SID)
			if err != nil {
				t.Fatalf("FetchAccessToken(%s): %v", tok.SID, err)
			}
			checkDiff(t, "FetchAccessToken", tok, got)
		}
	})

	t.Run("ExactCount", func(t *testing.T) {
		const perWorker = 10
		ctx := t.Context()
		f := seed(t, open(t))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					k := store.APIKey{SID: sid("SK", w*perWorker+i), AccountSID: f.acct.SID, SecretHash: "h", DateCreated: when}
					if err := f.s.CreateAPIKey(ctx, k); err != nil {
						t.Errorf("CreateAPIKey(%s): %v", k.SID, err)
					}
				}
			})
		}
		wg.Wait()
		got, err := f.s.ListAPIKeys(ctx, f.acct.SID)
		must(t, "ListAPIKeys", err)
		var wantKeys []store.APIKey // all at the same time, so ordered by SID
		for n := range workers * perWorker {
			wantKeys = append(wantKeys, store.APIKey{SID: sid("SK", n), AccountSID: f.acct.SID, SecretHash: "h", DateCreated: want(when)})
		}
		checkDiff(t, "ListAPIKeys after concurrent creates", wantKeys, got)
	})

	t.Run("MixedOutcomes", func(t *testing.T) {
		// Writes that succeed, conflict and miss their owner, all at once:
		// an engine that batches writes must still answer each on its own.
		const n = 3 * workers
		ctx := t.Context()
		f := seed(t, open(t))
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				tok := token(100 + i)
				switch i % 3 {
				case 1: // all race for one SID
					tok.SID = sid("YK", 1)
				case 2: // a service the account does not own
					tok.ServiceSID = f.otherSv.SID
				}
				<-start
				errs[i] = f.s.CreateAccessToken(ctx, tok)
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch i % 3 {
			case 0:
				if err != nil {
					t.Errorf("CreateAccessToken(%s): %v", token(100+i).SID, err)
					continue
				}
				got, err := f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, token(100+i).SID)
				must(t, "FetchAccessToken", err)
				checkDiff(t, "FetchAccessToken", token(100+i), got)
			case 1:
				if err == nil {
					winners++
				} else {
					checkIs(t, "CreateAccessToken with a contested SID", err, store.ErrConflict)
				}
			case 2:
				checkIs(t, "CreateAccessToken in another account's service", err, store.ErrNotFound)
			}
		}
		if winners != 1 {
			t.Errorf("%d creates of one SID succeeded, want exactly 1", winners)
		}
	})

	dups := []struct {
		name string
		// create makes attempt i at the same primary key; fetch returns the
		// stored record, and want is what attempt i would have stored.
		create func(ctx context.Context, f fixture, i int) error
		fetch  func(ctx context.Context, f fixture) (any, error)
		want   func(f fixture, i int) any
	}{
		{
			name: "DuplicateAccessToken",
			create: func(ctx context.Context, f fixture, i int) error {
				tok := token(i)
				tok.SID = sid("YK", 1)
				return f.s.CreateAccessToken(ctx, tok)
			},
			fetch: func(ctx context.Context, f fixture) (any, error) {
				return f.s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, sid("YK", 1))
			},
			want: func(f fixture, i int) any {
				tok := token(i)
				tok.SID = sid("YK", 1)
				return tok
			},
		},
		{
			name: "DuplicateAccount",
			create: func(ctx context.Context, f fixture, i int) error {
				return f.s.CreateAccount(ctx, store.Account{SID: sid("AC", 9), FriendlyName: fmt.Sprint(i), DateCreated: when})
			},
			fetch: func(ctx context.Context, f fixture) (any, error) { return f.s.FetchAccount(ctx, sid("AC", 9)) },
			want: func(f fixture, i int) any {
				return store.Account{SID: sid("AC", 9), FriendlyName: fmt.Sprint(i), DateCreated: want(when)}
			},
		},
	}
	for _, tt := range dups {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			f := seed(t, open(t))
			errs := make([]error, workers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range workers {
				wg.Go(func() {
					<-start
					errs[i] = tt.create(ctx, f, i)
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("attempts %d and %d both succeeded", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("attempt %d error = %v, want one wrapping %v", i, err, store.ErrConflict)
				}
			}
			if winner < 0 {
				t.Fatalf("all %d attempts failed, want exactly one to succeed", workers)
			}
			got, err := tt.fetch(ctx, f)
			must(t, "fetch", err)
			checkDiff(t, fmt.Sprintf("fetch after attempt %d won", winner), tt.want(f, winner), got)
		})
	}
}

// calls is one call of every method but Close, each under ctx, against a
// store seeded by seedAll.
func calls(f pushFixture) []struct {
	name  string
	write bool
	call  func(ctx context.Context) error
} {
	s := f.s
	return []struct {
		name  string
		write bool
		call  func(ctx context.Context) error
	}{
		{"CreateAccount", true, func(ctx context.Context) error {
			return s.CreateAccount(ctx, store.Account{SID: sid("AC", 50), DateCreated: when})
		}},
		{"FetchAccount", false, func(ctx context.Context) error { _, err := s.FetchAccount(ctx, f.acct.SID); return err }},
		{"ListAccounts", false, func(ctx context.Context) error { _, err := s.ListAccounts(ctx); return err }},
		{"CreateAPIKey", true, func(ctx context.Context) error {
			return s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 50), AccountSID: f.acct.SID, DateCreated: when})
		}},
		{"FetchAPIKey", false, func(ctx context.Context) error { _, err := s.FetchAPIKey(ctx, sid("SK", 1)); return err }},
		{"ListAPIKeys", false, func(ctx context.Context) error { _, err := s.ListAPIKeys(ctx, f.acct.SID); return err }},
		{"CreateService", true, func(ctx context.Context) error {
			return s.CreateService(ctx, store.Service{SID: sid("VA", 50), AccountSID: f.acct.SID, DateCreated: when})
		}},
		{"FetchService", false, func(ctx context.Context) error { _, err := s.FetchService(ctx, f.acct.SID, f.svc.SID); return err }},
		{"ListServices", false, func(ctx context.Context) error { _, err := s.ListServices(ctx, f.acct.SID); return err }},
		{"CreateAccessToken", true, func(ctx context.Context) error { return s.CreateAccessToken(ctx, token(50)) }},
		{"FetchAccessToken", false, func(ctx context.Context) error {
			_, err := s.FetchAccessToken(ctx, f.acct.SID, f.svc.SID, token(1).SID)
			return err
		}},
		{"AddTokenKey", true, func(ctx context.Context) error {
			return s.AddTokenKey(ctx, store.TokenKey{ID: "k50", Secret: []byte("s"), Created: when})
		}},
		{"TokenKeys", false, func(ctx context.Context) error { _, err := s.TokenKeys(ctx); return err }},
		{"CreateEntity", true, func(ctx context.Context) error { return s.CreateEntity(ctx, entity(50)) }},
		{"FetchEntity", false, func(ctx context.Context) error {
			_, err := s.FetchEntity(ctx, f.acct.SID, f.svc.SID, entity(1).Identity)
			return err
		}},
		{"ListEntities", false, func(ctx context.Context) error {
			_, _, err := s.ListEntities(ctx, f.acct.SID, f.svc.SID, store.Page{Limit: 10})
			return err
		}},
		{"DeleteEntity", true, func(ctx context.Context) error {
			return s.DeleteEntity(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, nil)
		}},
		{"CreateFactor", true, func(ctx context.Context) error {
			_, err := s.CreateFactor(ctx, entity(1), factor(entity(1), 50), sid("YK", 50), nil)
			return err
		}},
		{"FetchFactor", false, func(ctx context.Context) error {
			_, err := s.FetchFactor(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, sid("YF", 1))
			return err
		}},
		{"FetchFactorByCredential", false, func(ctx context.Context) error {
			_, err := s.FetchFactorByCredential(ctx, sid("CR", 1))
			return err
		}},
		{"ListFactors", false, func(ctx context.Context) error {
			_, _, err := s.ListFactors(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, store.Page{Limit: 10})
			return err
		}},
		{"UpdateFactor", true, func(ctx context.Context) error {
			fac := storedF(factor(entity(1), 1))
			fac.Verified = true
			return s.UpdateFactor(ctx, fac, nil)
		}},
		{"DeleteFactor", true, func(ctx context.Context) error {
			return s.DeleteFactor(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, sid("YF", 1), nil)
		}},
		{"CreateChallenge", true, func(ctx context.Context) error {
			c := challenge(f.fac, 50)
			_, err := s.CreateChallenge(ctx, c, notification(c, 50))
			return err
		}},
		{"FetchChallenge", false, func(ctx context.Context) error {
			_, err := s.FetchChallenge(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, sid("YC", 1), when)
			return err
		}},
		{"ListChallenges", false, func(ctx context.Context) error {
			_, _, err := s.ListChallenges(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, store.ChallengeFilter{Now: when}, store.Page{Limit: 10})
			return err
		}},
		{"AnswerChallenge", true, func(ctx context.Context) error {
			_, err := s.AnswerChallenge(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, sid("YC", 1),
				store.Answer{Status: store.ChallengeApproved, At: when}, nil)
			return err
		}},
		{"CreateNotification", true, func(ctx context.Context) error {
			_, err := s.CreateNotification(ctx, notification(challenge(f.fac, 1), 51))
			return err
		}},
		{"ListNotifications", false, func(ctx context.Context) error {
			_, _, err := s.ListNotifications(ctx, f.acct.SID, f.svc.SID, entity(1).Identity, sid("YF", 1), store.Page{Limit: 10})
			return err
		}},
		{"CreateWebhook", true, func(ctx context.Context) error { return s.CreateWebhook(ctx, webhook(f.fixture, 50, "*")) }},
		{"FetchWebhook", false, func(ctx context.Context) error {
			_, err := s.FetchWebhook(ctx, f.acct.SID, f.svc.SID, sid("YW", 1))
			return err
		}},
		{"ListWebhooks", false, func(ctx context.Context) error {
			_, _, err := s.ListWebhooks(ctx, f.acct.SID, f.svc.SID, store.Page{Limit: 10})
			return err
		}},
		{"UpdateWebhook", true, func(ctx context.Context) error {
			w := webhook(f.fixture, 1, "factor.created")
			return replaceWebhook(ctx, s, w)
		}},
		{"DeleteWebhook", true, func(ctx context.Context) error { return s.DeleteWebhook(ctx, f.acct.SID, f.svc.SID, sid("YW", 1)) }},
		{"ClaimDeliveries", true, func(ctx context.Context) error {
			_, err := s.ClaimDeliveries(ctx, far, time.Minute, 10)
			return err
		}},
		{"FinishDelivery", true, func(ctx context.Context) error {
			return s.FinishDelivery(ctx, event(1, "factor.created", when).ID, sid("YW", 1),
				store.DeliveryResult{At: when, Status: 200, Delivered: true})
		}},
		{"PruneDeliveries", true, func(ctx context.Context) error {
			_, err := s.PruneDeliveries(ctx, far)
			return err
		}},
		{"Ping", false, func(ctx context.Context) error { return s.Ping(ctx) }},
	}
}

// seedAll seeds s with the fixture plus one record of every other kind, so
// every call in calls has something to find.
func seedAll(t *testing.T, s store.Store) pushFixture {
	t.Helper()
	ctx := t.Context()
	f := seedPush(t, s)
	must(t, "CreateAPIKey", s.CreateAPIKey(ctx, store.APIKey{SID: sid("SK", 1), AccountSID: f.acct.SID, DateCreated: when}))
	must(t, "CreateAccessToken", s.CreateAccessToken(ctx, token(1)))
	must(t, "AddTokenKey", s.AddTokenKey(ctx, store.TokenKey{ID: "k1", Secret: []byte("s"), Created: when}))
	createChallenge(t, s, challenge(f.fac, 1))
	must(t, "CreateWebhook", s.CreateWebhook(ctx, webhook(f.fixture, 1, "*")))
	emitter(t, s, f.fac, event(1, "factor.created", when))
	return f
}

func testContext(t *testing.T, open opener) {
	f := seedAll(t, open(t))
	t.Run("DeadlineExceeded", func(t *testing.T) {
		// A passed deadline means the database did not answer in time:
		// callers answer 503, and can still tell it was their deadline.
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		for _, c := range calls(f) {
			t.Run(c.name, func(t *testing.T) {
				err := c.call(ctx)
				checkIs(t, c.name, err, store.ErrUnavailable)
				checkIs(t, c.name, err, context.DeadlineExceeded)
			})
		}
	})
	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, c := range calls(f) {
			t.Run(c.name, func(t *testing.T) {
				checkIs(t, c.name, c.call(ctx), context.Canceled)
			})
		}
	})
}

func testPing(t *testing.T, open opener) {
	must(t, "Ping", open(t).Ping(t.Context()))
}

func testClosed(t *testing.T, open opener) {
	s := open(t)
	f := seedAll(t, s)
	must(t, "Close", s.Close())
	for _, c := range calls(f) {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(t.Context()); err == nil {
				t.Errorf("%s after Close succeeded, want an error", c.name)
			}
		})
	}
	t.Run("CloseAgain", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Errorf("second Close() = %v, want nil", err)
		}
	})
}

// RunUnavailable checks how a store behaves once its database has become
// unreachable, which only each engine knows how to arrange. open returns a
// working store and breakIt, which makes the database unreachable (stops or
// firewalls the server, locks the file from another process); open must
// register, with t.Cleanup, whatever undoes it.
//
// After breakIt, every call, made under a one-second deadline, must return
// within two seconds. Writes must fail with an error wrapping
// store.ErrUnavailable. Reads and Ping either fail the same way or, where
// the engine can still serve them (SQLite readers keep reading a locked WAL
// database), succeed.
func RunUnavailable(t *testing.T, open func(t *testing.T) (s store.Store, breakIt func())) {
	t.Helper()
	const deadline, bound = time.Second, 2 * time.Second
	s, breakIt := open(t)
	f := seedAll(t, s)
	breakIt()
	for _, c := range calls(f) {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			err := c.call(ctx)
			if took := time.Since(start); took > bound {
				t.Errorf("%s took %v, want at most %v", c.name, took, bound)
			}
			if err == nil && c.write {
				t.Errorf("%s succeeded on an unreachable database, want an error wrapping %v", c.name, store.ErrUnavailable)
			}
			if err != nil {
				checkIs(t, c.name, err, store.ErrUnavailable)
			}
		})
	}
}
