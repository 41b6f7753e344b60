package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/internal/token"
)

var tokenSIDPattern = regexp.MustCompile(`^YK[0-9a-f]{32}$`)

func ptr[T any](v T) *T { return &v }

func TestCreateThenFetch(t *testing.T) {
	e := startEnv(t, api.Config{})
	ctx := context.Background()
	c := e.client(t, e.A.AccountSID, e.A.AuthToken)

	before := time.Now().UTC().Truncate(time.Second)
	created, err := c.CreateAccessTokenWithFormdataBodyWithResponse(ctx, e.A.ServiceSID, models.CreateAccessTokenRequest{
		Identity:           "ff483d1ff591898a9942916050d2ca3f",
		FactorType:         models.Push,
		FactorFriendlyName: ptr("John Doe iPhone"),
		TTL:                ptr(300),
	})
	if err != nil {
		t.Fatalf("CreateAccessToken: %v", err)
	}
	if created.StatusCode() != http.StatusCreated || created.JSON201 == nil {
		t.Fatalf("CreateAccessToken status = %d, want 201 (body %s)", created.StatusCode(), created.Body)
	}
	got := created.JSON201
	if !tokenSIDPattern.MatchString(*got.SID) {
		t.Errorf("sid = %q, want YK + 32 lowercase hex", *got.SID)
	}
	want := models.AccessToken{
		SID:                got.SID,
		AccountSID:         &e.A.AccountSID,
		ServiceSID:         &e.A.ServiceSID,
		EntityIdentity:     ptr("ff483d1ff591898a9942916050d2ca3f"),
		FactorType:         models.Push,
		FactorFriendlyName: ptr("John Doe iPhone"),
		Token:              got.Token,
		URL:                ptr(e.URL + "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + *got.SID),
		TTL:                300,
		DateCreated:        got.DateCreated,
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("CreateAccessToken mismatch (-want +got):\n%s", diff)
	}
	if d := got.DateCreated.Sub(before); d < 0 || d > 5*time.Second || got.DateCreated.Location() != time.UTC {
		t.Errorf("date_created = %v, want about %v in UTC", got.DateCreated, before)
	}

	fetched, err := c.FetchAccessTokenWithResponse(ctx, e.A.ServiceSID, *got.SID)
	if err != nil {
		t.Fatalf("FetchAccessToken: %v", err)
	}
	if fetched.StatusCode() != http.StatusOK {
		t.Fatalf("FetchAccessToken status = %d, want 200 (body %s)", fetched.StatusCode(), fetched.Body)
	}
	if string(fetched.Body) != string(created.Body) {
		t.Errorf("fetch body differs from create body:\nfetch  %s\ncreate %s", fetched.Body, created.Body)
	}
	for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers"} {
		if fetched.HTTPResponse.Header.Get(h) == "" {
			t.Errorf("fetch response has no %s header", h)
		}
	}

	claims, err := token.Open(e.Keys, *got.Token)
	if err != nil {
		t.Fatalf("token.Open: %v", err)
	}
	wantClaims := token.Claims{
		Identity:           "ff483d1ff591898a9942916050d2ca3f",
		AccountSID:         e.A.AccountSID,
		ServiceSID:         e.A.ServiceSID,
		FactorType:         "push",
		FactorFriendlyName: "John Doe iPhone",
		IssuedAt:           got.DateCreated.Unix(),
		ExpiresAt:          got.DateCreated.Unix() + 300,
		SID:                *got.SID,
	}
	if diff := cmp.Diff(wantClaims, claims); diff != "" {
		t.Errorf("token claims mismatch (-want +got):\n%s", diff)
	}
	h, err := token.Inspect(*got.Token)
	if err != nil {
		t.Fatal(err)
	}
	if h.Algorithm != "dir" || h.Encryption != "A256GCM" || h.Compression != "DEF" || h.ContentType != "twilio-fpa;v=1" || h.KeyID != e.Keys.Newest().ID {
		t.Errorf("token header = %+v, want dir/A256GCM/DEF/twilio-fpa;v=1/kid %s", h, e.Keys.Newest().ID)
	}
}

func TestCreateDefaultsAndNulls(t *testing.T) {
	e := startEnv(t, api.Config{})
	form := url.Values{"Identity": {"user-0001"}, "FactorType": {"push"}}
	resp, body := e.do(t, http.MethodPost, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens",
		"application/x-www-form-urlencoded", form.Encode(), e.A.AccountSID+":"+e.A.AuthToken)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", resp.StatusCode, body)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if v, ok := raw["factor_friendly_name"]; !ok || v != nil {
		t.Errorf("factor_friendly_name = %v (present %v), want present and null", v, ok)
	}
	if raw["ttl"] != float64(60) {
		t.Errorf("ttl = %v, want the default 60", raw["ttl"])
	}
	if len(raw) != 10 {
		t.Errorf("resource has %d properties, want all 10: %s", len(raw), body)
	}
	claims, err := token.Open(e.Keys, raw["token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if claims.ExpiresAt-claims.IssuedAt != 60 {
		t.Errorf("exp - iat = %d, want 60", claims.ExpiresAt-claims.IssuedAt)
	}
}

func TestAPIKeyCredentials(t *testing.T) {
	e := startEnv(t, api.Config{PublicURL: "https://verify.example.com/"})
	ctx := context.Background()
	c := e.client(t, e.A.APIKeySID, e.A.APISecret)
	created, err := c.CreateAccessTokenWithFormdataBodyWithResponse(ctx, e.A.ServiceSID, models.CreateAccessTokenRequest{Identity: "abcdefgh", FactorType: models.Push})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("CreateAccessToken with an API key: %v, status %d, body %s", err, created.StatusCode(), created.Body)
	}
	if *created.JSON201.AccountSID != e.A.AccountSID {
		t.Errorf("account_sid = %q, want the key's account %q", *created.JSON201.AccountSID, e.A.AccountSID)
	}
	wantURL := "https://verify.example.com/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + *created.JSON201.SID
	if *created.JSON201.URL != wantURL {
		t.Errorf("url = %q, want %q (from the public URL)", *created.JSON201.URL, wantURL)
	}
	// The account's own credentials see what its key created.
	fetched, err := e.client(t, e.A.AccountSID, e.A.AuthToken).FetchAccessTokenWithResponse(ctx, e.A.ServiceSID, *created.JSON201.SID)
	if err != nil || fetched.StatusCode() != http.StatusOK {
		t.Fatalf("FetchAccessToken: %v, status %d", err, fetched.StatusCode())
	}
}

// TestCrossAccount: another account's token or service answers exactly
// like one that does not exist.
func TestCrossAccount(t *testing.T) {
	e := startEnv(t, api.Config{})
	ctx := context.Background()
	created, err := e.client(t, e.A.AccountSID, e.A.AuthToken).CreateAccessTokenWithFormdataBodyWithResponse(ctx, e.A.ServiceSID, models.CreateAccessTokenRequest{Identity: "abcdefgh", FactorType: models.Push})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("CreateAccessToken: %v", err)
	}
	tokenSID := *created.JSON201.SID
	missing := "YK" + strings.Repeat("0", 32)
	b := e.B.AccountSID + ":" + e.B.AuthToken
	bKey := e.B.APIKeySID + ":" + e.B.APISecret

	strip := func(body []byte, path string) string {
		return strings.ReplaceAll(string(body), path, "PATH")
	}
	pathA := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + tokenSID
	pathMissing := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + missing
	respA, bodyA := e.do(t, http.MethodGet, pathA, "", "", b)
	respM, bodyM := e.do(t, http.MethodGet, pathMissing, "", "", b)
	checkErrorBody(t, respA, bodyA, 404, 20404)
	checkErrorBody(t, respM, bodyM, 404, 20404)
	if strip(bodyA, pathA) != strip(bodyM, pathMissing) {
		t.Errorf("another account's token answers %s, a missing one %s: want the same", bodyA, bodyM)
	}
	resp, body := e.do(t, http.MethodGet, pathA, "", "", bKey)
	checkErrorBody(t, resp, body, 404, 20404)

	// B cannot create under A's service, nor fetch B's own service path with A's token sid.
	form := "FactorType=push&Identity=abcdefgh"
	resp, body = e.do(t, http.MethodPost, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens", "application/x-www-form-urlencoded", form, b)
	checkErrorBody(t, resp, body, 404, 20404)
	resp, body = e.do(t, http.MethodGet, "/v2/Services/"+e.B.ServiceSID+"/AccessTokens/"+tokenSID, "", "", b)
	checkErrorBody(t, resp, body, 404, 20404)
}

// TestFriendlyNameUnicode: names are characters, not ASCII; they round-trip.
func TestFriendlyNameUnicode(t *testing.T) {
	e := startEnv(t, api.Config{})
	name := "Jöhn’s iPhone 📱 — 東京"
	c := e.client(t, e.A.AccountSID, e.A.AuthToken)
	created, err := c.CreateAccessTokenWithFormdataBodyWithResponse(context.Background(), e.A.ServiceSID, models.CreateAccessTokenRequest{Identity: "abcdefgh", FactorType: models.Push, FactorFriendlyName: &name})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create with a Unicode name: %v (status %d, body %s)", err, created.StatusCode(), created.Body)
	}
	if got := *created.JSON201.FactorFriendlyName; got != name {
		t.Errorf("factor_friendly_name = %q, want %q", got, name)
	}
}
