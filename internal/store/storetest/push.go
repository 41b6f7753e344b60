package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/internal/store"
)

// The conformance cases of Verify Push entities and factors.

// strictOpts compare factors and entities exactly: unlike cmpOpts, a nil
// map or pointer differs from an empty one, because the store promises to
// keep them apart (Factor.Metadata, the config fields). Only an empty list
// may be nil, as store.Store documents.
var strictOpts = []cmp.Option{
	exactTime,
	cmp.FilterValues(func(x, y []store.Entity) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore()),
	cmp.FilterValues(func(x, y []store.Factor) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore()),
	cmp.FilterValues(func(x, y []store.Challenge) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore()),
	cmp.FilterValues(func(x, y []store.Notification) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore()),
	cmp.FilterValues(func(x, y []store.Webhook) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore()),
	cmp.FilterValues(func(x, y []store.Delivery) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore()),
}

// checkStrict reports any difference between want and got under strictOpts.
func checkStrict(t *testing.T, call string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got, strictOpts...); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
	}
}

// entity returns entity n of the fixture's first service, created at when.
func entity(n int) store.Entity {
	return store.Entity{
		SID:         sid("YE", n),
		AccountSID:  sid("AC", 1),
		ServiceSID:  sid("VA", 1),
		Identity:    fmt.Sprintf("ff483d1f-%04d", n),
		DateCreated: when,
		DateUpdated: when.Add(time.Minute),
	}
}

// storedE returns e with its times as the store returns them.
func storedE(e store.Entity) store.Entity {
	e.DateCreated, e.DateUpdated = want(e.DateCreated), want(e.DateUpdated)
	return e
}

// publicKey returns the DER SubjectPublicKeyInfo of a P-256 key made up
// from n: 91 bytes, with zero bytes inside, different for every n.
func publicKey(n int) []byte {
	prefix := []byte{
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
	}
	x := sha256.Sum256(fmt.Appendf(nil, "x%d", n))
	y := sha256.Sum256(fmt.Appendf(nil, "y%d", n))
	key := make([]byte, 0, 91)
	key = append(key, prefix...)
	key = append(key, x[:]...)
	key = append(key, y[:]...)
	key[len(prefix)+5] = 0x00
	return key
}

// factor returns factor n of entity e, every field set, created at when.
func factor(e store.Entity, n int) store.Factor {
	return store.Factor{
		SID:                  sid("YF", n),
		AccountSID:           e.AccountSID,
		ServiceSID:           e.ServiceSID,
		EntitySID:            e.SID,
		Identity:             e.Identity,
		CredentialSID:        sid("CR", n),
		FriendlyName:         fmt.Sprintf("John's Pixel %d", n),
		PublicKey:            publicKey(n),
		SdkVersion:           ptr("0.9.0"),
		AppID:                ptr("com.example.verify"),
		NotificationPlatform: ptr("fcm"),
		NotificationToken:    ptr(fmt.Sprintf("fcm-token-%d", n)),
		Metadata:             map[string]string{"os": "Android", "n": fmt.Sprint(n)},
		DateCreated:          when,
		DateUpdated:          when,
	}
}

// storedF returns f with its times as the store returns them.
func storedF(f store.Factor) store.Factor {
	f.DateCreated, f.DateUpdated = want(f.DateCreated), want(f.DateUpdated)
	return f
}

// createFactor creates f, and its entity e if need be, and fails the test
// if that fails. It returns what CreateFactor returned.
func createFactor(t *testing.T, s store.Store, e store.Entity, f store.Factor, consumeToken string) store.Factor {
	t.Helper()
	got, err := s.CreateFactor(t.Context(), e, f, consumeToken, nil)
	must(t, fmt.Sprintf("CreateFactor(%s)", f.SID), err)
	return got
}

// fetchFactorGone reports an error unless the factor is neither found by
// SID nor by credential.
func fetchFactorGone(t *testing.T, s store.Store, f store.Factor) {
	t.Helper()
	ctx := t.Context()
	_, err := s.FetchFactor(ctx, f.AccountSID, f.ServiceSID, f.Identity, f.SID)
	checkIs(t, fmt.Sprintf("FetchFactor(%s)", f.SID), err, store.ErrNotFound)
	_, err = s.FetchFactorByCredential(ctx, f.CredentialSID)
	checkIs(t, fmt.Sprintf("FetchFactorByCredential(%s)", f.CredentialSID), err, store.ErrNotFound)
}

// checkTokenUnused reports an error unless consumeToken can still enrol a
// factor, which it cannot once a create has recorded it.
func checkTokenUnused(t *testing.T, s store.Store, consumeToken string) {
	t.Helper()
	e := entity(900)
	f := factor(e, 900)
	if _, err := s.CreateFactor(t.Context(), e, f, consumeToken, nil); err != nil {
		t.Errorf("CreateFactor with token %s, which no create has used: %v", consumeToken, err)
	}
}

func testEntities(t *testing.T, open opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		e := entity(1)
		e.Identity = "Ünïcode identity ✓"
		must(t, "CreateEntity", f.s.CreateEntity(ctx, e))
		got, err := f.s.FetchEntity(ctx, e.AccountSID, e.ServiceSID, e.Identity)
		must(t, "FetchEntity", err)
		checkStrict(t, "FetchEntity after CreateEntity", storedE(e), got)
	})

	t.Run("NotFound", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		must(t, "CreateEntity", f.s.CreateEntity(ctx, entity(1)))
		_, err := f.s.FetchEntity(ctx, f.acct.SID, f.svc.SID, entity(2).Identity)
		checkIs(t, "FetchEntity of an unknown Identity", err, store.ErrNotFound)
		checkIs(t, "DeleteEntity of an unknown Identity", f.s.DeleteEntity(ctx, f.acct.SID, f.svc.SID, entity(2).Identity, nil), store.ErrNotFound)
	})

	t.Run("Ownership", func(t *testing.T) {
		tests := []struct {
			name string
			call func(ctx context.Context, f fixture) error
			// gone, if set, names an entity the failed call must not have
			// stored, by account, service and Identity.
			gone *store.Entity
		}{
			{
				name: "CreateEntity/OtherAccountsService",
				call: func(ctx context.Context, f fixture) error {
					e := entity(7)
					e.ServiceSID = f.otherSv.SID
					return f.s.CreateEntity(ctx, e)
				},
				gone: &store.Entity{AccountSID: sid("AC", 2), ServiceSID: sid("VA", 2), Identity: entity(7).Identity},
			},
			{
				// Identity 1 exists in the other account's service: the
				// answer must still be "not found", not "exists".
				name: "CreateEntity/OtherAccountsServiceTakenIdentity",
				call: func(ctx context.Context, f fixture) error {
					e := entity(7)
					e.ServiceSID, e.Identity = f.otherSv.SID, entity(1).Identity
					return f.s.CreateEntity(ctx, e)
				},
			},
			{
				name: "CreateEntity/UnknownService",
				call: func(ctx context.Context, f fixture) error {
					e := entity(7)
					e.ServiceSID = sid("VA", 99)
					return f.s.CreateEntity(ctx, e)
				},
			},
			{
				name: "CreateEntity/UnknownAccount",
				call: func(ctx context.Context, f fixture) error {
					e := entity(7)
					e.AccountSID = sid("AC", 99)
					return f.s.CreateEntity(ctx, e)
				},
			},
			{
				name: "FetchEntity/OtherAccount",
				call: func(ctx context.Context, f fixture) error {
					_, err := f.s.FetchEntity(ctx, f.other.SID, f.svc.SID, entity(1).Identity)
					return err
				},
			},
			{
				name: "FetchEntity/OtherService",
				call: func(ctx context.Context, f fixture) error {
					_, err := f.s.FetchEntity(ctx, f.acct.SID, f.otherSv.SID, entity(1).Identity)
					return err
				},
			},
			{
				name: "DeleteEntity/OtherAccount",
				call: func(ctx context.Context, f fixture) error {
					return f.s.DeleteEntity(ctx, f.other.SID, f.svc.SID, entity(1).Identity, nil)
				},
			},
			{
				name: "DeleteEntity/OtherAccountsService",
				call: func(ctx context.Context, f fixture) error {
					return f.s.DeleteEntity(ctx, f.acct.SID, f.otherSv.SID, entity(1).Identity, nil)
				},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				mine := entity(1)
				theirs := entity(2)
				theirs.AccountSID, theirs.ServiceSID, theirs.Identity = f.other.SID, f.otherSv.SID, mine.Identity
				must(t, "CreateEntity", f.s.CreateEntity(ctx, mine))
				must(t, "CreateEntity", f.s.CreateEntity(ctx, theirs))
				checkIs(t, tt.name, tt.call(ctx, f), store.ErrNotFound)
				if g := tt.gone; g != nil {
					_, err := f.s.FetchEntity(ctx, g.AccountSID, g.ServiceSID, g.Identity)
					checkIs(t, "FetchEntity after the failed create", err, store.ErrNotFound)
				}
				// Whatever failed, both owners still see their entities, and
				// only theirs.
				for _, e := range []store.Entity{mine, theirs} {
					got, err := f.s.FetchEntity(ctx, e.AccountSID, e.ServiceSID, e.Identity)
					must(t, "FetchEntity", err)
					checkStrict(t, "FetchEntity", storedE(e), got)
					list, more, err := f.s.ListEntities(ctx, e.AccountSID, e.ServiceSID, store.Page{Limit: 10})
					must(t, "ListEntities", err)
					checkStrict(t, "ListEntities", []store.Entity{storedE(e)}, list)
					if more {
						t.Errorf("ListEntities of one entity: more = true, want false")
					}
				}
			})
		}
	})

	t.Run("ListOtherAccount", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		must(t, "CreateEntity", f.s.CreateEntity(ctx, entity(1)))
		got, more, err := f.s.ListEntities(ctx, f.other.SID, f.svc.SID, store.Page{Limit: 10})
		must(t, "ListEntities", err)
		checkDiff(t, "ListEntities of another account's service", []store.Entity(nil), got)
		if more {
			t.Errorf("ListEntities of another account's service: more = true, want false")
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		tests := []struct {
			name string
			dup  func(first store.Entity) store.Entity
		}{
			{"SameIdentity", func(first store.Entity) store.Entity {
				e := entity(2)
				e.Identity = first.Identity
				return e
			}},
			{"SameSID", func(first store.Entity) store.Entity {
				e := entity(2)
				e.SID = first.SID
				return e
			}},
			{"SameSIDOtherAccount", func(first store.Entity) store.Entity {
				e := entity(2)
				e.SID, e.AccountSID, e.ServiceSID = first.SID, sid("AC", 2), sid("VA", 2)
				return e
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				first := entity(1)
				must(t, "CreateEntity", f.s.CreateEntity(ctx, first))
				dup := tt.dup(first)
				checkIs(t, "CreateEntity of a duplicate", f.s.CreateEntity(ctx, dup), store.ErrConflict)
				got, err := f.s.FetchEntity(ctx, first.AccountSID, first.ServiceSID, first.Identity)
				must(t, "FetchEntity", err)
				checkStrict(t, "FetchEntity after the duplicate", storedE(first), got)
				if dup.Identity != first.Identity {
					_, err := f.s.FetchEntity(ctx, dup.AccountSID, dup.ServiceSID, dup.Identity)
					checkIs(t, "FetchEntity of the duplicate", err, store.ErrNotFound)
				}
			})
		}
	})

	t.Run("IdentityPerService", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		second := store.Service{SID: sid("VA", 3), AccountSID: f.acct.SID, DateCreated: when}
		must(t, "CreateService", f.s.CreateService(ctx, second))
		var es []store.Entity
		for i, svc := range []store.Service{f.svc, second, f.otherSv} {
			e := entity(10 + i)
			e.Identity = "same-identity"
			e.AccountSID, e.ServiceSID = svc.AccountSID, svc.SID
			must(t, "CreateEntity in service "+svc.SID, f.s.CreateEntity(ctx, e))
			es = append(es, e)
		}
		for _, e := range es {
			got, err := f.s.FetchEntity(ctx, e.AccountSID, e.ServiceSID, e.Identity)
			must(t, "FetchEntity", err)
			checkStrict(t, "FetchEntity in service "+e.ServiceSID, storedE(e), got)
		}
	})

	t.Run("DeleteCascades", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		doomed, kept := entity(1), entity(2)
		var doomedFactors []store.Factor
		for n := range 3 {
			doomedFactors = append(doomedFactors, createFactor(t, f.s, doomed, factor(doomed, 10+n), ""))
		}
		keptFactor := createFactor(t, f.s, kept, factor(kept, 20), "")

		must(t, "DeleteEntity", f.s.DeleteEntity(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.Identity, nil))
		_, err := f.s.FetchEntity(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.Identity)
		checkIs(t, "FetchEntity after DeleteEntity", err, store.ErrNotFound)
		for _, fac := range doomedFactors {
			fetchFactorGone(t, f.s, fac)
		}
		list, _, err := f.s.ListFactors(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.Identity, store.Page{Limit: 10})
		must(t, "ListFactors", err)
		checkDiff(t, "ListFactors of a deleted entity", []store.Factor(nil), list)
		checkIs(t, "DeleteEntity again", f.s.DeleteEntity(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.Identity, nil), store.ErrNotFound)

		got, err := f.s.FetchFactor(ctx, kept.AccountSID, kept.ServiceSID, kept.Identity, keptFactor.SID)
		must(t, "FetchFactor of another entity", err)
		checkStrict(t, "FetchFactor of another entity", keptFactor, got)

		// The Identity and the factors' keys are free again: a new entity
		// under a new SID.
		again := entity(3)
		again.Identity = doomed.Identity
		fac := factor(again, 30)
		fac.PublicKey = doomedFactors[0].PublicKey
		created := createFactor(t, f.s, again, fac, "")
		if created.EntitySID != again.SID {
			t.Errorf("CreateFactor after DeleteEntity: EntitySID = %s, want the new entity %s", created.EntitySID, again.SID)
		}
	})
}

func testFactors(t *testing.T, open opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name   string
			adjust func(f *store.Factor)
		}{
			{"AllSet", func(*store.Factor) {}},
			{"Verified", func(f *store.Factor) { f.Verified = true }},
			{"NoConfigNoMetadata", func(f *store.Factor) {
				f.SdkVersion, f.AppID, f.NotificationPlatform, f.NotificationToken, f.Metadata = nil, nil, nil, nil, nil
			}},
			{"EmptyConfigEmptyMetadata", func(f *store.Factor) {
				f.SdkVersion, f.AppID, f.NotificationPlatform, f.NotificationToken = ptr(""), ptr(""), ptr(""), ptr("")
				f.Metadata = map[string]string{}
				f.FriendlyName = ""
			}},
			{"PlatformNone", func(f *store.Factor) { f.NotificationPlatform, f.NotificationToken = ptr("none"), nil }},
			{"AwkwardMetadata", func(f *store.Factor) {
				f.Metadata = map[string]string{"": "", "quote\"back\\slash": "line\nbreak", "ünï": "✓ <&>", "null": "\x00"}
			}},
			{"OtherTimes", func(f *store.Factor) {
				f.DateCreated = time.Date(2031, time.February, 3, 4, 5, 6, 999_999_999, time.FixedZone("UTC+5:30", 5*60*60+30*60))
				f.DateUpdated = f.DateCreated.Add(36 * time.Hour)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				e := entity(1)
				in := factor(e, 1)
				tt.adjust(&in)
				wantF := storedF(in)

				got := createFactor(t, f.s, e, in, sid("YK", 1))
				checkStrict(t, "CreateFactor's result", wantF, got)
				fetched, err := f.s.FetchFactor(ctx, e.AccountSID, e.ServiceSID, e.Identity, in.SID)
				must(t, "FetchFactor", err)
				checkStrict(t, "FetchFactor after CreateFactor", wantF, fetched)
				byCred, err := f.s.FetchFactorByCredential(ctx, in.CredentialSID)
				must(t, "FetchFactorByCredential", err)
				checkStrict(t, "FetchFactorByCredential after CreateFactor", wantF, byCred)
				list, more, err := f.s.ListFactors(ctx, e.AccountSID, e.ServiceSID, e.Identity, store.Page{Limit: 10})
				must(t, "ListFactors", err)
				checkStrict(t, "ListFactors after CreateFactor", []store.Factor{wantF}, list)
				if more {
					t.Error("ListFactors of one factor: more = true, want false")
				}
				// The entity did not exist: CreateFactor stored e.
				gotE, err := f.s.FetchEntity(ctx, e.AccountSID, e.ServiceSID, e.Identity)
				must(t, "FetchEntity", err)
				checkStrict(t, "FetchEntity after CreateFactor", storedE(e), gotE)
			})
		}
	})

	t.Run("JoinsExistingEntity", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		existing := entity(1)
		must(t, "CreateEntity", f.s.CreateEntity(ctx, existing))
		// A different SID and dates for the same Identity: ignored.
		proposed := entity(2)
		proposed.Identity = existing.Identity
		proposed.DateCreated = when.Add(time.Hour)
		in := factor(proposed, 1)
		got := createFactor(t, f.s, proposed, in, "")
		wantF := storedF(in)
		wantF.EntitySID = existing.SID
		checkStrict(t, "CreateFactor on an existing entity", wantF, got)
		list, _, err := f.s.ListEntities(ctx, f.acct.SID, f.svc.SID, store.Page{Limit: 10})
		must(t, "ListEntities", err)
		checkStrict(t, "ListEntities after CreateFactor joined an entity", []store.Entity{storedE(existing)}, list)
		_, err = f.s.FetchFactor(ctx, f.acct.SID, f.svc.SID, existing.Identity, in.SID)
		must(t, "FetchFactor", err)
	})

	t.Run("Ownership", func(t *testing.T) {
		tests := []struct {
			name string
			call func(ctx context.Context, f fixture, mine store.Factor) error
			// create marks a failed CreateFactor, after which nothing of it
			// may be stored and its token must still be unused.
			create bool
		}{
			{
				name: "CreateFactor/OtherAccountsService",
				call: func(ctx context.Context, f fixture, _ store.Factor) error {
					e := entity(7)
					e.ServiceSID = f.otherSv.SID
					fac := factor(e, 7)
					_, err := f.s.CreateFactor(ctx, e, fac, sid("YK", 7), nil)
					return err
				},
				create: true,
			},
			{
				// The other account's service has an entity with this
				// Identity: still "not found".
				name: "CreateFactor/OtherAccountsEntity",
				call: func(ctx context.Context, f fixture, _ store.Factor) error {
					e := entity(7)
					e.ServiceSID, e.Identity = f.otherSv.SID, "theirs"
					fac := factor(e, 7)
					_, err := f.s.CreateFactor(ctx, e, fac, sid("YK", 7), nil)
					return err
				},
				create: true,
			},
			{
				name: "CreateFactor/UnknownService",
				call: func(ctx context.Context, f fixture, _ store.Factor) error {
					e := entity(7)
					e.ServiceSID = sid("VA", 99)
					_, err := f.s.CreateFactor(ctx, e, factor(e, 7), sid("YK", 7), nil)
					return err
				},
				create: true,
			},
			{
				name: "CreateFactor/UnknownAccount",
				call: func(ctx context.Context, f fixture, _ store.Factor) error {
					e := entity(7)
					e.AccountSID = sid("AC", 99)
					_, err := f.s.CreateFactor(ctx, e, factor(e, 7), sid("YK", 7), nil)
					return err
				},
				create: true,
			},
			{
				name: "FetchFactor/OtherAccount",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					_, err := f.s.FetchFactor(ctx, f.other.SID, mine.ServiceSID, mine.Identity, mine.SID)
					return err
				},
			},
			{
				name: "FetchFactor/OtherService",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					_, err := f.s.FetchFactor(ctx, mine.AccountSID, sid("VA", 3), mine.Identity, mine.SID)
					return err
				},
			},
			{
				name: "FetchFactor/OtherAccountsService",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					_, err := f.s.FetchFactor(ctx, f.other.SID, f.otherSv.SID, mine.Identity, mine.SID)
					return err
				},
			},
			{
				name: "FetchFactor/OtherEntity",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					_, err := f.s.FetchFactor(ctx, mine.AccountSID, mine.ServiceSID, entity(2).Identity, mine.SID)
					return err
				},
			},
			{
				name: "UpdateFactor/OtherAccount",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					mine.AccountSID, mine.FriendlyName = f.other.SID, "hijacked"
					return f.s.UpdateFactor(ctx, mine, nil)
				},
			},
			{
				name: "UpdateFactor/OtherService",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					mine.ServiceSID, mine.FriendlyName = sid("VA", 3), "hijacked"
					return f.s.UpdateFactor(ctx, mine, nil)
				},
			},
			{
				name: "UpdateFactor/OtherEntity",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					mine.EntitySID, mine.FriendlyName = entity(2).SID, "hijacked"
					return f.s.UpdateFactor(ctx, mine, nil)
				},
			},
			{
				name: "DeleteFactor/OtherAccount",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					return f.s.DeleteFactor(ctx, f.other.SID, mine.ServiceSID, mine.Identity, mine.SID, nil)
				},
			},
			{
				name: "DeleteFactor/OtherAccountsService",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					return f.s.DeleteFactor(ctx, f.other.SID, f.otherSv.SID, mine.Identity, mine.SID, nil)
				},
			},
			{
				name: "DeleteFactor/OtherEntity",
				call: func(ctx context.Context, f fixture, mine store.Factor) error {
					return f.s.DeleteFactor(ctx, mine.AccountSID, mine.ServiceSID, entity(2).Identity, mine.SID, nil)
				},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				mine := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
				createFactor(t, f.s, entity(2), factor(entity(2), 2), "")
				theirsE := entity(3)
				theirsE.AccountSID, theirsE.ServiceSID, theirsE.Identity = f.other.SID, f.otherSv.SID, "theirs"
				theirs := createFactor(t, f.s, theirsE, factor(theirsE, 3), "")

				checkIs(t, tt.name, tt.call(ctx, f, mine), store.ErrNotFound)
				if tt.create {
					fetchFactorGone(t, f.s, factor(entity(7), 7))
					for _, owner := range []struct{ account, service string }{
						{f.acct.SID, f.svc.SID}, {f.acct.SID, f.otherSv.SID}, {f.other.SID, f.otherSv.SID},
					} {
						_, err := f.s.FetchEntity(ctx, owner.account, owner.service, entity(7).Identity)
						checkIs(t, "FetchEntity after the failed CreateFactor", err, store.ErrNotFound)
					}
					checkTokenUnused(t, f.s, sid("YK", 7))
				}
				// Whatever failed, each owner still sees its factor as it was.
				for _, fac := range []store.Factor{mine, theirs} {
					got, err := f.s.FetchFactor(ctx, fac.AccountSID, fac.ServiceSID, fac.Identity, fac.SID)
					must(t, "FetchFactor", err)
					checkStrict(t, "FetchFactor", fac, got)
				}
				// Lists are keyed by the account too.
				list, _, err := f.s.ListFactors(ctx, f.other.SID, f.svc.SID, entity(1).Identity, store.Page{Limit: 10})
				must(t, "ListFactors", err)
				checkDiff(t, "ListFactors of another account's entity", []store.Factor(nil), list)
			})
		}
	})

	t.Run("FetchFactorByCredentialIsGlobal", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		e := entity(1)
		e.AccountSID, e.ServiceSID = f.other.SID, f.otherSv.SID
		created := createFactor(t, f.s, e, factor(e, 1), "")
		got, err := f.s.FetchFactorByCredential(ctx, created.CredentialSID)
		must(t, "FetchFactorByCredential", err)
		checkStrict(t, "FetchFactorByCredential of another account's factor", created, got)
		_, err = f.s.FetchFactorByCredential(ctx, sid("CR", 99))
		checkIs(t, "FetchFactorByCredential of an unknown credential", err, store.ErrNotFound)
	})

	t.Run("Conflict", func(t *testing.T) {
		tests := []struct {
			name string
			// dup is a factor that conflicts with the first, factor(entity(1), 1).
			dup func() (store.Entity, store.Factor)
		}{
			{"SamePublicKeySameEntity", func() (store.Entity, store.Factor) {
				fac := factor(entity(1), 2)
				fac.PublicKey = publicKey(1)
				return entity(1), fac
			}},
			{"SameCredential", func() (store.Entity, store.Factor) {
				fac := factor(entity(2), 2)
				fac.CredentialSID = sid("CR", 1)
				return entity(2), fac
			}},
			{"SameCredentialOtherAccount", func() (store.Entity, store.Factor) {
				e := entity(2)
				e.AccountSID, e.ServiceSID = sid("AC", 2), sid("VA", 2)
				fac := factor(e, 2)
				fac.CredentialSID = sid("CR", 1)
				return e, fac
			}},
			{"SameSID", func() (store.Entity, store.Factor) {
				fac := factor(entity(2), 2)
				fac.SID = sid("YF", 1)
				return entity(2), fac
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				first := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
				e, dup := tt.dup()
				_, err := f.s.CreateFactor(ctx, e, dup, sid("YK", 2), nil)
				checkIs(t, "CreateFactor of a duplicate", err, store.ErrConflict)

				got, err := f.s.FetchFactor(ctx, first.AccountSID, first.ServiceSID, first.Identity, first.SID)
				must(t, "FetchFactor", err)
				checkStrict(t, "FetchFactor of the first factor", first, got)
				// Nothing of the failed create was stored: not its entity,
				// if new, nor its token.
				if e.Identity != first.Identity {
					_, err := f.s.FetchEntity(ctx, e.AccountSID, e.ServiceSID, e.Identity)
					checkIs(t, "FetchEntity of the failed create's new entity", err, store.ErrNotFound)
				}
				list, _, err := f.s.ListFactors(ctx, first.AccountSID, first.ServiceSID, first.Identity, store.Page{Limit: 10})
				must(t, "ListFactors", err)
				checkStrict(t, "ListFactors after the duplicate", []store.Factor{first}, list)
				checkTokenUnused(t, f.s, sid("YK", 2))
			})
		}
	})

	t.Run("SamePublicKeyOtherEntity", func(t *testing.T) {
		f := seed(t, open(t))
		createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		fac := factor(entity(2), 2)
		fac.PublicKey = publicKey(1)
		createFactor(t, f.s, entity(2), fac, "")
	})

	t.Run("Limit", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		e := entity(1)
		var created []store.Factor
		for n := range store.MaxFactorsPerEntity {
			created = append(created, createFactor(t, f.s, e, factor(e, 100+n), sid("YK", 100+n)))
		}
		over := factor(e, 200)
		_, err := f.s.CreateFactor(ctx, e, over, sid("YK", 200), nil)
		checkIs(t, fmt.Sprintf("CreateFactor #%d", store.MaxFactorsPerEntity+1), err, store.ErrTooMany)
		fetchFactorGone(t, f.s, over)
		list, more, err := f.s.ListFactors(ctx, e.AccountSID, e.ServiceSID, e.Identity, store.Page{Limit: 100})
		must(t, "ListFactors", err)
		if len(list) != store.MaxFactorsPerEntity || more {
			t.Errorf("ListFactors at the limit = %d factors, more %v; want %d, false", len(list), more, store.MaxFactorsPerEntity)
		}
		checkTokenUnused(t, f.s, sid("YK", 200))

		// The limit is per entity.
		createFactor(t, f.s, entity(2), factor(entity(2), 300), "")
		// A deleted factor frees its place.
		must(t, "DeleteFactor", f.s.DeleteFactor(ctx, e.AccountSID, e.ServiceSID, e.Identity, created[0].SID, nil))
		createFactor(t, f.s, e, over, "")
		_, err = f.s.CreateFactor(ctx, e, factor(e, 201), "", nil)
		checkIs(t, "CreateFactor over the limit again", err, store.ErrTooMany)
	})

	t.Run("TokenSingleUse", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		token := sid("YK", 1)
		createFactor(t, f.s, entity(1), factor(entity(1), 1), token)
		for _, tc := range []struct {
			name string
			e    store.Entity
		}{
			{"SameEntity", entity(1)},
			{"NewEntity", entity(2)},
		} {
			fac := factor(tc.e, 50)
			_, err := f.s.CreateFactor(ctx, tc.e, fac, token, nil)
			checkIs(t, "CreateFactor with a used token ("+tc.name+")", err, store.ErrUsed)
			fetchFactorGone(t, f.s, fac)
		}
		_, err := f.s.FetchEntity(ctx, f.acct.SID, f.svc.SID, entity(2).Identity)
		checkIs(t, "FetchEntity of the entity a failed create would have made", err, store.ErrNotFound)

		// No token: nothing to record, however often.
		createFactor(t, f.s, entity(1), factor(entity(1), 2), "")
		createFactor(t, f.s, entity(1), factor(entity(1), 3), "")
	})

	t.Run("Update", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		e := entity(1)
		orig := createFactor(t, f.s, e, factor(e, 1), "")

		upd := orig
		upd.FriendlyName = "renamed ✓"
		upd.Verified = true
		upd.SdkVersion, upd.AppID = ptr("1.0.0"), nil
		upd.NotificationPlatform, upd.NotificationToken = ptr("none"), nil
		upd.Metadata = map[string]string{}
		upd.DateUpdated = when.Add(90*time.Minute + 500*time.Millisecond)
		// What UpdateFactor does not store.
		upd.CredentialSID, upd.PublicKey, upd.DateCreated = sid("CR", 99), publicKey(99), when.Add(time.Hour)
		must(t, "UpdateFactor", f.s.UpdateFactor(ctx, upd, nil))

		wantF := orig
		wantF.FriendlyName, wantF.Verified = upd.FriendlyName, true
		wantF.SdkVersion, wantF.AppID, wantF.NotificationPlatform, wantF.NotificationToken = ptr("1.0.0"), nil, ptr("none"), nil
		wantF.Metadata = map[string]string{}
		wantF.DateUpdated = want(upd.DateUpdated)
		got, err := f.s.FetchFactor(ctx, e.AccountSID, e.ServiceSID, e.Identity, orig.SID)
		must(t, "FetchFactor", err)
		checkStrict(t, "FetchFactor after UpdateFactor", wantF, got)
		byCred, err := f.s.FetchFactorByCredential(ctx, orig.CredentialSID)
		must(t, "FetchFactorByCredential", err)
		checkStrict(t, "FetchFactorByCredential after UpdateFactor", wantF, byCred)

		// And back: nil metadata, config set again.
		upd = wantF
		upd.Metadata, upd.AppID, upd.NotificationPlatform, upd.NotificationToken = nil, ptr(""), ptr("apn"), ptr("apns-token")
		must(t, "UpdateFactor", f.s.UpdateFactor(ctx, upd, nil))
		got, err = f.s.FetchFactor(ctx, e.AccountSID, e.ServiceSID, e.Identity, orig.SID)
		must(t, "FetchFactor", err)
		checkStrict(t, "FetchFactor after the second UpdateFactor", upd, got)

		missing := upd
		missing.SID = sid("YF", 99)
		checkIs(t, "UpdateFactor of an unknown factor", f.s.UpdateFactor(ctx, missing, nil), store.ErrNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		e := entity(1)
		doomed := createFactor(t, f.s, e, factor(e, 1), "")
		kept := createFactor(t, f.s, e, factor(e, 2), "")
		must(t, "DeleteFactor", f.s.DeleteFactor(ctx, e.AccountSID, e.ServiceSID, e.Identity, doomed.SID, nil))
		fetchFactorGone(t, f.s, doomed)
		checkIs(t, "DeleteFactor again", f.s.DeleteFactor(ctx, e.AccountSID, e.ServiceSID, e.Identity, doomed.SID, nil), store.ErrNotFound)
		list, _, err := f.s.ListFactors(ctx, e.AccountSID, e.ServiceSID, e.Identity, store.Page{Limit: 10})
		must(t, "ListFactors", err)
		checkStrict(t, "ListFactors after DeleteFactor", []store.Factor{kept}, list)
		_, err = f.s.FetchEntity(ctx, e.AccountSID, e.ServiceSID, e.Identity)
		must(t, "FetchEntity after DeleteFactor (the entity stays)", err)
		// The key may bind again.
		createFactor(t, f.s, e, factor(e, 1), "")
	})

	t.Run("FailedCreatesStoreNothing", func(t *testing.T) {
		// Each row makes a CreateFactor for a new Identity fail after it
		// would have created the entity; none of it may remain.
		tests := []struct {
			name    string
			prepare func(t *testing.T, f fixture)
			adjust  func(fac *store.Factor)
			token   string
			wantErr error
		}{
			{
				name:    "UsedToken",
				prepare: func(t *testing.T, f fixture) { createFactor(t, f.s, entity(1), factor(entity(1), 1), sid("YK", 1)) },
				token:   sid("YK", 1),
				wantErr: store.ErrUsed,
			},
			{
				name:    "DuplicateCredential",
				prepare: func(t *testing.T, f fixture) { createFactor(t, f.s, entity(1), factor(entity(1), 1), "") },
				adjust:  func(fac *store.Factor) { fac.CredentialSID = sid("CR", 1) },
				token:   sid("YK", 2),
				wantErr: store.ErrConflict,
			},
			{
				name:    "DuplicateSID",
				prepare: func(t *testing.T, f fixture) { createFactor(t, f.s, entity(1), factor(entity(1), 1), "") },
				adjust:  func(fac *store.Factor) { fac.SID = sid("YF", 1) },
				token:   sid("YK", 2),
				wantErr: store.ErrConflict,
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				tt.prepare(t, f)
				e := entity(5)
				fac := factor(e, 5)
				if tt.adjust != nil {
					tt.adjust(&fac)
				}
				_, err := f.s.CreateFactor(ctx, e, fac, tt.token, nil)
				checkIs(t, "CreateFactor", err, tt.wantErr)
				_, err = f.s.FetchEntity(ctx, e.AccountSID, e.ServiceSID, e.Identity)
				checkIs(t, "FetchEntity of the failed create's entity", err, store.ErrNotFound)
				list, _, err := f.s.ListEntities(ctx, e.AccountSID, e.ServiceSID, store.Page{Limit: 10})
				must(t, "ListEntities", err)
				if len(list) != 1 || list[0].SID != entity(1).SID {
					t.Errorf("ListEntities after the failed create = %v, want only %s", list, entity(1).SID)
				}
				if tt.token != sid("YK", 1) {
					checkTokenUnused(t, f.s, tt.token)
				}
			})
		}
	})
}

// checkPaging walks all, the complete list in order, a page at a time
// with every limit from 1 to past its length, forwards from the first page
// and backwards from past the end, and checks every page and every "more".
func checkPaging[T any](t *testing.T, all []T, list func(ctx context.Context, p store.Page) ([]T, bool, error), cursor func(T) store.Cursor) {
	t.Helper()
	checkPagingOrder(t, all, list, cursor, false)
}

// checkPagingOrder is checkPaging for a list in ascending order of
// (creation time, SID), or in descending order when desc; the cursors
// follow the list's order, so After is older items in a descending list.
func checkPagingOrder[T any](t *testing.T, all []T, list func(ctx context.Context, p store.Page) ([]T, bool, error), cursor func(T) store.Cursor, desc bool) {
	t.Helper()
	ctx := t.Context()
	n := len(all)
	end := store.Cursor{Created: time.Date(3000, time.January, 1, 0, 0, 0, 0, time.UTC)}
	if desc {
		end = store.Cursor{Created: time.Date(1000, time.January, 1, 0, 0, 0, 0, time.UTC)}
	}
	for limit := 1; limit <= n+1; limit++ {
		p := store.Page{Limit: limit}
		for page := 0; ; page++ {
			if page > n {
				t.Fatalf("limit %d: more than %d pages forwards", limit, n)
			}
			got, more, err := list(ctx, p)
			must(t, "list", err)
			lo, hi := min(page*limit, n), min((page+1)*limit, n)
			checkStrict(t, fmt.Sprintf("limit %d, page %d forwards", limit, page), all[lo:hi], got)
			if wantMore := hi < n; more != wantMore {
				t.Errorf("limit %d, page %d forwards: more = %v, want %v", limit, page, more, wantMore)
			}
			if !more || len(got) == 0 {
				break
			}
			c := cursor(got[len(got)-1])
			p = store.Page{Limit: limit, After: &c}
		}

		p = store.Page{Limit: limit, Before: &end}
		for page := 0; ; page++ {
			if page > n {
				t.Fatalf("limit %d: more than %d pages backwards", limit, n)
			}
			got, more, err := list(ctx, p)
			must(t, "list", err)
			hi := max(n-page*limit, 0)
			lo := max(hi-limit, 0)
			checkStrict(t, fmt.Sprintf("limit %d, page %d backwards", limit, page), all[lo:hi], got)
			if wantMore := lo > 0; more != wantMore {
				t.Errorf("limit %d, page %d backwards: more = %v, want %v", limit, page, more, wantMore)
			}
			if !more || len(got) == 0 {
				break
			}
			c := cursor(got[0])
			p = store.Page{Limit: limit, Before: &c}
		}
	}

	// Past either end there is nothing, and nothing more.
	first, last := cursor(all[0]), cursor(all[n-1])
	for _, p := range []store.Page{{Limit: n, Before: &first}, {Limit: n, After: &last}} {
		got, more, err := list(ctx, p)
		must(t, "list", err)
		if len(got) != 0 || more {
			t.Errorf("list(%+v) = %d items, more %v; want none, false", p, len(got), more)
		}
	}

	// A cursor need not be an item: a time with the smallest SID stands
	// before every item of its second, or, in a descending list, after it.
	for i := range all {
		at := store.Cursor{Created: cursor(all[i]).Created}
		wantFrom := sort.Search(n, func(j int) bool { return !cursor(all[j]).Created.Before(at.Created) })
		if desc {
			wantFrom = sort.Search(n, func(j int) bool { return cursor(all[j]).Created.Before(at.Created) })
		}
		got, _, err := list(ctx, store.Page{Limit: n, After: &at})
		must(t, "list", err)
		checkStrict(t, fmt.Sprintf("After %v", at.Created), all[wantFrom:], got)
		got, _, err = list(ctx, store.Page{Limit: n, Before: &at})
		must(t, "list", err)
		checkStrict(t, fmt.Sprintf("Before %v", at.Created), all[:wantFrom], got)
	}

	for _, p := range []store.Page{
		{Limit: 0},
		{Limit: -1},
		{Limit: 1, After: &first, Before: &last},
	} {
		if _, _, err := list(ctx, p); err == nil {
			t.Errorf("list(%+v) succeeded, want an error", p)
		}
	}
}

// pageTimes are the creation times of the items the paging tests list, in
// creation order: out of order, in a zone other than UTC, with fractions of
// a second, and with several items in one second, so pages break inside a
// tie and the SID decides.
func pageTimes() []time.Time {
	base := time.Date(2025, time.January, 2, 3, 4, 5, 0, time.FixedZone("UTC+9", 9*60*60))
	var ts []time.Time
	for i, sec := range []int{3, 1, 1, 0, 2, 1, 3, 0, 1, 1, 4} {
		ts = append(ts, base.Add(time.Duration(sec)*time.Second+time.Duration(i*90)*time.Millisecond))
	}
	return ts
}

// pageSID returns the SID number of item i: a permutation of the indexes,
// so SIDs order neither as the items were created nor as they list.
func pageSID(i, n int) int { return 10 + (i*4)%n }

func testPages(t *testing.T, open opener) {
	t.Run("Entities", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		second := store.Service{SID: sid("VA", 3), AccountSID: f.acct.SID, DateCreated: when}
		must(t, "CreateService", f.s.CreateService(ctx, second))
		ts := pageTimes()
		var all []store.Entity
		for i, at := range ts {
			e := entity(pageSID(i, len(ts)))
			e.DateCreated, e.DateUpdated = at, at.Add(time.Hour)
			must(t, "CreateEntity", f.s.CreateEntity(ctx, e))
			all = append(all, storedE(e))
			// Entities of another service of the account, and of another
			// account, at the same times: never listed.
			for k, svc := range []store.Service{second, f.otherSv} {
				other := e
				other.SID = sid("YE", 100*(k+1)+i)
				other.AccountSID, other.ServiceSID = svc.AccountSID, svc.SID
				must(t, "CreateEntity", f.s.CreateEntity(ctx, other))
			}
		}
		sortByCreated(all, func(e store.Entity) store.Cursor { return store.Cursor{Created: e.DateCreated, SID: e.SID} })
		checkPaging(t, all,
			func(ctx context.Context, p store.Page) ([]store.Entity, bool, error) {
				return f.s.ListEntities(ctx, f.acct.SID, f.svc.SID, p)
			},
			func(e store.Entity) store.Cursor { return store.Cursor{Created: e.DateCreated, SID: e.SID} })
	})

	t.Run("Factors", func(t *testing.T) {
		f := seed(t, open(t))
		e, other := entity(1), entity(2)
		ts := pageTimes()
		var all []store.Factor
		for i, at := range ts {
			n := pageSID(i, len(ts))
			fac := factor(e, n)
			fac.DateCreated, fac.DateUpdated = at, at.Add(time.Hour)
			all = append(all, createFactor(t, f.s, e, fac, ""))
			// Another entity's factors at the same times: never listed.
			fac = factor(other, 100+n)
			fac.DateCreated = at
			createFactor(t, f.s, other, fac, "")
		}
		sortByCreated(all, func(fac store.Factor) store.Cursor { return store.Cursor{Created: fac.DateCreated, SID: fac.SID} })
		checkPaging(t, all,
			func(ctx context.Context, p store.Page) ([]store.Factor, bool, error) {
				return f.s.ListFactors(ctx, e.AccountSID, e.ServiceSID, e.Identity, p)
			},
			func(fac store.Factor) store.Cursor { return store.Cursor{Created: fac.DateCreated, SID: fac.SID} })
	})

	t.Run("Empty", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		es, more, err := f.s.ListEntities(ctx, f.acct.SID, f.svc.SID, store.Page{Limit: 5})
		must(t, "ListEntities", err)
		checkDiff(t, "ListEntities of a service without entities", []store.Entity(nil), es)
		if more {
			t.Error("ListEntities of a service without entities: more = true")
		}
		fs, more, err := f.s.ListFactors(ctx, f.acct.SID, f.svc.SID, "nobody", store.Page{Limit: 5})
		must(t, "ListFactors", err)
		checkDiff(t, "ListFactors of an unknown entity", []store.Factor(nil), fs)
		if more {
			t.Error("ListFactors of an unknown entity: more = true")
		}
	})
}

// sortByCreated sorts items by the (creation time, SID) of their cursors,
// the order every list returns.
func sortByCreated[T any](items []T, cursor func(T) store.Cursor) {
	sort.Slice(items, func(i, j int) bool {
		a, b := cursor(items[i]), cursor(items[j])
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.SID < b.SID
	})
}

func testFactorConcurrency(t *testing.T, open opener) {
	const workers = 16

	// race runs attempt(i) for i in [0, n) all at once and returns their
	// errors.
	race := func(n int, attempt func(i int) error) []error {
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = attempt(i)
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	// tally counts successes, and reports errors that are not want.
	tally := func(t *testing.T, call string, errs []error, want error) int {
		t.Helper()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, want):
				t.Errorf("%s #%d: error = %v, want nil or one wrapping %v", call, i, err, want)
			}
		}
		return ok
	}

	t.Run("SameToken", func(t *testing.T) {
		// Each attempt would create an entity of its own: exactly one may,
		// with its factor, and the token is then used.
		ctx := t.Context()
		f := seed(t, open(t))
		token := sid("YK", 1)
		errs := race(workers, func(i int) error {
			e := entity(10 + i)
			_, err := f.s.CreateFactor(ctx, e, factor(e, 10+i), token, nil)
			return err
		})
		if ok := tally(t, "CreateFactor with one token", errs, store.ErrUsed); ok != 1 {
			t.Fatalf("%d of %d creates with one token succeeded, want exactly 1", ok, workers)
		}
		es, _, err := f.s.ListEntities(ctx, f.acct.SID, f.svc.SID, store.Page{Limit: 100})
		must(t, "ListEntities", err)
		if len(es) != 1 {
			t.Fatalf("ListEntities after the race = %d entities, want the winner's only", len(es))
		}
		fs, _, err := f.s.ListFactors(ctx, f.acct.SID, f.svc.SID, es[0].Identity, store.Page{Limit: 100})
		must(t, "ListFactors", err)
		if len(fs) != 1 {
			t.Errorf("ListFactors of the winner = %d factors, want 1", len(fs))
		}
		e := entity(99)
		_, err = f.s.CreateFactor(ctx, e, factor(e, 99), token, nil)
		checkIs(t, "CreateFactor with the token after the race", err, store.ErrUsed)
	})

	t.Run("OverTheLimit", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		e := entity(1)
		const before = store.MaxFactorsPerEntity - workers/2
		for n := range before {
			createFactor(t, f.s, e, factor(e, n), "")
		}
		errs := race(workers, func(i int) error {
			_, err := f.s.CreateFactor(ctx, e, factor(e, 100+i), sid("YK", 100+i), nil)
			return err
		})
		if ok := tally(t, "CreateFactor near the limit", errs, store.ErrTooMany); ok != store.MaxFactorsPerEntity-before {
			t.Errorf("%d of %d creates near the limit succeeded, want %d", ok, workers, store.MaxFactorsPerEntity-before)
		}
		fs, _, err := f.s.ListFactors(ctx, e.AccountSID, e.ServiceSID, e.Identity, store.Page{Limit: 100})
		must(t, "ListFactors", err)
		if len(fs) != store.MaxFactorsPerEntity {
			t.Errorf("ListFactors after the race = %d factors, want %d", len(fs), store.MaxFactorsPerEntity)
		}
		// The losers' tokens were not used.
		for i, err := range errs {
			if err != nil {
				checkTokenUnused(t, f.s, sid("YK", 100+i))
				break
			}
		}
	})

	t.Run("NewEntity", func(t *testing.T) {
		// Many first factors of one Identity at once: one entity is
		// created, every factor joins it, and the limit holds.
		const n = store.MaxFactorsPerEntity + 5
		ctx := t.Context()
		f := seed(t, open(t))
		created := make([]store.Factor, n)
		errs := race(n, func(i int) error {
			e := entity(1)
			e.SID = sid("YE", 100+i) // each proposes its own
			var err error
			created[i], err = f.s.CreateFactor(ctx, e, factor(e, 100+i), "", nil)
			return err
		})
		if ok := tally(t, "CreateFactor of a new Identity", errs, store.ErrTooMany); ok != store.MaxFactorsPerEntity {
			t.Errorf("%d of %d creates succeeded, want %d", ok, n, store.MaxFactorsPerEntity)
		}
		es, _, err := f.s.ListEntities(ctx, f.acct.SID, f.svc.SID, store.Page{Limit: 100})
		must(t, "ListEntities", err)
		if len(es) != 1 {
			t.Fatalf("ListEntities after the race = %d entities, want 1", len(es))
		}
		for i, err := range errs {
			if err == nil && created[i].EntitySID != es[0].SID {
				t.Errorf("create #%d joined entity %s, want %s", i, created[i].EntitySID, es[0].SID)
			}
		}
		fs, _, err := f.s.ListFactors(ctx, f.acct.SID, f.svc.SID, es[0].Identity, store.Page{Limit: 100})
		must(t, "ListFactors", err)
		if len(fs) != store.MaxFactorsPerEntity {
			t.Errorf("ListFactors after the race = %d factors, want %d", len(fs), store.MaxFactorsPerEntity)
		}
	})

	t.Run("MixedOutcomes", func(t *testing.T) {
		// Creates that succeed, reuse a token, bind a bound key and miss
		// their owner, all at once: an engine that batches writes must
		// still answer, and undo, each on its own.
		const n = 4 * workers
		ctx := t.Context()
		f := seed(t, open(t))
		createFactor(t, f.s, entity(1), factor(entity(1), 1), sid("YK", 1))
		errs := race(n, func(i int) error {
			e := entity(100 + i)
			fac := factor(e, 100+i)
			token := sid("YK", 100+i)
			switch i % 4 {
			case 1:
				token = sid("YK", 1)
			case 2:
				e = entity(1)
				fac = factor(e, 100+i)
				fac.PublicKey = publicKey(1)
			case 3:
				e.AccountSID = f.other.SID
				fac.AccountSID = f.other.SID
			}
			_, err := f.s.CreateFactor(ctx, e, fac, token, nil)
			return err
		})
		for i, err := range errs {
			e := entity(100 + i)
			switch i % 4 {
			case 0:
				if err != nil {
					t.Errorf("CreateFactor #%d: %v", i, err)
					continue
				}
				_, err := f.s.FetchFactor(ctx, e.AccountSID, e.ServiceSID, e.Identity, sid("YF", 100+i))
				must(t, "FetchFactor", err)
			case 1:
				checkIs(t, "CreateFactor with a used token", err, store.ErrUsed)
			case 2:
				checkIs(t, "CreateFactor of a bound key", err, store.ErrConflict)
			case 3:
				checkIs(t, "CreateFactor in another account's service", err, store.ErrNotFound)
			}
			if i%4 != 0 {
				fetchFactorGone(t, f.s, factor(e, 100+i))
				if i%4 != 2 {
					_, err := f.s.FetchEntity(ctx, f.acct.SID, f.svc.SID, e.Identity)
					checkIs(t, "FetchEntity of a failed create", err, store.ErrNotFound)
				}
			}
		}
	})
}
