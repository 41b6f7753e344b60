package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/internal/validate"
	"github.com/verifykit/verifykit/internal/webhook"
)

// brokenServer returns a fetch result that breaks the spec: its sid is
// not a YK SID.
type brokenServer struct{ *server }

func (b brokenServer) FetchAccessToken(_ context.Context, _ verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	t := store.AccessToken{SID: "not-a-sid", AccountSID: "AC" + strings.Repeat("a", 32), ServiceSID: "VA" + strings.Repeat("a", 32),
		Identity: "abcdefgh", FactorType: "push", TTL: 60, Token: "x", DateCreated: time.Now().UTC().Truncate(time.Second)}
	return verifyserver.FetchAccessToken200JSONResponse{Body: accessToken(t, "http://127.0.0.1")}, nil
}

// misbehaving is a handler around an implementation that breaks the spec
// on purpose, on a real SQLite store and over real HTTP.
type misbehaving struct {
	logs       strings.Builder
	url        string // of a fetch; the implementation decides what it answers
	user, pass string
}

// startMisbehaving serves impl, built on a server over a fresh store, with
// cfg, and returns what a test needs to fetch through it.
func startMisbehaving(t *testing.T, cfg Config, impl func(*server) verifyserver.StrictServerInterface) *misbehaving {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc, secret, err := provision.Account(ctx, st, "a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := &misbehaving{user: acc.SID, pass: secret}
	h, err := newHandler(cfg, st, nil, impl(newServer(st, nil, time.Now, func() {}, loopbackHosts(t))), slog.New(slog.NewJSONHandler(&m.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	m.url = srv.URL + "/v2/Services/VA" + strings.Repeat("a", 32) + "/AccessTokens/YK" + strings.Repeat("b", 32)
	return m
}

// fetch returns the status and body of a fetch.
func (m *misbehaving) fetch(t *testing.T) (int, string) {
	t.Helper()
	_, resp, body := m.do(t)
	return resp.StatusCode, string(body)
}

// do sends a fetch and returns the request, the response and its body.
func (m *misbehaving) do(t *testing.T) (*http.Request, *http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.url, nil)
	req.SetBasicAuth(m.user, m.pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return req, resp, body
}

func TestResponseValidation(t *testing.T) {
	for _, tc := range []struct {
		mode       ResponseValidation
		wantStatus int
	}{
		{ResponseValidationEnforce, http.StatusInternalServerError},
		{ResponseValidationLog, http.StatusOK},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			m := startMisbehaving(t, Config{ResponseValidation: tc.mode}, func(s *server) verifyserver.StrictServerInterface { return brokenServer{s} })
			status, body := m.fetch(t)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", status, tc.wantStatus, body)
			}
			if tc.wantStatus == 500 && !strings.Contains(body, `"code":20500`) {
				t.Errorf("body = %s, want Twilio error 20500", body)
			}
			if !strings.Contains(m.logs.String(), "response violates openapi.yaml") {
				t.Errorf("logs = %s, want a line saying why the response was rejected", m.logs.String())
			}
			if strings.Contains(body, "pattern") || strings.Contains(body, "not-a-sid") && tc.wantStatus == 500 {
				t.Errorf("500 body leaks validation details: %s", body)
			}
		})
	}
}

// TestReplacementIsValid: the 500 that replaces a response breaking the
// spec is the one response not validated as it is sent (it would have
// nothing to fall back on). It must not depend on what it replaces: its
// body is the fixed Twilio 20500 error, its header fields are those the
// chain sets on every response, and kin-openapi holds it to the spec.
func TestReplacementIsValid(t *testing.T) {
	ctx := context.Background()
	doc, err := validate.LoadSpec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const path = "/v2/Services/{ServiceSid}/AccessTokens/{Sid}"
	item := doc.Paths.Value(path)
	if item == nil || item.Get == nil {
		t.Fatal("no FetchAccessToken operation in the spec")
	}
	route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: http.MethodGet, Operation: item.Get}
	opts := validate.KinOptions() // IncludeResponseStatus: an undeclared 500 fails too
	requestID := regexp.MustCompile(`^RQ[0-9a-f]{32}$`)
	for _, tc := range []struct {
		name string
		impl func(*server) verifyserver.StrictServerInterface
	}{
		{"invalid body", func(s *server) verifyserver.StrictServerInterface { return brokenServer{s} }},
		{"invalid header", func(s *server) verifyserver.StrictServerInterface { return &badHeaderServer{server: s, bad: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMisbehaving(t, Config{}, tc.impl)
			req, resp, body := m.do(t)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status = %d, want the replacement 500 (body %s)", resp.StatusCode, body)
			}
			var e struct {
				Code     int    `json:"code"`
				Message  string `json:"message"`
				MoreInfo string `json:"more_info"`
				Status   int    `json:"status"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if e.Code != codeInternal || e.Status != http.StatusInternalServerError || e.Message != "Internal Server Error" || e.MoreInfo != "https://www.twilio.com/docs/errors/20500" {
				t.Errorf("body = %s, want the Twilio 20500 error", body)
			}
			id := resp.Header.Get("Twilio-Request-Id")
			if !requestID.MatchString(id) || len(resp.Header.Values("Twilio-Request-Id")) != 1 {
				t.Errorf("Twilio-Request-Id = %q, want the pipeline's one id", resp.Header.Values("Twilio-Request-Id"))
			}
			if !strings.Contains(m.logs.String(), `"request_id":"`+id+`"`) {
				t.Errorf("request id %q is in no log line: %s", id, m.logs.String())
			}
			if got := resp.Header.Get("Access-Control-Expose-Headers"); got != corsExposeHeaders {
				t.Errorf("Access-Control-Expose-Headers = %q, want %q", got, corsExposeHeaders)
			}
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &opts},
				Status:                 resp.StatusCode,
				Header:                 resp.Header,
				Body:                   io.NopCloser(bytes.NewReader(body)),
				Options:                &opts,
			}
			if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
				t.Errorf("replacement 500 breaks the spec: %v\nheader %v\nbody %s", err, resp.Header, body)
			}
			// The check must be able to fail: the same response with a
			// body of the wrong shape is refused.
			in.Body = io.NopCloser(strings.NewReader(`{"code":"x"}`))
			if err := openapi3filter.ValidateResponse(ctx, in); err == nil {
				t.Error("a 500 with a malformed error body passed validation; the check above proves nothing")
			}
		})
	}
}

// badHeaderServer answers a valid body, with a Twilio-Request-Id that
// breaks the spec's pattern once told to.
type badHeaderServer struct {
	*server
	bad bool
}

func (b *badHeaderServer) FetchAccessToken(ctx context.Context, req verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	t := store.AccessToken{SID: req.SID, AccountSID: "AC" + strings.Repeat("a", 32), ServiceSID: req.ServiceSID,
		Identity: "abcdefgh", FactorType: "push", TTL: 60, Token: "x", DateCreated: time.Unix(1700000000, 0).UTC()}
	resp := verifyserver.FetchAccessToken200JSONResponse{Body: accessToken(t, "http://127.0.0.1")}
	if b.bad {
		id := "RQ-not-a-request-id"
		resp.Headers.TwilioRequestID = &id
	}
	return resp, nil
}

// TestResponseValidationRemembersOnlyValidParts: after a valid response
// has been remembered, the same body with a new, invalid header value is
// still rejected.
func TestResponseValidationRemembersOnlyValidParts(t *testing.T) {
	var impl *badHeaderServer
	m := startMisbehaving(t, Config{}, func(s *server) verifyserver.StrictServerInterface {
		impl = &badHeaderServer{server: s}
		return impl
	})
	for i := range 3 {
		if got, _ := m.fetch(t); got != http.StatusOK {
			t.Fatalf("valid fetch %d = %d, want 200", i, got)
		}
	}
	impl.bad = true
	if got, _ := m.fetch(t); got != http.StatusInternalServerError {
		t.Errorf("fetch with an invalid Twilio-Request-Id after valid ones = %d, want 500", got)
	}
}

// errorServer answers every fetch with the 404 it holds.
type errorServer struct {
	*server
	resp verifyserver.NotFoundJSONResponse
}

func (e errorServer) FetchAccessToken(context.Context, verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	return verifyserver.FetchAccessToken404JSONResponse{NotFoundJSONResponse: e.resp}, nil
}

// TestErrorResponsesAreValidated: error responses of a spec operation are
// held to the spec like any other, body and header fields.
func TestErrorResponsesAreValidated(t *testing.T) {
	valid := models.Error{Code: codeNotFound, Message: "not found", MoreInfo: moreInfoBase + "20404", Status: http.StatusNotFound}
	badURI := valid
	badURI.MoreInfo = "not a uri"
	badID := "RQ-not-a-request-id"
	for _, tc := range []struct {
		name       string
		resp       verifyserver.NotFoundJSONResponse
		wantStatus int
	}{
		{"valid", verifyserver.NotFoundJSONResponse{Body: valid}, http.StatusNotFound},
		{"more_info not a URI", verifyserver.NotFoundJSONResponse{Body: badURI}, http.StatusInternalServerError},
		{"invalid Twilio-Request-Id", verifyserver.NotFoundJSONResponse{Body: valid, Headers: verifyserver.NotFoundResponseHeaders{TwilioRequestID: &badID}}, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMisbehaving(t, Config{}, func(s *server) verifyserver.StrictServerInterface { return errorServer{s, tc.resp} })
			status, body := m.fetch(t)
			if status != tc.wantStatus {
				t.Fatalf("status = %d %s, want %d", status, body, tc.wantStatus)
			}
			violated := strings.Contains(m.logs.String(), "response violates openapi.yaml")
			if tc.wantStatus == http.StatusInternalServerError && (!strings.Contains(body, `"code":20500`) || !violated) {
				t.Errorf("body %s, logs %s: want 500 · 20500 and the violation logged", body, m.logs.String())
			}
			if tc.wantStatus != http.StatusInternalServerError && violated {
				t.Errorf("a valid 404 was logged as a violation: %s", m.logs.String())
			}
		})
	}
}

// panicServer panics in every fetch.
type panicServer struct{ *server }

func (panicServer) FetchAccessToken(context.Context, verifyserver.FetchAccessTokenRequestObject) (verifyserver.FetchAccessTokenResponseObject, error) {
	panic("handler bug")
}

// TestPanicIsRecovered: a handler that panics gets the client a 500 ·
// 20500, with the request id and nothing else of the handler, an access
// log line with status 500, and an error line with the stack.
func TestPanicIsRecovered(t *testing.T) {
	m := startMisbehaving(t, Config{}, func(s *server) verifyserver.StrictServerInterface { return panicServer{s} })
	_, resp, body := m.do(t)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `"code":20500`) {
		t.Fatalf("panicking fetch = %d %s, want 500 · 20500", resp.StatusCode, body)
	}
	id := resp.Header.Get("Twilio-Request-Id")
	logs := m.logs.String()
	for _, want := range []string{
		`"msg":"request","request_id":"` + id + `","method":"GET"`,
		`"status":500,"duration_us":`,
		`"msg":"request failed","request_id":"` + id + `","status":500,"error":"Internal Server Error: panic: handler bug`,
		"validate_internal_test.go", // the stack
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// loopbackHosts is the default webhook host policy.
func loopbackHosts(t testing.TB) *webhook.Hosts {
	t.Helper()
	h, err := webhook.ParseHosts(webhook.Loopback)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
