package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/verify"
)

// Config holds the settings of a Deliverer. Secrets is required; the other
// zero values are usable.
type Config struct {
	// Secrets returns an account's auth token, with which its deliveries
	// are signed, and whether it is known. The store keeps only hashes of
	// auth tokens; verifyd knows the tokens of the bootstrap file and of
	// dev mode. A delivery whose account's token is unknown is not sent,
	// and is retried as a failed one.
	Secrets func(accountSID string) (string, bool)
	// Client sends the deliveries; NewClient's, with a 10 s timeout, to
	// loopback hosts only, when nil.
	Client *http.Client
	// Poll is how often the store is asked for due deliveries when Notify
	// is not called; 1 s when zero.
	Poll time.Duration
	// Lease is how long a claimed delivery is kept from other instances;
	// 30 s when zero. It must exceed the client's timeout.
	Lease time.Duration
	// Backoff is the wait after each failed attempt, the last one repeated;
	// after MaxAttempts attempts the delivery is given up. When nil: 5 s,
	// 30 s, 2 min, 10 min, 30 min, 1 h.
	Backoff []time.Duration
	// MaxAttempts is 10 when zero.
	MaxAttempts int
	// Keep is how long finished deliveries stay in the store; 24 h when
	// zero.
	Keep time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives a line per failed attempt; nothing when nil.
	Log *slog.Logger
}

// Deliverer sends the deliveries the store holds, from any instance that
// shares the store: each claims a batch under a lease, sends it, and
// records how each attempt ended.
type Deliverer struct {
	store   store.Store
	cfg     Config
	wake    chan struct{}
	results *prometheus.CounterVec
}

// batch is how many deliveries are in flight at most, in parallel.
const batch = 16

// NewDeliverer returns a Deliverer of st's deliveries.
func NewDeliverer(st store.Store, cfg Config) (*Deliverer, error) {
	if cfg.Secrets == nil {
		return nil, errors.New("webhook: Config.Secrets is required")
	}
	if cfg.Client == nil {
		loopback, _ := ParseHosts(Loopback) // cannot fail
		cfg.Client = NewClient(10*time.Second, loopback)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{
		store: st,
		cfg:   cfg,
		wake:  make(chan struct{}, 1),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "verifyd_webhook_attempts_total",
			Help: "Attempts to deliver a webhook event, by result: delivered, retry or gave_up.",
		}, []string{"result"}),
	}, nil
}

// Collector is the Deliverer's metrics, for a Prometheus registry.
func (d *Deliverer) Collector() prometheus.Collector { return d.results }

// Notify wakes the Deliverer now, without waiting for its next poll: the
// store has just recorded events. It never blocks.
func (d *Deliverer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the deliveries in flight. It
// keeps up to batch deliveries in flight and claims more as each ends, so
// a receiver that hangs holds one slot until its timeout, not everyone's
// deliveries. A store that fails is asked again at the next poll; Run
// returns only ctx's error.
func (d *Deliverer) Run(ctx context.Context) error {
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	slots := make(chan struct{}, batch)
	lastPrune := time.Time{}
	for {
		// Only this loop fills slots, so free can only grow meanwhile.
		for free := cap(slots) - len(slots); free > 0; free = cap(slots) - len(slots) {
			due, err := d.store.ClaimDeliveries(ctx, d.cfg.Now(), d.cfg.Lease, free)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				d.cfg.Log.LogAttrs(ctx, slog.LevelWarn, "webhook deliveries", slog.String("error", fmt.Errorf("claim deliveries: %w", err).Error()))
				break
			}
			for _, dl := range due {
				slots <- struct{}{}
				inflight.Go(func() {
					defer func() {
						<-slots
						d.Notify() // a slot is free: claim what waits
					}()
					if err := d.deliver(ctx, dl); err != nil {
						d.cfg.Log.LogAttrs(ctx, slog.LevelWarn, "webhook deliveries", slog.String("error", err.Error()))
					}
				})
			}
			if len(due) < free {
				break // no more due now
			}
		}
		if now := d.cfg.Now(); now.Sub(lastPrune) > time.Hour {
			if _, err := d.store.PruneDeliveries(ctx, now.Add(-d.cfg.Keep)); err == nil {
				lastPrune = now
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-d.wake:
		}
	}
}

// deliver makes one attempt at dl and records it.
func (d *Deliverer) deliver(ctx context.Context, dl store.Delivery) error {
	status, sendErr := d.send(ctx, dl)
	r := store.DeliveryResult{At: d.cfg.Now(), Status: status, Delivered: sendErr == nil}
	result := "delivered"
	if sendErr != nil {
		r.Error = sendErr.Error()
		if attempt := dl.Attempts + 1; attempt < d.cfg.MaxAttempts {
			r.Next = r.At.Add(d.cfg.Backoff[min(attempt, len(d.cfg.Backoff))-1])
			result = "retry"
		} else {
			result = "gave_up"
		}
		d.cfg.Log.LogAttrs(ctx, slog.LevelWarn, "webhook delivery failed",
			slog.String("event", dl.EventID), slog.String("webhook", dl.WebhookSID),
			slog.Int("attempt", dl.Attempts+1), slog.String("result", result), slog.String("error", r.Error))
	}
	d.results.WithLabelValues(result).Inc()
	// The attempt is recorded even when ctx is ending: it was made.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.store.FinishDelivery(fctx, dl.EventID, dl.WebhookSID, r); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("finish delivery %s to %s: %w", dl.EventID, dl.WebhookSID, err)
	}
	return nil
}

// send POSTs dl's body to its URL, signed, and returns the status; an
// error unless the receiver answered 2xx.
func (d *Deliverer) send(ctx context.Context, dl store.Delivery) (int, error) {
	secret, ok := d.cfg.Secrets(dl.AccountSID)
	if !ok {
		return 0, fmt.Errorf("no auth token of account %s to sign with: give it to verifyd in the bootstrap file", dl.AccountSID)
	}
	params, err := url.ParseQuery(dl.Body)
	if err != nil {
		return 0, fmt.Errorf("stored body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.URL, bytes.NewReader([]byte(dl.Body)))
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", verify.WebhookSignature(secret, dl.URL, params))
	req.Header.Set("I-Twilio-Idempotency-Token", dl.EventID)
	req.Header.Set("User-Agent", "verifyd-webhook/1")
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, errors.New("receiver answered " + strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(http.StatusText(resp.StatusCode)))
	}
	return resp.StatusCode, nil
}
