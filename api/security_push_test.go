package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/internal/sid"
)

// The regression tests of the review of Verify Push part 1.

// enroll mints an access token for identity and enrolls a device with
// key; it returns the device and its factor.
func (e *env) enroll(t *testing.T, identity string, key *ecdsa.PrivateKey) (*device.Device, device.Factor) {
	t.Helper()
	resp, body := e.do(t, http.MethodPost, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens", formType,
		url.Values{"Identity": {identity}, "FactorType": {"push"}, "Ttl": {"300"}}.Encode(), e.A.AccountSID+":"+e.A.AuthToken)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create access token: %d %s", resp.StatusCode, body)
	}
	var at struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &at); err != nil {
		t.Fatal(err)
	}
	d, err := device.New(device.WithBaseURL(e.URL), device.WithKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Enroll(context.Background(), e.A.ServiceSID, identity, at.Token); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	f, _ := d.Factor()
	return d, f
}

// signedJWT is a device JWT with the given kid and claims, signed by key
// (ES256, raw R‖S), as the SDKs lay one out.
func signedJWT(t *testing.T, key *ecdsa.PrivateKey, kid, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	input := enc([]byte(`{"cty":"twilio-pba;v=1","kid":"`+kid+`","typ":"JWT","alg":"ES256"}`)) + "." + enc([]byte(claims))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc(sig)
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSecurityDeviceJWTClaims: a device JWT lives at most an hour, for its
// factor's account. nbf -1 and exp MaxInt64 made exp - nbf overflow to a
// negative number, which passed the one-hour check: a JWT that never
// expired.
func TestSecurityDeviceJWTClaims(t *testing.T) {
	e := serveEnv(t, openStore(t), api.Config{AuthFailureLimit: -1}, nil)
	key := newKey(t)
	_, f := e.enroll(t, "user-0010-jwts", key)
	now := time.Now().Unix()
	claims := func(sub string, nbf, exp int64) string {
		return fmt.Sprintf(`{"sub":%q,"exp":%d,"nbf":%d}`, sub, exp, nbf)
	}
	path := "/v2/Services/" + e.A.ServiceSID + "/Entities/" + f.Identity + "/Factors/" + f.SID
	for _, tc := range []struct {
		name   string
		claims string
		want   int
	}{
		{"ten minutes, as the SDKs sign", claims(f.AccountSID, now, now+600), http.StatusOK},
		{"an hour and a second", claims(f.AccountSID, now, now+3601), http.StatusUnauthorized},
		{"nbf -1, exp MaxInt64", claims(f.AccountSID, -1, math.MaxInt64), http.StatusUnauthorized},
		{"nbf MinInt64, exp MaxInt64", claims(f.AccountSID, math.MinInt64, math.MaxInt64), http.StatusUnauthorized},
		{"exp before nbf", claims(f.AccountSID, now+10, now-10), http.StatusUnauthorized},
		{"another account's sub", claims(e.B.AccountSID, now, now+600), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, http.MethodPost, path, formType, "FriendlyName=x", "token:"+signedJWT(t, key, f.CredentialSID, tc.claims))
			if resp.StatusCode != tc.want {
				t.Errorf("status %d %s, want %d", resp.StatusCode, body, tc.want)
			}
		})
	}
}

// TestSecurityDeviceJWTKidConfusion: a JWT that one device signs over
// another factor's kid authenticates neither.
func TestSecurityDeviceJWTKidConfusion(t *testing.T) {
	e := serveEnv(t, openStore(t), api.Config{AuthFailureLimit: -1}, nil)
	keyA, keyB := newKey(t), newKey(t)
	_, fa := e.enroll(t, "user-0011-kida", keyA)
	e.enroll(t, "user-0012-kidb", keyB)
	now := time.Now().Unix()
	jwt := signedJWT(t, keyB, fa.CredentialSID, fmt.Sprintf(`{"sub":%q,"exp":%d,"nbf":%d}`, fa.AccountSID, now+600, now))
	resp, body := e.do(t, http.MethodPost, "/v2/Services/"+e.A.ServiceSID+"/Entities/"+fa.Identity+"/Factors/"+fa.SID,
		formType, "FriendlyName=x", "token:"+jwt)
	checkErrorBody(t, resp, body, http.StatusUnauthorized, 20003)
}

// TestSecurityDeviceDeletesOnlyItsFactor: a device's JWT deletes its own
// factor and no other, of its entity or another's.
func TestSecurityDeviceDeletesOnlyItsFactor(t *testing.T) {
	e := serveEnv(t, openStore(t), api.Config{AuthFailureLimit: -1}, nil)
	a, fa := e.enroll(t, "user-0013-dela", newKey(t))
	_, sibling := e.enroll(t, "user-0013-dela", newKey(t))
	_, stranger := e.enroll(t, "user-0014-delb", newKey(t))
	for _, victim := range []device.Factor{sibling, stranger} {
		jwt, err := a.JWT(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		path := "/v2/Services/" + e.A.ServiceSID + "/Entities/" + victim.Identity + "/Factors/" + victim.SID
		resp, body := e.do(t, http.MethodDelete, path, "", "", "token:"+jwt)
		checkErrorBody(t, resp, body, http.StatusUnauthorized, 20003)
		resp, body = e.do(t, http.MethodGet, path, "", "", e.A.AccountSID+":"+e.A.AuthToken)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("factor %s after another device's delete: %d %s, want it still there", victim.SID, resp.StatusCode, body)
		}
	}
	if err := a.Unenroll(context.Background()); err != nil {
		t.Errorf("the device deleting its own factor: %v", err)
	}
	resp, _ := e.do(t, http.MethodGet, "/v2/Services/"+e.A.ServiceSID+"/Entities/"+fa.Identity+"/Factors/"+fa.SID, "", "", e.A.AccountSID+":"+e.A.AuthToken)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("own factor after Unenroll: %d, want 404", resp.StatusCode)
	}
}

// TestVerifiedStaysVerified: an update that read the factor before it was
// verified wrote it back unverified, after the device had been told it was
// verified (the review saw 26 of 60). Verification is one-way.
func TestVerifiedStaysVerified(t *testing.T) {
	const rounds = 30
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := serveEnv(t, eng.open(t), api.Config{AuthFailureLimit: -1}, nil)
			lost := 0
			for i := range rounds {
				d, f := e.enroll(t, fmt.Sprintf("user-%04d-race", i), newKey(t))
				path := "/v2/Services/" + e.A.ServiceSID + "/Entities/" + f.Identity + "/Factors/" + f.SID
				var wg sync.WaitGroup
				wg.Go(func() {
					if _, err := d.Verify(context.Background()); err != nil {
						t.Errorf("round %d: verify: %v", i, err)
					}
				})
				wg.Go(func() {
					// The backend renames the factor meanwhile.
					if resp, body := e.do(t, http.MethodPost, path, formType, "FriendlyName=renamed", e.A.AccountSID+":"+e.A.AuthToken); resp.StatusCode != http.StatusOK {
						t.Errorf("round %d: rename: %d %s", i, resp.StatusCode, body)
					}
				})
				wg.Wait()
				_, body := e.do(t, http.MethodGet, path, "", "", e.A.AccountSID+":"+e.A.AuthToken)
				if !strings.Contains(string(body), `"status":"verified"`) {
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("%d of %d factors are unverified after a successful verification", lost, rounds)
			}
		})
	}
}

// TestPageTokenRange: a forged PageToken is 400 · 60200 on every engine;
// one far in the future was a 500 on PostgreSQL, and one near MaxInt64
// wrapped around there, listing what SQLite did not.
func TestPageTokenRange(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := serveEnv(t, eng.open(t), api.Config{}, nil)
			e.enroll(t, "user-0015-page", newKey(t))
			ent := sid.New(sid.Entity)
			for _, q := range []string{
				"PageToken=PN10000000000000_" + ent,
				"PageToken=PN9223372036854775807_" + ent,
				"pageToken=PP10000000000000_" + ent,
				"PageToken=" + url.QueryEscape("PN1_YE0123456789abcdef01234567 #&x=<y>"),
				"PageToken=PN1_" + strings.Repeat("Z", 34),
			} {
				resp, body := e.do(t, http.MethodGet, "/v2/Services/"+e.A.ServiceSID+"/Entities?"+q, "", "", e.A.AccountSID+":"+e.A.AuthToken)
				checkErrorBody(t, resp, body, http.StatusBadRequest, 60200)
			}
		})
	}
}

// TestSemicolonMediaTypeCase: a raw ';' in a form body is the character
// whatever the case of the media type, which is case-insensitive.
func TestSemicolonMediaTypeCase(t *testing.T) {
	e := serveEnv(t, openStore(t), api.Config{}, nil)
	for _, ct := range []string{"application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded", "application/x-www-form-urlencoded; charset=utf-8"} {
		resp, body := e.do(t, http.MethodPost, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens", ct,
			"Identity=user-0016-semi&FactorType=push&FactorFriendlyName=a;b", e.A.AccountSID+":"+e.A.AuthToken)
		if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"factor_friendly_name":"a;b"`) {
			t.Errorf("Content-Type %q: %d %s, want 201 with the name a;b", ct, resp.StatusCode, body)
		}
	}
}

// TestListEntityUnknownService: listing the entities of a service that
// does not exist, or is another account's, is 404 as creating one is.
func TestListEntityUnknownService(t *testing.T) {
	e := serveEnv(t, openStore(t), api.Config{}, nil)
	for _, svc := range []string{sid.New(sid.Service), e.B.ServiceSID} {
		resp, body := e.do(t, http.MethodGet, "/v2/Services/"+svc+"/Entities", "", "", e.A.AccountSID+":"+e.A.AuthToken)
		checkErrorBody(t, resp, body, http.StatusNotFound, 20404)
	}
}
