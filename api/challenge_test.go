package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verifydtest"
)

// pushSetup is a verifyd with a fake clock, the backend's twilio-go
// client, and a way to enroll verified devices of either flavor.
type pushSetup struct {
	s     *verifydtest.Server
	rc    *twilio.RestClient
	clock *fakeClock
}

func newPushSetup(t *testing.T) *pushSetup {
	t.Helper()
	clock := newFakeClock()
	s := verifydtest.Start(t, verifydtest.WithClock(clock.Now))
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	return &pushSetup{s: s, rc: rc, clock: clock}
}

// device enrolls a device of flavor for identity, verified unless
// unverified is set.
func (p *pushSetup) device(t *testing.T, identity string, flavor device.Flavor, unverified bool) (*device.Device, device.Factor) {
	t.Helper()
	at, err := p.rc.VerifyV2.CreateAccessToken(p.s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).
		SetIdentity(identity).SetFactorType("push").SetTtl(300))
	if err != nil {
		t.Fatal(err)
	}
	d, err := device.New(device.WithBaseURL(p.s.URL), device.WithFlavor(flavor), device.WithClock(p.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Enroll(ctx, p.s.ServiceSID, identity, *at.Token); err != nil {
		t.Fatal(err)
	}
	if !unverified {
		if _, err := d.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := d.Factor()
	return d, f
}

// challenge creates a challenge for factor f, as a backend does.
func (p *pushSetup) challenge(t *testing.T, f device.Factor, params *verifyv2.CreateChallengeParams) *verifyv2.VerifyV2Challenge {
	t.Helper()
	if params == nil {
		params = &verifyv2.CreateChallengeParams{}
	}
	params.SetFactorSid(f.SID)
	if params.DetailsMessage == nil {
		params.SetDetailsMessage("Is it you logging in?")
	}
	c, err := p.rc.VerifyV2.CreateChallenge(p.s.ServiceSID, f.Identity, params)
	if err != nil {
		t.Fatalf("CreateChallenge: %v", err)
	}
	return c
}

// wantTwilioError fails t unless err is twilio-go's error with that
// status and code.
func wantTwilioError(t *testing.T, err error, status, code int) {
	t.Helper()
	var te *client.TwilioRestError
	if !errors.As(err, &te) || te.Status != status || te.Code != code {
		t.Errorf("error = %v, want TwilioRestError %d · %d", err, status, code)
	}
}

// TestPushChallenge drives the loop a Verify Push backend is built for:
// twilio-go creates a challenge, the device (either SDK's bytes) finds it,
// approves or denies it, and the backend reads the answer.
func TestPushChallenge(t *testing.T) {
	for _, flavor := range []device.Flavor{device.Android, device.IOS} {
		t.Run(string(flavor), func(t *testing.T) {
			p := newPushSetup(t)
			ctx := context.Background()
			d, f := p.device(t, "user-0100-"+string(flavor), flavor, false)

			created := p.challenge(t, f, (&verifyv2.CreateChallengeParams{}).
				SetDetailsFields([]interface{}{
					map[string]string{"label": "Location", "value": "Lisboa, PT"},
					map[string]string{"label": "Browser", "value": "Firefox / Linux é"},
				}).
				SetHiddenDetails(map[string]string{"ip": "172.168.1.234"}))
			if *created.Status != "pending" || created.ExpirationDate.Sub(*created.DateCreated) != 5*time.Minute {
				t.Errorf("created: status %q, expires %v after creation; want pending, 5m", *created.Status, created.ExpirationDate.Sub(*created.DateCreated))
			}

			// The push arrives, as the app's data message; the backend
			// sends it again.
			if _, err := p.rc.VerifyV2.CreateNotification(p.s.ServiceSID, f.Identity, *created.Sid, nil); err != nil {
				t.Fatal(err)
			}
			pushes, err := d.Pushes(ctx)
			if err != nil || len(pushes) != 2 {
				t.Fatalf("pushes = %+v, %v; want the challenge's and the one sent again", pushes, err)
			}
			for _, push := range pushes {
				want := map[string]string{"type": "verify_push_challenge", "challenge_sid": *created.Sid,
					"factor_sid": f.SID, "message": "Is it you logging in?"}
				if fmt.Sprint(push.Data) != fmt.Sprint(want) || push.Priority != "high" {
					t.Errorf("push = %+v, want data %v", push, want)
				}
			}

			// The device lists its challenges and fetches this one.
			list, err := d.PendingChallenges(ctx)
			if err != nil || len(list) != 1 || list[0].SID != *created.Sid {
				t.Fatalf("device's pending challenges = %v, %v; want %s", list, err, *created.Sid)
			}
			got, err := d.Challenge(ctx, *created.Sid)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"sid", "factor_sid", "identity", "details", "hidden_details", "date_created", "expiration_date"}
			if strings.Join(got.SignatureFields, ",") != strings.Join(want, ",") {
				t.Errorf("signature fields = %v, want %v", got.SignatureFields, want)
			}
			if len(got.Details.Fields) != 2 || got.Details.Fields[1].Value != "Firefox / Linux é" {
				t.Errorf("details fields = %+v", got.Details.Fields)
			}

			approved, err := d.Approve(ctx, *created.Sid, device.AnswerMetadata(map[string]string{"os": "Android"}))
			if err != nil {
				t.Fatalf("Approve: %v", err)
			}
			if approved.Status != "approved" || approved.SignatureFields != nil {
				t.Errorf("after Approve: status %q, signature fields %v", approved.Status, approved.SignatureFields)
			}
			back, err := p.rc.VerifyV2.FetchChallenge(p.s.ServiceSID, f.Identity, *created.Sid)
			if err != nil {
				t.Fatal(err)
			}
			if *back.Status != "approved" || back.DateResponded == nil || fmt.Sprint(*back.Metadata) != "map[os:Android]" {
				t.Errorf("backend sees status %q, date_responded %v, metadata %v", *back.Status, back.DateResponded, back.Metadata)
			}

			second := p.challenge(t, f, nil)
			denied, err := d.Deny(ctx, *second.Sid)
			if err != nil || denied.Status != "denied" {
				t.Fatalf("Deny = %+v, %v", denied, err)
			}
			all, err := p.rc.VerifyV2.ListChallenge(p.s.ServiceSID, f.Identity, (&verifyv2.ListChallengeParams{}).SetStatus("denied"))
			if err != nil || len(all) != 1 || *all[0].Sid != *second.Sid {
				t.Errorf("backend's denied challenges = %v, %v", all, err)
			}
		})
	}
}

// TestPushChallengeAnswers: only the factor's key, over the challenge's own
// values, answers once, before the expiry. Every refusal changes nothing.
func TestPushChallengeAnswers(t *testing.T) {
	p := newPushSetup(t)
	ctx := context.Background()
	d, f := p.device(t, "user-0101-answ", device.Android, false)
	other, _ := p.device(t, "user-0101-answ", device.Android, false)

	fetch := func(t *testing.T, sid string) *device.Challenge {
		t.Helper()
		c, err := d.Challenge(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	post := func(t *testing.T, sid, payload string) error {
		t.Helper()
		_, err := d.PostAnswer(ctx, sid, payload)
		return err
	}
	status := func(t *testing.T, sid string) string {
		t.Helper()
		c, err := p.rc.VerifyV2.FetchChallenge(p.s.ServiceSID, f.Identity, sid)
		if err != nil {
			t.Fatal(err)
		}
		return *c.Status
	}

	t.Run("tampered answers", func(t *testing.T) {
		c := p.challenge(t, f, nil)
		fetched := fetch(t, *c.Sid)
		fields, err := d.AnswerFields(fetched, "approved")
		if err != nil {
			t.Fatal(err)
		}
		edit := func(name string, value string) []device.PayloadField {
			out := make([]device.PayloadField, 0, len(fields))
			for _, f := range fields {
				if f.Name == name {
					if value == "" {
						continue
					}
					f.Value = json.RawMessage(value)
				}
				out = append(out, f)
			}
			return out
		}
		otherSigned, err := other.SignAnswer(fetched, "approved")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			payload func() (string, error)
		}{
			{"signed by another device's key", func() (string, error) { return otherSigned, nil }},
			{"another message", func() (string, error) {
				return d.SignPayload(edit("details", `{"message":"Pay 1000 EUR?","fields":[]}`))
			}},
			{"a field left out", func() (string, error) { return d.SignPayload(edit("hidden_details", "")) }},
			{"a field added", func() (string, error) {
				return d.SignPayload(append(fields, device.PayloadField{Name: "extra", Value: json.RawMessage(`"x"`)}))
			}},
			{"status maybe", func() (string, error) { return d.SignPayload(edit("status", `"maybe"`)) }},
			{"status expired", func() (string, error) { return d.SignPayload(edit("status", `"expired"`)) }},
			{"not a JWS", func() (string, error) { return "not.a.jws", nil }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				payload, err := tc.payload()
				if err != nil {
					t.Fatal(err)
				}
				wantDeviceError(t, post(t, *c.Sid, payload), http.StatusForbidden, 60324)
				if s := status(t, *c.Sid); s != "pending" {
					t.Errorf("status after a refused answer = %q, want pending", s)
				}
			})
		}
		// The same values in other bytes (members reordered, "/" escaped)
		// are the same values: compared as JSON, accepted.
		same := edit("details", `{"fields":[],"message":"Is it you logging in\u003f"}`)
		payload, err := d.SignPayload(same)
		if err != nil {
			t.Fatal(err)
		}
		if err := post(t, *c.Sid, payload); err != nil {
			t.Errorf("the same values in other bytes: %v", err)
		}
		if s := status(t, *c.Sid); s != "approved" {
			t.Errorf("status = %q, want approved", s)
		}
	})

	t.Run("answered once", func(t *testing.T) {
		c := p.challenge(t, f, nil)
		fetched := fetch(t, *c.Sid)
		deny, err := d.SignAnswer(fetched, "denied")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Approve(ctx, *c.Sid); err != nil {
			t.Fatal(err)
		}
		wantDeviceError(t, post(t, *c.Sid, deny), http.StatusForbidden, 60322)
		if s := status(t, *c.Sid); s != "approved" {
			t.Errorf("status = %q, want approved", s)
		}
		_, err = p.rc.VerifyV2.CreateNotification(p.s.ServiceSID, f.Identity, *c.Sid, nil)
		wantTwilioError(t, err, http.StatusForbidden, 60322)
	})

	t.Run("expired", func(t *testing.T) {
		c := p.challenge(t, f, (&verifyv2.CreateChallengeParams{}).SetExpirationDate(p.clock.Now().Add(time.Minute)))
		approve, err := d.SignAnswer(fetch(t, *c.Sid), "approved")
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.rc.VerifyV2.CreateNotification(p.s.ServiceSID, f.Identity, *c.Sid, (&verifyv2.CreateNotificationParams{}).SetTtl(150))
		if err != nil || n.Ttl != 150 || *n.Priority != "high" || *n.ChallengeSid != *c.Sid {
			t.Errorf("CreateNotification of a pending challenge = %+v, %v", n, err)
		}
		p.clock.Advance(time.Minute)
		if s := status(t, *c.Sid); s != "expired" {
			t.Errorf("status at its expiration date = %q, want expired", s)
		}
		wantDeviceError(t, post(t, *c.Sid, approve), http.StatusForbidden, 60323)
		if _, err := d.Approve(ctx, *c.Sid); !errors.Is(err, device.ErrChallengeExpired) {
			t.Errorf("Approve of an expired challenge = %v, want the SDK's local refusal", err)
		}
		_, err = p.rc.VerifyV2.CreateNotification(p.s.ServiceSID, f.Identity, *c.Sid, nil)
		wantTwilioError(t, err, http.StatusForbidden, 60323)
		expired, err := p.rc.VerifyV2.ListChallenge(p.s.ServiceSID, f.Identity, (&verifyv2.ListChallengeParams{}).SetStatus("expired"))
		if err != nil || len(expired) != 1 || *expired[0].Sid != *c.Sid {
			t.Errorf("expired challenges = %v, %v; want %s", expired, err, *c.Sid)
		}
	})

	t.Run("another factor's challenge", func(t *testing.T) {
		_, mine := p.device(t, "user-0101-answ", device.Android, false)
		c := p.challenge(t, mine, nil)
		_, err := d.Challenge(ctx, *c.Sid)
		wantDeviceError(t, err, http.StatusNotFound, 60391)
		signed, err := d.SignPayload([]device.PayloadField{{Name: "status", Value: json.RawMessage(`"approved"`)}})
		if err != nil {
			t.Fatal(err)
		}
		wantDeviceError(t, post(t, *c.Sid, signed), http.StatusNotFound, 60391)
		if s := status(t, *c.Sid); s != "pending" {
			t.Errorf("status = %q, want pending", s)
		}
	})
}

// TestPushChallengeBadInput: bad challenges get Twilio's codes and store
// nothing.
func TestPushChallengeBadInput(t *testing.T) {
	p := newPushSetup(t)
	_, f := p.device(t, "user-0102-badc", device.Android, false)
	_, unverified := p.device(t, "user-0102-badc", device.IOS, true)
	field := func(label, value string) map[string]string { return map[string]string{"label": label, "value": value} }
	many := make([]interface{}, 21)
	for i := range many {
		many[i] = field("n", "v")
	}
	now := p.clock.Now()
	for _, tc := range []struct {
		name         string
		factor       device.Factor
		params       *verifyv2.CreateChallengeParams
		status, code int
	}{
		{"unverified factor", unverified, nil, 403, 60318},
		{"no message", f, (&verifyv2.CreateChallengeParams{}).SetDetailsMessage(""), 400, 60368},
		{"message of 257 characters", f, (&verifyv2.CreateChallengeParams{}).SetDetailsMessage(strings.Repeat("é", 257)), 400, 60368},
		{"a label of 37 characters", f, (&verifyv2.CreateChallengeParams{}).SetDetailsFields([]interface{}{field(strings.Repeat("l", 37), "v")}), 400, 60368},
		{"a value of 129 characters", f, (&verifyv2.CreateChallengeParams{}).SetDetailsFields([]interface{}{field("l", strings.Repeat("v", 129))}), 400, 60368},
		{"a field that is not an object", f, (&verifyv2.CreateChallengeParams{}).SetDetailsFields([]interface{}{"Location"}), 400, 60368},
		{"a field without a value", f, (&verifyv2.CreateChallengeParams{}).SetDetailsFields([]interface{}{map[string]string{"label": "l"}}), 400, 60368},
		{"21 fields", f, (&verifyv2.CreateChallengeParams{}).SetDetailsFields(many), 400, 60368},
		{"a NUL in the message", f, (&verifyv2.CreateChallengeParams{}).SetDetailsMessage("Log\x00in?"), 400, 60368},
		{"a NUL in a field", f, (&verifyv2.CreateChallengeParams{}).SetDetailsFields([]interface{}{field("l", "v\x00")}), 400, 60368},
		{"hidden details not strings", f, (&verifyv2.CreateChallengeParams{}).SetHiddenDetails(map[string]int{"n": 1}), 400, 60200},
		{"expiring now", f, (&verifyv2.CreateChallengeParams{}).SetExpirationDate(now), 400, 60200},
		{"expiring in 61 minutes", f, (&verifyv2.CreateChallengeParams{}).SetExpirationDate(now.Add(61 * time.Minute)), 400, 60200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := tc.params
			if params == nil {
				params = &verifyv2.CreateChallengeParams{}
			}
			params.SetFactorSid(tc.factor.SID)
			if params.DetailsMessage == nil {
				params.SetDetailsMessage("Log in?")
			}
			_, err := p.rc.VerifyV2.CreateChallenge(p.s.ServiceSID, tc.factor.Identity, params)
			wantTwilioError(t, err, tc.status, tc.code)
		})
	}
	list, err := p.rc.VerifyV2.ListChallenge(p.s.ServiceSID, f.Identity, nil)
	if err != nil || len(list) != 0 {
		t.Errorf("challenges after refused creates = %d, %v; want none", len(list), err)
	}
	// The expiration date can be an hour away, and no more.
	p.challenge(t, f, (&verifyv2.CreateChallengeParams{}).SetExpirationDate(now.Add(time.Hour)))
}

// TestPushChallengeRace: answers sent at once, half approving and half
// denying, through the API on each engine: exactly one wins, the rest get
// 60322, and the challenge holds the winner's answer.
func TestPushChallengeRace(t *testing.T) {
	const answers = 12
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := serveEnv(t, eng.open(t), api.Config{AuthFailureLimit: -1}, nil)
			d, f := e.enroll(t, "user-0103-race", newKey(t))
			ctx := context.Background()
			if _, err := d.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			auth := e.A.AccountSID + ":" + e.A.AuthToken
			base := "/v2/Services/" + e.A.ServiceSID + "/Entities/" + f.Identity + "/Challenges"
			resp, body := e.do(t, http.MethodPost, base, formType, "FactorSid="+f.SID+"&Details.Message=Log+in%3F", auth)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create challenge: %d %s", resp.StatusCode, body)
			}
			var c struct {
				SID string `json:"sid"`
			}
			if err := json.Unmarshal(body, &c); err != nil {
				t.Fatal(err)
			}
			fetched, err := d.Challenge(ctx, c.SID)
			if err != nil {
				t.Fatal(err)
			}
			payloads := make([]string, answers)
			for i := range payloads {
				status := []string{"approved", "denied"}[i%2]
				if payloads[i], err = d.SignAnswer(fetched, status); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, lost := []int{}, 0
			start := make(chan struct{})
			for i, payload := range payloads {
				wg.Go(func() {
					<-start
					_, err := d.PostAnswer(ctx, c.SID, payload)
					var de *device.Error
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won = append(won, i)
					case errors.As(err, &de) && de.Status == http.StatusForbidden && de.Code == 60322:
						lost++
					default:
						t.Errorf("answer %d: %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(won) != 1 || lost != answers-1 {
				t.Fatalf("%v won and %d got 60322; want one winner and %d", won, lost, answers-1)
			}
			after, err := d.Challenge(ctx, c.SID)
			if want := []string{"approved", "denied"}[won[0]%2]; err != nil || after.Status != want {
				t.Errorf("challenge after the race = %v, %v; want the winner's %s", after, err, want)
			}
		})
	}
}
