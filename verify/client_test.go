package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/verify"
)

func ptr[T any](v T) *T { return &v }

func TestCreateThenFetch(t *testing.T) {
	v := newVerifyd(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  verify.Config
	}{
		{"auth token", v.authTokenConfig()},
		{"API key", v.apiKeyConfig()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verify.NewClient(tc.cfg, verify.WithRetry(verify.RetryPolicy{}))
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			params := verify.CreateParams{Identity: "ff483d1ff591898a9942916050d2ca3f", FactorFriendlyName: "John Doe iPhone", TTL: 300}
			created, err := c.CreateAccessToken(ctx, v.ServiceSID, params)
			if err != nil {
				t.Fatalf("CreateAccessToken(%+v): %v", params, err)
			}
			want := &models.AccessToken{
				AccountSID:         ptr(v.AccountSID),
				ServiceSID:         ptr(v.ServiceSID),
				EntityIdentity:     ptr(params.Identity),
				FactorType:         models.Push,
				FactorFriendlyName: ptr(params.FactorFriendlyName),
				TTL:                300,
			}
			ignore := cmpopts.IgnoreFields(models.AccessToken{}, "SID", "Token", "URL", "DateCreated")
			if diff := cmp.Diff(want, created, ignore); diff != "" {
				t.Errorf("CreateAccessToken(%+v) mismatch (-want +got):\n%s", params, diff)
			}
			if created.SID == nil || !strings.HasPrefix(*created.SID, "YK") || created.Token == nil || created.DateCreated == nil {
				t.Fatalf("CreateAccessToken(%+v) = %+v, want a SID, a token and a date", params, created)
			}

			fetched, err := c.FetchAccessToken(ctx, v.ServiceSID, *created.SID)
			if err != nil {
				t.Fatalf("FetchAccessToken(%s): %v", *created.SID, err)
			}
			if diff := cmp.Diff(created, fetched); diff != "" {
				t.Errorf("FetchAccessToken(%s) mismatch with the created token (-want +got):\n%s", *created.SID, diff)
			}

			raw, err := c.FetchAccessTokenRaw(ctx, v.ServiceSID, *created.SID)
			if err != nil {
				t.Fatalf("FetchAccessTokenRaw(%s): %v", *created.SID, err)
			}
			var fromRaw models.AccessToken
			if err := json.Unmarshal(raw, &fromRaw); err != nil {
				t.Fatalf("FetchAccessTokenRaw(%s) = %s, not JSON: %v", *created.SID, raw, err)
			}
			if diff := cmp.Diff(created, &fromRaw); diff != "" {
				t.Errorf("FetchAccessTokenRaw(%s) mismatch (-want +got):\n%s", *created.SID, diff)
			}
		})
	}
}

func TestCreateAccessTokenRaw(t *testing.T) {
	v := newVerifyd(t)
	c, err := verify.NewClient(v.authTokenConfig())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.CreateAccessTokenRaw(context.Background(), v.ServiceSID, verify.CreateParams{Identity: "user-0001"})
	if err != nil {
		t.Fatalf("CreateAccessTokenRaw: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("CreateAccessTokenRaw = %s, not JSON: %v", raw, err)
	}
	// A field the create left out comes back as null, as the spec says.
	if v, ok := got["factor_friendly_name"]; !ok || v != nil {
		t.Errorf("CreateAccessTokenRaw: factor_friendly_name = %v (present %t), want null", v, ok)
	}
	if got["ttl"] != float64(60) {
		t.Errorf("CreateAccessTokenRaw: ttl = %v, want the default 60", got["ttl"])
	}
}

func TestAPIErrors(t *testing.T) {
	v := newVerifyd(t)
	ctx := context.Background()
	const unknownYK = "YK00000000000000000000000000000000"
	const unknownVA = "VA00000000000000000000000000000000"
	for _, tc := range []struct {
		name       string
		cfg        verify.Config
		call       func(*verify.Client) error
		wantStatus int
		wantCode   int
	}{
		{
			name: "fetch unknown token",
			cfg:  v.authTokenConfig(),
			call: func(c *verify.Client) error {
				_, err := c.FetchAccessToken(ctx, v.ServiceSID, unknownYK)
				return err
			},
			wantStatus: http.StatusNotFound,
			wantCode:   20404,
		},
		{
			name: "create in unknown service",
			cfg:  v.apiKeyConfig(),
			call: func(c *verify.Client) error {
				_, err := c.CreateAccessToken(ctx, unknownVA, verify.CreateParams{Identity: "user-0001"})
				return err
			},
			wantStatus: http.StatusNotFound,
			wantCode:   20404,
		},
		{
			name: "wrong auth token",
			cfg:  verify.Config{AccountSID: v.AccountSID, AuthToken: "wrong", BaseURL: v.URL},
			call: func(c *verify.Client) error {
				_, err := c.FetchAccessToken(ctx, v.ServiceSID, unknownYK)
				return err
			},
			wantStatus: http.StatusUnauthorized,
			wantCode:   20003,
		},
		{
			name: "wrong API secret",
			cfg:  verify.Config{AccountSID: v.AccountSID, APIKey: v.APIKey, APISecret: "wrong", BaseURL: v.URL},
			call: func(c *verify.Client) error {
				_, err := c.CreateAccessToken(ctx, v.ServiceSID, verify.CreateParams{Identity: "user-0001"})
				return err
			},
			wantStatus: http.StatusUnauthorized,
			wantCode:   20003,
		},
		{
			name: "TTL out of range",
			cfg:  v.authTokenConfig(),
			call: func(c *verify.Client) error {
				_, err := c.CreateAccessToken(ctx, v.ServiceSID, verify.CreateParams{Identity: "user-0001", TTL: 301})
				return err
			},
			wantStatus: http.StatusBadRequest,
			wantCode:   60200,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := verify.NewClient(tc.cfg)
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			err = tc.call(c)
			var verr *verify.Error
			if !errors.As(err, &verr) {
				t.Fatalf("error = %v (%T), want a *verify.Error", err, err)
			}
			got := [2]int{verr.Status, verr.Code}
			if want := [2]int{tc.wantStatus, tc.wantCode}; got != want {
				t.Errorf("error = %v, want status and code %v, got %v", err, want, got)
			}
			if wantInfo := fmt.Sprintf("https://www.twilio.com/docs/errors/%d", tc.wantCode); verr.MoreInfo != wantInfo {
				t.Errorf("MoreInfo = %q, want %q", verr.MoreInfo, wantInfo)
			}
			if prefix := fmt.Sprintf("%d: ", tc.wantCode); !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want it to start with %q", err.Error(), prefix)
			}
			if !requestIDPattern.MatchString(verr.RequestID) {
				t.Errorf("RequestID = %q, want verifyd's Twilio-Request-Id", verr.RequestID)
			}
		})
	}
}

var requestIDPattern = regexp.MustCompile(`^RQ[0-9a-f]{32}$`)

// canned is a loopback server that answers every request with one status,
// content type, request id (when set) and body, and records what it
// received.
type canned struct {
	status      int
	contentType string
	requestID   string
	body        string

	got chan *http.Request // buffered; one per request
}

func (cn *canned) start(t *testing.T) *httptest.Server {
	t.Helper()
	cn.got = make(chan *http.Request, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r2 := r.Clone(context.Background())
		r2.Body = io.NopCloser(strings.NewReader(string(b)))
		cn.got <- r2
		if cn.contentType != "" {
			w.Header().Set("Content-Type", cn.contentType)
		}
		if cn.requestID != "" {
			w.Header().Set("Twilio-Request-Id", cn.requestID)
		}
		w.WriteHeader(cn.status)
		_, _ = io.WriteString(w, cn.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tokenJSON is an access token as Twilio's spec shows it.
const tokenJSON = `{"sid":"YKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","account_sid":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","service_sid":"VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","entity_identity":"ff483d1ff591898a9942916050d2ca3f","factor_type":"push","factor_friendly_name":null,"token":"eyJ6aXAiOiJERUYifQ..a.b.c","url":"https://verify.twilio.com/v2/Services/VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/AccessTokens/YKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ttl":60,"date_created":"2015-07-30T20:00:00Z"}`

const (
	testAC = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testSK = "SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testVA = "VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testYK = "YKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

func TestRequestHeaders(t *testing.T) {
	wantUA := fmt.Sprintf("verifykit/%s (%s %s) go/%s", verify.Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	if !regexp.MustCompile(`^verifykit/\d+\.\d+\.\d+ \(\S+ \S+\) go/go\S+$`).MatchString(wantUA) {
		t.Fatalf("User-Agent %q has not the documented form", wantUA)
	}
	for _, tc := range []struct {
		name               string
		cfg                verify.Config
		wantUser, wantPass string
	}{
		{"auth token", verify.Config{AccountSID: testAC, AuthToken: "token"}, testAC, "token"},
		{"API key", verify.Config{AccountSID: testAC, APIKey: testSK, APISecret: "secret"}, testSK, "secret"},
		{"API key wins over auth token", verify.Config{AccountSID: testAC, AuthToken: "token", APIKey: testSK, APISecret: "secret"}, testSK, "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cn := &canned{status: http.StatusCreated, contentType: "application/json", body: tokenJSON}
			srv := cn.start(t)
			tc.cfg.BaseURL = srv.URL
			c, err := verify.NewClient(tc.cfg)
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			params := verify.CreateParams{Identity: "ff483d1ff591898a9942916050d2ca3f", FactorFriendlyName: "John Doe iPhone", TTL: 300}
			if _, err := c.CreateAccessToken(context.Background(), testVA, params); err != nil {
				t.Fatalf("CreateAccessToken: %v", err)
			}
			r := <-cn.got
			user, pass, ok := r.BasicAuth()
			if got, want := fmt.Sprint(user, " ", pass, " ", ok), fmt.Sprint(tc.wantUser, " ", tc.wantPass, " true"); got != want {
				t.Errorf("Basic auth = %q, want %q", got, want)
			}
			if got := r.Header.Get("User-Agent"); got != wantUA {
				t.Errorf("User-Agent = %q, want %q", got, wantUA)
			}
			if got, want := r.Method+" "+r.URL.Path, "POST /v2/Services/"+testVA+"/AccessTokens"; got != want {
				t.Errorf("request = %q, want %q", got, want)
			}
			b, _ := io.ReadAll(r.Body)
			form, err := url.ParseQuery(string(b))
			if err != nil {
				t.Fatalf("body %q is not a form: %v", b, err)
			}
			wantForm := url.Values{
				"Identity":           {"ff483d1ff591898a9942916050d2ca3f"},
				"FactorType":         {"push"},
				"FactorFriendlyName": {"John Doe iPhone"},
				"Ttl":                {"300"},
			}
			if diff := cmp.Diff(wantForm, form); diff != "" {
				t.Errorf("form mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateAcceptsOKAndCreated(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusCreated} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := (&canned{status: status, contentType: "application/json", body: tokenJSON}).start(t)
			c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.CreateAccessToken(context.Background(), testVA, verify.CreateParams{Identity: "user-0001"})
			if err != nil {
				t.Fatalf("CreateAccessToken answered %d: %v", status, err)
			}
			if tok.SID == nil || *tok.SID != testYK {
				t.Errorf("CreateAccessToken answered %d: SID = %v, want %s", status, tok.SID, testYK)
			}
		})
	}
}

func TestErrorResponses(t *testing.T) {
	const rq = "RQ0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		requestID   string
		body        string
		want        *verify.Error
	}{
		{
			name:        "Twilio error JSON",
			status:      http.StatusNotFound,
			contentType: "application/json",
			requestID:   rq,
			body:        `{"code":20404,"message":"The requested resource /x was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}`,
			want:        &verify.Error{Code: 20404, Message: "The requested resource /x was not found", MoreInfo: "https://www.twilio.com/docs/errors/20404", Status: 404, RequestID: rq},
		},
		{
			name:        "Twilio error JSON with details",
			status:      http.StatusBadRequest,
			contentType: "application/json",
			body:        `{"code":60200,"message":"Invalid parameter: Ttl","more_info":"https://www.twilio.com/docs/errors/60200","status":400,"details":{"field":"Ttl"}}`,
			want:        &verify.Error{Code: 60200, Message: "Invalid parameter: Ttl", MoreInfo: "https://www.twilio.com/docs/errors/60200", Status: 400, Details: map[string]any{"field": "Ttl"}},
		},
		{
			name:        "error JSON labelled as text",
			status:      http.StatusUnauthorized,
			contentType: "text/plain",
			body:        `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`,
			want:        &verify.Error{Code: 20003, Message: "Authenticate", MoreInfo: "https://www.twilio.com/docs/errors/20003", Status: 401},
		},
		{
			name:        "HTML from a proxy",
			status:      http.StatusBadGateway,
			contentType: "text/html",
			body:        "<html><body>bad gateway</body></html>\n",
			want:        &verify.Error{Message: "Bad Gateway", Status: 502, Details: map[string]any{"body": "<html><body>bad gateway</body></html>"}},
		},
		{
			name:        "broken JSON",
			status:      http.StatusInternalServerError,
			contentType: "application/json",
			body:        `{"code":`,
			want:        &verify.Error{Message: "Internal Server Error", Status: 500, Details: map[string]any{"body": `{"code":`}},
		},
		{
			name:   "empty body",
			status: http.StatusForbidden,
			want:   &verify.Error{Message: "Forbidden", Status: 403},
		},
		{
			name:   "unknown status",
			status: 599,
			body:   " ",
			want:   &verify.Error{Message: "unexpected status", Status: 599},
		},
		{
			name:        "long body is cut",
			status:      http.StatusBadGateway,
			contentType: "text/plain",
			body:        strings.Repeat("é", 300),
			want:        &verify.Error{Message: "Bad Gateway", Status: 502, Details: map[string]any{"body": strings.Repeat("é", 256) + "…"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := (&canned{status: tc.status, contentType: tc.contentType, requestID: tc.requestID, body: tc.body}).start(t)
			c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.FetchAccessToken(context.Background(), testVA, testYK)
			var got *verify.Error
			if !errors.As(err, &got) {
				t.Fatalf("FetchAccessToken answered %d %q: error %v (%T), want a *verify.Error", tc.status, tc.body, err, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FetchAccessToken answered %d %q: mismatch (-want +got):\n%s", tc.status, tc.body, diff)
			}
		})
	}
}

func TestUnexpectedSuccess(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
	}{
		{"not JSON", "text/plain", "ok"},
		{"not an access token", "application/json", `{"sid":42}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := (&canned{status: http.StatusOK, contentType: tc.contentType, body: tc.body}).start(t)
			c, err := verify.NewClient(verify.Config{AccountSID: testAC, AuthToken: "t", BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.FetchAccessToken(context.Background(), testVA, testYK)
			var verr *verify.Error
			if err == nil || errors.As(err, &verr) {
				t.Errorf("FetchAccessToken answered 200 %q = %v, %v; want an error that is not a *verify.Error", tc.body, tok, err)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *verify.Error
		want string
	}{
		{"with code", &verify.Error{Code: 20404, Message: "The requested resource /x was not found", Status: 404}, "20404: The requested resource /x was not found"},
		{"without code", &verify.Error{Message: "Bad Gateway", Status: 502}, "HTTP 502: Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("(%+v).Error() = %q, want %q", *tc.err, got, tc.want)
			}
		})
	}
}
