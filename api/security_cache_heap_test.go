package api_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/api"
)

// TestSecurityCacheHeap is finding 5 of the security review: the cache of
// error bodies was bounded by count, not bytes, and keyed by the request
// path, so 3,000 distinct 50 KB unknown paths took the heap from 9.6 MB to
// 160 MB for good. No cache keyed or valued by request input may hold more
// than a few MiB, whatever the input: each attack below must leave the
// live heap within 8 MiB of where it started.
func TestSecurityCacheHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 150 MB")
	}
	pad := strings.Repeat("p", 50<<10)
	tests := []struct {
		name string
		send func(e *env, i int) (*http.Response, []byte)
		want int
	}{
		{"distinct 50 KB unknown paths", func(e *env, i int) (*http.Response, []byte) {
			return e.do(t, http.MethodGet, fmt.Sprintf("/%d/%s", i, pad), "", "", e.A.APIKeySID+":"+e.A.APISecret)
		}, http.StatusNotFound},
		{"distinct 12 KB unknown form fields", func(e *env, i int) (*http.Response, []byte) {
			return e.do(t, http.MethodPost, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens", formType,
				fmt.Sprintf("FactorType=push&Identity=abcdefgh&%d%s=1", i, pad[:12<<10]), e.A.APIKeySID+":"+e.A.APISecret)
		}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t, api.Config{})
			before := liveHeap()
			for i := range 3000 {
				if resp, body := tc.send(e, i); resp.StatusCode != tc.want {
					t.Fatalf("request %d = %d %.100s, want %d", i, resp.StatusCode, body, tc.want)
				}
			}
			e.Logs.reset() // the test's copy of the access log is not the server's memory
			after := liveHeap()
			t.Logf("live heap %.1f MiB before, %.1f MiB after", mib(before), mib(after))
			if after > before+8<<20 {
				t.Errorf("live heap grew from %.1f to %.1f MiB", mib(before), mib(after))
			}
		})
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
