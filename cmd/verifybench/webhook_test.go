package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/internal/webhook"
	"github.com/verifykit/verifykit/verify"
)

// webhookTimeout is verifyd's default -webhook-timeout; deliveryWait is
// how long an iteration waits for its event before the benchmark fails.
const (
	webhookTimeout = 10 * time.Second
	deliveryWait   = 5 * time.Second
)

// arrival is one delivery as the receiver saw it: when its handler was
// entered, and the challenge the event is about.
type arrival struct {
	at           time.Time
	challengeSID string
	err          error
}

// BenchmarkWebhookDelay measures how long an event takes to reach a
// webhook on loopback: from the moment the UpdateChallenge that approves a
// challenge has been served (in-process, through the whole chain) to the
// moment the receiver, an HTTP server on 127.0.0.1, is entered with that
// challenge's challenge.approved event. It reports the p50 and p99 of that
// delay; ns/op is a whole iteration, the answer and the wait.
//
// The deliverer is the real one, wired as verifyd wires it: the handler
// calls Deliverer.Notify after a commit that recorded events. Its poll
// interval is an hour, so every delivery measured took the Notify path
// (commit → Notify → claim → POST); were Notify not called, no event would
// arrive within deliveryWait and the benchmark would fail. Iterations run
// one at a time, each waiting for its event, so the deliverer is woken
// from idle.
func BenchmarkWebhookDelay(b *testing.B) {
	var deliverer *webhook.Deliverer
	var authToken string
	e := newBenchEnvWith(b, func(st *sqlite.Store, account, token string) api.Config {
		authToken = token
		loopback, err := webhook.ParseHosts(webhook.Loopback)
		if err != nil {
			b.Fatal(err)
		}
		deliverer, err = webhook.NewDeliverer(st, webhook.Config{
			Secrets: func(acc string) (string, bool) { return token, acc == account },
			Client:  webhook.NewClient(webhookTimeout, loopback),
			Lease:   3 * webhookTimeout,
			Poll:    time.Hour, // only Notify wakes it in time
		})
		if err != nil {
			b.Fatal(err)
		}
		return api.Config{EventsRecorded: deliverer.Notify, WebhookHosts: loopback}
	})

	// The receiver checks each delivery's signature, as a backend does,
	// after taking the time.
	arrivals := make(chan arrival, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		params, err := verify.ValidateWebhook(authToken, "http://"+r.Host+r.URL.RequestURI(), r)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusForbidden)
		}
		select {
		case arrivals <- arrival{at: at, challengeSID: params.Get("challenge_sid"), err: err}:
		case <-r.Context().Done():
		}
	}))
	b.Cleanup(recv.Close)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = deliverer.Run(ctx) // returns only ctx's error
	}()
	b.Cleanup(func() { stop(); <-done })

	hook := url.Values{"FriendlyName": {"bench"}, "EventTypes": {webhook.ChallengeApproved}, "WebhookUrl": {recv.URL + "/events"}}
	e.request(http.MethodPost, "/v2/Services/"+e.service+"/Webhooks", hook.Encode()).serve(b, e.h, http.StatusCreated)
	p := newPushEnv(b, e)
	answers := p.answers(b, b.N)

	delays := make([]time.Duration, 0, b.N)
	timeout := time.NewTimer(deliveryWait)
	defer timeout.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for _, a := range answers {
		a.q.serve(b, p.h, http.StatusOK)
		served := time.Now()
		timeout.Reset(deliveryWait)
		select {
		case got := <-arrivals:
			if got.err != nil || got.challengeSID != a.sid {
				b.Fatalf("delivery for challenge %q (%v), want one for %s", got.challengeSID, got.err, a.sid)
			}
			delays = append(delays, got.at.Sub(served))
		case <-timeout.C:
			b.Fatalf("no delivery for challenge %s within %v: the deliverer was not woken by Notify", a.sid, deliveryWait)
		}
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(micros(percentile(delays, 50)), "p50-µs")
	b.ReportMetric(micros(percentile(delays, 99)), "p99-µs")
}

// percentile returns the nearest-rank pth percentile of sorted, which
// must not be empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (len(sorted)*p + 99) / 100 // ceil(n·p/100), at least 1 for p > 0
	return sorted[max(rank, 1)-1]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
