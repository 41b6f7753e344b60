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

// TestWebhookSurvivesKill: every event committed before verifyd is killed
// with SIGKILL arrives: one whose delivery was in flight (claimed, never
// finished) comes again after the restart with the same uuid once its
// lease ends, and one recorded just before the kill comes before or after
// it (or both: delivery is at least once).
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
			// waitFor waits until done holds of the requests so far.
			waitFor := func(what string, within time.Duration, done func([]hookRequest) bool) []hookRequest {
				t.Helper()
				deadline := time.After(within)
				for {
					mu.Lock()
					have := append([]hookRequest(nil), got...)
					mu.Unlock()
					if done(have) {
						return have
					}
					select {
					case <-arrived:
					case <-deadline:
						t.Fatalf("%s within %v; webhook requests: %+v", what, within, have)
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
			first1 := func(have []hookRequest) bool { return len(have) >= 1 }
			held := waitFor("a first request", 10*time.Second, first1)[0] // factor.created, in flight
			if _, err := d.Verify(ctx); err != nil {                      // factor.verified: recorded
				t.Fatal(err)
			}
			first.kill(t)
			mu.Lock()
			atKill := len(got)
			mu.Unlock()
			once.Do(func() { close(release) })

			// factor.verified may have gone out before the kill, in another
			// slot, and may go out again after it (at least once: the kill
			// can fall between its POST and its record). The held
			// factor.created must come again after the restart, with its uuid.
			second := startChild(t, bin, args...)
			defer second.stop(t)
			all := waitFor("the held event again and factor.verified", 15*time.Second, func(have []hookRequest) bool {
				var again, verified bool
				for i, h := range have {
					again = again || (i >= atKill && h.typ == held.typ && h.uuid == held.uuid)
					verified = verified || h.typ == "factor.verified"
				}
				return again && verified
			})
			if held.typ != "factor.created" {
				t.Errorf("in flight at the kill: %s, want factor.created", held.typ)
			}
			for _, h := range all {
				if !h.valid {
					t.Errorf("%s %s: signature does not validate", h.typ, h.uuid)
				}
			}
			t.Logf("before the kill: %s %s held, %d requests; after the restart: %+v", held.typ, held.uuid, atKill, all[atKill:])
		})
	}
}
