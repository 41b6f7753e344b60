package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verifydtest"
)

// TestPushLoop runs the whole Verify Push loop over real HTTP for each
// ending: twilio-go is the backend, the device simulator the phone, and a
// receiver checks each webhook's signature. Every case asserts the final
// status the backend reads, the webhook events that arrived, and the
// error codes.
func TestPushLoop(t *testing.T) {
	p := newPushSetup(t)
	ctx := context.Background()
	recv := verifydtest.NewWebhookReceiver(t, p.s.AuthToken)
	if _, err := p.rc.VerifyV2.CreateWebhook(p.s.ServiceSID, (&verifyv2.CreateWebhookParams{}).
		SetFriendlyName("login").SetEventTypes([]string{"challenge.approved", "challenge.denied"}).SetWebhookUrl(recv.URL+"/verify")); err != nil {
		t.Fatal(err)
	}
	d, f := p.device(t, "user-0400-loop", device.Android, false)
	for _, tc := range []struct {
		name       string
		act        func(t *testing.T, sid string) error
		wantErr    func(t *testing.T, err error)
		wantStatus string
		wantEvent  string // "" for none
	}{
		{name: "approve", act: func(t *testing.T, sid string) error { _, err := d.Approve(ctx, sid); return err },
			wantStatus: "approved", wantEvent: "challenge.approved"},
		{name: "deny", act: func(t *testing.T, sid string) error { _, err := d.Deny(ctx, sid); return err },
			wantStatus: "denied", wantEvent: "challenge.denied"},
		{name: "expire", act: func(t *testing.T, sid string) error {
			c, err := d.Challenge(ctx, sid)
			if err != nil {
				return err
			}
			signed, err := d.SignAnswer(c, "approved")
			if err != nil {
				return err
			}
			p.clock.Advance(5 * time.Minute) // the default expiry
			_, err = d.PostAnswer(ctx, sid, signed)
			return err
		}, wantErr: func(t *testing.T, err error) { wantDeviceError(t, err, http.StatusForbidden, 60323) }, wantStatus: "expired"},
		{name: "tampered", act: func(t *testing.T, sid string) error {
			c, err := d.Challenge(ctx, sid)
			if err != nil {
				return err
			}
			fields, err := d.AnswerFields(c, "approved")
			if err != nil {
				return err
			}
			for i := range fields {
				if fields[i].Name == "details" {
					fields[i].Value = json.RawMessage(`{"message":"Log in to another account?","fields":[]}`)
				}
			}
			signed, err := d.SignPayload(fields)
			if err != nil {
				return err
			}
			_, err = d.PostAnswer(ctx, sid, signed)
			return err
		}, wantErr: func(t *testing.T, err error) { wantDeviceError(t, err, http.StatusForbidden, 60324) }, wantStatus: "pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := p.challenge(t, f, nil)
			pushes, err := d.Pushes(ctx)
			if err != nil || !slices.ContainsFunc(pushes, func(p device.Push) bool { return p.Data["challenge_sid"] == *c.Sid }) {
				t.Fatalf("the push of %s did not arrive: %+v, %v", *c.Sid, pushes, err)
			}
			err = tc.act(t, *c.Sid)
			switch {
			case tc.wantErr != nil:
				tc.wantErr(t, err)
			case err != nil:
				t.Fatalf("%s: %v", tc.name, err)
			}
			got, err := p.rc.VerifyV2.FetchChallenge(p.s.ServiceSID, f.Identity, *c.Sid)
			if err != nil || *got.Status != tc.wantStatus {
				t.Errorf("the backend reads %v, %v; want %s", got.Status, err, tc.wantStatus)
			}
			if tc.wantEvent == "" {
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			e, err := recv.WaitType(wctx, tc.wantEvent, *c.Sid)
			if err != nil {
				t.Fatal(err)
			}
			if e.Params.Get("challenge_status") != tc.wantStatus || e.Params.Get("entity_identity") != f.Identity || e.Path != "/verify" {
				t.Errorf("webhook event = %v", e.Params)
			}
		})
	}
	// Expired and tampered challenges send no event: once a later answer's
	// event is in, none came for them.
	last := p.challenge(t, f, nil)
	if _, err := d.Approve(ctx, *last.Sid); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := recv.WaitType(wctx, "challenge.approved", *last.Sid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // three polls of the deliverer
	if got := len(recv.Events()); got != 3 {
		t.Errorf("%d webhook events, want 3 (approve, deny, the last approve): %+v", got, recv.Events())
	}
}

// TestWebhookDeliveryNeverBlocksTheAPI holds the receiver's first delivery
// open and runs the loop meanwhile: every API call returns while that
// delivery still waits (its request context is not yet done, so the
// deliverer has not given up either), and once the receiver answers, every
// event arrives.
func TestWebhookDeliveryNeverBlocksTheAPI(t *testing.T) {
	p := newPushSetup(t)
	ctx := context.Background()
	held := make(chan context.Context, 1)
	release := make(chan struct{})
	var first atomic.Bool
	var mu sync.Mutex
	var types []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			held <- r.Context()
			<-release // the first delivery waits, even past the deliverer's timeout
			return
		}
		if err := r.ParseForm(); err == nil {
			mu.Lock()
			types = append(types, r.PostForm.Get("type")+" "+r.PostForm.Get("challenge_sid"))
			mu.Unlock()
		}
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	if _, err := p.rc.VerifyV2.CreateWebhook(p.s.ServiceSID, (&verifyv2.CreateWebhookParams{}).
		SetFriendlyName("slow").SetEventTypes([]string{"*"}).SetWebhookUrl(hook.URL)); err != nil {
		t.Fatal(err)
	}
	d, f := p.device(t, "user-0401-slow", device.Android, false) // factor.created is held
	var waiting context.Context
	select {
	case waiting = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery reached the receiver")
	}

	c := p.challenge(t, f, nil)
	if _, err := d.Approve(ctx, *c.Sid); err != nil {
		t.Fatal(err)
	}
	got, err := p.rc.VerifyV2.FetchChallenge(p.s.ServiceSID, f.Identity, *c.Sid)
	if err != nil || *got.Status != "approved" {
		t.Fatalf("the backend reads %v, %v; want approved", got.Status, err)
	}
	if waiting.Err() != nil {
		t.Fatal("the API calls returned only after the held delivery ended")
	}

	close(release)
	want := "challenge.approved " + *c.Sid
	deadline := time.Now().Add(20 * time.Second) // the held delivery times out after 5 s, then a 1 s backoff
	for {
		mu.Lock()
		done := slices.Contains(types, want)
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("after the release the receiver has %q, want %s", types, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhookSlowReceiverDelaysNoOther holds one receiver's delivery open
// and checks that another webhook's event is delivered meanwhile: one slow
// receiver must not stall every account's deliveries until its timeout.
func TestWebhookSlowReceiverDelaysNoOther(t *testing.T) {
	p := newPushSetup(t)
	ctx := context.Background()
	held := make(chan context.Context, 1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case held <- r.Context():
		default:
		}
		<-release
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // before Close, which waits for the handler
	recv := verifydtest.NewWebhookReceiver(t, p.s.AuthToken)
	for _, h := range []struct{ url, event string }{{slow.URL, "factor.created"}, {recv.URL, "challenge.approved"}} {
		if _, err := p.rc.VerifyV2.CreateWebhook(p.s.ServiceSID, (&verifyv2.CreateWebhookParams{}).
			SetFriendlyName("hook").SetEventTypes([]string{h.event}).SetWebhookUrl(h.url)); err != nil {
			t.Fatal(err)
		}
	}
	d, f := p.device(t, "user-0402-slow", device.Android, false)
	var waiting context.Context
	select {
	case waiting = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery reached the slow receiver")
	}
	c := p.challenge(t, f, nil)
	if _, err := d.Approve(ctx, *c.Sid); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := recv.WaitType(wctx, "challenge.approved", *c.Sid); err != nil {
		t.Fatal(err)
	}
	if waiting.Err() != nil {
		t.Error("challenge.approved arrived only after the slow receiver's delivery ended")
	}
}
