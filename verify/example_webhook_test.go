package verify_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/verifykit/verifykit/verify"
)

func ExampleValidateWebhook() {
	// The URL the webhook was created with, and the account's auth token.
	const webhookURL = "https://backend.example.com/verify-events"
	authToken := "f0e1d2c3b4a5968778695a4b3c2d1e0f"

	// A backend's handler for the deliveries.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		event, err := verify.ValidateWebhook(authToken, webhookURL, r)
		if err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		// A delivery may come again: the uuid says which event it is.
		fmt.Println(event.Get("type"), event.Get("challenge_sid"), event.Get("challenge_status"))
	})

	// A delivery as verifyd or Twilio sends it.
	event := url.Values{
		"uuid":             {"7f0c1c5e-8a55-4a57-9b6b-0c6d2f7f1f11"},
		"type":             {"challenge.approved"},
		"account_sid":      {"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"service_sid":      {"VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"entity_identity":  {"ff483d1ff591898a9942916050d2ca3f"},
		"factor_sid":       {"YFaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"factor_type":      {"push"},
		"challenge_sid":    {"YCaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"challenge_status": {"approved"},
	}
	for _, sig := range []string{
		verify.WebhookSignature(authToken, webhookURL, event),
		verify.WebhookSignature("a guess", webhookURL, event),
	} {
		r := httptest.NewRequest(http.MethodPost, "/verify-events", strings.NewReader(event.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", sig)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// challenge.approved YCaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa approved
	// 200
	// 403
}
