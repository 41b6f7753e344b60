package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/verify"
	"github.com/verifykit/verifykit/verifydtest"
)

// syncBuffer is a bytes.Buffer that the command and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWebhooksListen points a webhook of a real verifyd at webhooks listen
// and runs the push loop: the three events it causes are printed as
// valid, and a forged delivery is refused with 403 and not counted.
func TestWebhooksListen(t *testing.T) {
	s := verifydtest.Start(t)
	ctx := context.Background()
	var stdout, stderr syncBuffer
	a := &app{
		getenv: func(name string) string {
			if name == verify.EnvAuthToken {
				return s.AuthToken
			}
			return ""
		},
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		isTerminal: func(io.Writer) bool { return false },
	}
	exited := make(chan int, 1)
	go func() {
		exited <- a.main(ctx, []string{"verifyctl", "webhooks", "listen", "--addr", "127.0.0.1:0", "--count", "3"})
	}()
	at := regexp.MustCompile(`at (http://127\.0\.0\.1:\d+)\n`)
	var hookURL string
	for deadline := time.Now().Add(5 * time.Second); hookURL == ""; time.Sleep(10 * time.Millisecond) {
		if m := at.FindStringSubmatch(stderr.String()); m != nil {
			hookURL = m[1] + "/verify-events"
		} else if time.Now().After(deadline) {
			t.Fatalf("webhooks listen did not start: %q", stderr.String())
		}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL, strings.NewReader("type=challenge.approved"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	forged, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	forged.Body.Close()
	if forged.StatusCode != http.StatusForbidden {
		t.Errorf("a delivery without a signature got %d, want 403", forged.StatusCode)
	}

	backend, err := verify.NewClient(verify.Config{AccountSID: s.AccountSID, AuthToken: s.AuthToken, BaseURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backend.CreateWebhook(ctx, s.ServiceSID, verify.WebhookParams{FriendlyName: "listen", URL: hookURL, EventTypes: []models.EventType{models.EventTypeAsterisk}}); err != nil {
		t.Fatal(err)
	}
	tok, err := backend.CreateAccessToken(ctx, s.ServiceSID, verify.CreateParams{Identity: "user-0500-listen"})
	if err != nil {
		t.Fatal(err)
	}
	phone, err := device.New(device.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	f, err := phone.Enroll(ctx, s.ServiceSID, "user-0500-listen", *tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := backend.CreateChallenge(ctx, s.ServiceSID, "user-0500-listen", verify.ChallengeParams{FactorSID: f.SID, Message: "Log in?"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Approve(ctx, *c.SID); err != nil {
		t.Fatal(err)
	}

	select {
	case code := <-exited:
		if code != exitOK {
			t.Fatalf("webhooks listen exited %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("webhooks listen did not exit after 3 deliveries; stdout %q", stdout.String())
	}
	var types []string
	for line := range strings.Lines(stdout.String()) {
		var d delivery
		if err := json.Unmarshal([]byte(line), &d); err != nil || d.Signature != "valid" || d.Path != "/verify-events" || d.UUID == "" ||
			d.Params["uuid"] != d.UUID || d.Params["type"] != d.Type || d.Params["account_sid"] != s.AccountSID {
			t.Errorf("line %q: %+v, %v", line, d, err)
		}
		types = append(types, d.Type)
	}
	if want := "challenge.approved factor.created factor.verified"; strings.Join(slices.Sorted(slices.Values(types)), " ") != want {
		t.Errorf("printed %v, want %s", types, want)
	}
	if !strings.Contains(stderr.String(), "refused a delivery to /verify-events") {
		t.Errorf("stderr does not tell of the forged delivery: %q", stderr.String())
	}
}
