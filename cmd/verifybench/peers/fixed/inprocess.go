package fixed

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

// The peers' in-process benchmarks call a peer's handler the way
// verifybench's in-process benchmarks call verifyd's: one parsed request,
// served as a shallow copy per iteration into a writer that keeps its
// header map and discards the body, so that the figures are the
// handler's.

// The secret of the benchmarks' account; the account SID is the one in
// testdata/fetch-body.json, a fetch verifyd answered.
const benchSecret = "0123456789abcdef0123456789abcdef"

var accountSID = regexp.MustCompile(`"account_sid":"(AC[0-9a-f]{32})"`)

// BenchArgs are a peer's arguments for an in-process benchmark: the fetch
// verifyd answered, stored in dir (testdata), and its account.
func BenchArgs(b *testing.B, dir string) Args {
	b.Helper()
	body, err := os.ReadFile(filepath.Join(dir, "fetch-body.json"))
	if err != nil {
		b.Fatal(err)
	}
	m := accountSID.FindSubmatch(body)
	if m == nil {
		b.Fatal("fetch-body.json has no account_sid")
	}
	a, err := ParseArgs([]string{filepath.Join(dir, "fetch-body.json"), filepath.Join(dir, "fetch-header.json"), string(m[1]), benchSecret})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchFetch serves the fetch of a's token through h b.N times. The
// first answer must be 200 with the same JSON value as verifyd's (ogen's
// bytes differ: no newline at the end); every answer after it must be 200
// with as many bytes.
func BenchFetch(b *testing.B, h http.Handler, a Args) {
	b.Helper()
	u := regexp.MustCompile(`"url":"https?://[^/"]+(/[^"]+)"`).FindSubmatch(a.Body)
	if u == nil {
		b.Fatal("fetch-body.json has no url")
	}
	req := httptest.NewRequest(http.MethodGet, string(u[1]), nil)
	req.SetBasicAuth(a.Account, a.Secret)
	first := httptest.NewRecorder()
	h.ServeHTTP(first, req.Clone(req.Context()))
	var got, want any
	if err := json.Unmarshal(first.Body.Bytes(), &got); err != nil || first.Code != http.StatusOK {
		b.Fatalf("GET %s = %d %s, want 200 with verifyd's fetch (%v)", req.URL.Path, first.Code, first.Body, err)
	}
	if err := json.Unmarshal(a.Body, &want); err != nil {
		b.Fatalf("fetch-body.json: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		b.Fatalf("GET %s = %s, want the JSON of %s", req.URL.Path, first.Body, a.Body)
	}
	size := first.Body.Len()
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		r := *req
		clear(w.header)
		w.status, w.n = 0, 0
		h.ServeHTTP(w, &r)
		if w.status != http.StatusOK || w.n != size {
			b.Fatalf("GET %s = %d with %d bytes, want 200 with %d", r.URL.Path, w.status, w.n, size)
		}
	}
}

// discardWriter keeps the status, the header map and the byte count.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
