package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/verifydtest"
)

// TestPushEnrollment drives a whole enrollment over real HTTP: the
// backend, with the unchanged twilio-go SDK, mints an access token; the
// simulated device enrolls with it, as the mobile SDKs do, and verifies
// its factor; the backend then sees the entity and the verified factor.
// Around it, what must fail does: a second enrollment with the same token,
// an expired token, a verification signed by another key.
func TestPushEnrollment(t *testing.T) {
	clock := newFakeClock()
	s := verifydtest.Start(t, verifydtest.WithClock(clock.Now))
	rc, _ := twilioClient(s, s.AccountSID, s.AuthToken, s.AccountSID)
	const identity = "user-0001-push"
	ctx := context.Background()

	mint := func(t *testing.T, ttl int) string {
		t.Helper()
		at, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).
			SetIdentity(identity).SetFactorType("push").SetTtl(ttl))
		if err != nil {
			t.Fatalf("CreateAccessToken: %v", err)
		}
		return *at.Token
	}
	newDevice := func(t *testing.T, flavor device.Flavor) *device.Device {
		t.Helper()
		d, err := device.New(device.WithBaseURL(s.URL), device.WithFlavor(flavor), device.WithClock(clock.Now),
			device.WithPushToken(device.PlatformFCM, "fcm-token-0123456789abcdef0123456789"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	token := mint(t, 300)
	phone := newDevice(t, device.Android)
	f, err := phone.Enroll(ctx, s.ServiceSID, identity, token)
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if f.Status != "unverified" || !strings.HasPrefix(f.CredentialSID, "CR") || f.AccountSID != s.AccountSID {
		t.Errorf("enrolled factor = %+v, want unverified, with a CR credential, of the account", f)
	}
	if f, err = phone.Verify(ctx); err != nil || f.Status != "verified" {
		t.Fatalf("Verify = %+v, %v; want verified", f, err)
	}

	entity, err := rc.VerifyV2.FetchEntity(s.ServiceSID, identity)
	if err != nil || *entity.Identity != identity {
		t.Fatalf("FetchEntity = %+v, %v; want the entity the enrollment created", entity, err)
	}
	factors, err := rc.VerifyV2.ListFactor(s.ServiceSID, identity, nil)
	if err != nil || len(factors) != 1 || *factors[0].Sid != f.SID || *factors[0].Status != "verified" {
		t.Fatalf("ListFactor = %v, %v; want the one verified factor", factors, err)
	}
	config, _ := (*factors[0].Config).(map[string]any)
	if config["credential_sid"] != f.CredentialSID || config["notification_platform"] != "fcm" {
		t.Errorf("factor config = %v, want its credential_sid and fcm", config)
	}
	fetched, err := rc.VerifyV2.FetchFactor(s.ServiceSID, identity, f.SID)
	if err != nil || *fetched.Sid != f.SID {
		t.Fatalf("FetchFactor = %v, %v", fetched, err)
	}

	t.Run("the token enrolls once", func(t *testing.T) {
		_, err := newDevice(t, device.IOS).Enroll(ctx, s.ServiceSID, identity, token)
		wantDeviceError(t, err, http.StatusUnauthorized, 20003)
	})
	t.Run("an expired token", func(t *testing.T) {
		expiring := mint(t, 60)
		clock.Advance(61 * time.Second)
		_, err := newDevice(t, device.Android).Enroll(ctx, s.ServiceSID, identity, expiring)
		wantDeviceError(t, err, http.StatusUnauthorized, 20003)
	})
	t.Run("a token of another identity", func(t *testing.T) {
		other := mint(t, 300)
		_, err := newDevice(t, device.Android).Enroll(ctx, s.ServiceSID, "user-0002-push", other)
		wantDeviceError(t, err, http.StatusUnauthorized, 20003)
	})
	t.Run("a verification signed by another key", func(t *testing.T) {
		second := newDevice(t, device.IOS)
		g, err := second.Enroll(ctx, s.ServiceSID, identity, mint(t, 300))
		if err != nil {
			t.Fatalf("Enroll: %v", err)
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		sum := sha256.Sum256([]byte(g.SID))
		sig, _ := ecdsa.SignASN1(rand.Reader, other, sum[:])
		jwt, err := second.JWT(clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"AuthPayload": {base64.StdEncoding.EncodeToString(sig)}}
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/v2/Services/"+s.ServiceSID+"/Entities/"+identity+"/Factors/"+g.SID, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", formType)
		req.SetBasicAuth("token", jwt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		checkErrorBody(t, resp, readAll(t, resp), http.StatusForbidden, 60311)
		got, err := rc.VerifyV2.FetchFactor(s.ServiceSID, identity, g.SID)
		if err != nil || *got.Status != "unverified" {
			t.Errorf("factor after a failed verification = %v, %v; want unverified", got, err)
		}
	})
	t.Run("errors decode as TwilioRestError", func(t *testing.T) {
		_, err := rc.VerifyV2.FetchEntity(s.ServiceSID, "nobody-at-all")
		var te *client.TwilioRestError
		if !errors.As(err, &te) || te.Status != http.StatusNotFound || te.Code != 60392 {
			t.Errorf("FetchEntity of nobody = %v, want TwilioRestError 404 · 60392", err)
		}
	})
	t.Run("the device deletes its factor", func(t *testing.T) {
		if err := phone.Unenroll(ctx); err != nil {
			t.Fatalf("Unenroll: %v", err)
		}
		if _, err := rc.VerifyV2.FetchFactor(s.ServiceSID, identity, f.SID); err == nil {
			t.Error("the factor is still there after the device deleted it")
		}
	})
	t.Run("the backend deletes the entity", func(t *testing.T) {
		if err := rc.VerifyV2.DeleteEntity(s.ServiceSID, identity); err != nil {
			t.Fatalf("DeleteEntity: %v", err)
		}
		if list, err := rc.VerifyV2.ListEntity(s.ServiceSID, nil); err != nil || len(list) != 0 {
			t.Errorf("ListEntity after the delete = %v, %v; want none", list, err)
		}
	})
}

// wantDeviceError fails t unless err is the device's Twilio error with
// that status and code.
func wantDeviceError(t *testing.T, err error, status, code int) {
	t.Helper()
	var de *device.Error
	if !errors.As(err, &de) || de.Status != status || de.Code != code {
		t.Errorf("error = %v, want %d · %d", err, status, code)
	}
}
