package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	twclient "github.com/twilio/twilio-go/client"

	"github.com/verifykit/verifykit/device"
)

// hookRequest is one delivery a receiver got.
type hookRequest struct {
	typ, uuid string
	valid     bool
}

// TestWebhookSurvivesKill: events committed before verifyd is killed with
// SIGKILL are delivered after it restarts: one whose delivery was in
// flight (claimed, never finished), again with the same uuid once its
// lease ends, and one recorded but never attempted.
func TestWebhookSurvivesKill(t *testing.T) {
	bin := verifydBinary(t)
	for _, engine := range crashEngines {
		t.Run(engine.name, func(t *testing.T) {
			dataDir := t.TempDir()
			storeDSN, _ := engine.prepare(t, dataDir)
			args := []string{"-addr", "127.0.0.1:0", "-data-dir", dataDir, "-public-url", stablePublicURL,
				"-log-level", "warn", "-webhook-timeout", "1s"}
			if storeDSN != "" {
				args = append(args, "-store", storeDSN)
			}
			first := startChild(t, bin, args...)
			creds, err := readDevCreds(filepath.Join(dataDir, devCredentialsFile))
			if err != nil {
				t.Fatal(err)
			}

			// The receiver holds its first request until released: verifyd
			// has claimed that delivery and is waiting when it is killed.
			var (
				mu      sync.Mutex
				got     []hookRequest
				arrived = make(chan struct{}, 100)
				release = make(chan struct{})
				once    sync.Once
			)
			v := twclient.NewRequestValidator(creds.AuthToken)
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				form, _ := url.ParseQuery(string(body))
				flat := map[string]string{}
				for k, vs := range form {
					flat[k] = vs[0]
				}
				mu.Lock()
				got = append(got, hookRequest{typ: form.Get("type"), uuid: form.Get("uuid"),
					valid: v.Validate("http://"+r.Host+r.URL.Path, flat, r.Header.Get("X-Twilio-Signature"))})
				n := len(got)
				mu.Unlock()
				arrived <- struct{}{}
				if n == 1 {
					<-release
				}
			}))
			defer recv.Close()
			defer once.Do(func() { close(release) })
			waitFor := func(n int, within time.Duration) []hookRequest {
				t.Helper()
				deadline := time.After(within)
				for {
					mu.Lock()
					have := append([]hookRequest(nil), got...)
					mu.Unlock()
					if len(have) >= n {
						return have
					}
					select {
					case <-arrived:
					case <-deadline:
						t.Fatalf("%d webhook requests within %v, want %d: %+v", len(have), within, n, have)
					}
				}
			}

			api := newAPIClient(first.addr, creds)
			ctx := context.Background()
			r, err := api.do(ctx, http.MethodPost, "/v2/Services/"+creds.ServiceSID+"/Webhooks", url.Values{
				"FriendlyName": {"backend"}, "EventTypes": {"*"}, "WebhookUrl": {recv.URL + "/events"}})
			if err != nil || r.status != http.StatusCreated {
				t.Fatalf("create webhook: %v %d %s", err, r.status, r.body)
			}
			r, err = api.do(ctx, http.MethodPost, api.tokens(), url.Values{"Identity": {"user-0300-kill"}, "FactorType": {"push"}})
			if err != nil || r.status != http.StatusCreated {
				t.Fatalf("create access token: %v %d %s", err, r.status, r.body)
			}
			var at struct {
				Token string `json:"token"`
			}
			if err := json.Unmarshal(r.body, &at); err != nil {
				t.Fatal(err)
			}
			d, err := device.New(device.WithBaseURL("http://" + first.addr))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Enroll(ctx, creds.ServiceSID, "user-0300-kill", at.Token); err != nil {
				t.Fatal(err)
			}
			held := waitFor(1, 10*time.Second)[0]    // factor.created, in flight
			if _, err := d.Verify(ctx); err != nil { // factor.verified: recorded, not attempted
				t.Fatal(err)
			}
			first.kill(t)
			once.Do(func() { close(release) })

			second := startChild(t, bin, args...)
			defer second.stop(t)
			all := waitFor(3, 15*time.Second)
			after := all[1:]
			seen := map[string]string{}
			for _, h := range after {
				if !h.valid {
					t.Errorf("%s after the restart: signature does not validate", h.typ)
				}
				seen[h.typ] = h.uuid
			}
			if held.typ != "factor.created" || seen["factor.created"] != held.uuid {
				t.Errorf("in flight at the kill: %s %s; after the restart: %v; want factor.created again with its uuid", held.typ, held.uuid, seen)
			}
			if seen["factor.verified"] == "" {
				t.Errorf("factor.verified, recorded before the kill, was not delivered after the restart: %v", seen)
			}
			t.Logf("before the kill: %s %s held; after the restart: %d deliveries %v", held.typ, held.uuid, len(after), seen)
		})
	}
}
