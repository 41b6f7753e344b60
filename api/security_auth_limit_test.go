package api_test

import (
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/sid"
)

// TestSecurityAuthLimitConcurrency is finding 2 of the security review:
// the failed-authentication limit was checked before authentication and
// the failure recorded after it, so requests released together all passed
// the check. Each of 300 wrong-secret requests from one address is held
// one byte short of complete, then all are released at once; no more than
// the limit may be checked (answered 401), the rest are refused (429).
func TestSecurityAuthLimitConcurrency(t *testing.T) {
	const limit, conns = 10, 300
	// Many Ps, as on the reviewer's machine, widen the race.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(32))
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			for _, existing := range []bool{true, false} {
				e := serveEnv(t, eng.open(t), api.Config{AuthFailureLimit: limit, AuthFailureWindow: time.Hour}, nil)
				user := struct{ name, sid string }{"existing API key", e.A.APIKeySID}
				if !existing {
					user.name, user.sid = "unknown API key", sid.New(sid.APIKey)
				}
				t.Run(user.name, func(t *testing.T) {
					fetch := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + sid.New(sid.AccessToken)
					req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n",
						fetch, e.addr(), basicHeader(user.sid, "0123456789abcdef0123456789abcdef"))
					raws := make([]*rawConn, conns)
					for i := range raws {
						raws[i] = dialRaw(t, e)
						raws[i].send(req[:len(req)-1])
					}
					time.Sleep(200 * time.Millisecond) // let the server read every head
					var (
						wg       sync.WaitGroup
						mu       sync.Mutex
						statuses = map[int]int{}
					)
					start := make(chan struct{})
					for _, c := range raws {
						wg.Add(1)
						go func() {
							defer wg.Done()
							<-start
							if _, err := c.conn.Write([]byte(req[len(req)-1:])); err != nil {
								t.Errorf("write: %v", err)
								return
							}
							resp, _, err := c.response(30 * time.Second)
							if err != nil {
								t.Errorf("response: %v", err)
								return
							}
							mu.Lock()
							statuses[resp.StatusCode]++
							mu.Unlock()
						}()
					}
					close(start)
					wg.Wait()
					t.Logf("statuses of %d concurrent wrong-secret requests: %v", conns, statuses)
					if statuses[http.StatusUnauthorized] > limit {
						t.Errorf("%d requests were checked (401), want at most the limit, %d", statuses[http.StatusUnauthorized], limit)
					}
					if got := statuses[http.StatusUnauthorized] + statuses[http.StatusTooManyRequests]; got != conns {
						t.Errorf("%d answers were 401 or 429, want all %d: %v", got, conns, statuses)
					}
				})
			}
		})
	}
}

// TestSecurityAuthLimitPerCredential is finding 7 of the security review:
// one client sending one wrong secret a second kept every other user
// behind the same address at 429. Failures are limited per client and
// credential SID, so valid credentials are not refused because of another
// credential's failures, while the failing credential still is.
func TestSecurityAuthLimitPerCredential(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			clock := newFakeClock()
			e := serveEnv(t, eng.open(t), api.Config{Now: clock.Now}, nil)
			fetch := "/v2/Services/" + e.B.ServiceSID + "/AccessTokens/" + sid.New(sid.AccessToken)
			wrong := e.A.APIKeySID + ":0123456789abcdef0123456789abcdef"
			valid := e.B.APIKeySID + ":" + e.B.APISecret
			var wrongStatuses, validStatuses []int
			for range 30 {
				resp, _ := e.do(t, http.MethodGet, fetch, "", "", wrong)
				wrongStatuses = append(wrongStatuses, resp.StatusCode)
				for range 4 {
					resp, _ := e.do(t, http.MethodGet, fetch, "", "", valid)
					validStatuses = append(validStatuses, resp.StatusCode)
				}
				clock.Advance(time.Second)
			}
			for i, s := range validStatuses {
				if s != http.StatusNotFound {
					t.Errorf("valid request %d of %d = %d, want 404 (authenticated, unknown token): %v", i+1, len(validStatuses), s, validStatuses)
					break
				}
			}
			var refused int
			for _, s := range wrongStatuses {
				if s == http.StatusTooManyRequests {
					refused++
				}
			}
			// 10 failures, then one more every 6 s: 30 requests in 30 s
			// get at most 10 + 5 checks.
			if refused < 30-15 {
				t.Errorf("the failing credential was refused %d times of 30, want at least 15: %v", refused, wrongStatuses)
			}
		})
	}
}

// TestSecurityAuthLimitUnknownSIDCeiling: failures on SIDs that do not
// exist are capped per client too, by a ceiling on all of a client's
// failures. Once a client is over it, it may still use a credential that
// succeeded since it began failing, but not one it has not yet proved;
// whether a SID exists never changes the answer.
func TestSecurityAuthLimitUnknownSIDCeiling(t *testing.T) {
	clock := newFakeClock()
	e := serveEnv(t, openStore(t), api.Config{Now: clock.Now, AuthFailureLimit: 2}, nil)
	fetch := "/v2/Services/" + e.B.ServiceSID + "/AccessTokens/" + sid.New(sid.AccessToken)
	wrong := func(user string) int {
		resp, _ := e.do(t, http.MethodGet, fetch, "", "", user+":0123456789abcdef0123456789abcdef")
		return resp.StatusCode
	}
	if s := wrong(sid.New(sid.APIKey)); s != http.StatusUnauthorized {
		t.Fatalf("first failure = %d, want 401", s)
	}
	// B authenticates while its address is failing: it has proved itself.
	if resp, _ := e.do(t, http.MethodGet, fetch, "", "", e.B.APIKeySID+":"+e.B.APISecret); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("valid B = %d, want 404", resp.StatusCode)
	}
	// A ceiling of 10 × the limit: 20 failures in all, one per new SID.
	var unauthorized int
	for range 40 {
		if wrong(sid.New(sid.APIKey)) == http.StatusUnauthorized {
			unauthorized++
		}
	}
	if unauthorized != 19 {
		t.Errorf("%d of 40 failures on new unknown SIDs were checked, want 19 (a ceiling of 20, one used before)", unauthorized)
	}
	for _, tc := range []struct {
		name, user string
		want       int
	}{
		{"another unknown SID", sid.New(sid.APIKey) + ":0123456789abcdef0123456789abcdef", http.StatusTooManyRequests},
		{"an existing SID with a wrong secret", e.A.AccountSID + ":0123456789abcdef0123456789abcdef", http.StatusTooManyRequests},
		{"valid credentials not yet proved from this address", e.A.APIKeySID + ":" + e.A.APISecret, http.StatusTooManyRequests},
		{"valid credentials proved while failing", e.B.APIKeySID + ":" + e.B.APISecret, http.StatusNotFound},
	} {
		if resp, body := e.do(t, http.MethodGet, fetch, "", "", tc.user); resp.StatusCode != tc.want {
			t.Errorf("%s over the ceiling = %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	clock.Advance(time.Minute) // the ceiling refills
	if resp, _ := e.do(t, http.MethodGet, fetch, "", "", e.A.APIKeySID+":"+e.A.APISecret); resp.StatusCode != http.StatusNotFound {
		t.Errorf("valid A after the window = %d, want 404", resp.StatusCode)
	}
}
