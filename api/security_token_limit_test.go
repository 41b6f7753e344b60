package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store"
)

// factorLookups is a real store that counts device credential lookups.
type factorLookups struct {
	store.Store
	n atomic.Int64
}

func (s *factorLookups) FetchFactorByCredential(ctx context.Context, credentialSID string) (store.Factor, error) {
	s.n.Add(1)
	return s.Store.FetchFactorByCredential(ctx, credentialSID)
}

// forgedDeviceJWT is a well-formed device JWT for the credential kid,
// with a signature of random bytes.
func forgedDeviceJWT(kid, account string) string {
	now := time.Now().Unix()
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"cty":"twilio-pba;v=1","kid":"`+kid+`","typ":"JWT","alg":"ES256"}`)) + "." +
		enc(fmt.Appendf(nil, `{"sub":%q,"exp":%d,"nbf":%d}`, account, now+600, now)) + "." + enc(sig)
}

// TestSecurityDeviceJWTLimit: device JWTs share the failed-authentication
// limit of the client's token credentials, and a client past it is
// refused before its JWT's kid is looked up, so forged JWTs cannot make
// the store work without bound.
func TestSecurityDeviceJWTLimit(t *testing.T) {
	const limit, tries = 10, 40
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			st := &factorLookups{Store: eng.open(t)}
			e := serveEnv(t, st, api.Config{AuthFailureLimit: limit, AuthFailureWindow: time.Hour}, nil)
			path := "/v2/Services/" + e.A.ServiceSID + "/Entities/user-0007-lim/Factors/" + sid.New(sid.Factor)
			statuses := map[int]int{}
			for range tries {
				jwt := forgedDeviceJWT(sid.New(sid.Credential), e.A.AccountSID)
				resp, _ := e.do(t, http.MethodPost, path, formType, "FriendlyName=x", "token:"+jwt)
				statuses[resp.StatusCode]++
			}
			if statuses[http.StatusUnauthorized] != limit || statuses[http.StatusTooManyRequests] != tries-limit {
				t.Errorf("statuses of %d forged device JWTs = %v, want %d × 401 then 429", tries, statuses, limit)
			}
			if n := st.n.Load(); n > limit {
				t.Errorf("%d forged device JWTs made %d credential lookups, want at most %d", tries, n, limit)
			}
		})
	}
}

// TestSecurityTokenSchemeNoCredentials: a request with no Authorization
// header guesses nothing, so it does not count against the client's
// failures, on the token schemes as on the account scheme.
func TestSecurityTokenSchemeNoCredentials(t *testing.T) {
	const limit = 3
	e := serveEnv(t, openStore(t), api.Config{AuthFailureLimit: limit, AuthFailureWindow: time.Hour}, nil)
	enroll := "/v2/Services/" + e.A.ServiceSID + "/Entities/user-0008-none/Factors"
	form := "FriendlyName=x&FactorType=push&Binding.Alg=ES256&Binding.PublicKey=AAAA&Config.SdkVersion=1&Config.AppId=a&Config.NotificationPlatform=none"
	for i := range 3 * limit {
		resp, body := e.do(t, http.MethodPost, enroll, formType, form, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d without credentials: %d %s, want 401", i+1, resp.StatusCode, body)
		}
	}
	resp, body := e.do(t, http.MethodPost, enroll, formType, form, "token:not-a-token")
	checkErrorBody(t, resp, body, http.StatusUnauthorized, 20003)
}
