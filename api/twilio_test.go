package api_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/verifydtest"
)

// twilioHost is where the unchanged twilio-go SDK sends every Verify request.
const twilioHost = "verify.twilio.com"

// twilioRequest is one request as the SDK built it, before the redirect.
type twilioRequest struct {
	Method      string
	Host        string // the host the SDK addressed
	Path        string
	Query       string
	ContentType string
	UserAgent   string
	User        string // the Basic auth username
	Body        string
}

// twilioRecorder is an http.RoundTripper that records each request the SDK
// makes, then hands a copy of it, with the same body, to next: the client
// of a verifydtest server, which redirects it to that server.
type twilioRecorder struct {
	next http.RoundTripper

	mu   sync.Mutex
	sent []twilioRequest
}

func (rt *twilioRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	user, _, _ := req.BasicAuth()
	rt.mu.Lock()
	rt.sent = append(rt.sent, twilioRequest{
		Method:      req.Method,
		Host:        req.URL.Host,
		Path:        req.URL.Path,
		Query:       req.URL.RawQuery,
		ContentType: req.Header.Get("Content-Type"),
		UserAgent:   req.Header.Get("User-Agent"),
		User:        user,
		Body:        string(body),
	})
	rt.mu.Unlock()

	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return rt.next.RoundTrip(out)
}

// take returns the requests recorded since the last call and forgets them.
func (rt *twilioRecorder) take() []twilioRequest {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	sent := rt.sent
	rt.sent = nil
	return sent
}

// twilioClient returns the official SDK, otherwise unchanged, whose HTTP
// client is s.Client() behind a recorder, authenticating as user:pass for
// the account accountSID.
func twilioClient(s *verifydtest.Server, user, pass, accountSID string) (*twilio.RestClient, *twilioRecorder) {
	rt := &twilioRecorder{next: s.Client().Transport}
	c := &client.Client{
		Credentials: client.NewCredentials(user, pass),
		HTTPClient: &http.Client{
			Transport: rt,
			Timeout:   10 * time.Second,
			// As the SDK's own default client: never follow redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(accountSID)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	// Ignore TWILIO_EDGE and TWILIO_REGION, which would rename the host.
	rc.SetEdge("")
	rc.SetRegion("")
	return rc, rt
}

// twilioCredentialKinds are the two ways to authenticate: an Account SID with its
// Auth Token, and an API Key SID with its secret.
var twilioCredentialKinds = []struct {
	name  string
	creds func(verifydtest.Account) (user, pass string)
}{
	{"auth token", func(a verifydtest.Account) (string, string) { return a.AccountSID, a.AuthToken }},
	{"api key", func(a verifydtest.Account) (string, string) { return a.APIKeySID, a.APIKeySecret }},
}

func TestTwilioSDKCreateThenFetch(t *testing.T) {
	tests := []struct {
		name     string
		params   *verifyv2.CreateAccessTokenParams
		identity string
		wantBody string // the SDK's form encoding, sorted by key
		wantName *string
		wantTTL  int
	}{
		{
			name: "all fields",
			params: (&verifyv2.CreateAccessTokenParams{}).
				SetIdentity("ff483d1ff591898a9942916050d2ca3f").
				SetFactorType("push").
				SetFactorFriendlyName("John Doe iPhone").
				SetTtl(300),
			identity: "ff483d1ff591898a9942916050d2ca3f",
			wantBody: "FactorFriendlyName=John+Doe+iPhone&FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&Ttl=300",
			wantName: ptr("John Doe iPhone"),
			wantTTL:  300,
		},
		{
			name:     "defaults",
			params:   (&verifyv2.CreateAccessTokenParams{}).SetIdentity("user-0001").SetFactorType("push"),
			identity: "user-0001",
			wantBody: "FactorType=push&Identity=user-0001",
			wantName: nil,
			wantTTL:  60,
		},
	}
	for _, kind := range twilioCredentialKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := verifydtest.Start(t)
			user, pass := kind.creds(s.Account)
			rc, rt := twilioClient(s, user, pass, s.AccountSID)
			collection := "/v2/Services/" + s.ServiceSID + "/AccessTokens"
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					before := time.Now().UTC().Truncate(time.Second)
					created, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, tc.params)
					if err != nil {
						t.Fatalf("CreateAccessToken(%q, %s) error: %v", s.ServiceSID, tc.wantBody, err)
					}
					wantSent := []twilioRequest{{
						Method:      http.MethodPost,
						Host:        twilioHost,
						Path:        collection,
						ContentType: "application/x-www-form-urlencoded",
						User:        user,
						Body:        tc.wantBody,
					}}
					checkTwilioSent(t, "CreateAccessToken", rt.take(), wantSent)

					if created.Sid == nil || !tokenSIDPattern.MatchString(*created.Sid) {
						t.Fatalf("CreateAccessToken(%s).Sid = %v, want YK + 32 lowercase hex", tc.wantBody, twilioQuote(created.Sid))
					}
					if created.Token == nil || len(strings.Split(*created.Token, ".")) != 5 {
						t.Errorf("CreateAccessToken(%s).Token = %v, want a compact JWE of 5 parts", tc.wantBody, twilioQuote(created.Token))
					}
					if created.DateCreated == nil {
						t.Fatalf("CreateAccessToken(%s).DateCreated = nil, want about %v", tc.wantBody, before)
					}
					if d := created.DateCreated.Sub(before); d < 0 || d > 5*time.Second || created.DateCreated.Location() != time.UTC {
						t.Errorf("CreateAccessToken(%s).DateCreated = %v, want about %v in UTC", tc.wantBody, created.DateCreated, before)
					}
					want := &verifyv2.VerifyV2AccessToken{
						Sid:                created.Sid,
						AccountSid:         &s.AccountSID,
						ServiceSid:         &s.ServiceSID,
						EntityIdentity:     &tc.identity,
						FactorType:         ptr("push"),
						FactorFriendlyName: tc.wantName,
						Token:              created.Token,
						Url:                ptr(s.URL + collection + "/" + *created.Sid),
						Ttl:                tc.wantTTL,
						DateCreated:        created.DateCreated,
					}
					if diff := cmp.Diff(want, created); diff != "" {
						t.Errorf("CreateAccessToken(%s) mismatch (-want +got):\n%s", tc.wantBody, diff)
					}

					fetched, err := rc.VerifyV2.FetchAccessToken(s.ServiceSID, *created.Sid)
					if err != nil {
						t.Fatalf("FetchAccessToken(%q, %q) error: %v", s.ServiceSID, *created.Sid, err)
					}
					checkTwilioSent(t, "FetchAccessToken", rt.take(), []twilioRequest{{
						Method:      http.MethodGet,
						Host:        twilioHost,
						Path:        collection + "/" + *created.Sid,
						ContentType: "application/x-www-form-urlencoded", // the SDK sends it on GET too
						User:        user,
					}})
					if diff := cmp.Diff(created, fetched); diff != "" {
						t.Errorf("FetchAccessToken(%q) mismatch with the created resource (-created +fetched):\n%s", *created.Sid, diff)
					}
				})
			}
		})
	}
}

func TestTwilioSDKErrors(t *testing.T) {
	for _, kind := range twilioCredentialKinds {
		t.Run(kind.name, func(t *testing.T) {
			s := verifydtest.Start(t, verifydtest.WithAccounts(2))
			accA, accB := s.Accounts()[0], s.Accounts()[1]
			userA, passA := kind.creds(accA)
			userB, passB := kind.creds(accB)
			a, _ := twilioClient(s, userA, passA, accA.AccountSID)
			created, err := a.VerifyV2.CreateAccessToken(accA.ServiceSID,
				(&verifyv2.CreateAccessTokenParams{}).SetIdentity("user-0001").SetFactorType("push"))
			if err != nil {
				t.Fatalf("CreateAccessToken(%q) error: %v", accA.ServiceSID, err)
			}
			tokenA := *created.Sid
			unknown := "YK" + strings.Repeat("0", 32)
			wrongPass := strings.Repeat("0", len(passA)) // hex, so the SDK sends it

			tests := []struct {
				name       string
				user, pass string
				account    string
				call       func(rc *twilio.RestClient) error
				wantCode   int
				wantStatus int
			}{
				{
					name: "fetch unknown sid", user: userA, pass: passA, account: accA.AccountSID,
					call: func(rc *twilio.RestClient) error {
						_, err := rc.VerifyV2.FetchAccessToken(accA.ServiceSID, unknown)
						return err
					},
					wantCode: 20404, wantStatus: http.StatusNotFound,
				},
				{
					name: "wrong secret", user: userA, pass: wrongPass, account: accA.AccountSID,
					call: func(rc *twilio.RestClient) error {
						_, err := rc.VerifyV2.FetchAccessToken(accA.ServiceSID, tokenA)
						return err
					},
					wantCode: 20003, wantStatus: http.StatusUnauthorized,
				},
				{
					name: "ttl below 60", user: userA, pass: passA, account: accA.AccountSID,
					call: func(rc *twilio.RestClient) error {
						_, err := rc.VerifyV2.CreateAccessToken(accA.ServiceSID,
							(&verifyv2.CreateAccessTokenParams{}).SetIdentity("user-0001").SetFactorType("push").SetTtl(5))
						return err
					},
					wantCode: 60200, wantStatus: http.StatusBadRequest,
				},
				{
					name: "another account's token", user: userB, pass: passB, account: accB.AccountSID,
					call: func(rc *twilio.RestClient) error {
						_, err := rc.VerifyV2.FetchAccessToken(accA.ServiceSID, tokenA)
						return err
					},
					wantCode: 20404, wantStatus: http.StatusNotFound,
				},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					rc, rt := twilioClient(s, tc.user, tc.pass, tc.account)
					err := tc.call(rc)
					if sent := rt.take(); len(sent) != 1 {
						t.Errorf("%s: the SDK sent %d requests, want 1: %+v", tc.name, len(sent), sent)
					}
					var got *client.TwilioRestError
					if !errors.As(err, &got) {
						t.Fatalf("%s: error = %v (%T), want a *client.TwilioRestError", tc.name, err, err)
					}
					if got.Code != tc.wantCode || got.Status != tc.wantStatus {
						t.Errorf("%s: TwilioRestError code %d status %d, want code %d status %d (%v)",
							tc.name, got.Code, got.Status, tc.wantCode, tc.wantStatus, got)
					}
					if got.Message == "" {
						t.Errorf("%s: TwilioRestError.Message is empty, want text", tc.name)
					}
					if wantInfo := fmt.Sprintf("https://www.twilio.com/docs/errors/%d", tc.wantCode); got.MoreInfo != wantInfo {
						t.Errorf("%s: TwilioRestError.MoreInfo = %q, want %q", tc.name, got.MoreInfo, wantInfo)
					}
				})
			}
		})
	}
}

// checkTwilioSent compares the requests the SDK sent with want, ignoring the
// User-Agent, which must come from twilio-go itself.
func checkTwilioSent(t *testing.T, call string, got, want []twilioRequest) {
	t.Helper()
	for _, r := range got {
		if !strings.HasPrefix(r.UserAgent, "twilio-go/") {
			t.Errorf("%s sent User-Agent %q, want twilio-go/…", call, r.UserAgent)
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(twilioRequest{}, "UserAgent")); diff != "" {
		t.Errorf("%s sent requests mismatch (-want +got):\n%s", call, diff)
	}
}

func twilioQuote(p *string) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *p)
}
