package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/sid"
)

// TestListWebhookUnknownService: listing the webhooks of a service that
// does not exist, or is another account's, is 404 as creating one is, not
// an empty list.
func TestListWebhookUnknownService(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := serveEnv(t, eng.open(t), api.Config{}, nil)
			for _, svc := range []string{sid.New(sid.Service), e.B.ServiceSID} {
				resp, body := e.do(t, http.MethodGet, "/v2/Services/"+svc+"/Webhooks", "", "", e.A.AccountSID+":"+e.A.AuthToken)
				checkErrorBody(t, resp, body, http.StatusNotFound, 20404)
			}
		})
	}
}

// TestApproveLargestChallenge: a challenge as large as CreateChallenge
// accepts (a 256-character message, 20 fields of 36 and 128 characters,
// 1024 characters of hidden details), in a character that its JSON
// escapes ("<" is sent as \u003c), can be approved by either SDK: its
// AuthPayload was refused as longer than the contract allowed (400 · 60200).
func TestApproveLargestChallenge(t *testing.T) {
	for _, flavor := range []device.Flavor{device.Android, device.IOS} {
		t.Run(string(flavor), func(t *testing.T) {
			p := newPushSetup(t)
			d, f := p.device(t, "user-0170-"+string(flavor), flavor, false)
			form := url.Values{"FactorSid": {f.SID}, "Details.Message": {strings.Repeat("<", 256)},
				"HiddenDetails": {`{"h":"` + strings.Repeat("<", 1024-len(`{"h":""}`)) + `"}`}}
			for range 20 {
				form.Add("Details.Fields", `{"label":"`+strings.Repeat("<", 36)+`","value":"`+strings.Repeat("<", 128)+`"}`)
			}
			req, err := http.NewRequest(http.MethodPost, p.s.URL+"/v2/Services/"+p.s.ServiceSID+"/Entities/"+f.Identity+"/Challenges", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(p.s.AccountSID, p.s.AuthToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				SID string `json:"sid"`
			}
			err = json.NewDecoder(resp.Body).Decode(&c)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated || err != nil {
				t.Fatalf("CreateChallenge(largest) = %d, %v; want 201", resp.StatusCode, err)
			}
			got, err := d.Approve(context.Background(), c.SID)
			if err != nil || got.Status != device.ChallengeApproved {
				t.Fatalf("Approve(largest challenge) = %+v, %v; want approved", got, err)
			}
		})
	}
}

// TestTwilioGoLongestFields: twilio-go sends each of Details.Fields as
// JSON that escapes "<", ">" and "&" (\u0026, six characters each), so a
// field within the label's 36 and the value's 128 characters took up to
// 1007 characters on the form, and the contract's 512 refused it
// (400 · 60368).
func TestTwilioGoLongestFields(t *testing.T) {
	p := newPushSetup(t)
	_, f := p.device(t, "user-0171", device.Android, false)
	label, value := strings.Repeat("&", 36), strings.Repeat("<", 128)
	c := p.challenge(t, f, (&verifyv2.CreateChallengeParams{}).
		SetDetailsFields([]interface{}{map[string]string{"label": label, "value": value}}))
	if got := c.Details; got == nil {
		t.Fatalf("CreateChallenge: no details")
	}
	b, err := json.Marshal(c.Details)
	if err != nil {
		t.Fatal(err)
	}
	var details struct {
		Fields []struct{ Label, Value string }
	}
	if err := json.Unmarshal(b, &details); err != nil || len(details.Fields) != 1 ||
		details.Fields[0].Label != label || details.Fields[0].Value != value {
		t.Errorf("CreateChallenge details = %s, %v; want the one field as sent", b, err)
	}
}

// TestConcurrentWebhookUpdatesKeepBoth: two partial updates of one webhook
// at once, one renaming it and one moving its URL, both stay: each was read,
// changed and written back apart, so the later write undid the other's
// change.
func TestConcurrentWebhookUpdatesKeepBoth(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := serveEnv(t, eng.open(t), api.Config{}, nil)
			auth := e.A.AccountSID + ":" + e.A.AuthToken
			base := "/v2/Services/" + e.A.ServiceSID + "/Webhooks"
			resp, body := e.do(t, http.MethodPost, base, "application/x-www-form-urlencoded",
				"FriendlyName=hook&EventTypes=*&WebhookUrl=http://127.0.0.1:9/0", auth)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create webhook = %d %s", resp.StatusCode, body)
			}
			var w struct {
				SID          string `json:"sid"`
				FriendlyName string `json:"friendly_name"`
				URL          string `json:"webhook_url"`
			}
			if err := json.Unmarshal(body, &w); err != nil {
				t.Fatal(err)
			}
			lost := 0
			for round := range 30 {
				name, hook := "hook-"+strconv.Itoa(round), "http://127.0.0.1:9/"+strconv.Itoa(round)
				var wg sync.WaitGroup
				for _, form := range []string{"FriendlyName=" + name, "WebhookUrl=" + url.QueryEscape(hook)} {
					wg.Go(func() {
						resp, body := e.do(t, http.MethodPost, base+"/"+w.SID, "application/x-www-form-urlencoded", form, auth)
						if resp.StatusCode != http.StatusOK {
							t.Errorf("update %s = %d %s", form, resp.StatusCode, body)
						}
					})
				}
				wg.Wait()
				_, body := e.do(t, http.MethodGet, base+"/"+w.SID, "", "", auth)
				if err := json.Unmarshal(body, &w); err != nil {
					t.Fatal(err)
				}
				if w.FriendlyName != name || w.URL != hook {
					lost++
					t.Logf("round %d: friendly_name %q, webhook_url %q; want %q and %q", round, w.FriendlyName, w.URL, name, hook)
				}
			}
			if lost > 0 {
				t.Errorf("%d of 30 rounds lost one of two concurrent updates", lost)
			}
		})
	}
}
