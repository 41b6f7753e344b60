package verify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twilio/twilio-go/client"

	"github.com/verifykit/verifykit/verify"
)

// Twilio's documented example of X-Twilio-Signature, which twilio-go's
// tests use too.
const (
	docToken = "12345"
	docURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	docSig   = "vOEb5UThFn24KEfnOFLQY2AE5FY="
)

var docParams = url.Values{
	"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
	"Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
}

// eventParams is a verifyd event delivery.
var eventParams = url.Values{
	"uuid": {"7f0c1c5e-8a55-4a57-9b6b-0c6d2f7f1f11"}, "type": {"challenge.approved"},
	"account_sid": {testAC}, "service_sid": {testVA}, "entity_identity": {testIdentity},
	"factor_sid": {testYF}, "factor_type": {"push"}, "challenge_sid": {testYC}, "challenge_status": {"approved"},
	"challenge_metadata": {`{"os":"Android","note":"a&b=c +"}`}, "factor_friendly_name": {"Jörg's phone"},
}

// delivery returns a POST of params to target, signed with sig unless sig
// is empty.
func delivery(target string, params url.Values, sig string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(params.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		r.Header.Set("X-Twilio-Signature", sig)
	}
	return r
}

// twilioAccepts is twilio-go's verdict on a delivery of params to
// webhookURL signed with sig, checked with authToken.
func twilioAccepts(authToken, webhookURL string, params url.Values, sig string) bool {
	v := client.NewRequestValidator(authToken)
	return v.ValidateBody(webhookURL, []byte(params.Encode()), sig)
}

func TestWebhookSignature(t *testing.T) {
	if got := verify.WebhookSignature(docToken, docURL, docParams); got != docSig {
		t.Errorf("WebhookSignature(Twilio's example) = %q, want %q", got, docSig)
	}
	// verifyd's deliverer signs with this function too; twilio-go must
	// accept what it makes. (twilio-go reads only the first value of a
	// repeated name, and an event never repeats one.)
	for _, params := range []url.Values{docParams, eventParams, {}} {
		sig := verify.WebhookSignature("token", "http://127.0.0.1:9/hook", params)
		if !twilioAccepts("token", "http://127.0.0.1:9/hook", params, sig) {
			t.Errorf("twilio-go refuses WebhookSignature(%v) = %q", params, sig)
		}
	}
}

// TestValidateWebhookAgreesWithTwilioGo checks ValidateWebhook against
// twilio-go's RequestValidator on the same deliveries: a signature made
// with WebhookSignature passes both, Twilio's documented one passes
// ValidateWebhook, and both refuse every tampered one.
func TestValidateWebhookAgreesWithTwilioGo(t *testing.T) {
	const token = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	const hook = "https://backend.example.com/verify-events?source=verify"
	sign := verify.WebhookSignature
	changed := func(name, value string) url.Values {
		p := url.Values{}
		for k, v := range eventParams {
			p[k] = v
		}
		if value == "" {
			p.Del(name)
		} else {
			p.Set(name, value)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		// The delivery: its params, signed over signedURL with signedToken;
		// then checked against checkURL with checkToken.
		params                url.Values
		sig                   string
		checkURL, checkToken  string
		wantOK                bool
		wantTwilioGoDisagrees bool
		wantInvalidSignature  bool
	}{
		{name: "verifyd event", params: eventParams, sig: sign(token, hook, eventParams), checkURL: hook, checkToken: token, wantOK: true},
		{name: "Twilio's example", params: docParams, sig: docSig, checkURL: docURL, checkToken: docToken, wantOK: true},
		{name: "empty body", params: url.Values{}, sig: sign(token, hook, url.Values{}), checkURL: hook, checkToken: token, wantOK: true},
		{name: "signed with :443, checked without", params: eventParams, sig: sign(token, "https://backend.example.com:443/verify-events?source=verify", eventParams), checkURL: hook, checkToken: token, wantOK: true},
		{name: "signed without :80, checked with", params: eventParams, sig: sign(token, "http://backend.example.com/hook", eventParams), checkURL: "http://backend.example.com:80/hook", checkToken: token, wantOK: true},
		{name: "changed value", params: changed("challenge_status", "denied"), sig: sign(token, hook, eventParams), checkURL: hook, checkToken: token, wantInvalidSignature: true},
		{name: "added field", params: changed("extra", "1"), sig: sign(token, hook, eventParams), checkURL: hook, checkToken: token, wantInvalidSignature: true},
		{name: "removed field", params: changed("challenge_metadata", ""), sig: sign(token, hook, eventParams), checkURL: hook, checkToken: token, wantInvalidSignature: true},
		{name: "other path", params: eventParams, sig: sign(token, hook, eventParams), checkURL: "https://backend.example.com/other?source=verify", checkToken: token, wantInvalidSignature: true},
		{name: "other query", params: eventParams, sig: sign(token, hook, eventParams), checkURL: "https://backend.example.com/verify-events?source=other", checkToken: token, wantInvalidSignature: true},
		{name: "query left out", params: eventParams, sig: sign(token, hook, eventParams), checkURL: "https://backend.example.com/verify-events", checkToken: token, wantInvalidSignature: true},
		{name: "other scheme", params: eventParams, sig: sign(token, hook, eventParams), checkURL: "http://backend.example.com/verify-events?source=verify", checkToken: token, wantInvalidSignature: true},
		{name: "other auth token", params: eventParams, sig: sign(token, hook, eventParams), checkURL: hook, checkToken: "another token", wantInvalidSignature: true},
		{name: "signed with another auth token", params: eventParams, sig: sign("another token", hook, eventParams), checkURL: hook, checkToken: token, wantInvalidSignature: true},
		{name: "signature cut short", params: eventParams, sig: sign(token, hook, eventParams)[:27], checkURL: hook, checkToken: token, wantInvalidSignature: true},
		{name: "signature with more", params: eventParams, sig: sign(token, hook, eventParams) + "A", checkURL: hook, checkToken: token, wantInvalidSignature: true},
		{name: "signature lowercased", params: eventParams, sig: strings.ToLower(sign(token, hook, eventParams)), checkURL: hook, checkToken: token, wantInvalidSignature: true},
		{name: "no signature", params: eventParams, sig: "", checkURL: hook, checkToken: token, wantInvalidSignature: true},
		// twilio-go strips any port; ValidateWebhook only the scheme's
		// default one, so a signature for another port does not pass.
		{name: "signed without a port, checked with :8443", params: eventParams, sig: sign(token, hook, eventParams), checkURL: "https://backend.example.com:8443/verify-events?source=verify", checkToken: token, wantInvalidSignature: true, wantTwilioGoDisagrees: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := delivery("/verify-events?source=verify", tc.params, tc.sig)
			got, err := verify.ValidateWebhook(tc.checkToken, tc.checkURL, r)
			if tc.wantOK {
				if err != nil {
					t.Fatalf("ValidateWebhook: %v, want the delivery accepted", err)
				}
				if diff := cmp.Diff(tc.params, got); diff != "" {
					t.Errorf("ValidateWebhook params mismatch (-want +got):\n%s", diff)
				}
			} else {
				if err == nil {
					t.Fatalf("ValidateWebhook = %v, want the delivery refused", got)
				}
				if errors.Is(err, verify.ErrInvalidSignature) != tc.wantInvalidSignature {
					t.Errorf("ValidateWebhook: error %v, want errors.Is ErrInvalidSignature %t", err, tc.wantInvalidSignature)
				}
			}
			if twilio := twilioAccepts(tc.checkToken, tc.checkURL, tc.params, tc.sig); (twilio == tc.wantOK) == tc.wantTwilioGoDisagrees {
				t.Errorf("twilio-go's RequestValidator says %t, ValidateWebhook %t (disagreement expected: %t)", twilio, tc.wantOK, tc.wantTwilioGoDisagrees)
			}
		})
	}
}

func TestValidateWebhookRefuses(t *testing.T) {
	const token, hook = "token", "https://backend.example.com/hook"
	signed := func(body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		params, _ := url.ParseQuery(body)
		r.Header.Set("X-Twilio-Signature", verify.WebhookSignature(token, hook, params))
		return r
	}
	for _, tc := range []struct {
		name        string
		token, url  string
		req         func() *http.Request
		wantErrText string
	}{
		{"empty auth token", "", hook, func() *http.Request { return signed("a=1") }, "empty auth token"},
		{"empty URL", token, "", func() *http.Request { return signed("a=1") }, "empty webhook URL"},
		{"GET", token, hook, func() *http.Request {
			r := signed("a=1")
			r.Method = http.MethodGet
			return r
		}, "method GET"},
		{"JSON", token, hook, func() *http.Request {
			r := signed("a=1")
			r.Header.Set("Content-Type", "application/json")
			return r
		}, "content type"},
		{"no content type", token, hook, func() *http.Request {
			r := signed("a=1")
			r.Header.Del("Content-Type")
			return r
		}, "content type"},
		{"body too large", token, hook, func() *http.Request {
			return signed("a=" + strings.Repeat("x", verify.MaxWebhookBody))
		}, "body larger than"},
		{"malformed form", token, hook, func() *http.Request {
			r := signed("a=%zz")
			r.Header.Set("X-Twilio-Signature", verify.WebhookSignature(token, hook, url.Values{}))
			return r
		}, "not a form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := verify.ValidateWebhook(tc.token, tc.url, tc.req())
			if err == nil || !strings.Contains(err.Error(), tc.wantErrText) || errors.Is(err, verify.ErrInvalidSignature) {
				t.Errorf("ValidateWebhook = %v, %v; want an error saying %q, not ErrInvalidSignature", got, err, tc.wantErrText)
			}
		})
	}
	// At the cap exactly, the body is read whole and checked.
	body := "a=" + strings.Repeat("x", verify.MaxWebhookBody-2)
	if _, err := verify.ValidateWebhook(token, hook, signed(body)); err != nil {
		t.Errorf("ValidateWebhook with a body of MaxWebhookBody bytes: %v", err)
	}
	// A content type with parameters is still a form.
	r := signed("a=1")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if _, err := verify.ValidateWebhook(token, hook, r); err != nil {
		t.Errorf("ValidateWebhook with a charset parameter: %v", err)
	}
}

// TestValidateWebhookOverHTTP receives deliveries on a loopback server, as
// a backend would, and checks them against the server's public URL.
func TestValidateWebhookOverHTTP(t *testing.T) {
	const token = "token"
	type verdict struct {
		params url.Values
		err    error
	}
	verdicts := make(chan verdict, 2)
	var hook string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, err := verify.ValidateWebhook(token, hook, r)
		verdicts <- verdict{params, err}
		if err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	hook = srv.URL + "/verify-events?source=verify"
	for _, tc := range []struct {
		name       string
		sig        string
		wantStatus int
	}{
		{"signed", verify.WebhookSignature(token, hook, eventParams), http.StatusOK},
		{"signed for another URL", verify.WebhookSignature(token, srv.URL+"/verify-events", eventParams), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, hook, strings.NewReader(eventParams.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", tc.sig)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			v := <-verdicts
			if tc.wantStatus == http.StatusOK {
				if diff := cmp.Diff(eventParams, v.params); v.err != nil || diff != "" {
					t.Errorf("ValidateWebhook: %v; params mismatch (-want +got):\n%s", v.err, diff)
				}
			} else if !errors.Is(v.err, verify.ErrInvalidSignature) {
				t.Errorf("ValidateWebhook: %v, want ErrInvalidSignature", v.err)
			}
		})
	}
}

// TestValidateWebhookEmptyPath: a URL without a path arrives as "/", so a
// delivery signed over either form validates against the other; any other
// path does not.
func TestValidateWebhookEmptyPath(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		signed, checked string
		ok              bool
	}{
		{"http://127.0.0.1:9", "http://127.0.0.1:9/", true},
		{"http://127.0.0.1:9/", "http://127.0.0.1:9", true},
		{"https://hooks.example.com", "https://hooks.example.com:443/", true},
		{"http://127.0.0.1:9", "http://127.0.0.1:9/hook", false},
		{"http://127.0.0.1:9/?a=1", "http://127.0.0.1:9?a=1", false},
	} {
		sig := verify.WebhookSignature(token, tc.signed, eventParams)
		_, err := verify.ValidateWebhook(token, tc.checked, delivery(tc.checked, eventParams, sig))
		if (err == nil) != tc.ok {
			t.Errorf("signed over %s, checked against %s: %v, want ok=%t", tc.signed, tc.checked, err, tc.ok)
		}
	}
}
