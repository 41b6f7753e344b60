package verify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/verify"
)

// answer replies with the given status and, unless body is empty, JSON.
func answer(code int, body string) reply {
	return func(w http.ResponseWriter, _ *http.Request) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// TestPushRetries checks which push operations are sent again: every
// method after a 429, and after a 503 or a dropped connection only GET,
// DELETE and UpdateWebhook, which are safe to repeat.
func TestPushRetries(t *testing.T) {
	ctx := context.Background()
	entity, challenge, notification := exampleJSON(t, "Entity"), exampleJSON(t, "Challenge"), exampleJSON(t, "Notification")
	webhook, entities := exampleJSON(t, "Webhook"), exampleJSON(t, "EntityList")
	fetchEntity := func(c *verify.Client) error {
		_, err := c.FetchEntity(ctx, testVA, testIdentity)
		return err
	}
	deleteEntity := func(c *verify.Client) error { return c.DeleteEntity(ctx, testVA, testIdentity) }
	deleteFactor := func(c *verify.Client) error { return c.DeleteFactor(ctx, testVA, testIdentity, testYF) }
	deleteWebhook := func(c *verify.Client) error { return c.DeleteWebhook(ctx, testVA, testYW) }
	listEntities := func(c *verify.Client) error {
		_, err := c.ListEntitiesPage(ctx, testVA, verify.ListParams{})
		return err
	}
	createEntity := func(c *verify.Client) error {
		_, err := c.CreateEntity(ctx, testVA, testIdentity)
		return err
	}
	createChallenge := func(c *verify.Client) error {
		_, err := c.CreateChallenge(ctx, testVA, testIdentity, fullChallenge)
		return err
	}
	createNotification := func(c *verify.Client) error {
		_, err := c.CreateNotification(ctx, testVA, testIdentity, testYC, ptr(30))
		return err
	}
	createWebhook := func(c *verify.Client) error {
		_, err := c.CreateWebhook(ctx, testVA, verify.WebhookParams{FriendlyName: "backend", EventTypes: []models.EventType{"*"}, URL: "https://backend.example.com/hook"})
		return err
	}
	updateWebhook := func(c *verify.Client) error {
		_, err := c.UpdateWebhook(ctx, testVA, testYW, verify.WebhookUpdate{Status: models.Disabled})
		return err
	}
	get, del := received{Method: http.MethodGet}, received{Method: http.MethodDelete}
	postChallenge := received{Method: http.MethodPost, Body: challengeForm}
	postEntity := received{Method: http.MethodPost, Body: "Identity=" + testIdentity}
	postNotification := received{Method: http.MethodPost, Body: "Ttl=30"}
	postWebhook := received{Method: http.MethodPost, Body: "EventTypes=%2A&FriendlyName=backend&WebhookUrl=https%3A%2F%2Fbackend.example.com%2Fhook"}
	postUpdate := received{Method: http.MethodPost, Body: "Status=disabled"}
	const ms = time.Millisecond

	for _, tc := range []struct {
		name       string
		replies    []reply
		call       func(*verify.Client) error
		wantReqs   []received
		wantStatus int // 0: success; -1: a transport error
	}{
		{"FetchEntity: 503, then 200", []reply{status(503, ""), answer(200, entity)}, fetchEntity, []received{get, get}, 0},
		{"ListEntitiesPage: dropped connection, then 200", []reply{hangUp, answer(200, entities)}, listEntities, []received{get, get}, 0},
		{"DeleteEntity: 503, then 204", []reply{status(503, ""), answer(204, "")}, deleteEntity, []received{del, del}, 0},
		{"DeleteFactor: dropped connection, then 204", []reply{hangUp, answer(204, "")}, deleteFactor, []received{del, del}, 0},
		{"DeleteFactor: 500 is not retried", []reply{status(500, ""), answer(204, "")}, deleteFactor, []received{del}, 500},
		{"DeleteWebhook: 503 three times, then 204", []reply{status(503, ""), status(503, ""), status(503, ""), answer(204, "")}, deleteWebhook, []received{del, del, del, del}, 0},
		{"UpdateWebhook: 503, then 200", []reply{status(503, ""), answer(200, webhook)}, updateWebhook, []received{postUpdate, postUpdate}, 0},
		{"UpdateWebhook: dropped connection, then 200", []reply{hangUp, answer(200, webhook)}, updateWebhook, []received{postUpdate, postUpdate}, 0},
		{"CreateChallenge: 429, then 201", []reply{status(429, ""), answer(201, challenge)}, createChallenge, []received{postChallenge, postChallenge}, 0},
		{"CreateChallenge: 503 is not retried", []reply{status(503, ""), answer(201, challenge)}, createChallenge, []received{postChallenge}, 503},
		{"CreateChallenge: dropped connection is not retried", []reply{hangUp, answer(201, challenge)}, createChallenge, []received{postChallenge}, -1},
		{"CreateNotification: 503 is not retried", []reply{status(503, ""), answer(201, notification)}, createNotification, []received{postNotification}, 503},
		{"CreateNotification: dropped connection is not retried", []reply{hangUp, answer(201, notification)}, createNotification, []received{postNotification}, -1},
		{"CreateNotification: 429, then 201", []reply{status(429, "0"), answer(201, notification)}, createNotification, []received{postNotification, postNotification}, 0},
		{"CreateEntity: 503 is not retried", []reply{status(503, ""), answer(201, entity)}, createEntity, []received{postEntity}, 503},
		{"CreateWebhook: dropped connection is not retried", []reply{hangUp, answer(201, webhook)}, createWebhook, []received{postWebhook}, -1},
		{"CreateWebhook: 429, then 201", []reply{status(429, ""), answer(201, webhook)}, createWebhook, []received{postWebhook, postWebhook}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scriptServer{replies: tc.replies}
			srv := s.start(t)
			rec := &sleepRecorder{}
			p := verify.RetryPolicy{MaxRetries: 3, BaseDelay: 100 * ms, Jitter: noJitter, Sleep: rec.sleep}
			c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL},
				verify.WithRetry(p), verify.WithHTTPClient(srv.Client()))
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			var verr *verify.Error
			switch {
			case tc.wantStatus == 0 && err != nil:
				t.Errorf("call: %v, want success", err)
			case tc.wantStatus == -1 && (err == nil || errors.As(err, &verr)):
				t.Errorf("call: %v, want a transport error", err)
			case tc.wantStatus > 0 && (!errors.As(err, &verr) || verr.Status != tc.wantStatus):
				t.Errorf("call: %v, want a *verify.Error with status %d", err, tc.wantStatus)
			}
			if diff := cmp.Diff(tc.wantReqs, s.requests()); diff != "" {
				t.Errorf("requests that reached the server mismatch (-want +got):\n%s", diff)
			}
			if got, want := len(rec.waits), len(tc.wantReqs)-1; got != want {
				t.Errorf("%d waits, want %d: one before each retry", got, want)
			}
		})
	}
}
