package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
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
