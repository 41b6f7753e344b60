package verifydtest_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	verifyv2 "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/verifykit/verifykit/verifydtest"
)

// hostRecorder records the host of every request the SDK makes, before
// the redirect.
type hostRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, req.URL.Host)
	h.mu.Unlock()
	return h.next.RoundTrip(req)
}

// newTwilio returns the unchanged twilio-go SDK with its HTTP client set,
// authenticating as user:pass, with the edge and region given (which
// override TWILIO_EDGE and TWILIO_REGION).
func newTwilio(hc *http.Client, user, pass, accountSID, edge, region string) *twilio.RestClient {
	c := &client.Client{Credentials: client.NewCredentials(user, pass), HTTPClient: hc}
	c.SetAccountSid(accountSID)
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
	rc.SetEdge(edge)
	rc.SetRegion(region)
	return rc
}

func TestTwilioSDK(t *testing.T) {
	s := verifydtest.Start(t)
	tests := []struct {
		edge, region string
		wantHost     string
	}{
		{"", "", "verify.twilio.com"},
		{"sydney", "au1", "verify.sydney.au1.twilio.com"},
		{"", "ie1", "verify.ie1.twilio.com"},
		{"dublin", "", "verify.dublin.us1.twilio.com"}, // the SDK's default region
	}
	for _, tc := range tests {
		t.Run(tc.wantHost, func(t *testing.T) {
			rec := &hostRecorder{next: s.Client().Transport}
			hc := &http.Client{Transport: rec, CheckRedirect: s.Client().CheckRedirect}
			rc := newTwilio(hc, s.APIKeySID, s.APIKeySecret, s.AccountSID, tc.edge, tc.region)

			created, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID, (&verifyv2.CreateAccessTokenParams{}).
				SetIdentity("ff483d1ff591898a9942916050d2ca3f").SetFactorType("push").SetFactorFriendlyName("John Doe iPhone").SetTtl(300))
			if err != nil {
				t.Fatalf("CreateAccessToken(%s): %v", s.ServiceSID, err)
			}
			if created.Sid == nil || created.Token == nil {
				t.Fatalf("CreateAccessToken(%s) = %+v, want a sid and a token", s.ServiceSID, created)
			}
			fetched, err := rc.VerifyV2.FetchAccessToken(s.ServiceSID, *created.Sid)
			if err != nil {
				t.Fatalf("FetchAccessToken(%s, %s): %v", s.ServiceSID, *created.Sid, err)
			}
			if diff := cmp.Diff(created, fetched); diff != "" {
				t.Errorf("FetchAccessToken mismatch with the created token (-created +fetched):\n%s", diff)
			}
			if *fetched.EntityIdentity != "ff483d1ff591898a9942916050d2ca3f" || fetched.Ttl != 300 {
				t.Errorf("fetched identity %q ttl %d, want ff483d1ff591898a9942916050d2ca3f and 300", *fetched.EntityIdentity, fetched.Ttl)
			}
			if claims, err := s.OpenToken(*created.Token); err != nil || claims.SID != *created.Sid {
				t.Errorf("OpenToken(created token) = %+v, %v; want claims for %s", claims, err, *created.Sid)
			}
			if diff := cmp.Diff([]string{tc.wantHost, tc.wantHost}, rec.hosts); diff != "" {
				t.Errorf("hosts the SDK addressed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTwilioSDKErrors(t *testing.T) {
	s := verifydtest.Start(t)
	rc := newTwilio(s.Client(), s.AccountSID, s.AuthToken, s.AccountSID, "", "")
	_, err := rc.VerifyV2.CreateAccessToken(s.ServiceSID,
		(&verifyv2.CreateAccessTokenParams{}).SetIdentity("user-0001").SetFactorType("push").SetTtl(5))
	var te *client.TwilioRestError
	if !errors.As(err, &te) || te.Code != 60200 || te.Status != 400 || te.Message != "Invalid parameter: Ttl" {
		t.Errorf("CreateAccessToken(Ttl 5) error = %v, want TwilioRestError 60200 Invalid parameter: Ttl", err)
	}
}

func TestTwilioSDKRefusesOtherHosts(t *testing.T) {
	s := verifydtest.Start(t)
	rc := newTwilio(s.Client(), s.AccountSID, s.AuthToken, s.AccountSID, "", "")
	// The Messaging API lives on api.twilio.com, which is not redirected.
	_, err := rc.Api.FetchAccount(s.AccountSID)
	var he *verifydtest.HostError
	if !errors.As(err, &he) || he.Host != "api.twilio.com" {
		t.Fatalf("FetchAccount through s.Client() error = %v, want *verifydtest.HostError for api.twilio.com", err)
	}
	t.Logf("the SDK reports: %v", err)
}
