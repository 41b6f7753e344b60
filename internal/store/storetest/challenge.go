package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/internal/store"
)

// The conformance cases of Verify Push challenges and notifications.

// challenge returns challenge n of factor f: pending, every field a
// create takes set, created at when and expiring five minutes later.
func challenge(f store.Factor, n int) store.Challenge {
	return store.Challenge{
		SID:        sid("YC", n),
		AccountSID: f.AccountSID,
		ServiceSID: f.ServiceSID,
		EntitySID:  f.EntitySID,
		Identity:   f.Identity,
		FactorSID:  f.SID,
		Status:     store.ChallengePending,
		Details: store.ChallengeDetails{
			Message: fmt.Sprintf("Login request %d", n),
			Fields: []store.ChallengeField{
				{Label: "Action", Value: "Sign up in portal"},
				{Label: "Location", Value: "Zürich ✓"},
			},
		},
		HiddenDetails:  map[string]string{"ip": "172.168.1.234", "n": fmt.Sprint(n)},
		DateCreated:    when,
		DateUpdated:    when,
		ExpirationDate: when.Add(5 * time.Minute),
	}
}

// storedC returns c as the store returns it when read before it expires:
// times in UTC and whole seconds, and no fields as an empty list.
func storedC(c store.Challenge) store.Challenge {
	c.DateCreated, c.DateUpdated, c.ExpirationDate = want(c.DateCreated), want(c.DateUpdated), want(c.ExpirationDate)
	if c.DateResponded != nil {
		c.DateResponded = ptr(want(*c.DateResponded))
	}
	if c.Details.Fields == nil {
		c.Details.Fields = []store.ChallengeField{}
	}
	return c
}

// notification returns notification n, the push sent for challenge c.
func notification(c store.Challenge, n int) store.Notification {
	return store.Notification{
		SID:          sid("NT", n),
		AccountSID:   c.AccountSID,
		ServiceSID:   c.ServiceSID,
		EntitySID:    c.EntitySID,
		Identity:     c.Identity,
		ChallengeSID: c.SID,
		FactorSID:    c.FactorSID,
		Message:      c.Details.Message,
		Priority:     "high",
		TTL:          300,
		DateCreated:  c.DateCreated,
	}
}

// storedN returns n as the store returns it.
func storedN(n store.Notification) store.Notification {
	n.DateCreated = want(n.DateCreated)
	return n
}

// createChallenge creates c with notification n, numbered as c, and fails
// the test if that fails. It returns what CreateChallenge returned.
func createChallenge(t *testing.T, s store.Store, c store.Challenge) store.Challenge {
	t.Helper()
	got, err := s.CreateChallenge(t.Context(), c, notification(c, challengeNumber(c)))
	must(t, fmt.Sprintf("CreateChallenge(%s)", c.SID), err)
	return got
}

// challengeNumber returns the n of a challenge(f, n).
func challengeNumber(c store.Challenge) int {
	var n int
	if _, err := fmt.Sscanf(c.SID[2:], "%x", &n); err != nil {
		panic(fmt.Sprintf("challenge SID %q is not one of challenge()'s", c.SID))
	}
	return n
}

// pushFixture is a seeded store with a factor of entity(1) and one of
// entity(2).
type pushFixture struct {
	fixture
	fac, fac2 store.Factor
}

// seedPush seeds s with the fixture and a factor of entity(1) and one of
// entity(2).
func seedPush(t *testing.T, s store.Store) pushFixture {
	t.Helper()
	f := seed(t, s)
	return pushFixture{
		fixture: f,
		fac:     createFactor(t, s, entity(1), factor(entity(1), 1), ""),
		fac2:    createFactor(t, s, entity(2), factor(entity(2), 2), ""),
	}
}

// fetchC fetches c's challenge at now and fails the test if that fails.
func fetchC(t *testing.T, s store.Store, c store.Challenge, now time.Time) store.Challenge {
	t.Helper()
	got, err := s.FetchChallenge(t.Context(), c.AccountSID, c.ServiceSID, c.Identity, c.SID, now)
	must(t, fmt.Sprintf("FetchChallenge(%s)", c.SID), err)
	return got
}

// listC lists up to 100 of the entity's challenges that f picks, and
// fails the test if that fails.
func listC(t *testing.T, s store.Store, fac store.Factor, f store.ChallengeFilter) []store.Challenge {
	t.Helper()
	got, more, err := s.ListChallenges(t.Context(), fac.AccountSID, fac.ServiceSID, fac.Identity, f, store.Page{Limit: 100})
	must(t, "ListChallenges", err)
	if more {
		t.Errorf("ListChallenges(%+v): more = true, want false", f)
	}
	return got
}

// listN lists up to 100 notifications of fac, and fails the test if that
// fails.
func listN(t *testing.T, s store.Store, fac store.Factor) []store.Notification {
	t.Helper()
	got, _, err := s.ListNotifications(t.Context(), fac.AccountSID, fac.ServiceSID, fac.Identity, fac.SID, store.Page{Limit: 100})
	must(t, "ListNotifications", err)
	return got
}

func testChallenges(t *testing.T, open opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name   string
			adjust func(c *store.Challenge)
		}{
			{"AllSet", func(*store.Challenge) {}},
			{"NoFieldsNoHiddenDetails", func(c *store.Challenge) { c.Details.Fields, c.HiddenDetails = nil, nil }},
			{"EmptyFieldsEmptyHiddenDetails", func(c *store.Challenge) {
				c.Details = store.ChallengeDetails{Fields: []store.ChallengeField{}}
				c.HiddenDetails = map[string]string{}
			}},
			{"AwkwardText", func(c *store.Challenge) {
				// No NUL in the message and fields: the API refuses it, and
				// PostgreSQL's text and jsonb cannot hold it.
				c.Details.Message = "quote\"back\\slash\nline ünï <&> \u2028"
				c.Details.Fields = []store.ChallengeField{{Label: "", Value: ""}, {Label: "a,b", Value: "{\"json\": [1]}"}}
				c.HiddenDetails = map[string]string{"": "", "null": "\x00"}
			}},
			{"OtherTimes", func(c *store.Challenge) {
				c.DateCreated = time.Date(2031, time.February, 3, 4, 5, 6, 999_999_999, time.FixedZone("UTC+5:30", 5*60*60+30*60))
				c.DateUpdated = c.DateCreated.Add(time.Second)
				c.ExpirationDate = c.DateCreated.Add(time.Hour)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seedPush(t, open(t))
				in := challenge(f.fac, 1)
				tt.adjust(&in)
				wantC := storedC(in)
				// The challenge takes its entity from the factor; what a
				// create cannot set is ignored.
				in.EntitySID = ""
				in.Status, in.Metadata, in.DateResponded = store.ChallengeApproved, map[string]string{"x": "y"}, ptr(when)
				n := notification(wantC, 1)
				n.EntitySID, n.FactorSID = "", ""

				got, err := f.s.CreateChallenge(ctx, in, n)
				must(t, "CreateChallenge", err)
				checkStrict(t, "CreateChallenge's result", wantC, got)
				checkStrict(t, "FetchChallenge after CreateChallenge", wantC, fetchC(t, f.s, wantC, in.DateCreated))
				checkStrict(t, "ListChallenges after CreateChallenge", []store.Challenge{wantC},
					listC(t, f.s, f.fac, store.ChallengeFilter{Now: in.DateCreated}))
				checkStrict(t, "ListNotifications after CreateChallenge", []store.Notification{storedN(notification(wantC, 1))}, listN(t, f.s, f.fac))
			})
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		tests := []struct {
			name string
			call func(ctx context.Context, f pushFixture, c store.Challenge) error
		}{
			{"FetchChallenge", func(ctx context.Context, f pushFixture, c store.Challenge) error {
				_, err := f.s.FetchChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, sid("YC", 99), when)
				return err
			}},
			{"AnswerChallenge", func(ctx context.Context, f pushFixture, c store.Challenge) error {
				_, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, sid("YC", 99),
					store.Answer{Status: store.ChallengeApproved, At: when}, nil)
				return err
			}},
			{"CreateNotification", func(ctx context.Context, f pushFixture, c store.Challenge) error {
				n := notification(c, 7)
				n.ChallengeSID = sid("YC", 99)
				_, err := f.s.CreateNotification(ctx, n)
				return err
			}},
			{"CreateChallenge/UnknownFactor", func(ctx context.Context, f pushFixture, c store.Challenge) error {
				c.SID, c.FactorSID = sid("YC", 7), sid("YF", 99)
				_, err := f.s.CreateChallenge(ctx, c, notification(c, 7))
				return err
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := seedPush(t, open(t))
				c := createChallenge(t, f.s, challenge(f.fac, 1))
				checkIs(t, tt.name, tt.call(t.Context(), f, c), store.ErrNotFound)
			})
		}
	})

	t.Run("Ownership", func(t *testing.T) {
		tests := []struct {
			name string
			call func(ctx context.Context, f pushFixture, mine store.Challenge) error
			// create marks a failed CreateChallenge, which must have stored
			// neither challenge 7 nor its notification.
			create bool
		}{
			{
				name: "CreateChallenge/OtherAccount",
				call: func(ctx context.Context, f pushFixture, _ store.Challenge) error {
					c := challenge(f.fac, 7)
					c.AccountSID = f.other.SID
					_, err := f.s.CreateChallenge(ctx, c, notification(c, 7))
					return err
				},
				create: true,
			},
			{
				name: "CreateChallenge/OtherService",
				call: func(ctx context.Context, f pushFixture, _ store.Challenge) error {
					c := challenge(f.fac, 7)
					c.ServiceSID = f.otherSv.SID
					_, err := f.s.CreateChallenge(ctx, c, notification(c, 7))
					return err
				},
				create: true,
			},
			{
				name: "CreateChallenge/OtherEntity",
				call: func(ctx context.Context, f pushFixture, _ store.Challenge) error {
					c := challenge(f.fac, 7)
					c.Identity = f.fac2.Identity
					_, err := f.s.CreateChallenge(ctx, c, notification(c, 7))
					return err
				},
				create: true,
			},
			{
				name: "FetchChallenge/OtherAccount",
				call: func(ctx context.Context, f pushFixture, mine store.Challenge) error {
					_, err := f.s.FetchChallenge(ctx, f.other.SID, mine.ServiceSID, mine.Identity, mine.SID, when)
					return err
				},
			},
			{
				name: "FetchChallenge/OtherService",
				call: func(ctx context.Context, f pushFixture, mine store.Challenge) error {
					_, err := f.s.FetchChallenge(ctx, mine.AccountSID, f.otherSv.SID, mine.Identity, mine.SID, when)
					return err
				},
			},
			{
				name: "FetchChallenge/OtherEntity",
				call: func(ctx context.Context, f pushFixture, mine store.Challenge) error {
					_, err := f.s.FetchChallenge(ctx, mine.AccountSID, mine.ServiceSID, f.fac2.Identity, mine.SID, when)
					return err
				},
			},
			{
				name: "AnswerChallenge/OtherAccount",
				call: func(ctx context.Context, f pushFixture, mine store.Challenge) error {
					_, err := f.s.AnswerChallenge(ctx, f.other.SID, mine.ServiceSID, mine.Identity, mine.SID,
						store.Answer{Status: store.ChallengeApproved, At: when}, nil)
					return err
				},
			},
			{
				name: "AnswerChallenge/OtherEntity",
				call: func(ctx context.Context, f pushFixture, mine store.Challenge) error {
					_, err := f.s.AnswerChallenge(ctx, mine.AccountSID, mine.ServiceSID, f.fac2.Identity, mine.SID,
						store.Answer{Status: store.ChallengeDenied, At: when}, nil)
					return err
				},
			},
			{
				name: "CreateNotification/OtherAccount",
				call: func(ctx context.Context, f pushFixture, mine store.Challenge) error {
					n := notification(mine, 7)
					n.AccountSID = f.other.SID
					_, err := f.s.CreateNotification(ctx, n)
					return err
				},
			},
			{
				name: "CreateNotification/OtherEntity",
				call: func(ctx context.Context, f pushFixture, mine store.Challenge) error {
					n := notification(mine, 7)
					n.Identity = f.fac2.Identity
					_, err := f.s.CreateNotification(ctx, n)
					return err
				},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				f := seedPush(t, open(t))
				mine := createChallenge(t, f.s, challenge(f.fac, 1))
				checkIs(t, tt.name, tt.call(ctx, f, mine), store.ErrNotFound)
				if tt.create {
					for _, fac := range []store.Factor{f.fac, f.fac2} {
						_, err := f.s.FetchChallenge(ctx, fac.AccountSID, fac.ServiceSID, fac.Identity, sid("YC", 7), when)
						checkIs(t, "FetchChallenge after the failed create", err, store.ErrNotFound)
					}
				}
				// Whatever failed, the challenge is as it was, with its one
				// notification, and lists are keyed by the account too.
				checkStrict(t, "FetchChallenge", mine, fetchC(t, f.s, mine, when))
				checkStrict(t, "ListNotifications", []store.Notification{storedN(notification(mine, 1))}, listN(t, f.s, f.fac))
				cs, _, err := f.s.ListChallenges(ctx, f.other.SID, f.fac.ServiceSID, f.fac.Identity, store.ChallengeFilter{Now: when}, store.Page{Limit: 10})
				must(t, "ListChallenges", err)
				checkStrict(t, "ListChallenges of another account", []store.Challenge(nil), cs)
				ns, _, err := f.s.ListNotifications(ctx, f.other.SID, f.fac.ServiceSID, f.fac.Identity, f.fac.SID, store.Page{Limit: 10})
				must(t, "ListNotifications", err)
				checkStrict(t, "ListNotifications of another account", []store.Notification(nil), ns)
			})
		}
	})

	t.Run("Conflict", func(t *testing.T) {
		ctx := t.Context()
		f := seedPush(t, open(t))
		first := createChallenge(t, f.s, challenge(f.fac, 1))

		dup := challenge(f.fac2, 2)
		dup.SID = first.SID
		_, err := f.s.CreateChallenge(ctx, dup, notification(challenge(f.fac2, 2), 2))
		checkIs(t, "CreateChallenge with a taken SID", err, store.ErrConflict)

		// A taken notification SID fails the challenge too.
		c := challenge(f.fac, 3)
		_, err = f.s.CreateChallenge(ctx, c, notification(first, 1))
		checkIs(t, "CreateChallenge with a taken notification SID", err, store.ErrConflict)
		_, err = f.s.FetchChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID, when)
		checkIs(t, "FetchChallenge of the failed create", err, store.ErrNotFound)

		_, err = f.s.CreateNotification(ctx, notification(first, 1))
		checkIs(t, "CreateNotification with a taken SID", err, store.ErrConflict)

		checkStrict(t, "FetchChallenge of the first", first, fetchC(t, f.s, first, when))
		checkStrict(t, "ListChallenges", []store.Challenge{first}, listC(t, f.s, f.fac, store.ChallengeFilter{Now: when}))
		checkStrict(t, "ListNotifications", []store.Notification{storedN(notification(first, 1))}, listN(t, f.s, f.fac))
		checkStrict(t, "ListNotifications of the other factor", []store.Notification(nil), listN(t, f.s, f.fac2))
	})

	t.Run("ExpiredOnRead", func(t *testing.T) {
		f := seedPush(t, open(t))
		created := time.Date(2025, time.June, 1, 12, 0, 0, 0, time.UTC)
		in := challenge(f.fac, 1)
		in.DateCreated, in.DateUpdated, in.ExpirationDate = created, created, created.Add(300*time.Second)
		c := createChallenge(t, f.s, in)
		zone := time.FixedZone("UTC-3", -3*60*60)
		for _, tc := range []struct {
			name string
			now  time.Time
			want string
		}{
			{"BeforeCreation", created.Add(-time.Hour), store.ChallengePending},
			{"JustBefore", created.Add(299*time.Second + 999*time.Millisecond).In(zone), store.ChallengePending},
			{"AtExpiration", created.Add(300 * time.Second).In(zone), store.ChallengeExpired},
			{"JustAfter", created.Add(300*time.Second + time.Millisecond), store.ChallengeExpired},
			{"Later", created.Add(24 * time.Hour), store.ChallengeExpired},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantC := c
				wantC.Status = tc.want
				checkStrict(t, fmt.Sprintf("FetchChallenge at %v", tc.now), wantC, fetchC(t, f.s, c, tc.now))
				checkStrict(t, fmt.Sprintf("ListChallenges at %v", tc.now), []store.Challenge{wantC},
					listC(t, f.s, f.fac, store.ChallengeFilter{Now: tc.now}))
				for _, status := range []string{store.ChallengePending, store.ChallengeExpired} {
					var wantList []store.Challenge
					if status == tc.want {
						wantList = []store.Challenge{wantC}
					}
					checkStrict(t, fmt.Sprintf("ListChallenges of status %s at %v", status, tc.now), wantList,
						listC(t, f.s, f.fac, store.ChallengeFilter{Status: status, Now: tc.now}))
				}
			})
		}
	})

	t.Run("Filter", func(t *testing.T) {
		ctx := t.Context()
		f := seedPush(t, open(t))
		second := createFactor(t, f.s, entity(1), factor(entity(1), 3), "")
		now := when.Add(time.Hour)
		var cs []store.Challenge
		for i, fac := range []store.Factor{f.fac, f.fac, f.fac, f.fac, second} {
			c := challenge(fac, i+1)
			c.DateCreated = when.Add(time.Duration(i) * time.Second)
			c.ExpirationDate = now.Add(time.Second)
			cs = append(cs, c)
		}
		cs[1].ExpirationDate = now
		for _, c := range cs {
			createChallenge(t, f.s, c)
		}
		// Another entity's challenges are never listed.
		createChallenge(t, f.s, challenge(f.fac2, 6))
		answer := func(c store.Challenge, status string) store.Challenge {
			got, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID, store.Answer{Status: status, At: when}, nil)
			must(t, "AnswerChallenge", err)
			return got
		}
		live, expired, approved, denied, other := storedC(cs[0]), storedC(cs[1]), answer(cs[2], store.ChallengeApproved), answer(cs[3], store.ChallengeDenied), storedC(cs[4])
		expired.Status = store.ChallengeExpired
		for _, tc := range []struct {
			name   string
			filter store.ChallengeFilter
			want   []store.Challenge
		}{
			{"All", store.ChallengeFilter{}, []store.Challenge{live, expired, approved, denied, other}},
			{"Pending", store.ChallengeFilter{Status: store.ChallengePending}, []store.Challenge{live, other}},
			{"Expired", store.ChallengeFilter{Status: store.ChallengeExpired}, []store.Challenge{expired}},
			{"Approved", store.ChallengeFilter{Status: store.ChallengeApproved}, []store.Challenge{approved}},
			{"Denied", store.ChallengeFilter{Status: store.ChallengeDenied}, []store.Challenge{denied}},
			{"Factor", store.ChallengeFilter{FactorSID: f.fac.SID}, []store.Challenge{live, expired, approved, denied}},
			{"OtherFactor", store.ChallengeFilter{FactorSID: second.SID}, []store.Challenge{other}},
			{"FactorPending", store.ChallengeFilter{FactorSID: f.fac.SID, Status: store.ChallengePending}, []store.Challenge{live}},
			{"OtherEntitysFactor", store.ChallengeFilter{FactorSID: f.fac2.SID}, nil},
			{"AllDesc", store.ChallengeFilter{Desc: true}, []store.Challenge{other, denied, approved, expired, live}},
			{"PendingDesc", store.ChallengeFilter{Status: store.ChallengePending, Desc: true}, []store.Challenge{other, live}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.filter.Now = now
				checkStrict(t, fmt.Sprintf("ListChallenges(%+v)", tc.filter), tc.want, listC(t, f.s, f.fac, tc.filter))
			})
		}
		_, _, err := f.s.ListChallenges(ctx, f.acct.SID, f.svc.SID, f.fac.Identity, store.ChallengeFilter{Status: "unknown", Now: now}, store.Page{Limit: 10})
		if err == nil {
			t.Error("ListChallenges with an unknown status succeeded, want an error")
		}
	})

	t.Run("Answer", func(t *testing.T) {
		for _, status := range []string{store.ChallengeApproved, store.ChallengeDenied} {
			t.Run(status, func(t *testing.T) {
				ctx := t.Context()
				f := seedPush(t, open(t))
				c := createChallenge(t, f.s, challenge(f.fac, 1))
				at := when.Add(time.Minute + 500*time.Millisecond)
				a := store.Answer{Status: status, Metadata: map[string]string{"os": "Android", "": ""}, At: at}
				got, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID, a, nil)
				must(t, "AnswerChallenge", err)
				wantC := c
				wantC.Status, wantC.Metadata = status, a.Metadata
				wantC.DateResponded, wantC.DateUpdated = ptr(want(at)), want(at)
				checkStrict(t, "AnswerChallenge's result", wantC, got)
				// Answered, it never reads expired.
				checkStrict(t, "FetchChallenge after the answer", wantC, fetchC(t, f.s, c, at.Add(24*time.Hour)))

				for _, again := range []string{store.ChallengeApproved, store.ChallengeDenied} {
					_, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID,
						store.Answer{Status: again, At: at.Add(time.Second)}, nil)
					checkIs(t, "AnswerChallenge again with "+again, err, store.ErrAnswered)
					_, err = f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID,
						store.Answer{Status: again, At: at.Add(time.Hour)}, nil)
					checkIs(t, "AnswerChallenge again after expiry with "+again, err, store.ErrAnswered)
				}
				checkStrict(t, "FetchChallenge after the second answers", wantC, fetchC(t, f.s, c, at))
			})
		}

		t.Run("NoMetadata", func(t *testing.T) {
			f := seedPush(t, open(t))
			c := createChallenge(t, f.s, challenge(f.fac, 1))
			got, err := f.s.AnswerChallenge(t.Context(), c.AccountSID, c.ServiceSID, c.Identity, c.SID,
				store.Answer{Status: store.ChallengeApproved, At: when}, nil)
			must(t, "AnswerChallenge", err)
			if got.Metadata != nil {
				t.Errorf("AnswerChallenge without metadata: Metadata = %v, want nil", got.Metadata)
			}
		})

		t.Run("Expiry", func(t *testing.T) {
			ctx := t.Context()
			f := seedPush(t, open(t))
			c := createChallenge(t, f.s, challenge(f.fac, 1))
			d := createChallenge(t, f.s, challenge(f.fac, 2))
			for _, at := range []time.Time{c.ExpirationDate, c.ExpirationDate.Add(time.Millisecond), c.ExpirationDate.Add(time.Hour)} {
				_, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID,
					store.Answer{Status: store.ChallengeApproved, At: at}, nil)
				checkIs(t, fmt.Sprintf("AnswerChallenge at %v", at), err, store.ErrExpired)
			}
			checkStrict(t, "FetchChallenge after the late answers", c, fetchC(t, f.s, c, when))
			// The last moment before expiry still counts.
			at := d.ExpirationDate.Add(-time.Millisecond)
			got, err := f.s.AnswerChallenge(ctx, d.AccountSID, d.ServiceSID, d.Identity, d.SID,
				store.Answer{Status: store.ChallengeDenied, At: at}, nil)
			must(t, "AnswerChallenge just before expiry", err)
			if got.Status != store.ChallengeDenied {
				t.Errorf("AnswerChallenge just before expiry: Status = %q, want %q", got.Status, store.ChallengeDenied)
			}
		})

		t.Run("NotAnAnswer", func(t *testing.T) {
			f := seedPush(t, open(t))
			c := createChallenge(t, f.s, challenge(f.fac, 1))
			for _, status := range []string{store.ChallengePending, store.ChallengeExpired, "", "APPROVED"} {
				if _, err := f.s.AnswerChallenge(t.Context(), c.AccountSID, c.ServiceSID, c.Identity, c.SID,
					store.Answer{Status: status, At: when}, nil); err == nil {
					t.Errorf("AnswerChallenge with status %q succeeded, want an error", status)
				}
			}
			checkStrict(t, "FetchChallenge", c, fetchC(t, f.s, c, when))
		})
	})

	t.Run("Notifications", func(t *testing.T) {
		ctx := t.Context()
		f := seedPush(t, open(t))
		c := createChallenge(t, f.s, challenge(f.fac, 1))
		// The caller gives the challenge; the store fills in its entity and
		// factor.
		in := notification(c, 2)
		in.EntitySID, in.FactorSID, in.Priority, in.TTL = "", "", "normal", 60
		in.DateCreated = c.ExpirationDate.Add(-500 * time.Millisecond)
		got, err := f.s.CreateNotification(ctx, in)
		must(t, "CreateNotification", err)
		wantN := notification(c, 2)
		wantN.Priority, wantN.TTL, wantN.DateCreated = "normal", 60, want(in.DateCreated)
		checkStrict(t, "CreateNotification's result", wantN, got)
		wantList := []store.Notification{storedN(notification(c, 1)), wantN}
		checkStrict(t, "ListNotifications", wantList, listN(t, f.s, f.fac))

		// Expired, then answered: nothing more is stored.
		late := notification(c, 3)
		late.DateCreated = c.ExpirationDate
		_, err = f.s.CreateNotification(ctx, late)
		checkIs(t, "CreateNotification at expiry", err, store.ErrExpired)
		_, err = f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID, store.Answer{Status: store.ChallengeApproved, At: when}, nil)
		must(t, "AnswerChallenge", err)
		_, err = f.s.CreateNotification(ctx, notification(c, 4))
		checkIs(t, "CreateNotification of an answered challenge", err, store.ErrAnswered)
		checkStrict(t, "ListNotifications after the failed creates", wantList, listN(t, f.s, f.fac))
	})

	t.Run("DeleteRemovesChallenges", func(t *testing.T) {
		ctx := t.Context()
		f := seedPush(t, open(t))
		second := createFactor(t, f.s, entity(1), factor(entity(1), 3), "")
		doomed := createChallenge(t, f.s, challenge(f.fac, 1))
		kept := createChallenge(t, f.s, challenge(second, 2))
		theirs := createChallenge(t, f.s, challenge(f.fac2, 3))

		must(t, "DeleteFactor", f.s.DeleteFactor(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, f.fac.SID, nil))
		_, err := f.s.FetchChallenge(ctx, doomed.AccountSID, doomed.ServiceSID, doomed.Identity, doomed.SID, when)
		checkIs(t, "FetchChallenge of a deleted factor's challenge", err, store.ErrNotFound)
		checkStrict(t, "ListNotifications of a deleted factor", []store.Notification(nil), listN(t, f.s, f.fac))
		checkStrict(t, "ListChallenges after DeleteFactor", []store.Challenge{kept}, listC(t, f.s, f.fac, store.ChallengeFilter{Now: when}))
		checkStrict(t, "ListNotifications of the kept factor", []store.Notification{storedN(notification(kept, 2))}, listN(t, f.s, second))

		must(t, "DeleteEntity", f.s.DeleteEntity(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, nil))
		_, err = f.s.FetchChallenge(ctx, kept.AccountSID, kept.ServiceSID, kept.Identity, kept.SID, when)
		checkIs(t, "FetchChallenge of a deleted entity's challenge", err, store.ErrNotFound)
		checkStrict(t, "ListNotifications of a deleted entity's factor", []store.Notification(nil), listN(t, f.s, second))
		checkStrict(t, "ListChallenges of a deleted entity", []store.Challenge(nil), listC(t, f.s, f.fac, store.ChallengeFilter{Now: when}))

		// Another entity's are untouched, and the deleted SIDs are free.
		checkStrict(t, "FetchChallenge of another entity", theirs, fetchC(t, f.s, theirs, when))
		again := createFactor(t, f.s, entity(1), factor(entity(1), 1), "")
		createChallenge(t, f.s, challenge(again, 1))
	})
}

func testChallengeConcurrency(t *testing.T, open opener) {
	const workers = 16

	t.Run("AnswerOnce", func(t *testing.T) {
		// Every answer records an event; only the winner's may be stored.
		ctx := t.Context()
		f := seedPush(t, open(t))
		hook := webhook(f.fixture, 1, "*")
		must(t, "CreateWebhook", f.s.CreateWebhook(ctx, hook))
		c := createChallenge(t, f.s, challenge(f.fac, 1))
		results := make([]store.Challenge, workers)
		errs := race(workers, func(i int) error {
			status := []string{store.ChallengeApproved, store.ChallengeDenied}[i%2]
			a := store.Answer{Status: status, Metadata: map[string]string{"worker": fmt.Sprint(i)}, At: when.Add(time.Duration(i) * time.Second)}
			var err error
			results[i], err = f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID, a,
				func(answered store.Challenge) []store.Event {
					return []store.Event{event(i, "challenge."+answered.Status, when)}
				})
			return err
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("answers %d and %d both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, store.ErrAnswered):
				t.Errorf("answer %d: error = %v, want one wrapping %v", i, err, store.ErrAnswered)
			}
		}
		if winner < 0 {
			t.Fatalf("none of %d answers succeeded, want exactly one", workers)
		}
		t.Logf("%d concurrent answers: #%d won, %d failed with ErrAnswered", workers, winner, workers-1)
		checkStrict(t, "FetchChallenge after the race", results[winner], fetchC(t, f.s, c, when))
		got := claimAll(t, f.s)
		checkStrict(t, "deliveries after the race", []store.Delivery{delivery(event(winner, "challenge."+results[winner].Status, when), hook)}, got)
	})

	t.Run("AnswerRacesExpiry", func(t *testing.T) {
		// Half the answers come before the expiration date, half at or
		// after it: one early answer wins, and no late one.
		ctx := t.Context()
		f := seedPush(t, open(t))
		c := createChallenge(t, f.s, challenge(f.fac, 1))
		errs := race(workers, func(i int) error {
			at := c.ExpirationDate.Add(-time.Second)
			if i%2 == 1 {
				at = c.ExpirationDate.Add(time.Duration(i) * time.Millisecond)
			}
			_, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID,
				store.Answer{Status: store.ChallengeApproved, At: at}, nil)
			return err
		})
		ok, late := 0, 0
		for i, err := range errs {
			switch {
			case err == nil && i%2 == 1:
				t.Errorf("answer %d, after expiry, succeeded", i)
			case err == nil:
				ok++
			case i%2 == 1 && errors.Is(err, store.ErrExpired):
				late++
			case !errors.Is(err, store.ErrAnswered):
				t.Errorf("answer %d: error = %v, want one wrapping %v", i, err, store.ErrAnswered)
			}
		}
		if ok != 1 {
			t.Errorf("%d early answers succeeded, want exactly 1", ok)
		}
		t.Logf("%d concurrent answers, half after expiry: %d succeeded, %d late ones failed with ErrExpired, the rest with ErrAnswered", workers, ok, late)

		// All late: every one fails, and the challenge reads expired.
		d := createChallenge(t, f.s, challenge(f.fac, 2))
		errs = race(workers, func(i int) error {
			_, err := f.s.AnswerChallenge(ctx, d.AccountSID, d.ServiceSID, d.Identity, d.SID,
				store.Answer{Status: store.ChallengeDenied, At: d.ExpirationDate.Add(time.Duration(i) * time.Second)}, nil)
			return err
		})
		for i, err := range errs {
			checkIs(t, fmt.Sprintf("late answer %d", i), err, store.ErrExpired)
		}
		if got := fetchC(t, f.s, d, d.ExpirationDate); got.Status != store.ChallengeExpired {
			t.Errorf("FetchChallenge after the late answers: Status = %q, want %q", got.Status, store.ChallengeExpired)
		}
	})

	t.Run("NotificationsAndAnswer", func(t *testing.T) {
		// Pushes sent again while the challenge is answered: each is
		// stored, or fails with ErrAnswered, and the list holds exactly
		// those that succeeded.
		ctx := t.Context()
		f := seedPush(t, open(t))
		c := createChallenge(t, f.s, challenge(f.fac, 1))
		errs := race(workers, func(i int) error {
			if i == workers/2 {
				_, err := f.s.AnswerChallenge(ctx, c.AccountSID, c.ServiceSID, c.Identity, c.SID,
					store.Answer{Status: store.ChallengeApproved, At: when}, nil)
				return err
			}
			_, err := f.s.CreateNotification(ctx, notification(c, 100+i))
			return err
		})
		stored := 1 // the one CreateChallenge made
		for i, err := range errs {
			switch {
			case i == workers/2:
				must(t, "AnswerChallenge", err)
			case err == nil:
				stored++
			default:
				checkIs(t, fmt.Sprintf("CreateNotification #%d", i), err, store.ErrAnswered)
			}
		}
		if got := listN(t, f.s, f.fac); len(got) != stored {
			t.Errorf("ListNotifications after the race = %d, want the %d stored", len(got), stored)
		}
	})
}

// race runs attempt(i) for i in [0, n) all at once and returns their
// errors.
func race(n int, attempt func(i int) error) []error {
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

func testChallengePages(t *testing.T, open opener) {
	t.Run("Challenges", func(t *testing.T) {
		f := seedPush(t, open(t))
		second := createFactor(t, f.s, entity(1), factor(entity(1), 3), "")
		ts := pageTimes()
		var all, ofFactor []store.Challenge
		for i, at := range ts {
			n := pageSID(i, len(ts))
			fac := f.fac
			if i%3 == 0 {
				fac = second
			}
			c := challenge(fac, n)
			c.DateCreated, c.DateUpdated, c.ExpirationDate = at, at, at.Add(time.Hour)
			stored := createChallenge(t, f.s, c)
			all = append(all, stored)
			if fac.SID == f.fac.SID {
				ofFactor = append(ofFactor, stored)
			}
			// Another entity's challenges at the same times: never listed.
			c = challenge(f.fac2, 100+n)
			c.DateCreated = at
			createChallenge(t, f.s, c)
		}
		byCreated := func(c store.Challenge) store.Cursor { return store.Cursor{Created: c.DateCreated, SID: c.SID} }
		sortByCreated(all, byCreated)
		sortByCreated(ofFactor, byCreated)
		for _, tc := range []struct {
			name   string
			filter store.ChallengeFilter
			all    []store.Challenge
		}{
			{"Ascending", store.ChallengeFilter{}, all},
			{"Descending", store.ChallengeFilter{Desc: true}, reversed(all)},
			{"FactorAscending", store.ChallengeFilter{FactorSID: f.fac.SID}, ofFactor},
			{"FactorDescending", store.ChallengeFilter{FactorSID: f.fac.SID, Desc: true}, reversed(ofFactor)},
			{"PendingDescending", store.ChallengeFilter{Status: store.ChallengePending, Desc: true}, reversed(all)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.filter.Now = ts[0].Add(-time.Hour)
				checkPagingOrder(t, tc.all,
					func(ctx context.Context, p store.Page) ([]store.Challenge, bool, error) {
						return f.s.ListChallenges(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, tc.filter, p)
					}, byCreated, tc.filter.Desc)
			})
		}
	})

	t.Run("Notifications", func(t *testing.T) {
		f := seedPush(t, open(t))
		ts := pageTimes()
		var all []store.Notification
		c := challenge(f.fac, 1)
		c.DateCreated = ts[0].Add(-time.Hour)
		c.ExpirationDate = ts[len(ts)-1].Add(time.Hour)
		c = createChallenge(t, f.s, c)
		all = append(all, storedN(notification(c, 1)))
		for i, at := range ts {
			n := notification(c, pageSID(i, len(ts)))
			n.DateCreated = at
			got, err := f.s.CreateNotification(t.Context(), n)
			must(t, "CreateNotification", err)
			all = append(all, got)
		}
		// Another factor's, never listed.
		createChallenge(t, f.s, challenge(f.fac2, 2))
		cursor := func(n store.Notification) store.Cursor { return store.Cursor{Created: n.DateCreated, SID: n.SID} }
		sortByCreated(all, cursor)
		checkPaging(t, all,
			func(ctx context.Context, p store.Page) ([]store.Notification, bool, error) {
				return f.s.ListNotifications(ctx, f.fac.AccountSID, f.fac.ServiceSID, f.fac.Identity, f.fac.SID, p)
			}, cursor)
	})

	t.Run("Empty", func(t *testing.T) {
		ctx := t.Context()
		f := seedPush(t, open(t))
		cs, more, err := f.s.ListChallenges(ctx, f.acct.SID, f.svc.SID, "nobody", store.ChallengeFilter{Now: when}, store.Page{Limit: 5})
		must(t, "ListChallenges", err)
		checkStrict(t, "ListChallenges of an unknown entity", []store.Challenge(nil), cs)
		ns, more2, err := f.s.ListNotifications(ctx, f.acct.SID, f.svc.SID, f.fac.Identity, sid("YF", 99), store.Page{Limit: 5})
		must(t, "ListNotifications", err)
		checkStrict(t, "ListNotifications of an unknown factor", []store.Notification(nil), ns)
		if more || more2 {
			t.Error("an empty list has more = true")
		}
		for _, p := range []store.Page{{Limit: 0}, {Limit: 1, After: &store.Cursor{}, Before: &store.Cursor{}}} {
			if _, _, err := f.s.ListChallenges(ctx, f.acct.SID, f.svc.SID, f.fac.Identity, store.ChallengeFilter{Desc: true}, p); err == nil {
				t.Errorf("ListChallenges(%+v) succeeded, want an error", p)
			}
		}
	})
}

// reversed returns a reversed copy of s.
func reversed[T any](s []T) []T {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
