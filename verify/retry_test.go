package verify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/verify"
)

// reply is one scripted answer of a scriptServer.
type reply func(w http.ResponseWriter, r *http.Request)

// status answers with a Twilio error body and, when retryAfter is not
// empty, a Retry-After header.
func status(code int, retryAfter string) reply {
	return func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"code":`+strconv.Itoa(20000+code)+`,"message":"`+http.StatusText(code)+`","more_info":"https://www.twilio.com/docs/errors/`+strconv.Itoa(20000+code)+`","status":`+strconv.Itoa(code)+`}`)
	}
}

// token answers with an access token and the given status.
func token(code int) reply {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, tokenJSON)
	}
}

// hangUp closes the connection without answering.
func hangUp(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// received is a request as a scriptServer's handler saw it.
type received struct {
	Method, Body string
}

// scriptServer answers the n-th request with the n-th reply (the last one
// once they run out) and records every request that reached it.
type scriptServer struct {
	replies []reply

	mu  sync.Mutex
	got []received
}

func (s *scriptServer) start(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.got)
		s.got = append(s.got, received{Method: r.Method, Body: string(b)})
		s.mu.Unlock()
		s.replies[min(n, len(s.replies)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (s *scriptServer) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// sleepRecorder is a RetryPolicy.Sleep that returns at once and records
// the waits asked for.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func noJitter(d time.Duration) time.Duration { return d }

const createForm = "FactorType=push&Identity=user-0001"

func TestRetries(t *testing.T) {
	const ms = time.Millisecond
	create := func(ctx context.Context, c *verify.Client) error {
		_, err := c.CreateAccessToken(ctx, testVA, verify.CreateParams{Identity: "user-0001"})
		return err
	}
	fetch := func(ctx context.Context, c *verify.Client) error {
		_, err := c.FetchAccessToken(ctx, testVA, testYK)
		return err
	}
	post := received{Method: http.MethodPost, Body: createForm}
	get := received{Method: http.MethodGet}
	policy := verify.RetryPolicy{MaxRetries: 3, BaseDelay: 100 * ms, MaxDelay: 10 * time.Second, Jitter: noJitter}

	for _, tc := range []struct {
		name       string
		policy     *verify.RetryPolicy // nil: policy
		replies    []reply
		call       func(context.Context, *verify.Client) error
		wantReqs   []received
		wantWaits  []time.Duration
		wantStatus int // 0: success; -1: a transport error
	}{
		{
			name:      "create: 429 with Retry-After 1, then 201",
			replies:   []reply{status(429, "1"), token(201)},
			call:      create,
			wantReqs:  []received{post, post},
			wantWaits: []time.Duration{time.Second},
		},
		{
			name:      "create: 429 without Retry-After backs off",
			replies:   []reply{status(429, ""), status(429, ""), token(201)},
			call:      create,
			wantReqs:  []received{post, post, post},
			wantWaits: []time.Duration{100 * ms, 200 * ms},
		},
		{
			name:      "fetch: 503, then 200",
			replies:   []reply{status(503, ""), token(200)},
			call:      fetch,
			wantReqs:  []received{get, get},
			wantWaits: []time.Duration{100 * ms},
		},
		{
			name:      "fetch: 503 with Retry-After 2, then 200",
			replies:   []reply{status(503, "2"), token(200)},
			call:      fetch,
			wantReqs:  []received{get, get},
			wantWaits: []time.Duration{2 * time.Second},
		},
		{
			name:       "create: 503 is not retried",
			replies:    []reply{status(503, "1"), token(201)},
			call:       create,
			wantReqs:   []received{post},
			wantStatus: 503,
		},
		{
			name:       "create: 500 is not retried",
			replies:    []reply{status(500, ""), token(201)},
			call:       create,
			wantReqs:   []received{post},
			wantStatus: 500,
		},
		{
			name:       "fetch: 404 is not retried",
			replies:    []reply{status(404, ""), token(200)},
			call:       fetch,
			wantReqs:   []received{get},
			wantStatus: 404,
		},
		{
			name:      "fetch: dropped connection is retried",
			replies:   []reply{hangUp, token(200)},
			call:      fetch,
			wantReqs:  []received{get, get},
			wantWaits: []time.Duration{100 * ms},
		},
		{
			name:       "create: dropped connection is not retried",
			replies:    []reply{hangUp, token(201)},
			call:       create,
			wantReqs:   []received{post},
			wantStatus: -1,
		},
		{
			name:       "retries switched off",
			policy:     &verify.RetryPolicy{},
			replies:    []reply{status(429, "1"), token(201)},
			call:       create,
			wantReqs:   []received{post},
			wantStatus: 429,
		},
		{
			name:       "retries switched off: dropped connection",
			policy:     &verify.RetryPolicy{MaxRetries: 0},
			replies:    []reply{hangUp, token(200)},
			call:       fetch,
			wantReqs:   []received{get},
			wantStatus: -1,
		},
		{
			name:       "retries run out",
			policy:     &verify.RetryPolicy{MaxRetries: 2, BaseDelay: 100 * ms, Jitter: noJitter},
			replies:    []reply{status(503, "")},
			call:       fetch,
			wantReqs:   []received{get, get, get},
			wantWaits:  []time.Duration{100 * ms, 200 * ms},
			wantStatus: 503,
		},
		{
			name:       "backoff is bounded by MaxDelay",
			policy:     &verify.RetryPolicy{MaxRetries: 5, BaseDelay: 100 * ms, MaxDelay: 250 * ms, Jitter: noJitter},
			replies:    []reply{status(503, "")},
			call:       fetch,
			wantReqs:   []received{get, get, get, get, get, get},
			wantWaits:  []time.Duration{100 * ms, 200 * ms, 250 * ms, 250 * ms, 250 * ms},
			wantStatus: 503,
		},
		{
			name:       "Retry-After beyond MaxDelay ends the retries",
			policy:     &verify.RetryPolicy{MaxRetries: 3, MaxDelay: 5 * time.Second},
			replies:    []reply{status(429, "60"), token(201)},
			call:       create,
			wantReqs:   []received{post},
			wantStatus: 429,
		},
		{
			name:      "malformed Retry-After falls back to backoff",
			replies:   []reply{status(429, "soon"), token(201)},
			call:      create,
			wantReqs:  []received{post, post},
			wantWaits: []time.Duration{100 * ms},
		},
		{
			name:      "jitter is applied to backoff",
			policy:    &verify.RetryPolicy{MaxRetries: 1, BaseDelay: 100 * ms, Jitter: func(d time.Duration) time.Duration { return d / 4 }},
			replies:   []reply{status(503, ""), token(200)},
			call:      fetch,
			wantReqs:  []received{get, get},
			wantWaits: []time.Duration{25 * ms},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scriptServer{replies: tc.replies}
			srv := s.start(t)
			p := policy
			if tc.policy != nil {
				p = *tc.policy
			}
			rec := &sleepRecorder{}
			p.Sleep = rec.sleep
			c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL},
				verify.WithRetry(p), verify.WithHTTPClient(srv.Client()))
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(context.Background(), c)

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
			if diff := cmp.Diff(tc.wantWaits, rec.waits); diff != "" {
				t.Errorf("waits mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultJitter(t *testing.T) {
	s := &scriptServer{replies: []reply{status(503, "")}}
	srv := s.start(t)
	rec := &sleepRecorder{}
	base, maxDelay := 400*time.Millisecond, 1600*time.Millisecond
	p := verify.RetryPolicy{MaxRetries: 8, BaseDelay: base, MaxDelay: maxDelay, Sleep: rec.sleep}
	c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL},
		verify.WithRetry(p), verify.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.FetchAccessToken(context.Background(), testVA, testYK)
	if len(rec.waits) != p.MaxRetries {
		t.Fatalf("got %d waits, want %d", len(rec.waits), p.MaxRetries)
	}
	for n, got := range rec.waits {
		backoff := min(base<<n, maxDelay)
		if got < backoff/2 || got > backoff {
			t.Errorf("wait before retry %d = %v, want within [%v, %v]", n+1, got, backoff/2, backoff)
		}
	}
}

func TestRetryWaitEndsWithContext(t *testing.T) {
	s := &scriptServer{replies: []reply{status(429, "")}}
	srv := s.start(t)
	// The real sleep, with a backoff far longer than the context lives.
	p := verify.RetryPolicy{MaxRetries: 3, BaseDelay: time.Hour, MaxDelay: time.Hour}
	c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL},
		verify.WithRetry(p), verify.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.CreateAccessToken(ctx, testVA, verify.CreateParams{Identity: "user-0001"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("CreateAccessToken = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("CreateAccessToken returned after %v, want it to end with the context", elapsed)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("%d requests reached the server, want 1", got)
	}
}

func TestRetryReplaysUnbufferedBody(t *testing.T) {
	s := &scriptServer{replies: []reply{status(429, "0"), token(201)}}
	srv := s.start(t)
	rec := &sleepRecorder{}
	c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL},
		verify.WithRetry(verify.RetryPolicy{MaxRetries: 1, Sleep: rec.sleep}), verify.WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	// A MultiReader gives http.NewRequest no way to rewind the body, so the
	// retrier has to buffer it.
	body := io.MultiReader(strings.NewReader("FactorType=push&"), strings.NewReader("Identity=user-0001"))
	resp, err := c.Generated().CreateAccessTokenWithBodyWithResponse(context.Background(), testVA, "application/x-www-form-urlencoded", body)
	if err != nil {
		t.Fatalf("CreateAccessTokenWithBodyWithResponse: %v", err)
	}
	if resp.StatusCode() != http.StatusCreated {
		t.Errorf("status = %d, want 201", resp.StatusCode())
	}
	post := received{Method: http.MethodPost, Body: createForm}
	if diff := cmp.Diff([]received{post, post}, s.requests()); diff != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{0}, rec.waits); diff != "" {
		t.Errorf("waits mismatch (-want +got):\n%s", diff)
	}
}
