package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/store/postgres/pgtest"
	"github.com/verifykit/verifykit/verifydtest"
)

// TestPostgresPushMultiInstance runs two verifyd instances on one
// PostgreSQL database and moves a device between them: it enrolls on A
// and verifies on B, the backend reads the factor from either, byte for
// byte, and races through both instances find one winner: one access
// token enrolls once, an entity holds no more than 20 factors, and a
// challenge takes one answer, which both read at once. Both instances'
// deliverers share the outbox, and each webhook event arrives once.
func TestPostgresPushMultiInstance(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	boot := writeBootstrap(t)
	common := []string{"-addr", "127.0.0.1:0", "-bootstrap", boot, "-public-url", stablePublicURL, "-store", dsn}
	a := start(t, nil, append(common, "-data-dir", t.TempDir())...)
	b := start(t, nil, append(common, "-data-dir", t.TempDir())...)
	bases := [2]string{"http://" + a.addr, "http://" + b.addr}
	c := &http.Client{Timeout: 10 * time.Second}
	ctx := t.Context()

	mint := func(t *testing.T, base, identity string) string {
		t.Helper()
		_, tok := mustCreate(t, c, base, bootAPIKey, identity)
		return tok.Token
	}
	newDevice := func(t *testing.T, base string) *device.Device {
		t.Helper()
		d, err := device.New(device.WithBaseURL(base), device.WithHTTPClient(c))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	t.Run("enrolled on A, verified on B", func(t *testing.T) {
		const identity = "roaming-device"
		d := newDevice(t, bases[0])
		if _, err := d.Enroll(ctx, bootService, identity, mint(t, bases[0], identity)); err != nil {
			t.Fatalf("enroll on A: %v", err)
		}
		saved, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		onB, err := device.Load(saved, device.WithBaseURL(bases[1]), device.WithHTTPClient(c))
		if err != nil {
			t.Fatal(err)
		}
		f, err := onB.Verify(ctx)
		if err != nil {
			t.Fatalf("verify on B: %v", err)
		}
		if f.Status != "verified" {
			t.Fatalf("status after verify on B = %q, want verified", f.Status)
		}
		path := "/v2/Services/" + bootService + "/Entities/" + identity + "/Factors/" + f.SID
		fromA := call(t, c, http.MethodGet, bases[0], path, bootAccount, nil)
		fromB := call(t, c, http.MethodGet, bases[1], path, bootAPIKey, nil)
		if fromA.status != http.StatusOK || string(fromA.body) != string(fromB.body) {
			t.Fatalf("fetch from A: %d %s\nfetch from B: %d %s\nwant 200 and identical bodies", fromA.status, fromA.body, fromB.status, fromB.body)
		}
		// A device JWT made for B's factor is accepted by A too.
		if _, err := onB.UpdatePushToken(ctx, "fcm", "token-from-b"); err != nil {
			t.Fatalf("update on B: %v", err)
		}
		if _, err := d.UpdatePushToken(ctx, "fcm", "token-from-a"); err != nil {
			t.Fatalf("update on A: %v", err)
		}
	})

	t.Run("one token, two instances, one enrollment", func(t *testing.T) {
		const rounds = 10
		for i := range rounds {
			identity := fmt.Sprintf("race-token-%02d", i)
			tok := mint(t, bases[i%2], identity)
			var won, refused atomic.Int32
			var wg sync.WaitGroup
			for _, base := range bases {
				d := newDevice(t, base)
				wg.Go(func() {
					_, err := d.Enroll(ctx, bootService, identity, tok)
					var de *device.Error
					switch {
					case err == nil:
						won.Add(1)
					case errors.As(err, &de) && de.Status == http.StatusUnauthorized && de.Code == 20003:
						refused.Add(1)
					default:
						t.Errorf("round %d on %s: %v", i, base, err)
					}
				})
			}
			wg.Wait()
			if won.Load() != 1 || refused.Load() != 1 {
				t.Fatalf("round %d: %d enrollments and %d refusals, want 1 and 1", i, won.Load(), refused.Load())
			}
		}
	})

	t.Run("twenty factors across instances", func(t *testing.T) {
		const identity, tries = "race-limit", 26
		tokens := make([]string, tries)
		for i := range tokens {
			tokens[i] = mint(t, bases[i%2], identity)
		}
		var won, full atomic.Int32
		var wg sync.WaitGroup
		for i, tok := range tokens {
			d := newDevice(t, bases[i%2])
			wg.Go(func() {
				_, err := d.Enroll(ctx, bootService, identity, tok)
				var de *device.Error
				switch {
				case err == nil:
					won.Add(1)
				case errors.As(err, &de) && de.Status == http.StatusBadRequest && de.Code == 60315:
					full.Add(1)
				default:
					t.Errorf("enrollment %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 20 || full.Load() != tries-20 {
			t.Errorf("%d enrollments and %d refusals (60315), want 20 and %d", won.Load(), full.Load(), tries-20)
		}
		q := url.Values{"PageSize": {"50"}}
		for _, base := range bases {
			r := call(t, c, http.MethodGet, base, "/v2/Services/"+bootService+"/Entities/"+identity+"/Factors?"+q.Encode(), bootAccount, nil)
			if n := countFactors(t, r); n != 20 {
				t.Errorf("%s lists %d factors, want 20", base, n)
			}
		}
	})

	t.Run("challenges and webhooks across instances", func(t *testing.T) {
		const identity, rounds = "roaming-approver", 10
		recv := verifydtest.NewWebhookReceiver(t, bootAuthToken)
		hook := call(t, c, http.MethodPost, bases[0], "/v2/Services/"+bootService+"/Webhooks", bootAccount, url.Values{
			"FriendlyName": {"both"}, "EventTypes": {"*"}, "WebhookUrl": {recv.URL + "/hook"}})
		if hook.status != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", hook.status, hook.body)
		}
		onA := newDevice(t, bases[0])
		if _, err := onA.Enroll(ctx, bootService, identity, mint(t, bases[0], identity)); err != nil {
			t.Fatal(err)
		}
		saved, err := onA.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		onB, err := device.Load(saved, device.WithBaseURL(bases[1]), device.WithHTTPClient(c))
		if err != nil {
			t.Fatal(err)
		}
		f, err := onB.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sids := make([]string, rounds)
		for i := range sids {
			r := call(t, c, http.MethodPost, bases[i%2], "/v2/Services/"+bootService+"/Entities/"+identity+"/Challenges", bootAccount, url.Values{
				"FactorSid": {f.SID}, "Details.Message": {fmt.Sprintf("Log in, round %d?", i)}})
			var ch struct{ Sid string }
			if r.status != http.StatusCreated || json.Unmarshal(r.body, &ch) != nil {
				t.Fatalf("create challenge on %s: %d %s", bases[i%2], r.status, r.body)
			}
			sids[i] = ch.Sid
			// The device on A approves while the one on B denies: one wins,
			// and the other instance reads the winner's status at once.
			var mu sync.Mutex
			var wins []string
			var wg sync.WaitGroup
			for _, answer := range []func() (*device.Challenge, error){
				func() (*device.Challenge, error) { return onA.Approve(ctx, ch.Sid) },
				func() (*device.Challenge, error) { return onB.Deny(ctx, ch.Sid) },
			} {
				wg.Go(func() {
					if got, err := answer(); err == nil {
						mu.Lock()
						wins = append(wins, got.Status)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(wins) != 1 {
				t.Fatalf("round %d: %d answers won (%v), want 1", i, len(wins), wins)
			}
			for _, base := range bases {
				r := call(t, c, http.MethodGet, base, "/v2/Services/"+bootService+"/Entities/"+identity+"/Challenges/"+ch.Sid, bootAPIKey, nil)
				var got struct{ Status string }
				if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.Status != wins[0] {
					t.Errorf("round %d: %s reads %d %s, want %s", i, base, r.status, r.body, wins[0])
				}
			}
		}
		// Both instances deliver from the one outbox: every event arrives,
		// and none twice, though both deliverers poll it.
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for _, sid := range sids {
			if _, err := recv.Wait(wctx, func(e verifydtest.WebhookEvent) bool { return e.Params.Get("challenge_sid") == sid }); err != nil {
				t.Fatalf("no event for challenge %s: %v", sid, err)
			}
		}
		time.Sleep(2500 * time.Millisecond) // two polls of each deliverer
		seen := map[string]int{}
		types := map[string]int{}
		for _, e := range recv.Events() {
			seen[e.UUID]++
			types[e.Type]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("event %s delivered %d times, want once", id, n)
			}
		}
		if types["factor.created"] != 1 || types["factor.verified"] != 1 || types["challenge.approved"]+types["challenge.denied"] != rounds {
			t.Errorf("events by type %v, want one factor.created, one factor.verified and %d answers", types, rounds)
		}
	})
}

// countFactors is the number of factors in a 200 ListFactor reply.
func countFactors(t *testing.T, r reply) int {
	t.Helper()
	var page struct {
		Factors []json.RawMessage `json:"factors"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
		t.Fatalf("list factors: status %d, body %s", r.status, r.body)
	}
	return len(page.Factors)
}
