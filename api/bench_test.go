package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
)

// benchEnv is a full verifyd handler on SQLite, called in-process through
// httptest.ResponseRecorder: the whole stack, no network.
type benchEnv struct {
	h        http.Handler
	auth     string
	create   string
	fetch    string
	fetchLen int
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	st := openStore(&testing.T{})
	ctx := context.Background()
	keys, err := provision.KeySet(ctx, st, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{}, st, keys, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	acc, secret, err := provision.Account(ctx, st, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	svc, err := provision.Service(ctx, st, acc.SID, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{h: h, create: "/v2/Services/" + svc.SID + "/AccessTokens"}
	req := httptest.NewRequest(http.MethodPost, e.create, strings.NewReader("FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&FactorFriendlyName=John+Doe+iPhone&Ttl=300"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acc.SID, secret)
	e.auth = req.Header.Get("Authorization")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("seed create = %d %s", rec.Code, rec.Body)
	}
	sid := rec.Body.String()[strings.Index(rec.Body.String(), `"sid":"`)+7:]
	e.fetch = e.create + "/" + sid[:34]
	e.fetchLen = rec.Body.Len()
	return e
}

func (e *benchEnv) serve(b *testing.B, method, path, body string, want int) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Authorization", e.auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s = %d, want %d: %s", method, path, rec.Code, want, rec.Body)
	}
}

// BenchmarkBaseline is the floor: a plain net/http handler writing the same
// bytes as a fetch, through the same recorder.
func BenchmarkBaseline(b *testing.B) {
	e := newBenchEnv(b)
	body := []byte(strings.Repeat("x", e.fetchLen))
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, e.fetch, nil)
		req.Header.Set("Authorization", e.auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}

// BenchmarkFetch is a valid fetch through the full stack: auth, request
// validation, store read, response validation.
func BenchmarkFetch(b *testing.B) {
	e := newBenchEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		e.serve(b, http.MethodGet, e.fetch, "", http.StatusOK)
	}
}

// BenchmarkFetchInvalid is a fetch rejected by request validation (a token
// SID with a non-hex digit); it must cost no more than a valid one.
func BenchmarkFetchInvalid(b *testing.B) {
	e := newBenchEnv(b)
	bad := e.fetch[:len(e.fetch)-1] + "g"
	b.ReportAllocs()
	for b.Loop() {
		e.serve(b, http.MethodGet, bad, "", http.StatusBadRequest)
	}
}

// BenchmarkCreate is a durable create through the full stack.
func BenchmarkCreate(b *testing.B) {
	e := newBenchEnv(b)
	const form = "FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&FactorFriendlyName=John+Doe+iPhone&Ttl=300"
	b.ReportAllocs()
	for b.Loop() {
		e.serve(b, http.MethodPost, e.create, form, http.StatusCreated)
	}
}

// BenchmarkCreateParallel shows how concurrent creates share commits.
func BenchmarkCreateParallel(b *testing.B) {
	e := newBenchEnv(b)
	const form = "FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&Ttl=300"
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.serve(b, http.MethodPost, e.create, form, http.StatusCreated)
		}
	})
}
