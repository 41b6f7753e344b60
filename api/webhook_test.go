package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/twilio/twilio-go/client"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/validate"
	"github.com/verifykit/verifykit/verifydtest"
)

// delivery is one webhook request a receiver got.
type delivery struct {
	path      string
	form      url.Values
	signature string
	token     string // I-Twilio-Idempotency-Token
	valid     bool   // X-Twilio-Signature checks out with the account's auth token
}

// receiver is a backend's webhook endpoint on 127.0.0.1: it records every
// delivery, checks its signature as a Twilio backend does (twilio-go's
// RequestValidator), and answers fail(n) for the n-th request to a path
// (200 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	counts map[string]int
	fail   func(path string, n int) int
	arrive chan struct{}
}

func newReceiver(t *testing.T, authToken string, fail func(path string, n int) int) *receiver {
	t.Helper()
	r := &receiver{counts: map[string]int{}, fail: fail, arrive: make(chan struct{}, 1000)}
	v := client.NewRequestValidator(authToken)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		flat := map[string]string{}
		for k, vs := range form {
			flat[k] = vs[0]
		}
		sig := req.Header.Get("X-Twilio-Signature")
		d := delivery{path: req.URL.Path, form: form, signature: sig, token: req.Header.Get("I-Twilio-Idempotency-Token"),
			valid: req.Header.Get("Content-Type") == "application/x-www-form-urlencoded" && v.Validate(r.URL+req.URL.Path, flat, sig)}
		r.mu.Lock()
		r.counts[req.URL.Path]++
		n := r.counts[req.URL.Path]
		r.got = append(r.got, d)
		r.mu.Unlock()
		status := http.StatusOK
		if r.fail != nil {
			if s := r.fail(req.URL.Path, n); s != 0 {
				status = s
			}
		}
		w.WriteHeader(status)
		r.arrive <- struct{}{}
	}))
	t.Cleanup(r.Close)
	return r
}

// wait waits until n requests have arrived in all, or fails t.
func (r *receiver) wait(t *testing.T, n int) []delivery {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.got)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.arrive:
		case <-deadline:
			t.Fatalf("%d webhook requests arrived in 15s, want %d: %+v", len(got), n, got)
		}
	}
}

// TestWebhooks: a backend's webhooks receive the factor and challenge
// events they asked for, form-encoded as the contract's WebhookEvent
// callback, signed so that twilio-go's validator accepts them; a failed
// delivery is retried with the same event id; a disabled webhook gets
// nothing.
func TestWebhooks(t *testing.T) {
	s := verifydtest.Start(t)
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	// The /flaky endpoint fails its first request.
	recv := newReceiver(t, s.AuthToken, func(path string, n int) int {
		if path == "/flaky" && n == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	hook := func(name, path string, types []string, status string) *verifyv2.VerifyV2Webhook {
		t.Helper()
		p := (&verifyv2.CreateWebhookParams{}).SetFriendlyName(name).SetEventTypes(types).SetWebhookUrl(recv.URL + path)
		if status != "" {
			p.SetStatus(status)
		}
		w, err := rc.VerifyV2.CreateWebhook(s.ServiceSID, p)
		if err != nil {
			t.Fatalf("CreateWebhook: %v", err)
		}
		return w
	}
	all := hook("everything", "/all", []string{"*"}, "")
	hook("answers", "/answers", []string{"challenge.approved", "challenge.denied"}, "")
	hook("flaky", "/flaky", []string{"factor.verified"}, "")
	hook("off", "/off", []string{"*"}, "disabled")
	if *all.WebhookMethod != "POST" || *all.Status != "enabled" || *all.Version != "v2" {
		t.Errorf("created webhook = method %v, status %v, version %v", *all.WebhookMethod, *all.Status, *all.Version)
	}

	// A device enrolls and verifies; the backend asks; the device
	// approves, then denies; the device is deleted.
	const identity = "user-0200-hook"
	at, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).SetIdentity(identity).SetFactorType("push"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := device.New(device.WithBaseURL(s.URL), device.WithFriendlyName("Pixel 9"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Enroll(ctx, s.ServiceSID, identity, *at.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	var sids []string
	for _, answer := range []func(context.Context, string, ...device.AnswerOption) (*device.Challenge, error){d.Approve, d.Deny} {
		c, err := rc.VerifyV2.CreateChallenge(s.ServiceSID, identity, (&verifyv2.CreateChallengeParams{}).
			SetFactorSid(f.SID).SetDetailsMessage("Log in?"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := answer(ctx, *c.Sid, device.AnswerMetadata(map[string]string{"os": "Android"})); err != nil {
			t.Fatal(err)
		}
		sids = append(sids, *c.Sid)
	}
	if err := d.Unenroll(ctx); err != nil {
		t.Fatal(err)
	}

	// /all: 5 events; /answers: 2; /flaky: 1 failed and 1 retried.
	recv.wait(t, 5+2+2)
	time.Sleep(500 * time.Millisecond) // nothing more may come
	recv.mu.Lock()
	got := slices.Clone(recv.got)
	recv.mu.Unlock()

	doc, err := validate.LoadSpec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	schema := doc.Components.Schemas["WebhookEvent"].Value
	byPath := map[string][]delivery{}
	for _, dl := range got {
		byPath[dl.path] = append(byPath[dl.path], dl)
		if !dl.valid {
			t.Errorf("%s: X-Twilio-Signature %q does not validate with the account's auth token", dl.path, dl.signature)
		}
		if dl.token == "" || dl.token != dl.form.Get("uuid") {
			t.Errorf("%s: I-Twilio-Idempotency-Token %q, uuid %q; want both, equal", dl.path, dl.token, dl.form.Get("uuid"))
		}
		fields := map[string]any{}
		for k, v := range dl.form {
			fields[k] = v[0]
		}
		if err := schema.VisitJSON(fields, openapi3.EnableFormatValidation()); err != nil {
			t.Errorf("%s: event %v breaks the contract's WebhookEvent: %v", dl.path, dl.form, err)
		}
	}
	// Deliveries are not ordered: a batch goes out in parallel.
	types := func(ds []delivery) []string {
		var out []string
		for _, dl := range ds {
			out = append(out, dl.form.Get("type"))
		}
		slices.Sort(out)
		return out
	}
	if want := []string{"challenge.approved", "challenge.denied", "factor.created", "factor.deleted", "factor.verified"}; !slices.Equal(types(byPath["/all"]), want) {
		t.Errorf("/all got %v, want %v", types(byPath["/all"]), want)
	}
	if want := []string{"challenge.approved", "challenge.denied"}; !slices.Equal(types(byPath["/answers"]), want) {
		t.Errorf("/answers got %v, want %v", types(byPath["/answers"]), want)
	}
	if flaky := byPath["/flaky"]; len(flaky) != 2 || flaky[0].form.Get("uuid") != flaky[1].form.Get("uuid") || flaky[0].form.Get("type") != "factor.verified" {
		t.Errorf("/flaky got %v, want factor.verified twice with one uuid", types(flaky))
	}
	if len(byPath["/off"]) != 0 {
		t.Errorf("the disabled webhook got %v", types(byPath["/off"]))
	}
	var approved url.Values
	for _, dl := range byPath["/answers"] {
		if dl.form.Get("type") == "challenge.approved" {
			approved = dl.form
		}
	}
	for k, want := range map[string]string{
		"account_sid": s.AccountSID, "service_sid": s.ServiceSID, "entity_identity": identity, "factor_sid": f.SID,
		"factor_type": "push", "factor_friendly_name": "Pixel 9", "challenge_sid": sids[0], "challenge_status": "approved",
		"challenge_metadata": `{"os":"Android"}`,
	} {
		if got := approved.Get(k); got != want {
			t.Errorf("challenge.approved %s = %q, want %q", k, got, want)
		}
	}
	ids := map[string]bool{}
	for _, dl := range byPath["/all"] {
		ids[dl.form.Get("uuid")] = true
	}
	if len(ids) != 5 {
		t.Errorf("/all's 5 events carry %d distinct uuids", len(ids))
	}
	if !strings.Contains(approved.Get("challenge_metadata"), "Android") {
		t.Errorf("challenge_metadata = %q", approved.Get("challenge_metadata"))
	}
}

// TestWebhookHosts: a webhook URL must name an allowed host (loopback by
// default); another is refused when the webhook is created or updated,
// and nothing changes.
func TestWebhookHosts(t *testing.T) {
	s := verifydtest.Start(t)
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	create := func(u string) error {
		_, err := rc.VerifyV2.CreateWebhook(s.ServiceSID, (&verifyv2.CreateWebhookParams{}).
			SetFriendlyName("hook").SetEventTypes([]string{"*"}).SetWebhookUrl(u))
		return err
	}
	for _, u := range []string{"https://example.com/hook", "http://10.0.0.1/hook", "http://169.254.169.254/latest", "http://user:pw@127.0.0.1/hook", "ftp://127.0.0.1/"} {
		wantTwilioError(t, create(u), http.StatusBadRequest, 60200)
	}
	if list, err := rc.VerifyV2.ListWebhook(s.ServiceSID, nil); err != nil || len(list) != 0 {
		t.Errorf("webhooks after refused creates = %d, %v; want none", len(list), err)
	}
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]:9/hook"} {
		if err := create(u); err != nil {
			t.Errorf("create with %s: %v", u, err)
		}
	}
	list, err := rc.VerifyV2.ListWebhook(s.ServiceSID, nil)
	if err != nil || len(list) != 3 {
		t.Fatalf("webhooks = %d, %v; want 3", len(list), err)
	}
	_, err = rc.VerifyV2.UpdateWebhook(s.ServiceSID, *list[0].Sid, (&verifyv2.UpdateWebhookParams{}).SetWebhookUrl("https://example.com/hook"))
	wantTwilioError(t, err, http.StatusBadRequest, 60200)
	if w, err := rc.VerifyV2.FetchWebhook(s.ServiceSID, *list[0].Sid); err != nil || *w.WebhookUrl != *list[0].WebhookUrl {
		t.Errorf("after a refused update: %v, %v; want the URL unchanged", w, err)
	}
}

// TestWebhookRetriesFollowTheUpdatedURL: a backend whose receiver failed
// fixes the webhook's URL through the API; the retry goes to the new URL,
// with the same event id, signed over the new URL.
func TestWebhookRetriesFollowTheUpdatedURL(t *testing.T) {
	s := verifydtest.Start(t)
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	recv := newReceiver(t, s.AuthToken, func(path string, _ int) int {
		if path == "/broken" {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	w, err := rc.VerifyV2.CreateWebhook(s.ServiceSID, (&verifyv2.CreateWebhookParams{}).
		SetFriendlyName("hook").SetEventTypes([]string{"factor.created"}).SetWebhookUrl(recv.URL+"/broken"))
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	const identity = "user-0201-hook"
	at, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).SetIdentity(identity).SetFactorType("push"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := device.New(device.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enroll(t.Context(), s.ServiceSID, identity, *at.Token); err != nil {
		t.Fatal(err)
	}
	first := recv.wait(t, 1)[0]
	if first.path != "/broken" {
		t.Fatalf("first delivery went to %s, want /broken", first.path)
	}
	if _, err := rc.VerifyV2.UpdateWebhook(s.ServiceSID, *w.Sid, (&verifyv2.UpdateWebhookParams{}).SetWebhookUrl(recv.URL+"/fixed")); err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	// The update may land while the next retry to /broken is under way.
	for n := 2; ; n++ {
		got := recv.wait(t, n)
		last := got[n-1]
		if last.path == "/broken" {
			continue
		}
		if last.path != "/fixed" || !last.valid || last.form.Get("uuid") != first.form.Get("uuid") {
			t.Errorf("retry = %s, valid signature %v, uuid %q; want /fixed, valid, uuid %q",
				last.path, last.valid, last.form.Get("uuid"), first.form.Get("uuid"))
		}
		break
	}
}
