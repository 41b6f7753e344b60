package verifydtest_test

// These tests are the ones docs/testing-against-verifykit.md shows under
// "A login flow: approve, deny, expire"; keep the two in step.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/verify"
	"github.com/verifykit/verifykit/verifydtest"
)

// login is the test's world: verifyd, the backend's client, a phone with a
// verified factor for user-0001, and a webhook receiver for the answers.
type login struct {
	s       *verifydtest.Server
	backend *verify.Client
	phone   *device.Device
	factor  string
	hook    *verifydtest.WebhookReceiver
}

func newLogin(t *testing.T, opts ...verifydtest.Option) *login {
	t.Helper()
	ctx := context.Background()
	l := &login{s: verifydtest.Start(t, opts...)}
	var err error
	if l.backend, err = verify.NewClient(verify.Config{AccountSID: l.s.AccountSID, AuthToken: l.s.AuthToken, BaseURL: l.s.URL}); err != nil {
		t.Fatal(err)
	}
	l.hook = verifydtest.NewWebhookReceiver(t, l.s.AuthToken)
	if _, err := l.backend.CreateWebhook(ctx, l.s.ServiceSID, verify.WebhookParams{FriendlyName: "login",
		EventTypes: []models.EventType{models.EventTypeChallengeApproved, models.EventTypeChallengeDenied}, URL: l.hook.URL + "/verify"}); err != nil {
		t.Fatal(err)
	}
	tok, err := l.backend.CreateAccessToken(ctx, l.s.ServiceSID, verify.CreateParams{Identity: "user-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if l.phone, err = device.New(device.WithBaseURL(l.s.URL)); err != nil {
		t.Fatal(err)
	}
	f, err := l.phone.Enroll(ctx, l.s.ServiceSID, "user-0001", *tok.Token)
	if err == nil {
		_, err = l.phone.Verify(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	l.factor = f.SID
	return l
}

// startLogin is the backend's first step: it asks the phone.
func (l *login) startLogin(t *testing.T) string {
	t.Helper()
	c, err := l.backend.CreateChallenge(context.Background(), l.s.ServiceSID, "user-0001",
		verify.ChallengeParams{FactorSID: l.factor, Message: "Log in to Example?"})
	if err != nil {
		t.Fatal(err)
	}
	return *c.SID
}

// status is what the backend reads of the challenge.
func (l *login) status(t *testing.T, sid string) string {
	t.Helper()
	c, err := l.backend.FetchChallenge(context.Background(), l.s.ServiceSID, "user-0001", sid)
	if err != nil {
		t.Fatal(err)
	}
	return string(c.Status)
}

func TestLoginApproved(t *testing.T) {
	l := newLogin(t)
	ctx := context.Background()
	sid := l.startLogin(t)

	pending, err := l.phone.PendingChallenges(ctx) // the push arrived
	if err != nil || len(pending) != 1 || pending[0].Details.Message != "Log in to Example?" {
		t.Fatalf("pending on the phone: %+v, %v", pending, err)
	}
	if _, err := l.phone.Approve(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if got := l.status(t, sid); got != "approved" {
		t.Errorf("backend reads %s, want approved", got)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e, err := l.hook.WaitType(wctx, "challenge.approved", sid) // signature checked
	if err != nil || e.Params.Get("entity_identity") != "user-0001" {
		t.Errorf("webhook: %+v, %v", e, err)
	}
}

func TestLoginDenied(t *testing.T) {
	l := newLogin(t)
	ctx := context.Background()
	sid := l.startLogin(t)

	if _, err := l.phone.Deny(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if got := l.status(t, sid); got != "denied" {
		t.Errorf("backend reads %s, want denied", got)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := l.hook.WaitType(wctx, "challenge.denied", sid); err != nil {
		t.Error(err)
	}
	if _, err := l.phone.Approve(ctx, sid); !errors.Is(err, device.ErrChallengeResponded) {
		t.Errorf("approve after deny: %v, want ErrChallengeResponded", err)
	}
}

func TestLoginExpired(t *testing.T) {
	clock := &testClock{now: time.Now()}
	l := newLogin(t, verifydtest.WithClock(clock.Now))
	ctx := context.Background()
	sid := l.startLogin(t)

	clock.Advance(5*time.Minute + time.Second) // the default expiry, without sleeping
	if got := l.status(t, sid); got != "expired" {
		t.Errorf("backend reads %s, want expired", got)
	}
	if _, err := l.phone.Approve(ctx, sid); !errors.Is(err, device.ErrChallengeExpired) {
		t.Errorf("approve after expiry: %v, want ErrChallengeExpired", err)
	}
	if pending, err := l.phone.PendingChallenges(ctx); err != nil || len(pending) != 0 {
		t.Errorf("still pending on the phone: %+v, %v", pending, err)
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
