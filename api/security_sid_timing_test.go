package api_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/sid"
	"github.com/verifykit/verifykit/internal/store/postgres/pgtest"
)

// TestSecuritySIDTiming is finding 3 of the security review: a known SID
// was answered from the credential cache while an unknown one went to the
// store on every request, so the time to reject told whether a SID
// exists. Rejections of an unknown SID must cost what those of a known SID
// cost: one store lookup the first time a client presents it, then none,
// whatever other clients did before. (The timings themselves are measured
// by BenchmarkSecuritySIDTiming; docs/reliability.md has them.)
func TestSecuritySIDTiming(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			st := &countingStore{Store: eng.open(t)}
			e := serveEnv(t, st, api.Config{AuthFailureLimit: -1}, nil)
			fetch := e.URL + "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + sid.New(sid.AccessToken)
			// Two clients: 127.0.0.2 presents each SID first, then 127.0.0.1.
			clients := []*http.Client{fromAddr(t, "127.0.0.2"), fromAddr(t, "127.0.0.1")}
			for _, user := range []string{e.A.APIKeySID, sid.New(sid.APIKey), e.A.AccountSID, sid.New(sid.Account)} {
				for i, c := range clients {
					before := st.lookups.Load()
					for range 10 {
						req, _ := http.NewRequest(http.MethodGet, fetch, nil)
						req.SetBasicAuth(user, "0123456789abcdef0123456789abcdef")
						resp, err := c.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusUnauthorized {
							t.Fatalf("wrong secret for %s = %d, want 401", user, resp.StatusCode)
						}
					}
					if got := st.lookups.Load() - before; got != 1 {
						t.Errorf("10 rejections of %s from client %d reached the store %d times, want 1", user, i+1, got)
					}
				}
			}
		})
	}
}

// fromAddr is an HTTP client whose connections come from the loopback
// address ip.
func fromAddr(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// BenchmarkSecuritySIDTiming measures what the security review measured:
// the time to reject a wrong secret for a SID that exists and for one that
// does not, sampled alternately on one keep-alive connection, on both
// engines. It reports the medians and their ratio (unknown ÷ known), which
// must stay within 10 % of 1.
//
//	go test -run '^$' -bench SecuritySIDTiming -benchtime 2000x ./api/
func BenchmarkSecuritySIDTiming(b *testing.B) {
	for _, eng := range engines() {
		b.Run(eng.name, func(b *testing.B) {
			if eng.name == "postgres" && os.Getenv(pgtest.EnvDSN) == "" {
				// make bench-smoke runs before make test starts a server.
				b.Skip(pgtest.EnvDSN + " is not set")
			}
			e := serveEnv(b, eng.open(b), api.Config{AuthFailureLimit: -1}, nil)
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
			fetch := e.URL + "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + sid.New(sid.AccessToken)
			unknown := sid.New(sid.APIKey)
			reject := func(user string) time.Duration {
				req, _ := http.NewRequest(http.MethodGet, fetch, nil)
				req.SetBasicAuth(user, "0123456789abcdef0123456789abcdef")
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(start)
				if resp.StatusCode != http.StatusUnauthorized {
					b.Fatalf("wrong secret for %s = %d, want 401", user, resp.StatusCode)
				}
				return d
			}
			for range 50 { // warm the connection and the caches
				reject(e.A.APIKeySID)
				reject(unknown)
			}
			known, missing := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				if i%2 == 0 {
					known = append(known, reject(e.A.APIKeySID))
					missing = append(missing, reject(unknown))
				} else {
					missing = append(missing, reject(unknown))
					known = append(known, reject(e.A.APIKeySID))
				}
			}
			b.StopTimer()
			k, m := median(known), median(missing)
			b.ReportMetric(float64(k.Nanoseconds())/1e3, "known-µs")
			b.ReportMetric(float64(m.Nanoseconds())/1e3, "unknown-µs")
			b.ReportMetric(float64(m)/float64(k), "unknown/known")
			b.Logf("%s: median reject of a known SID %v, of an unknown SID %v (%d samples each)", eng.name, k, m, b.N)
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
