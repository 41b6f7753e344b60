package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verifykit/verifykit/internal/store"
)

// The conformance cases of webhooks, the events a change records and the
// outbox of their deliveries.

// webhook returns webhook n of the fixture's first service, enabled, for
// the event types given, created at when.
func webhook(f fixture, n int, types ...string) store.Webhook {
	return store.Webhook{
		SID:          sid("YW", n),
		AccountSID:   f.acct.SID,
		ServiceSID:   f.svc.SID,
		FriendlyName: fmt.Sprintf("backend %d", n),
		EventTypes:   types,
		Status:       "enabled",
		Version:      "v2",
		URL:          fmt.Sprintf("https://backend.example.com/hooks/%d?x=1&y=2", n),
		DateCreated:  when,
		DateUpdated:  when,
	}
}

// replaceWebhook updates the webhook with w's SID, account and service to
// be w, as a change that sets every field would.
func replaceWebhook(ctx context.Context, s store.Store, w store.Webhook) error {
	_, err := s.UpdateWebhook(ctx, w.AccountSID, w.ServiceSID, w.SID, func(c *store.Webhook) { *c = w })
	return err
}

// storedW returns w with its times as the store returns them.
func storedW(w store.Webhook) store.Webhook {
	w.DateCreated, w.DateUpdated = want(w.DateCreated), want(w.DateUpdated)
	return w
}

// event returns event n of type typ in the fixture's first service.
func event(n int, typ string, at time.Time) store.Event {
	id := fmt.Sprintf("8b9c1c3e-0000-4000-8000-%012d", n)
	return store.Event{
		ID:         id,
		Type:       typ,
		AccountSID: sid("AC", 1),
		ServiceSID: sid("VA", 1),
		Body:       fmt.Sprintf("uuid=%s&type=%s&sid=YF%032x", id, typ, n),
		Created:    at,
	}
}

// always returns an Events that gives evs whatever the record.
func always[T any](evs ...store.Event) store.Events[T] {
	return func(T) []store.Event { return evs }
}

// delivery returns the delivery of e to w, as it is first claimed.
func delivery(e store.Event, w store.Webhook) store.Delivery {
	return store.Delivery{
		EventID:     e.ID,
		EventType:   e.Type,
		WebhookSID:  w.SID,
		AccountSID:  w.AccountSID,
		ServiceSID:  w.ServiceSID,
		URL:         w.URL,
		Body:        e.Body,
		Created:     want(e.Created),
		NextAttempt: want(e.Created),
	}
}

// deliveryOrder sorts deliveries as ClaimDeliveries returns them.
func deliveryOrder(ds []store.Delivery) []store.Delivery {
	slices.SortFunc(ds, func(a, b store.Delivery) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), a.Created.Compare(b.Created),
			cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.WebhookSID, b.WebhookSID))
	})
	return ds
}

// far is a time after every other in the suite.
var far = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)

// claimAll claims every delivery there is, due or not, for an hour past
// far, and fails the test if that fails.
func claimAll(t *testing.T, s store.Store) []store.Delivery {
	t.Helper()
	got, err := s.ClaimDeliveries(t.Context(), far, time.Hour, 10000)
	must(t, "ClaimDeliveries", err)
	return got
}

// claim claims up to limit deliveries due at now for lease, and fails the
// test if that fails.
func claim(t *testing.T, s store.Store, now time.Time, lease time.Duration, limit int) []store.Delivery {
	t.Helper()
	got, err := s.ClaimDeliveries(t.Context(), now, lease, limit)
	must(t, fmt.Sprintf("ClaimDeliveries(%v)", now), err)
	return got
}

// emitter records evs by updating fac with a callback that returns them:
// a change that records exactly those events.
func emitter(t *testing.T, s store.Store, fac store.Factor, evs ...store.Event) {
	t.Helper()
	must(t, "UpdateFactor", s.UpdateFactor(t.Context(), fac, always[store.Factor](evs...)))
}

func testWebhooks(t *testing.T, open opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name   string
			adjust func(w *store.Webhook)
		}{
			{"Everything", func(w *store.Webhook) { w.EventTypes = []string{"*"} }},
			{"SomeTypes", func(w *store.Webhook) {
				w.EventTypes = []string{"factor.created", "factor.verified", "challenge.approved"}
			}},
			{"DisabledV1", func(w *store.Webhook) {
				w.EventTypes, w.Status, w.Version, w.FriendlyName = []string{"factor.deleted"}, "disabled", "v1", ""
			}},
			{"OtherTimes", func(w *store.Webhook) {
				w.EventTypes = []string{"*"}
				w.DateCreated = time.Date(2031, time.February, 3, 4, 5, 6, 999_999_999, time.FixedZone("UTC+5:30", 5*60*60+30*60))
				w.DateUpdated = w.DateCreated.Add(time.Hour)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				w := webhook(f, 1)
				tt.adjust(&w)
				must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
				got, err := f.s.FetchWebhook(ctx, w.AccountSID, w.ServiceSID, w.SID)
				must(t, "FetchWebhook", err)
				checkStrict(t, "FetchWebhook after CreateWebhook", storedW(w), got)
				list, more, err := f.s.ListWebhooks(ctx, w.AccountSID, w.ServiceSID, store.Page{Limit: 10})
				must(t, "ListWebhooks", err)
				checkStrict(t, "ListWebhooks after CreateWebhook", []store.Webhook{storedW(w)}, list)
				if more {
					t.Error("ListWebhooks of one webhook: more = true")
				}
			})
		}
	})

	t.Run("BadEventType", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		for _, types := range [][]string{{"factor.created,factor.deleted"}, {""}, {"*", ","}} {
			w := webhook(f, 1, types...)
			if err := f.s.CreateWebhook(ctx, w); err == nil {
				t.Errorf("CreateWebhook with event types %q succeeded, want an error", types)
			}
		}
		_, err := f.s.FetchWebhook(ctx, f.acct.SID, f.svc.SID, sid("YW", 1))
		checkIs(t, "FetchWebhook after the failed creates", err, store.ErrNotFound)
		w := webhook(f, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
		w.EventTypes = []string{"a,b"}
		if err := replaceWebhook(ctx, f.s, w); err == nil {
			t.Error("UpdateWebhook with an event type holding a comma succeeded, want an error")
		}
	})

	t.Run("Ownership", func(t *testing.T) {
		tests := []struct {
			name string
			call func(ctx context.Context, f fixture, mine store.Webhook) error
		}{
			{"CreateWebhook/OtherAccountsService", func(ctx context.Context, f fixture, _ store.Webhook) error {
				w := webhook(f, 7, "*")
				w.ServiceSID = f.otherSv.SID
				return f.s.CreateWebhook(ctx, w)
			}},
			{"CreateWebhook/UnknownService", func(ctx context.Context, f fixture, _ store.Webhook) error {
				w := webhook(f, 7, "*")
				w.ServiceSID = sid("VA", 99)
				return f.s.CreateWebhook(ctx, w)
			}},
			{"CreateWebhook/UnknownAccount", func(ctx context.Context, f fixture, _ store.Webhook) error {
				w := webhook(f, 7, "*")
				w.AccountSID = sid("AC", 99)
				return f.s.CreateWebhook(ctx, w)
			}},
			{"FetchWebhook/Unknown", func(ctx context.Context, f fixture, mine store.Webhook) error {
				_, err := f.s.FetchWebhook(ctx, mine.AccountSID, mine.ServiceSID, sid("YW", 99))
				return err
			}},
			{"FetchWebhook/OtherAccount", func(ctx context.Context, f fixture, mine store.Webhook) error {
				_, err := f.s.FetchWebhook(ctx, f.other.SID, mine.ServiceSID, mine.SID)
				return err
			}},
			{"FetchWebhook/OtherService", func(ctx context.Context, f fixture, mine store.Webhook) error {
				_, err := f.s.FetchWebhook(ctx, mine.AccountSID, f.otherSv.SID, mine.SID)
				return err
			}},
			{"UpdateWebhook/Unknown", func(ctx context.Context, f fixture, mine store.Webhook) error {
				mine.SID, mine.FriendlyName = sid("YW", 99), "hijacked"
				return replaceWebhook(ctx, f.s, mine)
			}},
			{"UpdateWebhook/OtherAccount", func(ctx context.Context, f fixture, mine store.Webhook) error {
				mine.AccountSID, mine.FriendlyName = f.other.SID, "hijacked"
				return replaceWebhook(ctx, f.s, mine)
			}},
			{"UpdateWebhook/OtherService", func(ctx context.Context, f fixture, mine store.Webhook) error {
				mine.ServiceSID, mine.FriendlyName = f.otherSv.SID, "hijacked"
				return replaceWebhook(ctx, f.s, mine)
			}},
			{"DeleteWebhook/Unknown", func(ctx context.Context, f fixture, mine store.Webhook) error {
				return f.s.DeleteWebhook(ctx, mine.AccountSID, mine.ServiceSID, sid("YW", 99))
			}},
			{"DeleteWebhook/OtherAccount", func(ctx context.Context, f fixture, mine store.Webhook) error {
				return f.s.DeleteWebhook(ctx, f.other.SID, mine.ServiceSID, mine.SID)
			}},
			{"DeleteWebhook/OtherAccountsService", func(ctx context.Context, f fixture, mine store.Webhook) error {
				return f.s.DeleteWebhook(ctx, f.other.SID, f.otherSv.SID, mine.SID)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				mine := webhook(f, 1, "*")
				must(t, "CreateWebhook", f.s.CreateWebhook(ctx, mine))
				checkIs(t, tt.name, tt.call(ctx, f, mine), store.ErrNotFound)
				got, err := f.s.FetchWebhook(ctx, mine.AccountSID, mine.ServiceSID, mine.SID)
				must(t, "FetchWebhook", err)
				checkStrict(t, "FetchWebhook after "+tt.name, storedW(mine), got)
				for _, svc := range []store.Service{f.svc, f.otherSv} {
					_, err := f.s.FetchWebhook(ctx, svc.AccountSID, svc.SID, sid("YW", 7))
					checkIs(t, "FetchWebhook of the failed create", err, store.ErrNotFound)
				}
				list, _, err := f.s.ListWebhooks(ctx, f.other.SID, f.svc.SID, store.Page{Limit: 10})
				must(t, "ListWebhooks", err)
				checkStrict(t, "ListWebhooks of another account", []store.Webhook(nil), list)
			})
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		first := webhook(f, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, first))
		dup := webhook(f, 2, "factor.created")
		dup.SID = first.SID
		checkIs(t, "CreateWebhook with a taken SID", f.s.CreateWebhook(ctx, dup), store.ErrConflict)
		got, err := f.s.FetchWebhook(ctx, first.AccountSID, first.ServiceSID, first.SID)
		must(t, "FetchWebhook", err)
		checkStrict(t, "FetchWebhook after the duplicate", storedW(first), got)
	})

	t.Run("Update", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		fac := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		orig := webhook(f, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, orig))
		before := event(1, "factor.verified", when)
		emitter(t, f.s, fac, before)

		upd := orig
		upd.FriendlyName, upd.EventTypes, upd.Status, upd.Version = "renamed ✓", []string{"factor.deleted"}, "disabled", "v1"
		upd.URL = "http://other.example.com/"
		upd.DateUpdated = when.Add(90*time.Minute + 500*time.Millisecond)
		upd.DateCreated = when.Add(time.Hour) // not stored
		var seen store.Webhook
		returned, err := f.s.UpdateWebhook(ctx, orig.AccountSID, orig.ServiceSID, orig.SID, func(c *store.Webhook) {
			seen = *c
			*c = upd
			c.SID, c.AccountSID = sid("YW", 98), f.other.SID // not stored
		})
		must(t, "UpdateWebhook", err)
		checkStrict(t, "what the change is given", storedW(orig), seen)
		wantW := storedW(upd)
		wantW.DateCreated = want(orig.DateCreated)
		checkStrict(t, "UpdateWebhook's result", wantW, returned)
		got, err := f.s.FetchWebhook(ctx, orig.AccountSID, orig.ServiceSID, orig.SID)
		must(t, "FetchWebhook", err)
		checkStrict(t, "FetchWebhook after UpdateWebhook", wantW, got)

		// Disabled, it gets no more events, and what it had ends unsent.
		emitter(t, f.s, fac, event(2, "factor.deleted", when))
		checkStrict(t, "deliveries after the update", []store.Delivery(nil), claimAll(t, f.s))
	})

	// Retries go where the webhook points now, and stop when it no longer
	// takes the event: a backend that fixes its URL or turns the webhook
	// off expects exactly that, not attempts for hours at the old one.
	t.Run("DeliveriesFollowTheWebhook", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		fac := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		orig := webhook(f, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, orig))
		verified, deleted := event(1, "factor.verified", when), event(2, "factor.deleted", when)
		emitter(t, f.s, fac, verified, deleted)

		moved := orig
		moved.EventTypes, moved.URL = []string{"factor.deleted"}, "http://fixed.example.com/hook"
		moved.DateUpdated = when.Add(time.Minute)
		must(t, "UpdateWebhook (URL and types)", replaceWebhook(ctx, f.s, moved))
		checkStrict(t, "deliveries after a new URL and types", []store.Delivery{delivery(deleted, moved)}, claimAll(t, f.s))

		// Disabled while that delivery is under way: it ends, and its
		// claimer's result finds nothing to finish.
		off := moved
		off.Status, off.DateUpdated = "disabled", when.Add(2*time.Minute)
		must(t, "UpdateWebhook (disabled)", replaceWebhook(ctx, f.s, off))
		err := f.s.FinishDelivery(ctx, deleted.ID, orig.SID, store.DeliveryResult{At: when, Status: 503, Next: far})
		checkIs(t, "FinishDelivery after the webhook was disabled", err, store.ErrNotFound)
		checkStrict(t, "deliveries after disabling", []store.Delivery(nil), claim(t, f.s, far.Add(2*time.Hour), time.Hour, 10))
	})

	t.Run("Delete", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		fac := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		doomed, kept := webhook(f, 1, "*"), webhook(f, 2, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, doomed))
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, kept))
		e := event(1, "factor.verified", when)
		emitter(t, f.s, fac, e)
		// One delivery to the doomed webhook is claimed, and so under way.
		claimed := claim(t, f.s, when, time.Minute, 1)
		checkStrict(t, "first claim", []store.Delivery{delivery(e, doomed)}, claimed)

		must(t, "DeleteWebhook", f.s.DeleteWebhook(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.SID))
		_, err := f.s.FetchWebhook(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.SID)
		checkIs(t, "FetchWebhook after DeleteWebhook", err, store.ErrNotFound)
		checkIs(t, "DeleteWebhook again", f.s.DeleteWebhook(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.SID), store.ErrNotFound)
		err = f.s.FinishDelivery(ctx, e.ID, doomed.SID, store.DeliveryResult{At: when, Status: 200, Delivered: true})
		checkIs(t, "FinishDelivery to a deleted webhook", err, store.ErrNotFound)
		checkStrict(t, "deliveries after DeleteWebhook", []store.Delivery{delivery(e, kept)}, claimAll(t, f.s))
		list, _, err := f.s.ListWebhooks(ctx, f.acct.SID, f.svc.SID, store.Page{Limit: 10})
		must(t, "ListWebhooks", err)
		checkStrict(t, "ListWebhooks after DeleteWebhook", []store.Webhook{storedW(kept)}, list)
	})

	t.Run("Pages", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		second := store.Service{SID: sid("VA", 3), AccountSID: f.acct.SID, DateCreated: when}
		must(t, "CreateService", f.s.CreateService(ctx, second))
		ts := pageTimes()
		var all []store.Webhook
		for i, at := range ts {
			w := webhook(f, pageSID(i, len(ts)), "*")
			w.DateCreated = at
			must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
			all = append(all, storedW(w))
			// Webhooks of another service at the same times: never listed.
			w.SID, w.ServiceSID = sid("YW", 100+i), second.SID
			must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
		}
		cursor := func(w store.Webhook) store.Cursor { return store.Cursor{Created: w.DateCreated, SID: w.SID} }
		sortByCreated(all, cursor)
		checkPaging(t, all,
			func(ctx context.Context, p store.Page) ([]store.Webhook, bool, error) {
				return f.s.ListWebhooks(ctx, f.acct.SID, f.svc.SID, p)
			}, cursor)
	})
}

func testEvents(t *testing.T, open opener) {
	t.Run("FanOut", func(t *testing.T) {
		ctx := t.Context()
		f := seed(t, open(t))
		second := store.Service{SID: sid("VA", 3), AccountSID: f.acct.SID, DateCreated: when}
		must(t, "CreateService", f.s.CreateService(ctx, second))
		created, all, disabled, approved := webhook(f, 1, "factor.created"), webhook(f, 2, "*"), webhook(f, 3, "*"), webhook(f, 4, "challenge.approved")
		disabled.Status = "disabled"
		several := webhook(f, 5, "challenge.denied", "factor.created", "factor.deleted")
		// A type that holds another's name is not that type.
		lookalike := webhook(f, 6, "factor.created.v2", "xfactor.created")
		otherService := webhook(f, 7, "*")
		otherService.ServiceSID = second.SID
		otherAccount := webhook(f, 8, "*")
		otherAccount.AccountSID, otherAccount.ServiceSID = f.other.SID, f.otherSv.SID
		for _, w := range []store.Webhook{created, all, disabled, approved, several, lookalike, otherService, otherAccount} {
			must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
		}

		e := event(1, "factor.created", when)
		var got []store.Factor
		stored, err := f.s.CreateFactor(ctx, entity(1), factor(entity(1), 1), "", func(fac store.Factor) []store.Event {
			got = append(got, fac)
			return []store.Event{e}
		})
		must(t, "CreateFactor", err)
		checkStrict(t, "what the events of CreateFactor got", []store.Factor{stored}, got)
		wantD := deliveryOrder([]store.Delivery{delivery(e, created), delivery(e, all), delivery(e, several)})
		checkStrict(t, "deliveries of factor.created", wantD, claimAll(t, f.s))

		// Two events of one change, of another type.
		e2, e3 := event(2, "factor.deleted", when.Add(time.Second)), event(3, "challenge.approved", when.Add(2*time.Second))
		must(t, "DeleteFactor", f.s.DeleteFactor(ctx, stored.AccountSID, stored.ServiceSID, stored.Identity, stored.SID,
			always[store.Factor](e2, e3)))
		wantD = deliveryOrder([]store.Delivery{delivery(e2, all), delivery(e2, several), delivery(e3, all), delivery(e3, approved)})
		checkStrict(t, "deliveries of factor.deleted and challenge.approved", wantD, claimAll(t, f.s))
	})

	t.Run("NoneStored", func(t *testing.T) {
		tests := []struct {
			name string
			// webhooks are created first, then change runs.
			webhooks func(f fixture) []store.Webhook
			change   func(ctx context.Context, f fixture, fac store.Factor) error
		}{
			{
				name:     "NilCallback",
				webhooks: func(f fixture) []store.Webhook { return []store.Webhook{webhook(f, 1, "*")} },
				change: func(ctx context.Context, f fixture, fac store.Factor) error {
					return f.s.UpdateFactor(ctx, fac, nil)
				},
			},
			{
				name:     "NoEvents",
				webhooks: func(f fixture) []store.Webhook { return []store.Webhook{webhook(f, 1, "*")} },
				change: func(ctx context.Context, f fixture, fac store.Factor) error {
					return f.s.UpdateFactor(ctx, fac, always[store.Factor]())
				},
			},
			{
				name:     "NoWebhook",
				webhooks: func(fixture) []store.Webhook { return nil },
				change: func(ctx context.Context, f fixture, fac store.Factor) error {
					return f.s.UpdateFactor(ctx, fac, always[store.Factor](event(1, "factor.verified", when)))
				},
			},
			{
				name: "NoWebhookOfType",
				webhooks: func(f fixture) []store.Webhook {
					return []store.Webhook{webhook(f, 1, "factor.created", "factor.deleted")}
				},
				change: func(ctx context.Context, f fixture, fac store.Factor) error {
					return f.s.UpdateFactor(ctx, fac, always[store.Factor](event(1, "factor.verified", when)))
				},
			},
			{
				name: "DisabledWebhook",
				webhooks: func(f fixture) []store.Webhook {
					w := webhook(f, 1, "*")
					w.Status = "disabled"
					return []store.Webhook{w}
				},
				change: func(ctx context.Context, f fixture, fac store.Factor) error {
					return f.s.UpdateFactor(ctx, fac, always[store.Factor](event(1, "factor.verified", when)))
				},
			},
			{
				name: "OtherServicesWebhook",
				webhooks: func(f fixture) []store.Webhook {
					w := webhook(f, 1, "*")
					w.AccountSID, w.ServiceSID = f.other.SID, f.otherSv.SID
					return []store.Webhook{w}
				},
				change: func(ctx context.Context, f fixture, fac store.Factor) error {
					return f.s.UpdateFactor(ctx, fac, always[store.Factor](event(1, "factor.verified", when)))
				},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seed(t, open(t))
				fac := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
				for _, w := range tt.webhooks(f) {
					must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
				}
				must(t, "change", tt.change(ctx, f, fac))
				checkStrict(t, "deliveries", []store.Delivery(nil), claimAll(t, f.s))
			})
		}
	})

	t.Run("Rollback", func(t *testing.T) {
		// A change that fails records none of its events, whether it
		// failed before or after it asked for them.
		tests := []struct {
			name    string
			change  func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], cevs store.Events[store.Challenge]) error
			wantErr error
		}{
			{"CreateFactor/UsedToken", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				_, err := f.s.CreateFactor(ctx, entity(5), factor(entity(5), 5), sid("YK", 1), evs)
				return err
			}, store.ErrUsed},
			{"CreateFactor/TooMany", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				_, err := f.s.CreateFactor(ctx, entity(3), factor(entity(3), 200), "", evs)
				return err
			}, store.ErrTooMany},
			{"CreateFactor/DuplicateCredential", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				fac := factor(entity(5), 5)
				fac.CredentialSID = f.fac.CredentialSID
				_, err := f.s.CreateFactor(ctx, entity(5), fac, "", evs)
				return err
			}, store.ErrConflict},
			{"CreateFactor/OtherAccountsService", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				e := entity(5)
				e.ServiceSID = f.otherSv.SID
				fac := factor(e, 5)
				_, err := f.s.CreateFactor(ctx, e, fac, "", evs)
				return err
			}, store.ErrNotFound},
			{"UpdateFactor/Unknown", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				fac := f.fac
				fac.SID = sid("YF", 99)
				return f.s.UpdateFactor(ctx, fac, evs)
			}, store.ErrNotFound},
			{"UpdateFactor/OtherAccount", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				fac := f.fac
				fac.AccountSID = f.other.SID
				return f.s.UpdateFactor(ctx, fac, evs)
			}, store.ErrNotFound},
			{"DeleteFactor/Unknown", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				return f.s.DeleteFactor(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, sid("YF", 99), evs)
			}, store.ErrNotFound},
			{"DeleteEntity/Unknown", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				return f.s.DeleteEntity(ctx, f.acct.SID, f.svc.SID, "nobody", evs)
			}, store.ErrNotFound},
			{"DeleteEntity/OtherAccount", func(ctx context.Context, f pushFixture, evs store.Events[store.Factor], _ store.Events[store.Challenge]) error {
				return f.s.DeleteEntity(ctx, f.other.SID, f.svc.SID, f.fac.Identity, evs)
			}, store.ErrNotFound},
			{"AnswerChallenge/Answered", func(ctx context.Context, f pushFixture, _ store.Events[store.Factor], cevs store.Events[store.Challenge]) error {
				_, err := f.s.AnswerChallenge(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, sid("YC", 2),
					store.Answer{Status: store.ChallengeApproved, At: when}, cevs)
				return err
			}, store.ErrAnswered},
			{"AnswerChallenge/Expired", func(ctx context.Context, f pushFixture, _ store.Events[store.Factor], cevs store.Events[store.Challenge]) error {
				_, err := f.s.AnswerChallenge(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, sid("YC", 1),
					store.Answer{Status: store.ChallengeApproved, At: far}, cevs)
				return err
			}, store.ErrExpired},
			{"AnswerChallenge/Unknown", func(ctx context.Context, f pushFixture, _ store.Events[store.Factor], cevs store.Events[store.Challenge]) error {
				_, err := f.s.AnswerChallenge(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, sid("YC", 99),
					store.Answer{Status: store.ChallengeApproved, At: when}, cevs)
				return err
			}, store.ErrNotFound},
		}
		// The changes all fail, and so change nothing: they share a store.
		ctx := t.Context()
		f := seedPush(t, open(t))
		createFactor(t, f.s, entity(4), factor(entity(4), 4), sid("YK", 1))
		for n := range store.MaxFactorsPerEntity {
			createFactor(t, f.s, entity(3), factor(entity(3), 100+n), "")
		}
		createChallenge(t, f.s, challenge(f.fac, 1))
		answered := createChallenge(t, f.s, challenge(f.fac, 2))
		_, err := f.s.AnswerChallenge(ctx, answered.AccountSID, answered.ServiceSID, answered.Identity, answered.SID,
			store.Answer{Status: store.ChallengeDenied, At: when}, nil)
		must(t, "AnswerChallenge", err)
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, webhook(f.fixture, 1, "*")))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := event(1, "factor.created", when)
				err := tt.change(t.Context(), f, always[store.Factor](e), always[store.Challenge](e))
				checkIs(t, tt.name, err, tt.wantErr)
				checkStrict(t, "deliveries after the failed change", []store.Delivery(nil), claimAll(t, f.s))
			})
		}
	})

	t.Run("WhatCallbacksGet", func(t *testing.T) {
		ctx := t.Context()
		f := seedPush(t, open(t))
		second := createFactor(t, f.s, entity(1), factor(entity(1), 3), "")
		w := webhook(f.fixture, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
		var wantD []store.Delivery
		n := 0
		// record returns an Events that appends what it gets to got and
		// returns one event, which it expects delivered.
		record := func(got *[]store.Factor) store.Events[store.Factor] {
			return func(fac store.Factor) []store.Event {
				*got = append(*got, fac)
				n++
				e := event(n, "factor.x", when.Add(time.Duration(n)*time.Second))
				wantD = append(wantD, delivery(e, w))
				return []store.Event{e}
			}
		}

		// UpdateFactor: the factor before the update.
		var got []store.Factor
		upd := f.fac
		upd.Verified, upd.FriendlyName, upd.DateUpdated = true, "renamed", when.Add(time.Hour)
		must(t, "UpdateFactor", f.s.UpdateFactor(ctx, upd, record(&got)))
		checkStrict(t, "what the events of UpdateFactor got", []store.Factor{f.fac}, got)

		// AnswerChallenge: the challenge as answered.
		c := createChallenge(t, f.s, challenge(f.fac, 1))
		var gotC []store.Challenge
		answered, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID,
			store.Answer{Status: store.ChallengeApproved, Metadata: map[string]string{"k": "v"}, At: when},
			func(c store.Challenge) []store.Event { gotC = append(gotC, c); return nil })
		must(t, "AnswerChallenge", err)
		checkStrict(t, "what the events of AnswerChallenge got", []store.Challenge{answered}, gotC)

		// DeleteFactor: the factor deleted.
		got = nil
		must(t, "DeleteFactor", f.s.DeleteFactor(ctx, second.AccountSID, second.ServiceSID, second.Identity, second.SID, record(&got)))
		checkStrict(t, "what the events of DeleteFactor got", []store.Factor{second}, got)

		// DeleteEntity: each factor deleted, in their list order.
		third := createFactor(t, f.s, entity(1), factor(entity(1), 4), "")
		fourth := factor(entity(1), 5)
		fourth.DateCreated = when.Add(-time.Hour)
		fourth = createFactor(t, f.s, entity(1), fourth, "")
		updated, err := f.s.FetchFactor(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, f.fac.SID)
		must(t, "FetchFactor", err)
		got = nil
		must(t, "DeleteEntity", f.s.DeleteEntity(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, record(&got)))
		checkStrict(t, "what the events of DeleteEntity got", []store.Factor{fourth, updated, third}, got)

		checkStrict(t, "deliveries", deliveryOrder(wantD), claimAll(t, f.s))
	})

	t.Run("SameEventTwice", func(t *testing.T) {
		// An event is recorded once per webhook, however often a change
		// gives it.
		ctx := t.Context()
		f := seed(t, open(t))
		fac := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		w := webhook(f, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
		e := event(1, "factor.verified", when)
		emitter(t, f.s, fac, e, e)
		emitter(t, f.s, fac, e)
		checkStrict(t, "deliveries", []store.Delivery{delivery(e, w)}, claimAll(t, f.s))
	})
}

func testEventConcurrency(t *testing.T, open opener) {
	const workers = 16

	t.Run("VerifyOnce", func(t *testing.T) {
		// Concurrent updates that verify one factor, each with a callback
		// that gives an event only when the factor it gets is unverified,
		// as the handler of factor.verified does: exactly one does.
		ctx := t.Context()
		f := seed(t, open(t))
		fac := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		w := webhook(f, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, w))
		var unverified atomic.Int64
		events := make([]store.Event, workers)
		errs := race(workers, func(i int) error {
			upd := fac
			upd.Verified, upd.FriendlyName = true, fmt.Sprintf("verified by %d", i)
			events[i] = event(i, "factor.verified", when)
			return f.s.UpdateFactor(ctx, upd, func(old store.Factor) []store.Event {
				if old.Verified {
					return nil
				}
				unverified.Add(1)
				return []store.Event{events[i]}
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("UpdateFactor #%d: %v", i, err)
			}
		}
		got := claimAll(t, f.s)
		t.Logf("%d concurrent verifying updates: %d saw the factor unverified, %d deliveries stored", workers, unverified.Load(), len(got))
		if n := unverified.Load(); n != 1 {
			t.Errorf("%d of %d concurrent updates saw the factor unverified, want exactly 1", n, workers)
		}
		if len(got) != 1 {
			t.Fatalf("deliveries after %d concurrent verifying updates = %d, want 1", workers, len(got))
		}
		i := slices.IndexFunc(events, func(e store.Event) bool { return e.ID == got[0].EventID })
		checkStrict(t, "the one delivery", delivery(events[i], w), got[0])
	})
}

func testDeliveries(t *testing.T, open opener) {
	// seedEvents returns a store with a webhook and n events recorded for
	// it, event i created at at plus i seconds.
	seedEvents := func(t *testing.T, n int, at time.Time) (fixture, store.Webhook, []store.Delivery) {
		t.Helper()
		f := seed(t, open(t))
		fac := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		w := webhook(f, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(t.Context(), w))
		var ds []store.Delivery
		for i := range n {
			e := event(i, "factor.verified", at.Add(time.Duration(i)*time.Second))
			emitter(t, f.s, fac, e)
			ds = append(ds, delivery(e, w))
		}
		return f, w, deliveryOrder(ds)
	}
	at := time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)

	t.Run("Lease", func(t *testing.T) {
		f, _, ds := seedEvents(t, 3, at)
		last := ds[2].NextAttempt
		checkStrict(t, "claim before any is due", []store.Delivery(nil), claim(t, f.s, at.Add(-time.Second), time.Minute, 10))
		checkStrict(t, "claim when the first is due", ds[:1], claim(t, f.s, at.Add(999*time.Millisecond), 30*time.Second, 10))
		checkStrict(t, "claim when all are due", ds[1:], claim(t, f.s, last, 30*time.Second, 10))
		checkStrict(t, "claim while leased", []store.Delivery(nil), claim(t, f.s, at.Add(29*time.Second), time.Minute, 10))
		// The first lease ran out (its claimer died): due again, unchanged.
		checkStrict(t, "claim after the first lease", ds[:1], claim(t, f.s, at.Add(30*time.Second), time.Minute, 10))
		checkStrict(t, "claim after every lease", ds[1:], claim(t, f.s, last.Add(30*time.Second), time.Minute, 10))
	})

	t.Run("OrderAndLimit", func(t *testing.T) {
		f, _, ds := seedEvents(t, 11, at)
		var got []store.Delivery
		for range 4 {
			got = append(got, claim(t, f.s, far, time.Hour, 3)...)
		}
		checkStrict(t, "claims of 3 at a time", ds, got)
		checkStrict(t, "claim after all", []store.Delivery(nil), claim(t, f.s, far, time.Hour, 3))
	})

	t.Run("Finish", func(t *testing.T) {
		ctx := t.Context()
		f, w, ds := seedEvents(t, 3, at)
		retried, delivered, givenUp := ds[0], ds[1], ds[2]
		claimAll(t, f.s)
		finishAt := at.Add(10 * time.Second)
		next := at.Add(time.Minute + 500*time.Millisecond)
		must(t, "FinishDelivery (retry)", f.s.FinishDelivery(ctx, retried.EventID, w.SID,
			store.DeliveryResult{At: finishAt, Status: 503, Error: "503 Service Unavailable", Next: next}))
		must(t, "FinishDelivery (delivered)", f.s.FinishDelivery(ctx, delivered.EventID, w.SID,
			store.DeliveryResult{At: finishAt, Status: 204, Delivered: true}))
		must(t, "FinishDelivery (given up)", f.s.FinishDelivery(ctx, givenUp.EventID, w.SID,
			store.DeliveryResult{At: finishAt, Error: "dial tcp: connection refused"}))

		// The retry is due at next, lease or not; the others never again.
		checkStrict(t, "claim before the retry", []store.Delivery(nil), claim(t, f.s, next.Add(-time.Second), time.Minute, 10))
		retried.Attempts, retried.NextAttempt = 1, want(next)
		checkStrict(t, "claim of the retry", []store.Delivery{retried}, claim(t, f.s, next, time.Minute, 10))
		must(t, "FinishDelivery (retry again)", f.s.FinishDelivery(ctx, retried.EventID, w.SID,
			store.DeliveryResult{At: next, Status: 500, Error: "500", Next: next.Add(time.Hour)}))
		retried.Attempts, retried.NextAttempt = 2, want(next.Add(time.Hour))
		checkStrict(t, "claim of the second retry", []store.Delivery{retried}, claimAll(t, f.s))

		// A finished delivery stays finished.
		for _, d := range []store.Delivery{delivered, givenUp} {
			err := f.s.FinishDelivery(ctx, d.EventID, w.SID, store.DeliveryResult{At: finishAt, Status: 500, Next: next})
			checkIs(t, "FinishDelivery of a finished delivery", err, store.ErrNotFound)
		}
		checkStrict(t, "claim after finishing the finished", []store.Delivery{retried}, claim(t, f.s, far.Add(2*time.Hour), time.Hour, 10))
		err := f.s.FinishDelivery(ctx, "no-such-event", w.SID, store.DeliveryResult{At: finishAt, Delivered: true})
		checkIs(t, "FinishDelivery of an unknown event", err, store.ErrNotFound)
		err = f.s.FinishDelivery(ctx, retried.EventID, sid("YW", 99), store.DeliveryResult{At: finishAt, Delivered: true})
		checkIs(t, "FinishDelivery to an unknown webhook", err, store.ErrNotFound)
	})

	t.Run("Prune", func(t *testing.T) {
		ctx := t.Context()
		f, w, ds := seedEvents(t, 4, at)
		claimAll(t, f.s)
		first, second := at.Add(time.Hour), at.Add(2*time.Hour+500*time.Millisecond)
		must(t, "FinishDelivery", f.s.FinishDelivery(ctx, ds[0].EventID, w.SID, store.DeliveryResult{At: first, Delivered: true}))
		must(t, "FinishDelivery", f.s.FinishDelivery(ctx, ds[1].EventID, w.SID, store.DeliveryResult{At: second, Error: "gone"}))
		must(t, "FinishDelivery", f.s.FinishDelivery(ctx, ds[2].EventID, w.SID, store.DeliveryResult{At: first, Error: "retry", Next: second}))
		for _, tc := range []struct {
			before time.Time
			want   int
		}{
			{first, 0},
			{first.Add(time.Second), 1},
			{want(second), 0}, // not before itself
			{far, 1},
			{far, 0},
		} {
			n, err := f.s.PruneDeliveries(ctx, tc.before)
			must(t, "PruneDeliveries", err)
			if n != tc.want {
				t.Errorf("PruneDeliveries(%v) = %d, want %d", tc.before, n, tc.want)
			}
		}
		// The unfinished ones are left.
		ds[2].Attempts, ds[2].NextAttempt = 1, want(second)
		checkStrict(t, "deliveries after pruning", deliveryOrder([]store.Delivery{ds[2], ds[3]}), claim(t, f.s, far.Add(2*time.Hour), time.Hour, 10))
	})

	t.Run("BadArguments", func(t *testing.T) {
		f, _, _ := seedEvents(t, 1, at)
		for _, tc := range []struct {
			lease time.Duration
			limit int
		}{{time.Minute, 0}, {time.Minute, -1}, {0, 1}, {999 * time.Millisecond, 1}, {-time.Minute, 1}} {
			if _, err := f.s.ClaimDeliveries(t.Context(), far, tc.lease, tc.limit); err == nil {
				t.Errorf("ClaimDeliveries(lease %v, limit %d) succeeded, want an error", tc.lease, tc.limit)
			}
		}
	})

	t.Run("ConcurrentClaims", func(t *testing.T) {
		const n, claimers, limit = 120, 8, 7
		f, _, ds := seedEvents(t, n, at)
		checkClaimers(t, []store.Store{f.s}, claimers, limit, ds)
	})
}

// checkClaimers runs claimers goroutines on each store, each claiming up
// to limit deliveries at a time until none is left, and checks that every
// one of want was claimed exactly once.
func checkClaimers(t *testing.T, stores []store.Store, claimers, limit int, want []store.Delivery) {
	t.Helper()
	var mu sync.Mutex
	claimed := make(map[string]int)
	var got []store.Delivery
	var wg sync.WaitGroup
	start := make(chan struct{})
	rounds := make([]int, len(stores)*claimers)
	for k, s := range stores {
		for c := range claimers {
			wg.Go(func() {
				<-start
				for {
					ds, err := s.ClaimDeliveries(t.Context(), far, time.Hour, limit)
					if err != nil {
						t.Errorf("ClaimDeliveries: %v", err)
						return
					}
					if len(ds) == 0 {
						return
					}
					rounds[k*claimers+c]++
					mu.Lock()
					for _, d := range ds {
						claimed[d.EventID+"/"+d.WebhookSID]++
					}
					got = append(got, ds...)
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	twice := 0
	for key, n := range claimed {
		if n > 1 {
			twice++
			t.Errorf("delivery %s claimed %d times, want once", key, n)
		}
	}
	busy := 0
	for _, r := range rounds {
		if r > 0 {
			busy++
		}
	}
	t.Logf("%d claimers on %d store(s), %d at a time: %d claims of %d deliveries, %d claimed twice; %d claimers got some",
		claimers*len(stores), len(stores), limit, len(got), len(want), twice, busy)
	checkStrict(t, "every delivery claimed", want, deliveryOrder(got))
}

// RunShared checks what must hold when several stores share one database,
// as verifyd instances behind a load balancer do: open returns two stores
// on one new, empty database, and arranges, with t.Cleanup, for them to
// be closed. Claims of deliveries never overlap, an answer to a challenge
// wins once and a factor is verified once, whichever store each call
// goes to.
func RunShared(t *testing.T, open func(t *testing.T) (store.Store, store.Store)) {
	t.Helper()
	const workers = 16
	at := time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)

	t.Run("Claims", func(t *testing.T) {
		const n, claimers, limit = 120, 4, 5
		a, b := open(t)
		f := seed(t, a)
		fac := createFactor(t, a, entity(1), factor(entity(1), 1), "")
		w := webhook(f, 1, "*")
		must(t, "CreateWebhook", a.CreateWebhook(t.Context(), w))
		var ds []store.Delivery
		for i := range n {
			e := event(i, "factor.verified", at.Add(time.Duration(i%7)*time.Second))
			emitter(t, []store.Store{a, b}[i%2], fac, e)
			ds = append(ds, delivery(e, w))
		}
		checkClaimers(t, []store.Store{a, b}, claimers, limit, deliveryOrder(ds))
	})

	t.Run("AnswerOnce", func(t *testing.T) {
		a, b := open(t)
		seed(t, a)
		fac := createFactor(t, a, entity(1), factor(entity(1), 1), "")
		c := createChallenge(t, a, challenge(fac, 1))
		errs := race(workers, func(i int) error {
			s := []store.Store{a, b}[i%2]
			_, err := s.AnswerChallenge(t.Context(), c.AccountSID, c.ServiceSID, c.Identity, c.SID,
				store.Answer{Status: store.ChallengeApproved, At: when}, nil)
			return err
		})
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrAnswered):
				t.Errorf("answer %d: error = %v, want nil or one wrapping %v", i, err, store.ErrAnswered)
			}
		}
		t.Logf("%d answers across 2 stores: %d succeeded", workers, ok)
		if ok != 1 {
			t.Errorf("%d of %d answers across two stores succeeded, want exactly 1", ok, workers)
		}
	})

	t.Run("VerifyOnce", func(t *testing.T) {
		a, b := open(t)
		f := seed(t, a)
		fac := createFactor(t, a, entity(1), factor(entity(1), 1), "")
		must(t, "CreateWebhook", a.CreateWebhook(t.Context(), webhook(f, 1, "*")))
		var unverified atomic.Int64
		errs := race(workers, func(i int) error {
			upd := fac
			upd.Verified = true
			return []store.Store{a, b}[i%2].UpdateFactor(t.Context(), upd, func(old store.Factor) []store.Event {
				if old.Verified {
					return nil
				}
				unverified.Add(1)
				return []store.Event{event(i, "factor.verified", when)}
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("UpdateFactor #%d: %v", i, err)
			}
		}
		got := claimAll(t, b)
		t.Logf("%d verifying updates across 2 stores: %d saw the factor unverified, %d deliveries", workers, unverified.Load(), len(got))
		if unverified.Load() != 1 || len(got) != 1 {
			t.Errorf("%d updates saw the factor unverified and %d deliveries were stored, want 1 and 1", unverified.Load(), len(got))
		}
	})
}
