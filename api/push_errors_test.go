package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verifydtest"
)

// TestPushBadInput: every bad enrollment gets a clear Twilio error, and
// nothing is stored: no factor, no entity, and the access token is not
// used up, so it still enrolls afterwards.
func TestPushBadInput(t *testing.T) {
	s := verifydtest.Start(t, verifydtest.WithAccounts(2))
	other := s.Accounts()[1]
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	rcOther, _ := twilioClient(s, other.AccountSID, other.AuthToken, other.AccountSID)
	const identity = "user-0003-bad"
	mint := func(t *testing.T, rc interface {
		CreateAccessToken(string, *verifyv2.CreateAccessTokenParams) (*verifyv2.VerifyV2AccessToken, error)
	}, service string) string {
		t.Helper()
		at, err := rc.CreateAccessToken(service, (&verifyv2.CreateAccessTokenParams{}).SetIdentity(identity).SetFactorType("push").SetTtl(300))
		if err != nil {
			t.Fatal(err)
		}
		return *at.Token
	}
	key := func(curve elliptic.Curve) string {
		k, _ := ecdsa.GenerateKey(curve, rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return base64.StdEncoding.EncodeToString(der)
	}
	valid := func() url.Values {
		return url.Values{"FriendlyName": {"Pixel"}, "FactorType": {"push"}, "Binding.PublicKey": {key(elliptic.P256())},
			"Binding.Alg": {"ES256"}, "Config.SdkVersion": {"0.9.0"}, "Config.AppId": {"com.example"},
			"Config.NotificationPlatform": {"none"}}
	}
	with := func(k, v string) url.Values { f := valid(); f.Set(k, v); return f }
	without := func(k string) url.Values { f := valid(); f.Del(k); return f }

	for _, tc := range []struct {
		name       string
		form       url.Values
		token      func(t *testing.T, good string) string
		service    string
		wantStatus int
		wantCode   int
	}{
		{name: "public key not Base64", form: with("Binding.PublicKey", "not base64!"), wantStatus: 400, wantCode: 60385},
		{name: "public key of another curve", form: with("Binding.PublicKey", key(elliptic.P384())), wantStatus: 400, wantCode: 60385},
		{name: "public key missing", form: without("Binding.PublicKey"), wantStatus: 400, wantCode: 60385},
		{name: "unknown Binding.Alg", form: with("Binding.Alg", "ES384"), wantStatus: 400, wantCode: 60314},
		{name: "Binding.Alg missing", form: without("Binding.Alg"), wantStatus: 400, wantCode: 60314},
		{name: "Metadata not JSON", form: with("Metadata", "{os: android"), wantStatus: 400, wantCode: 60200},
		{name: "Metadata not strings", form: with("Metadata", `{"n": 1}`), wantStatus: 400, wantCode: 60200},
		{name: "fcm without a token", form: with("Config.NotificationPlatform", "fcm"), wantStatus: 400, wantCode: 60200},
		{name: "a token with platform none", form: with("Config.NotificationToken", "fcm-token"), wantStatus: 400, wantCode: 60200},
		{name: "FriendlyName too long", form: with("FriendlyName", strings.Repeat("n", 65)), wantStatus: 400, wantCode: 60200},
		{name: "FactorType totp", form: with("FactorType", "totp"), wantStatus: 400, wantCode: 60200},
		{name: "an undeclared field", form: with("Binding.Secret", "x"), wantStatus: 400, wantCode: 60200},
		{name: "tampered token", form: valid(), token: func(_ *testing.T, good string) string {
			b := []byte(good)
			i := len(b) - 5
			b[i] ^= 'A' ^ 'B'
			return string(b)
		}, wantStatus: 401, wantCode: 20003},
		{name: "token of another account's service", form: valid(), token: func(t *testing.T, _ string) string {
			return mint(t, rcOther.VerifyV2, other.ServiceSID)
		}, wantStatus: 401, wantCode: 20003},
		{name: "account credentials", form: valid(), token: nil, service: "account", wantStatus: 401, wantCode: 20003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := mint(t, rc.VerifyV2, s.ServiceSID)
			tok := good
			if tc.token != nil {
				tok = tc.token(t, good)
			}
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/v2/Services/"+s.ServiceSID+"/Entities/"+identity+"/Factors", strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", formType)
			if tc.service == "account" {
				req.SetBasicAuth(s.AccountSID, s.AuthToken)
			} else {
				req.SetBasicAuth("token", tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			checkErrorBody(t, resp, readAll(t, resp), tc.wantStatus, tc.wantCode)
			if _, err := rc.VerifyV2.FetchEntity(s.ServiceSID, identity); err == nil {
				t.Error("a refused enrollment left an entity behind")
			}
			// The good token is not used up: it still enrolls.
			d, err := device.New(device.WithBaseURL(s.URL))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Enroll(context.Background(), s.ServiceSID, identity, good); err != nil {
				t.Fatalf("enrolling with the token after the refusal: %v", err)
			}
			if err := rc.VerifyV2.DeleteEntity(s.ServiceSID, identity); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPushFactorLimits: an entity holds at most 20 push factors, and one
// public key binds one factor of an entity.
func TestPushFactorLimits(t *testing.T) {
	s := verifydtest.Start(t)
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	const identity = "user-0004-many"
	ctx := context.Background()
	enroll := func(opts ...device.Option) (*device.Device, error) {
		at, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).SetIdentity(identity).SetFactorType("push"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := device.New(append([]device.Option{device.WithBaseURL(s.URL)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Enroll(ctx, s.ServiceSID, identity, *at.Token)
		return d, err
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := enroll(device.WithKey(key)); err != nil {
		t.Fatal(err)
	}
	_, err := enroll(device.WithKey(key))
	wantDeviceError(t, err, http.StatusConflict, 60317)
	for i := 1; i < 20; i++ {
		if _, err := enroll(); err != nil {
			t.Fatalf("factor %d: %v", i+1, err)
		}
	}
	_, err = enroll()
	wantDeviceError(t, err, http.StatusBadRequest, 60315)
	list, err := rc.VerifyV2.ListFactor(s.ServiceSID, identity, nil)
	if err != nil || len(list) != 20 {
		t.Errorf("ListFactor = %d factors, %v; want 20", len(list), err)
	}
}

// TestPushDeviceJWT: a device JWT authenticates only with its own
// factor's key, only for its own factor, and every refusal carries Date,
// from which the SDKs correct their clock.
func TestPushDeviceJWT(t *testing.T) {
	s := verifydtest.Start(t)
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	ctx := context.Background()
	enroll := func(identity string) *device.Device {
		t.Helper()
		at, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).SetIdentity(identity).SetFactorType("push"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := device.New(device.WithBaseURL(s.URL))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Enroll(ctx, s.ServiceSID, identity, *at.Token); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := enroll("user-0005-aaaa"), enroll("user-0006-bbbb")
	fa, _ := a.Factor()
	fb, _ := b.Factor()
	// A JWT with a's kid, signed with b's key.
	jwtB, err := b.JWT(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(jwtB, ".")
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"cty":"twilio-pba;v=1","kid":"` + fa.CredentialSID + `","typ":"JWT","alg":"ES256"}`))
	mixed := hdr + "." + rest
	jwtA, err := a.JWT(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stale, err := a.JWT(time.Now().Add(-2 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	early, err := a.JWT(time.Now().Add(10 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	factorURL := func(f device.Factor) string {
		return s.URL + "/v2/Services/" + s.ServiceSID + "/Entities/" + f.Identity + "/Factors/" + f.SID
	}
	for _, tc := range []struct {
		name, url, jwt string
		want           int
	}{
		{"a's kid, b's signature", factorURL(fa), mixed, http.StatusUnauthorized},
		{"a's JWT on b's factor", factorURL(fb), jwtA, http.StatusUnauthorized},
		{"garbage", factorURL(fa), "not.a.jwt", http.StatusUnauthorized},
		{"expired two hours ago", factorURL(fa), stale, http.StatusUnauthorized},
		{"valid only in ten minutes", factorURL(fa), early, http.StatusUnauthorized},
		{"a's JWT on its own factor", factorURL(fa), jwtA, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, tc.url, strings.NewReader("FriendlyName=renamed"))
			req.Header.Set("Content-Type", formType)
			req.SetBasicAuth("token", tc.jwt)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readAll(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				checkErrorBody(t, resp, body, http.StatusUnauthorized, 20003)
				if resp.Header.Get("Date") == "" {
					t.Error("a refused device JWT got no Date header")
				}
			}
		})
	}
}
