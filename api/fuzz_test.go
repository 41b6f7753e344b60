package api_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/credential"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/internal/validate"
)

// The fuzz store's records have fixed SIDs and secrets, so that seeds and
// corpus entries name real resources in every run.
var (
	fuzzA = tenant{
		AccountSID: "AC" + strings.Repeat("a", 32), AuthToken: strings.Repeat("1", 32),
		APIKeySID: "SK" + strings.Repeat("a", 32), APISecret: strings.Repeat("2", 32),
		ServiceSID: "VA" + strings.Repeat("a", 32),
	}
	fuzzB = tenant{
		AccountSID: "AC" + strings.Repeat("b", 32), AuthToken: strings.Repeat("3", 32),
		APIKeySID: "SK" + strings.Repeat("b", 32), APISecret: strings.Repeat("4", 32),
		ServiceSID: "VA" + strings.Repeat("b", 32),
	}
	// fuzzTokenSID is an access token of A's service.
	fuzzTokenSID = "YK" + strings.Repeat("a", 32)
)

const fuzzBodyLimit = 2 << 10

// fuzzHeaders are the header names the fuzzer gives a value; the value of
// Host is the test's.
var fuzzHeaders = []string{
	"X-Fuzz", "Accept", "Content-Length", "Transfer-Encoding", "Cookie",
	"X-Forwarded-For", "Origin", "Content-Encoding", "Expect", "Connection",
	"Accept-Encoding", "Access-Control-Request-Method",
}

// headerPad, in the byte that picks a header, repeats its value over 16 KiB.
const headerPad = 0x80

// Authorization modes of FuzzHandler, in the low bits of a byte whose top
// bits are flags.
const (
	authPadBody = 0x80 // pad the body over the body limit
	authLimited = 0x40 // fail authentication once with account A's SID, from the same client, just before
	authFlags   = authPadBody | authLimited
)

const (
	authNone     = iota
	authAccountA // A's account SID and auth token
	authKeyA     // A's API key and secret
	authAccountB // B's account SID and auth token
	authWrongA   // A's account SID, the fuzzed string as password
	authRaw      // the fuzzed string as the whole header value
	authBasicRaw // "Basic " + base64 of the fuzzed string
	authModes
)

// fuzzEnv is a handler over a SQLite store, and a read-only view of the
// same file to count rows with.
type fuzzEnv struct {
	h      http.Handler
	router routers.Router
	db     *sql.DB
	ticks  atomic.Int64
	tokens int // rows of access_tokens the store should hold
}

func newFuzzEnv(f testing.TB) *fuzzEnv {
	f.Helper()
	ctx := context.Background()
	path := filepath.Join(f.TempDir(), "verifyd.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tn := range []tenant{fuzzA, fuzzB} {
		err := errors.Join(
			st.CreateAccount(ctx, store.Account{SID: tn.AccountSID, FriendlyName: "fuzz", AuthTokenHash: credential.Hash(tn.AuthToken), DateCreated: t0}),
			st.CreateAPIKey(ctx, store.APIKey{SID: tn.APIKeySID, AccountSID: tn.AccountSID, FriendlyName: "fuzz", SecretHash: credential.Hash(tn.APISecret), DateCreated: t0}),
			st.CreateService(ctx, store.Service{SID: tn.ServiceSID, AccountSID: tn.AccountSID, FriendlyName: "fuzz", DateCreated: t0}),
		)
		if err != nil {
			f.Fatal(err)
		}
	}
	key, err := token.NewKey(t0)
	if err != nil {
		f.Fatal(err)
	}
	keys, err := token.NewKeySet(key)
	if err != nil {
		f.Fatal(err)
	}
	jwe, err := token.Mint(keys, token.Claims{Identity: "abcdefgh", AccountSID: fuzzA.AccountSID, ServiceSID: fuzzA.ServiceSID,
		FactorType: "push", IssuedAt: t0.Unix(), ExpiresAt: t0.Unix() + 60, SID: fuzzTokenSID})
	if err != nil {
		f.Fatal(err)
	}
	err = st.CreateAccessToken(ctx, store.AccessToken{SID: fuzzTokenSID, AccountSID: fuzzA.AccountSID, ServiceSID: fuzzA.ServiceSID,
		Identity: "abcdefgh", FactorType: "push", TTL: 60, Token: jwe, DateCreated: t0})
	if err != nil {
		f.Fatal(err)
	}

	fx := &fuzzEnv{tokens: 1}
	// One failed authentication per minute: the clock moves a minute on
	// with every input, so only an input that asks for it (authLimited)
	// meets the limit, and each input's answer depends on that input alone.
	now := func() time.Time { return t0.Add(time.Duration(fx.ticks.Load()) * 61 * time.Second) }
	cfg := api.Config{BodyLimit: fuzzBodyLimit, Now: now, AuthFailureLimit: 1, AuthFailureWindow: time.Minute}
	fx.h, err = api.NewHandler(cfg, st, keys, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	doc, err := validate.LoadSpec(ctx)
	if err != nil {
		f.Fatal(err)
	}
	doc.Servers = nil // verifyd answers on any host
	if fx.router, err = legacy.NewRouter(doc); err != nil {
		f.Fatal(err)
	}
	fx.db, err = sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		f.Fatal(err)
	}
	fx.db.SetMaxOpenConns(1)
	f.Cleanup(func() { _ = fx.db.Close() })
	if n := fx.count(f); n != 1 {
		f.Fatalf("the read-only view counts %d access tokens, want 1", n)
	}
	return fx
}

// count returns the number of access tokens in the store's file.
func (fx *fuzzEnv) count(tb testing.TB) int {
	tb.Helper()
	var n int
	if err := fx.db.QueryRow("SELECT count(*) FROM access_tokens").Scan(&n); err != nil {
		tb.Fatalf("count access tokens: %v", err)
	}
	return n
}

// fuzzSeed is one table case that seeds FuzzHandler.
type fuzzSeed struct {
	method, target string
	auth           uint8
	cred           string
	contentType    string
	header         uint8 // index into fuzzHeaders, or headerPad with it
	headerValue    string
	body           string
	want           int // the status the seed gets; 0: any below 500
}

func fuzzSeeds() []fuzzSeed {
	list := "/v2/Services/" + fuzzA.ServiceSID + "/AccessTokens"
	fetch := list + "/" + fuzzTokenSID
	listB := "/v2/Services/" + fuzzB.ServiceSID + "/AccessTokens"
	const valid = "FactorType=push&Identity=abcdefgh"
	full := "FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&FactorFriendlyName=John+Doe+iPhone&Ttl=300"
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(valid), valid)
	basicA := fuzzA.AccountSID + ":" + fuzzA.AuthToken
	return []fuzzSeed{
		{method: "POST", target: list, auth: authAccountA, contentType: formType, body: valid, want: 201},
		{method: "POST", target: list, auth: authKeyA, contentType: formType, body: full, want: 201},
		{method: "POST", target: listB, auth: authAccountB, contentType: formType + "; charset=utf-8", body: valid, want: 201},
		{method: "GET", target: fetch, auth: authAccountA, want: 200},
		{method: "GET", target: fetch, auth: authKeyA, header: 1, headerValue: "application/json", want: 200},
		{method: "GET", target: fetch, auth: authAccountB, want: 404},
		{method: "POST", target: list, auth: authAccountB, contentType: formType, body: valid, want: 404},
		{method: "GET", target: listB + "/" + fuzzTokenSID, auth: authAccountB, want: 404},
		{method: "GET", target: fetch, auth: authWrongA, cred: strings.Repeat("0", 32), want: 401},
		{method: "GET", target: fetch, auth: authWrongA, want: 401},
		{method: "GET", target: fetch, auth: authRaw, cred: "Bearer x", want: 401},
		{method: "GET", target: fetch, auth: authRaw, cred: "Basic " + base64.StdEncoding.EncodeToString([]byte(basicA)), want: 200},
		{method: "GET", target: fetch, auth: authBasicRaw, cred: basicA, want: 200},
		{method: "GET", target: fetch, auth: authBasicRaw, cred: "admin:admin", want: 401},
		{method: "GET", target: fetch, auth: authNone, want: 401},
		{method: "GET", target: list + "/YK123", auth: authAccountA, want: 400},
		{method: "GET", target: list + "/YK" + strings.Repeat("g", 32), auth: authAccountA, want: 400},
		{method: "GET", target: list + "/YK" + strings.Repeat("a", 31) + "%00", auth: authAccountA, want: 400},
		{method: "GET", target: list + "/YK" + strings.Repeat("a", 30) + "%2F1", auth: authAccountA, want: 400},
		{method: "GET", target: "/v2/Services/%56%41" + fuzzA.ServiceSID[2:] + "/AccessTokens/" + fuzzTokenSID, auth: authAccountA, want: 200},
		{method: "GET", target: fetch + "/", auth: authAccountA, want: 404},
		{method: "GET", target: "/v2/Services", auth: authAccountA, want: 404},
		{method: "GET", target: "http://other.example" + fetch, auth: authAccountA, want: 200},
		{method: "DELETE", target: fetch, auth: authAccountA, want: 405},
		{method: "GET", target: list, auth: authAccountA, want: 405},
		{method: "HEAD", target: fetch, auth: authAccountA, want: 405},
		{method: "OPTIONS", target: list, header: 11, headerValue: "POST", want: 204},
		{method: "OPTIONS", target: "*", want: 204},
		{method: "BREW", target: fetch, auth: authAccountA, want: 405},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, body: "FactorType=push", want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, body: valid + "&Ttl=59", want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, body: valid + "&Ttl=60&Ttl=120", want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, body: valid + "&Color=red", want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, body: "Identity=%zz&FactorType=push", want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, body: valid + "&FactorFriendlyName=" + strings.Repeat("n", 65), want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: "application/json", body: `{"Identity":"abcdefgh","FactorType":"push"}`, want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"Identity\"\r\n\r\nabcdefgh\r\n--x--\r\n", want: 400},
		{method: "POST", target: list, auth: authAccountA, body: valid, want: 400},
		{method: "POST", target: list, auth: authAccountA | authPadBody, contentType: formType, body: valid, want: 413},
		{method: "POST", target: list, auth: authAccountA | authLimited, contentType: formType, body: valid, want: 429},
		// The failure was the account SID's: the API key is another credential.
		{method: "GET", target: fetch, auth: authKeyA | authLimited, want: 200},
		// Without credentials nothing is checked, so nothing is limited.
		{method: "GET", target: "/v2/Services", auth: authNone | authLimited, want: 401},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, header: 3, headerValue: "chunked", body: chunked, want: 201},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, header: 2, headerValue: "5", body: valid, want: 400},
		{method: "POST", target: list, auth: authAccountA, contentType: formType, header: 7, headerValue: "gzip", body: valid, want: 201},
		{method: "GET", target: fetch, auth: authAccountA, header: headerPad, headerValue: "pad", want: 431},
		{method: "GET", target: fetch, auth: authWrongA, header: 5, headerValue: "198.51.100.1", want: 401},
		{method: "GET", target: "/healthz", want: 200},
		{method: "GET", target: "/readyz", want: 200},
		{method: "GET", target: "/metrics", want: 200},
		{method: "GET", target: "/openapi.json", want: 200},
		// MCP tools call the operations with the request's credentials;
		// their statuses are mcp.go's to pin.
		{method: "POST", target: "/mcp", auth: authAccountA, contentType: "application/json", header: 1, headerValue: "application/json, text/event-stream",
			body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}`},
		{method: "POST", target: "/mcp", auth: authAccountA, contentType: "application/json", header: 1, headerValue: "application/json, text/event-stream",
			body: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_access_token","arguments":{"service_sid":"` + fuzzA.ServiceSID + `","identity":"abcdefgh","factor_type":"push"}}}`},
		{method: "POST", target: "/mcp", auth: authWrongA, contentType: "application/json", header: 1, headerValue: "application/json, text/event-stream",
			body: `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"fetch_access_token","arguments":{"service_sid":"` + fuzzA.ServiceSID + `","sid":"` + fuzzTokenSID + `"}}}`},
	}
}

// FuzzHandler drives the whole handler with hostile requests, parsed from
// bytes exactly as net/http's server parses them, and checks that every
// answer is one the spec declares for the operation (status, headers and
// body), or a Twilio error outside the spec's paths; that nothing fails
// with 5xx while the store is healthy; that no request reaches another
// account's data; and that only a 201 adds a row.
func FuzzHandler(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.method, s.target, s.auth, s.cred, s.contentType, s.header, s.headerValue, s.body)
	}
	fx := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, method, target string, auth uint8, cred, contentType string, header uint8, headerValue, body string) {
		fx.serve(t, method, target, auth, cred, contentType, header, headerValue, body)
	})
}

// TestHandlerSeeds runs FuzzHandler's seeds as a table, with the status
// each must get, so that the seeds stay meaningful.
func TestHandlerSeeds(t *testing.T) {
	fx := newFuzzEnv(t)
	for i, s := range fuzzSeeds() {
		t.Run(fmt.Sprintf("seed#%d", i), func(t *testing.T) {
			got := fx.serve(t, s.method, s.target, s.auth, s.cred, s.contentType, s.header, s.headerValue, s.body)
			if s.want != 0 && got != s.want {
				t.Errorf("%s %s: status = %d, want %d", s.method, s.target, got, s.want)
			}
		})
	}
}

// serve sends one fuzzed request and checks the invariants; it returns the
// status, or 0 when net/http's server would refuse the request itself.
func (fx *fuzzEnv) serve(t *testing.T, method, target string, auth uint8, cred, contentType string, header uint8, headerValue, body string) int {
	t.Helper()
	fx.ticks.Add(1)
	req := fuzzRequest(method, target, auth, cred, contentType, header, headerValue, body)
	if req == nil {
		return 0
	}
	if auth&authLimited != 0 {
		fail := httptest.NewRequest(http.MethodGet, "/v2/Services/"+fuzzA.ServiceSID+"/AccessTokens/"+fuzzTokenSID, nil)
		fail.RemoteAddr = req.RemoteAddr
		fail.SetBasicAuth(fuzzA.AccountSID, "wrong")
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, fail)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("a wrong secret answered %d, want 401", rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	fx.h.ServeHTTP(rec, req)
	if rec.Code == http.StatusCreated {
		fx.tokens++
	}
	got := fx.count(t)
	if got != fx.tokens && !outsideContract(req.URL.Path) { // MCP tools may create tokens
		t.Errorf("%s %q answered %d and left %d access tokens, want %d", req.Method, target, rec.Code, got, fx.tokens)
	}
	fx.tokens = got
	if err := fx.check(req, rec, auth); err != nil {
		t.Errorf("%s %q (auth mode %d) answered %d %q: %v", req.Method, target, auth, rec.Code, rec.Body.Bytes(), err)
	}
	return rec.Code
}

// outsideContract reports whether path is served outside openapi.yaml and
// its Twilio errors.
func outsideContract(path string) bool {
	switch path {
	case "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/openapi.json", "/docs", "/mcp":
		return true
	}
	return false
}

// fuzzRequest writes the request out as a client would, and reads it back
// with http.ReadRequest; nil when net/http's server would refuse it.
func fuzzRequest(method, target string, auth uint8, cred, contentType string, header uint8, headerValue, body string) *http.Request {
	if method == "" {
		method = "GET"
	}
	if target == "" {
		target = "/"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: verifyd.test\r\n", method, target)
	switch auth &^ authFlags % authModes {
	case authAccountA:
		fmt.Fprintf(&b, "Authorization: %s\r\n", basic(fuzzA.AccountSID+":"+fuzzA.AuthToken))
	case authKeyA:
		fmt.Fprintf(&b, "Authorization: %s\r\n", basic(fuzzA.APIKeySID+":"+fuzzA.APISecret))
	case authAccountB:
		fmt.Fprintf(&b, "Authorization: %s\r\n", basic(fuzzB.AccountSID+":"+fuzzB.AuthToken))
	case authWrongA:
		fmt.Fprintf(&b, "Authorization: %s\r\n", basic(fuzzA.AccountSID+":"+cred))
	case authRaw:
		fmt.Fprintf(&b, "Authorization: %s\r\n", cred)
	case authBasicRaw:
		fmt.Fprintf(&b, "Authorization: %s\r\n", basic(cred))
	}
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	name := fuzzHeaders[int(header&^headerPad)%len(fuzzHeaders)]
	if header&headerPad != 0 {
		headerValue = strings.Repeat(headerValue+"x", (16<<10)/(len(headerValue)+1)+1)
	}
	fmt.Fprintf(&b, "%s: %s\r\n", name, headerValue)
	if auth&authPadBody != 0 {
		body = strings.Repeat(body+"&", fuzzBodyLimit/(len(body)+1)+1)
	}
	if name != "Content-Length" && name != "Transfer-Encoding" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)

	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(b.String())))
	if err != nil {
		return nil
	}
	if req.ProtoMajor != 1 { // the server answers 505
		return nil
	}
	req.RemoteAddr = "192.0.2.1:40000"
	return req
}

func basic(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

// check returns why the response breaks the contract, or nil.
func (fx *fuzzEnv) check(req *http.Request, rec *httptest.ResponseRecorder, auth uint8) error {
	status, body := rec.Code, rec.Body.Bytes()
	if status >= 500 {
		return errors.New("a 5xx while the store is healthy")
	}
	switch {
	case outsideContract(req.URL.Path):
		return nil
	case req.Method == http.MethodOptions:
		if status != http.StatusNoContent || len(body) != 0 {
			return errors.New("preflight is not 204 without a body")
		}
		return nil
	case req.Method == http.MethodHead:
		if len(body) != 0 {
			return errors.New("a body in the answer to HEAD")
		}
		if status < 400 {
			return errors.New("HEAD is outside the contract, yet succeeded")
		}
		return nil
	}

	route, params, err := fx.router.FindRoute(req)
	if err != nil {
		// Outside the spec: still a Twilio error.
		if status < 400 {
			return fmt.Errorf("success for a request outside the spec: %w", err)
		}
		return checkTwilioError(status, rec.Header(), body)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus:   true,
		SchemaValidationOptions: validate.SchemaOptions(),
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
	if err != nil {
		return fmt.Errorf("not the spec's answer for %s: %w", route.Operation.OperationID, err)
	}
	if status >= 400 {
		return checkTwilioError(status, rec.Header(), body)
	}
	return checkOwner(auth, params, body)
}

// checkTwilioError checks what the spec cannot say: the body's status is the
// HTTP status, and the body is the Error JSON even where no spec route
// applies.
func checkTwilioError(status int, h http.Header, body []byte) error {
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Code     *int    `json:"code"`
		Message  *string `json:"message"`
		MoreInfo *string `json:"more_info"`
		Status   *int    `json:"status"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	if e.Code == nil || e.Message == nil || e.MoreInfo == nil || e.Status == nil {
		return errors.New("error body lacks code, message, more_info or status")
	}
	if *e.Status != status {
		return fmt.Errorf("body status %d, HTTP status %d", *e.Status, status)
	}
	if want := fmt.Sprintf("https://www.twilio.com/docs/errors/%d", *e.Code); *e.MoreInfo != want {
		return fmt.Errorf("more_info %q, want %q", *e.MoreInfo, want)
	}
	return nil
}

// checkOwner checks that a success shows only the caller's account's data.
func checkOwner(auth uint8, params map[string]string, body []byte) error {
	var tok struct {
		SID        string `json:"sid"`
		AccountSID string `json:"account_sid"`
		ServiceSID string `json:"service_sid"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return fmt.Errorf("success body: %w", err)
	}
	owner := map[string]string{fuzzA.ServiceSID: fuzzA.AccountSID, fuzzB.ServiceSID: fuzzB.AccountSID}
	if owner[tok.ServiceSID] != tok.AccountSID || tok.AccountSID == "" {
		return fmt.Errorf("service %s is not account %s's", tok.ServiceSID, tok.AccountSID)
	}
	if !strings.EqualFold(params["ServiceSid"], tok.ServiceSID) {
		return fmt.Errorf("asked for service %s, got %s", params["ServiceSid"], tok.ServiceSID)
	}
	if sidParam, ok := params["Sid"]; ok && !strings.EqualFold(sidParam, tok.SID) {
		return fmt.Errorf("asked for token %s, got %s", sidParam, tok.SID)
	}
	var want string
	switch auth &^ authFlags % authModes {
	case authAccountA, authKeyA:
		want = fuzzA.AccountSID
	case authAccountB:
		want = fuzzB.AccountSID
	case authNone:
		return errors.New("success without credentials")
	}
	if want != "" && tok.AccountSID != want {
		return fmt.Errorf("credentials of %s reached %s's data", want, tok.AccountSID)
	}
	return nil
}
