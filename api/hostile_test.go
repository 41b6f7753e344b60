package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
)

const formType = "application/x-www-form-urlencoded"

// fakeClock is a settable api.Config.Now, safe for concurrent handlers.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestOversizedInput: every input over a limit gets a Twilio error that the
// spec declares, and changes nothing.
func TestOversizedInput(t *testing.T) {
	e := startEnv(t, api.Config{BodyLimit: 4 << 10})
	create := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens"
	valid := "FactorType=push&Identity=abcdefgh"
	big := func(n int) string { return strings.Repeat("n", n) }

	tests := []struct {
		name        string
		header      http.Header
		body        string
		wantStatus  int
		wantCode    int
		wantMessage string
	}{
		{name: "body over the limit", body: valid + "&FactorFriendlyName=" + big(5<<10), wantStatus: 413, wantCode: 20413},
		{name: "field over its maxLength", body: valid + "&FactorFriendlyName=" + big(65), wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorFriendlyName"},
		{name: "field far over its maxLength", body: valid + "&FactorFriendlyName=" + big(3<<10), wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorFriendlyName"},
		{name: "Identity far over its maxLength", body: "FactorType=push&Identity=" + big(3<<10), wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Identity"},
		{name: "Ttl of 3000 digits", body: valid + "&Ttl=" + strings.Repeat("9", 3000), wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Ttl"},
		{name: "one header over 16 KiB", header: http.Header{"X-Padding": {big(16 << 10)}}, body: valid, wantStatus: 431, wantCode: 20431, wantMessage: "Request Header Fields Too Large"},
		{name: "many headers over 16 KiB", header: manyHeaders(40, 500), body: valid, wantStatus: 431, wantCode: 20431, wantMessage: "Request Header Fields Too Large"},
		{name: "Authorization over 16 KiB", header: http.Header{"Authorization": {"Basic " + big(16<<10)}}, body: valid, wantStatus: 431, wantCode: 20431, wantMessage: "Request Header Fields Too Large"},
		{name: "headers just under 16 KiB", header: http.Header{"X-Padding": {big(15 << 10)}}, body: valid, wantStatus: 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := countTokens(t, e)
			req, err := http.NewRequest(http.MethodPost, e.URL+create, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for name, values := range tc.header {
				req.Header[name] = values
			}
			req.Header.Set("Content-Type", formType)
			if req.Header.Get("Authorization") == "" {
				req.SetBasicAuth(e.A.AccountSID, e.A.AuthToken)
			}
			resp, body := send(t, req)
			after := countTokens(t, e)
			if tc.wantStatus == 201 {
				if resp.StatusCode != 201 || after != before+1 {
					t.Errorf("status = %d (body %s), %d tokens created; want 201 and 1", resp.StatusCode, body, after-before)
				}
				return
			}
			checkErrorBody(t, resp, body, tc.wantStatus, tc.wantCode)
			if tc.wantMessage != "" && !strings.Contains(string(body), `"message":"`+tc.wantMessage+`"`) {
				t.Errorf("body %s, want message %q", body, tc.wantMessage)
			}
			if after != before {
				t.Errorf("a rejected request changed the store: %d tokens before, %d after", before, after)
			}
		})
	}
}

func manyHeaders(n, size int) http.Header {
	h := http.Header{}
	for i := range n {
		h.Set(fmt.Sprintf("X-Padding-%d", i), strings.Repeat("p", size))
	}
	return h
}

func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestChunkedBodyOverLimit: a body without Content-Length is cut off at the
// limit as it streams in, with the same 413 as a declared one, and the
// server closes the connection rather than read the rest.
func TestChunkedBodyOverLimit(t *testing.T) {
	e := startEnv(t, api.Config{BodyLimit: 1 << 10})
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.URL+"/v2/Services/"+e.A.ServiceSID+"/AccessTokens", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", formType)
	req.SetBasicAuth(e.A.AccountSID, e.A.AuthToken)
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n", req.URL.RequestURI(), u.Host)
	for name := range req.Header {
		fmt.Fprintf(&head, "%s: %s\r\n", name, req.Header.Get(name))
	}
	head.WriteString("\r\n")
	chunk := "FactorType=push&Identity=abcdefgh&FactorFriendlyName=" + strings.Repeat("n", 200)
	var raw strings.Builder
	raw.WriteString(head.String())
	for range 8 { // 8 chunks of ~250 bytes: about 2 KiB, twice the limit
		fmt.Fprintf(&raw, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	raw.WriteString("0\r\n\r\n")
	if _, err := io.WriteString(conn, raw.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkErrorBody(t, resp, body, 413, 20413)
	if !resp.Close {
		t.Error("the connection stays open after a body over the limit; the server would read the rest of it")
	}
	if n := countTokens(t, e); n != 0 {
		t.Errorf("%d tokens created, want 0", n)
	}
}

// TestSlowClient: a client that dribbles its request is disconnected once
// the server's read timeouts pass, and holds no handler meanwhile.
func TestSlowClient(t *testing.T) {
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name        string
		readTimeout time.Duration // besides ReadHeaderTimeout
		// head is sent at once, then the client sends one byte every 20 ms.
		head func(e *env) string
	}{
		{
			name: "header",
			head: func(e *env) string {
				return "POST /v2/Services/" + e.A.ServiceSID + "/AccessTokens HTTP/1.1\r\nHost: verifyd\r\nX-Slow: "
			},
		},
		{
			// The handler is authenticated and blocked reading the form.
			name:        "body",
			readTimeout: timeout,
			head: func(e *env) string {
				return "POST /v2/Services/" + e.A.ServiceSID + "/AccessTokens HTTP/1.1\r\nHost: verifyd\r\n" +
					"Content-Type: " + formType + "\r\nContent-Length: 1000\r\n" +
					"Authorization: " + basic(e.A.AccountSID+":"+e.A.AuthToken) + "\r\n\r\nFactorType=push&Identity="
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t, api.Config{})
			h, err := api.NewHandler(api.Config{}, e.Store, e.Keys, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: timeout, ReadTimeout: tc.readTimeout}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })

			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tc.head(e)); err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			dribbled := make(chan struct{})
			go func() {
				defer close(dribbled)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
						if _, err := conn.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}()

			const bound = 3 * time.Second
			if err := conn.SetReadDeadline(time.Now().Add(bound)); err != nil {
				t.Fatal(err)
			}
			var answer strings.Builder
			_, err = io.Copy(&answer, conn) // until the server closes
			elapsed := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server still held the connection after %v", bound)
			}
			if strings.HasPrefix(answer.String(), "HTTP/1.1 5") {
				t.Errorf("the server answered a slow client with a 5xx: %q", answer.String())
			}
			if elapsed < timeout/2 { // the server's clock started a little before ours
				t.Errorf("the server closed the connection after %v, well before its %v timeout", elapsed, timeout)
			}
			stop()
			<-dribbled
		})
	}
}

// authEnv serves a handler in-process so that each request can come from
// any client address, on a clock the test moves.
type authEnv struct {
	h      http.Handler
	clock  *fakeClock
	a      tenant
	create string
	fetch  string // an existing token of A's
}

func newAuthEnv(t *testing.T, cfg api.Config) *authEnv {
	t.Helper()
	st := openStore(t)
	keys, err := provision.KeySet(context.Background(), st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	cfg.Now = clock.Now
	h, err := api.NewHandler(cfg, st, keys, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := newTenant(t, st, "A")
	e := &authEnv{h: h, clock: clock, a: a, create: "/v2/Services/" + a.ServiceSID + "/AccessTokens"}
	req := httptest.NewRequest(http.MethodPost, e.create, strings.NewReader("FactorType=push&Identity=abcdefgh"))
	req.Header.Set("Content-Type", formType)
	req.SetBasicAuth(a.AccountSID, a.AuthToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", rec.Code, rec.Body)
	}
	e.fetch = e.create + "/" + rec.Body.String()[strings.Index(rec.Body.String(), `"sid":"`)+7:][:34]
	return e
}

// authStep is count identical fetches of an existing token, after
// advancing the clock: 200 when authenticated.
type authStep struct {
	advance    time.Duration
	count      int // 1 when zero
	remoteAddr string
	xff        string
	creds      string // "account", "key", "wrong", "garbage" (not Basic) or "" (none)
	wantStatus int
	wantRetry  string // Retry-After of a 429
}

func (e *authEnv) run(t *testing.T, i int, s authStep) {
	t.Helper()
	e.clock.Advance(s.advance)
	for n := range max(s.count, 1) {
		req := httptest.NewRequest(http.MethodGet, e.fetch, nil)
		req.RemoteAddr = s.remoteAddr
		if s.xff != "" {
			req.Header.Set("X-Forwarded-For", s.xff)
		}
		switch s.creds {
		case "account":
			req.SetBasicAuth(e.a.AccountSID, e.a.AuthToken)
		case "key":
			req.SetBasicAuth(e.a.APIKeySID, e.a.APISecret)
		case "wrong":
			req.SetBasicAuth(e.a.AccountSID, fmt.Sprintf("%032x", n+1))
		case "garbage":
			req.Header.Set("Authorization", "Bearer x")
		}
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		resp := rec.Result()
		body := rec.Body.Bytes()
		if resp.StatusCode != s.wantStatus {
			t.Fatalf("step %d request %d (%s from %s %s): status %d, want %d (body %s)", i, n+1, s.creds, s.remoteAddr, s.xff, resp.StatusCode, s.wantStatus, body)
		}
		switch s.wantStatus {
		case 429:
			checkErrorBody(t, resp, body, 429, 20429)
			if got := resp.Header.Get("Retry-After"); got != s.wantRetry {
				t.Errorf("step %d request %d: Retry-After = %q, want %q", i, n+1, got, s.wantRetry)
			}
		case 401:
			checkErrorBody(t, resp, body, 401, 20003)
		}
	}
}

// TestAuthFailureLimit: a credential that fails authentication too often
// from one client is refused with 429 · 20429 and Retry-After before it is
// checked, valid secrets included, until its allowance refills; other
// clients, other credentials of the client, and successes are not
// limited.
func TestAuthFailureLimit(t *testing.T) {
	const (
		c1, c2 = "192.0.2.1:40000", "192.0.2.2:40000"
		v6a    = "[2001:db8:0:1::a]:40000"
		v6b    = "[2001:db8:0:1::b]:40000" // same /64 as v6a
		v6c    = "[2001:db8:0:2::a]:40000" // another /64
		proxy  = "10.0.0.1:40000"
	)
	tests := []struct {
		name  string
		cfg   api.Config
		steps []authStep
	}{
		{name: "defaults: 10 per minute per credential", steps: []authStep{
			{count: 10, remoteAddr: c1, creds: "wrong", wantStatus: 401},
			{remoteAddr: c1, creds: "wrong", wantStatus: 429, wantRetry: "6"},
			{remoteAddr: c1, creds: "account", wantStatus: 429, wantRetry: "6"},
			// Another credential of the same client is not refused.
			{remoteAddr: c1, creds: "key", wantStatus: 200},
			{remoteAddr: c1, creds: "", wantStatus: 401},
			{remoteAddr: c2, creds: "account", wantStatus: 200},
			{remoteAddr: c2, creds: "wrong", wantStatus: 401},
			{advance: 5 * time.Second, remoteAddr: c1, creds: "account", wantStatus: 429, wantRetry: "1"},
			{advance: time.Second, count: 3, remoteAddr: c1, creds: "account", wantStatus: 200},
			{remoteAddr: c1, creds: "wrong", wantStatus: 401},
			{remoteAddr: c1, creds: "account", wantStatus: 429, wantRetry: "6"},
			// Authorization values that are not Basic SIDs share one allowance.
			{advance: time.Minute, count: 10, remoteAddr: c1, creds: "garbage", wantStatus: 401},
			{remoteAddr: c1, creds: "garbage", wantStatus: 429, wantRetry: "6"},
			{remoteAddr: c1, creds: "account", wantStatus: 200},
		}},
		{name: "successes are never limited", steps: []authStep{
			{count: 50, remoteAddr: c1, creds: "account", wantStatus: 200},
			{count: 9, remoteAddr: c1, creds: "wrong", wantStatus: 401},
			{count: 20, remoteAddr: c1, creds: "key", wantStatus: 200},
			{remoteAddr: c1, creds: "wrong", wantStatus: 401},
			{remoteAddr: c1, creds: "wrong", wantStatus: 429, wantRetry: "6"},
		}},
		{name: "requests without credentials do not count", steps: []authStep{
			{count: 30, remoteAddr: c1, creds: "", wantStatus: 401},
			{remoteAddr: c1, creds: "account", wantStatus: 200},
		}},
		{name: "IPv6 clients are limited by /64", steps: []authStep{
			{count: 5, remoteAddr: v6a, creds: "wrong", wantStatus: 401},
			{count: 5, remoteAddr: v6b, creds: "wrong", wantStatus: 401},
			{remoteAddr: v6a, creds: "account", wantStatus: 429, wantRetry: "6"},
			{remoteAddr: v6c, creds: "account", wantStatus: 200},
		}},
		{name: "limit and window configured", cfg: api.Config{AuthFailureLimit: 3, AuthFailureWindow: 30 * time.Second}, steps: []authStep{
			{count: 3, remoteAddr: c1, creds: "wrong", wantStatus: 401},
			{remoteAddr: c1, creds: "account", wantStatus: 429, wantRetry: "10"},
			{advance: 30 * time.Second, remoteAddr: c1, creds: "account", wantStatus: 200},
		}},
		{name: "no limit when negative", cfg: api.Config{AuthFailureLimit: -1}, steps: []authStep{
			{count: 100, remoteAddr: c1, creds: "wrong", wantStatus: 401},
			{remoteAddr: c1, creds: "account", wantStatus: 200},
		}},
		{name: "X-Forwarded-For is not trusted by default", steps: []authStep{
			{count: 5, remoteAddr: c1, xff: "198.51.100.1", creds: "wrong", wantStatus: 401},
			{count: 5, remoteAddr: c1, xff: "198.51.100.2", creds: "wrong", wantStatus: 401},
			{remoteAddr: c1, xff: "198.51.100.3", creds: "account", wantStatus: 429, wantRetry: "6"},
		}},
		{name: "X-Forwarded-For trusted behind a proxy", cfg: api.Config{TrustForwardedFor: true}, steps: []authStep{
			{count: 10, remoteAddr: proxy, xff: "198.51.100.1", creds: "wrong", wantStatus: 401},
			{remoteAddr: proxy, xff: "198.51.100.1", creds: "account", wantStatus: 429, wantRetry: "6"},
			// A client cannot escape by prepending entries: the proxy appends its peer last.
			{remoteAddr: proxy, xff: "203.0.113.7, 198.51.100.1", creds: "account", wantStatus: 429, wantRetry: "6"},
			{remoteAddr: proxy, xff: "198.51.100.2", creds: "account", wantStatus: 200},
			{remoteAddr: proxy, creds: "account", wantStatus: 200},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newAuthEnv(t, tc.cfg)
			for i, s := range tc.steps {
				e.run(t, i, s)
			}
		})
	}
}

// TestAuthFailureLimitConcurrent: of many goroutines guessing at once from
// one client, exactly the limit are checked and the rest refused, for no
// longer than one failure's refill; the limiter is race-free.
func TestAuthFailureLimitConcurrent(t *testing.T) {
	e := newAuthEnv(t, api.Config{})
	e.run(t, 0, authStep{remoteAddr: "192.0.2.1:1", creds: "account", wantStatus: 200}) // warms the credential cache
	var wg sync.WaitGroup
	statuses := make(chan int, 200)
	for i := range 200 {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, e.fetch, nil)
			req.RemoteAddr = "192.0.2.1:1"
			req.SetBasicAuth(e.a.AccountSID, fmt.Sprintf("%032x", i))
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			statuses <- rec.Code
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[401] != 10 || count[429] != 190 {
		t.Errorf("statuses = %v, want 10 × 401 and 190 × 429", count)
	}
	t.Logf("statuses: %v", count)
	e.run(t, 1, authStep{remoteAddr: "192.0.2.1:1", creds: "account", wantStatus: 429, wantRetry: "6"})
}

// TestCrossAccountIndistinguishable: another account's service or token
// answers exactly like a missing one, headers included, and probing them
// costs no failed authentications.
func TestCrossAccountIndistinguishable(t *testing.T) {
	e := startEnv(t, api.Config{})
	a := e.A.AccountSID + ":" + e.A.AuthToken
	resp, body := e.do(t, http.MethodPost, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens", formType, "FactorType=push&Identity=abcdefgh", a)
	if resp.StatusCode != 201 {
		t.Fatalf("create = %d %s", resp.StatusCode, body)
	}
	tokenA := string(body[strings.Index(string(body), `"sid":"`)+7:][:34])
	missingSvc := "VA" + strings.Repeat("0", 32)
	missingTok := "YK" + strings.Repeat("0", 32)
	tokens := func(svc string) string { return "/v2/Services/" + svc + "/AccessTokens" }

	tests := []struct {
		name          string
		method        string
		other, absent string // another account's resource, and a missing one
	}{
		{name: "fetch A's token in A's service", method: "GET", other: tokens(e.A.ServiceSID) + "/" + tokenA, absent: tokens(e.A.ServiceSID) + "/" + missingTok},
		{name: "fetch A's token in B's service", method: "GET", other: tokens(e.B.ServiceSID) + "/" + tokenA, absent: tokens(e.B.ServiceSID) + "/" + missingTok},
		{name: "fetch in A's service", method: "GET", other: tokens(e.A.ServiceSID) + "/" + missingTok, absent: tokens(missingSvc) + "/" + missingTok},
		{name: "create in A's service", method: "POST", other: tokens(e.A.ServiceSID), absent: tokens(missingSvc)},
	}
	for _, creds := range []struct{ name, auth string }{
		{"account", e.B.AccountSID + ":" + e.B.AuthToken},
		{"API key", e.B.APIKeySID + ":" + e.B.APISecret},
	} {
		for _, tc := range tests {
			t.Run(creds.name+"/"+tc.name, func(t *testing.T) {
				var ct, form string
				if tc.method == "POST" {
					ct, form = formType, "FactorType=push&Identity=abcdefgh"
				}
				respO, bodyO := e.do(t, tc.method, tc.other, ct, form, creds.auth)
				respM, bodyM := e.do(t, tc.method, tc.absent, ct, form, creds.auth)
				checkErrorBody(t, respO, bodyO, 404, 20404)
				checkErrorBody(t, respM, bodyM, 404, 20404)
				if o, m := strings.ReplaceAll(string(bodyO), tc.other, "PATH"), strings.ReplaceAll(string(bodyM), tc.absent, "PATH"); o != m {
					t.Errorf("another account's resource answers %s, a missing one %s", bodyO, bodyM)
				}
				if o, m := headerShape(respO.Header), headerShape(respM.Header); o != m {
					t.Errorf("headers differ:\nother   %s\nmissing %s", o, m)
				}
			})
		}
	}
	// Twenty more probes: authenticated, so they never trip the failure limit.
	for range 20 {
		e.do(t, http.MethodGet, tests[0].other, "", "", e.B.AccountSID+":"+e.B.AuthToken)
	}
	resp, body = e.do(t, http.MethodPost, tokens(e.B.ServiceSID), formType, "FactorType=push&Identity=abcdefgh", e.B.AccountSID+":"+e.B.AuthToken)
	if resp.StatusCode != 201 {
		t.Errorf("B's own create after probing = %d %s, want 201", resp.StatusCode, body)
	}
}

// headerShape is a response's headers, without those that differ on every
// request.
func headerShape(h http.Header) string {
	h = h.Clone()
	h.Del("Date")
	h.Del("Twilio-Request-Id")
	return fmt.Sprint(h)
}
