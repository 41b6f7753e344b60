package verify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The defaults of RetryPolicy, and of DefaultRetryPolicy.
const (
	DefaultMaxRetries = 3
	DefaultBaseDelay  = 500 * time.Millisecond
	DefaultMaxDelay   = 10 * time.Second
)

// RetryPolicy says which failed requests a Client sends again, and how long
// it waits in between. It retries:
//
//   - 429 Too Many Requests, whatever the method: Twilio did not process the
//     request, so even a POST is safe to repeat;
//   - 503 Service Unavailable, for requests that are safe to repeat only;
//   - errors that came with no response at all (refused or dropped
//     connections, timeouts), for requests that are safe to repeat only,
//     since a POST may have reached the server and created a token, a
//     challenge or a push before the connection broke.
//
// Safe to repeat are GET, HEAD and DELETE (a delete repeated after the
// first took effect answers 404), and the one POST that only sets fields,
// UpdateWebhook. Each method of Client says which rule it follows.
//
// The wait honours a Retry-After header given in seconds. Otherwise it is an
// exponential backoff, BaseDelay doubled on each retry up to MaxDelay, passed
// through Jitter. A Retry-After longer than MaxDelay ends the retries: the
// caller gets that response as an *Error rather than a silent long wait.
// The request's context bounds the whole, waits included.
//
// The zero value makes no retries: WithRetry(RetryPolicy{}) switches
// retrying off.
type RetryPolicy struct {
	// MaxRetries is how many times a request is sent again after its first
	// attempt; 0 means never. It must not be negative.
	MaxRetries int
	// BaseDelay is the backoff before the first retry; DefaultBaseDelay
	// when zero.
	BaseDelay time.Duration
	// MaxDelay caps every wait; DefaultMaxDelay when zero.
	MaxDelay time.Duration
	// Sleep waits for d, or until ctx is done, and then returns ctx.Err().
	// Nil means a timer; tests put a recorder here.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter maps a backoff d to the wait actually used, which must lie in
	// [0, d]. Nil means "equal jitter": d/2 plus a random part of d/2. It is
	// not applied to Retry-After.
	Jitter func(d time.Duration) time.Duration
}

// DefaultRetryPolicy returns the policy of a Client built without
// WithRetry: DefaultMaxRetries retries, backing off from DefaultBaseDelay
// up to DefaultMaxDelay.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: DefaultMaxRetries, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay}
}

// withDefaults checks p and fills in its zero fields.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	switch {
	case p.MaxRetries < 0:
		return p, &ConfigError{Field: "RetryPolicy", Problem: "MaxRetries must not be negative"}
	case p.BaseDelay < 0, p.MaxDelay < 0:
		return p, &ConfigError{Field: "RetryPolicy", Problem: "delays must not be negative"}
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	if p.Jitter == nil {
		p.Jitter = equalJitter
	}
	return p, nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// equalJitter returns a random wait in [d/2, d], so that clients that
// failed together do not retry together, yet each waits at least half the
// backoff.
func equalJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d-d/2+1)
}

// backoff returns the wait before retry number n (0 for the first retry).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	for i := 0; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	return min(max(p.Jitter(d), 0), d)
}

// idempotentKey marks the context of a POST that is safe to repeat, such
// as UpdateWebhook's, which sets the same fields again.
type idempotentKey struct{}

// idempotent returns ctx marked so that the retrier treats its requests as
// safe to repeat whatever their method.
func idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// repeatable reports whether req is safe to send again after a 503 or a
// transport error: its method is, or its context is marked by idempotent.
func repeatable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		return true
	}
	marked, _ := req.Context().Value(idempotentKey{}).(bool)
	return marked
}

// wait decides whether to retry after attempt number n of req ended with
// resp or err, and how long to wait first.
func (p RetryPolicy) wait(req *http.Request, resp *http.Response, err error, n int) (time.Duration, bool) {
	safe := repeatable(req)
	switch {
	case err != nil:
		return p.backoff(n), safe
	case resp.StatusCode == http.StatusTooManyRequests:
	case resp.StatusCode == http.StatusServiceUnavailable && safe:
	default:
		return 0, false
	}
	if d, ok := retryAfter(resp.Header); ok {
		return d, d <= p.MaxDelay
	}
	return p.backoff(n), true
}

// retryAfter reads a Retry-After header given in whole seconds. The
// HTTP-date form is not used by Twilio and is ignored.
func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseInt(v, 10, 32)
	if err != nil || secs < 0 {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// retrier is the Doer that the generated client sends through: it sends
// each request through next, and again as its policy allows.
type retrier struct {
	next   Doer
	policy RetryPolicy
}

// Do sends req, and sends it again as the policy allows. It returns the
// last response or error; a response it retries is drained and closed.
func (r *retrier) Do(req *http.Request) (*http.Response, error) {
	if r.policy.MaxRetries == 0 {
		return r.next.Do(req)
	}
	if err := replayable(req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	for n := 0; ; n++ {
		attempt := req
		if n > 0 {
			attempt = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, fmt.Errorf("replay request body: %w", err)
				}
				attempt.Body = body
			}
		}
		resp, err := r.next.Do(attempt)
		if n == r.policy.MaxRetries || ctx.Err() != nil {
			return resp, err
		}
		d, retry := r.policy.wait(req, resp, err, n)
		if !retry {
			return resp, err
		}
		if resp != nil {
			discard(resp.Body)
		}
		if err := r.policy.Sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// replayable makes sure req's body can be sent more than once, buffering
// it in memory when req has no GetBody.
func replayable(req *http.Request) error {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return fmt.Errorf("buffer request body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.ContentLength = int64(len(b))
	return nil
}

// discard reads a little of body, so the connection can be reused, and
// closes it.
func discard(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
