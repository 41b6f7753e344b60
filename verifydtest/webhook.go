package verifydtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/verifykit/verifykit/verify"
)

// WebhookEvent is one delivery a WebhookReceiver got.
type WebhookEvent struct {
	// Type is the event type, such as "challenge.approved"; UUID its id,
	// the same on every delivery of one event.
	Type, UUID string
	// Params are all the delivered form fields.
	Params url.Values
	// Path is the request's path on the receiver.
	Path string
}

// WebhookReceiver is a backend's webhook endpoint on 127.0.0.1, for tests:
// it checks each delivery's X-Twilio-Signature with the account's auth
// token as a Twilio backend does (verify.ValidateWebhook), answers 403 to
// one that does not validate and records it as a failure of the test, and
// collects the events of those that do.
type WebhookReceiver struct {
	// URL is the receiver's base URL; give it, or URL+"/some/path", as a
	// webhook's WebhookUrl.
	URL string

	t      testing.TB
	mu     sync.Mutex
	events []WebhookEvent
	notify chan struct{}
}

// NewWebhookReceiver starts a WebhookReceiver for deliveries signed with
// authToken, such as s.AuthToken, and stops it when the test ends.
func NewWebhookReceiver(t testing.TB, authToken string) *WebhookReceiver {
	t.Helper()
	r := &WebhookReceiver{t: t, notify: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		params, err := verify.ValidateWebhook(authToken, r.URL+req.URL.RequestURI(), req)
		if err != nil {
			r.t.Errorf("verifydtest: webhook delivery to %s refused: %v", req.URL.Path, err)
			http.Error(w, "invalid signature", http.StatusForbidden)
			return
		}
		r.mu.Lock()
		r.events = append(r.events, WebhookEvent{Type: params.Get("type"), UUID: params.Get("uuid"), Params: params, Path: req.URL.Path})
		close(r.notify)
		r.notify = make(chan struct{})
		r.mu.Unlock()
	}))
	r.URL = srv.URL
	t.Cleanup(srv.Close)
	return r
}

// Events returns the events received so far, in arrival order.
func (r *WebhookReceiver) Events() []WebhookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Wait waits until an event arrived for which match is true, and returns
// it; it returns an error when ctx ends first. Deliveries are not ordered,
// and an event may arrive more than once (its UUID tells).
func (r *WebhookReceiver) Wait(ctx context.Context, match func(WebhookEvent) bool) (WebhookEvent, error) {
	for {
		r.mu.Lock()
		for _, e := range r.events {
			if match(e) {
				r.mu.Unlock()
				return e, nil
			}
		}
		changed := r.notify
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return WebhookEvent{}, fmt.Errorf("verifydtest: waiting for a webhook event: %w", ctx.Err())
		}
	}
}

// WaitType waits for an event of type typ about the challenge or factor
// sid (its challenge_sid or factor_sid), as Wait does.
func (r *WebhookReceiver) WaitType(ctx context.Context, typ, sid string) (WebhookEvent, error) {
	return r.Wait(ctx, func(e WebhookEvent) bool {
		return e.Type == typ && (e.Params.Get("challenge_sid") == sid || e.Params.Get("factor_sid") == sid)
	})
}
