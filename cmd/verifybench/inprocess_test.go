package main

// The in-process benchmarks: verifyd's full stack (api.NewHandler) beside
// the plain baseline and the generated echo server (floor.go), each called
// through the same harness, so that one run shows what the framework costs
// and what verifyd's own stages add.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/device"
	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store/sqlite"
)

// benchEnv is a full verifyd handler on SQLite, called in-process through
// httptest.ResponseRecorder: the whole stack, no network.
type benchEnv struct {
	h        http.Handler
	service  string
	auth     string
	create   string
	fetch    string
	fetchLen int
	// token is the seed access token (the token field), which a device
	// enrolls with.
	token string
}

// seedIdentity is the entity of the seed access token, and of the push
// factor the challenge benchmarks enroll.
const seedIdentity = "ff483d1ff591898a9942916050d2ca3f"

func newBenchEnv(b *testing.B) *benchEnv {
	return newBenchEnvWith(b, nil)
}

// newBenchEnvWith is newBenchEnv with a handler built from the api.Config
// that configure returns; configure sees the store and the provisioned
// account before the handler exists, as verifyd's wiring does.
func newBenchEnvWith(b *testing.B, configure func(st *sqlite.Store, account, authToken string) api.Config) *benchEnv {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "verifyd.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	keys, err := provision.KeySet(ctx, st, time.Now())
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
	var cfg api.Config
	if configure != nil {
		cfg = configure(st, acc.SID, secret)
	}
	h, err := api.NewHandler(cfg, st, keys, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{h: h, service: svc.SID, create: "/v2/Services/" + svc.SID + "/AccessTokens"}
	req := httptest.NewRequest(http.MethodPost, e.create, strings.NewReader("FactorType=push&Identity="+seedIdentity+"&FactorFriendlyName=John+Doe+iPhone&Ttl=300"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acc.SID, secret)
	e.auth = req.Header.Get("Authorization")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("seed create = %d %s", rec.Code, rec.Body)
	}
	var seed struct {
		SID   string `json:"sid"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &seed); err != nil {
		b.Fatalf("seed create: %v", err)
	}
	e.fetch = e.create + "/" + seed.SID
	e.fetchLen = rec.Body.Len()
	e.token = seed.Token
	return e
}

// request is a reusable request for one benchmark loop. The harness costs
// next to nothing, so that the figures are the handler's: each iteration
// serves a shallow copy of one parsed request (handlers may replace its
// Body) into a writer that keeps its header map and discards the bytes.
type request struct {
	base *http.Request
	body string
	rd   strings.Reader
	w    discardWriter
}

func (e *benchEnv) request(method, path, body string) *request {
	return requestAs(e.auth, method, path, body)
}

// requestAs is a reusable request with the Authorization value auth.
func requestAs(auth, method, path, body string) *request {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", auth)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.ContentLength = int64(len(body))
	}
	return &request{base: req, body: body, w: discardWriter{header: http.Header{}}}
}

// serve runs one request through h and fails b unless it got status want.
func (q *request) serve(b *testing.B, h http.Handler, want int) {
	r := *q.base
	if q.body != "" {
		q.rd.Reset(q.body)
		r.Body = io.NopCloser(&q.rd)
	}
	q.w.reset()
	h.ServeHTTP(&q.w, &r)
	if q.w.status != want {
		b.Fatalf("%s %s = %d, want %d", r.Method, r.URL.Path, q.w.status, want)
	}
}

// discardWriter is an http.ResponseWriter that keeps the status and header
// and throws the body away.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) reset() {
	clear(w.header)
	w.status, w.n = 0, 0
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

// BenchmarkBaseline is the limit: a plain net/http handler writing the same
// bytes as a fetch, through the same recorder.
func BenchmarkBaseline(b *testing.B) {
	e := newBenchEnv(b)
	body := []byte(strings.Repeat("x", e.fetchLen))
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	q := e.request(http.MethodGet, e.fetch, "")
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, h, http.StatusOK)
	}
}

// BenchmarkGeneratedEcho is the framework's floor: the generated echo
// server, with no stage of verifyd's around it, writing the same bytes as
// a fetch through the same recorder.
func BenchmarkGeneratedEcho(b *testing.B) {
	e := newBenchEnv(b)
	body := []byte(strings.Repeat("x", e.fetchLen))
	h := generatedFloor(http.Header{"Content-Type": {"application/json"}}, body)
	q := e.request(http.MethodGet, e.fetch, "")
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, h, http.StatusOK)
	}
}

// BenchmarkFetch is a valid fetch through the full stack: auth, request
// validation, store read, response validation.
func BenchmarkFetch(b *testing.B) {
	e := newBenchEnv(b)
	q := e.request(http.MethodGet, e.fetch, "")
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, e.h, http.StatusOK)
	}
}

// BenchmarkFetchInvalid is a fetch rejected by request validation (a token
// SID with a non-hex digit); it must cost no more than a valid one.
func BenchmarkFetchInvalid(b *testing.B) {
	e := newBenchEnv(b)
	bad := e.fetch[:len(e.fetch)-1] + "g"
	q := e.request(http.MethodGet, bad, "")
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, e.h, http.StatusBadRequest)
	}
}

// BenchmarkFetchUnknown is a well-formed fetch of a token SID that does
// not exist: 404 · 20404, the answer to a client guessing SIDs.
func BenchmarkFetchUnknown(b *testing.B) {
	e := newBenchEnv(b)
	unknown := e.fetch[:len(e.fetch)-32] + strings.Repeat("0", 32)
	q := e.request(http.MethodGet, unknown, "")
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, e.h, http.StatusNotFound)
	}
}

// BenchmarkFetchWrongSecret is a fetch with the right account SID and a
// wrong secret: 401 · 20003 after the secret's HMAC check. The limit on
// failed authentications is off, as in the load benchmark, or it would
// answer 429 before checking from the eleventh request on.
func BenchmarkFetchWrongSecret(b *testing.B) {
	e := newBenchEnvWith(b, func(*sqlite.Store, string, string) api.Config { return api.Config{AuthFailureLimit: -1} })
	q := e.request(http.MethodGet, e.fetch, "")
	user, secret, ok := q.base.BasicAuth()
	if !ok {
		b.Fatal("the bench request has no Basic credentials")
	}
	q.base.SetBasicAuth(user, strings.Repeat("0", len(secret)))
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, e.h, http.StatusUnauthorized)
	}
}

// BenchmarkCreate is a durable create through the full stack.
func BenchmarkCreate(b *testing.B) {
	e := newBenchEnv(b)
	const form = "FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&FactorFriendlyName=John+Doe+iPhone&Ttl=300"
	q := e.request(http.MethodPost, e.create, form)
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, e.h, http.StatusCreated)
	}
}

// BenchmarkCreateParallel shows how concurrent creates share commits.
func BenchmarkCreateParallel(b *testing.B) {
	e := newBenchEnv(b)
	const form = "FactorType=push&Identity=ff483d1ff591898a9942916050d2ca3f&Ttl=300"
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		q := e.request(http.MethodPost, e.create, form)
		for pb.Next() {
			q.serve(b, e.h, http.StatusCreated)
		}
	})
}

// passThrough is a middleware that does nothing: seven of them, the length
// of verifyd's chain, isolate what composing a chain costs.
func passThrough(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return next(c) }
}

// BenchmarkChainComposition isolates one choice of the design: verifyd's
// stages are e.Use middleware, which echo composes anew for every request.
// "use" is the generated echo server with seven pass-through e.Use
// middlewares; "composed" wraps the same seven around the handler once,
// at start-up. The difference is the cost of composing per request.
func BenchmarkChainComposition(b *testing.B) {
	e := newBenchEnv(b)
	body := []byte(strings.Repeat("x", e.fetchLen))
	fixed := fixedResponse{http.Header{"Content-Type": {"application/json"}}, body}
	chain := []echo.MiddlewareFunc{passThrough, passThrough, passThrough, passThrough, passThrough, passThrough, passThrough}
	q := e.request(http.MethodGet, e.fetch, "")

	use := echo.New()
	use.Use(chain...)
	verifyserver.RegisterHandlers(use, verifyserver.NewStrictHandler(floorServer{resp: fixed}, nil))

	composed := echo.New()
	verifyserver.RegisterHandlers(composedRouter{composed, chain}, verifyserver.NewStrictHandler(floorServer{resp: fixed}, nil))

	for name, h := range map[string]http.Handler{"use": use, "composed": composed} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q.serve(b, h, http.StatusOK)
			}
		})
	}
}

// composedRouter registers each route with the chain composed around its
// handler once.
type composedRouter struct {
	*echo.Echo
	chain []echo.MiddlewareFunc
}

func (r composedRouter) GET(path string, h echo.HandlerFunc, _ ...echo.MiddlewareFunc) *echo.Route {
	for i := len(r.chain) - 1; i >= 0; i-- {
		h = r.chain[i](h)
	}
	return r.Echo.GET(path, h)
}

// BenchmarkEncodeResponse isolates another: handlers return the generated
// response type, whose Visit method encodes the model with encoding/json
// on every request, where the design before it sent cached bytes.
func BenchmarkEncodeResponse(b *testing.B) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	s := func(v string) *string { return &v }
	model := models.AccessToken{
		SID: s("YK" + strings.Repeat("a", 32)), AccountSID: s("AC" + strings.Repeat("a", 32)), ServiceSID: s("VA" + strings.Repeat("a", 32)),
		EntityIdentity: s("ff483d1ff591898a9942916050d2ca3f"), FactorType: models.Push, FactorFriendlyName: s("John Doe iPhone"),
		Token: s(strings.Repeat("t", 420)), URL: s("http://127.0.0.1:8080/v2/Services/VA" + strings.Repeat("a", 32) + "/AccessTokens/YK" + strings.Repeat("a", 32)),
		TTL: 300, DateCreated: &created,
	}
	resp := verifyserver.FetchAccessToken200JSONResponse{Body: model}
	cached, err := json.Marshal(model)
	if err != nil {
		b.Fatal(err)
	}
	w := &discardWriter{header: http.Header{}}
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			if err := resp.VisitFetchAccessTokenResponse(w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			w.Header()["Content-Type"] = []string{"application/json"}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(cached)
		}
	})
}

// pushEnv is a benchEnv with a verified push factor of seedIdentity,
// enrolled and verified by a simulated device (device.Device) through the
// same handler, in-process.
type pushEnv struct {
	*benchEnv
	dev    *device.Device
	factor device.Factor
	// challenges is the entity's Challenges path.
	challenges string
}

func newPushEnv(b *testing.B, e *benchEnv) *pushEnv {
	b.Helper()
	ctx := context.Background()
	dev, err := device.New(device.WithBaseURL("http://example.com"), device.WithHTTPClient(inProcess{e.h}))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dev.Enroll(ctx, e.service, seedIdentity, e.token); err != nil {
		b.Fatal(err)
	}
	f, err := dev.Verify(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return &pushEnv{benchEnv: e, dev: dev, factor: *f,
		challenges: "/v2/Services/" + e.service + "/Entities/" + seedIdentity + "/Challenges"}
}

// challengeForm is a CreateChallenge body as a backend sends it: the
// factor, a message and one field. A zero expires leaves the default.
func (p *pushEnv) challengeForm(expires time.Time) string {
	v := url.Values{
		"FactorSid":       {p.factor.SID},
		"Details.Message": {"Is it you logging in?"},
		"Details.Fields":  {`{"label":"Location","value":"Lisboa, PT"}`},
	}
	if !expires.IsZero() {
		v.Set("ExpirationDate", expires.UTC().Format(time.RFC3339))
	}
	return v.Encode()
}

// createChallenge creates a pending challenge with the account's
// credentials and returns its SID.
func (p *pushEnv) createChallenge(b *testing.B, form string) string {
	b.Helper()
	req := httptest.NewRequest(http.MethodPost, p.challenges, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", p.auth)
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	var c struct {
		SID    string `json:"sid"`
		Status string `json:"status"`
	}
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &c) != nil || c.Status != device.ChallengePending {
		b.Fatalf("CreateChallenge = %d %s, want 201 pending", rec.Code, rec.Body)
	}
	return c.SID
}

// challengeStatus fetches challenge sid with the account's credentials
// and returns its status.
func (p *pushEnv) challengeStatus(b *testing.B, sid string) string {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, p.challenges+"/"+sid, nil)
	req.Header.Set("Authorization", p.auth)
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	var c struct {
		Status string `json:"status"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &c) != nil {
		b.Fatalf("FetchChallenge %s = %d %s, want 200", sid, rec.Code, rec.Body)
	}
	return c.Status
}

// answer is an UpdateChallenge request ready to send: the device's
// signed approval of challenge sid, with a device JWT.
type answer struct {
	sid string
	q   *request
}

// answers creates n pending challenges and has the device fetch each and
// sign its approval, as Approve does before it posts: what is left to
// time is the UpdateChallenge request alone. The challenges live an hour,
// so that setting up many cannot outlast the first.
func (p *pushEnv) answers(b *testing.B, n int) []answer {
	b.Helper()
	ctx := context.Background()
	form := p.challengeForm(time.Now().Add(time.Hour - time.Minute))
	sids := make([]string, n)
	payloads := make([]string, n)
	for i := range n {
		sids[i] = p.createChallenge(b, form)
		c, err := p.dev.Challenge(ctx, sids[i])
		if err != nil {
			b.Fatal(err)
		}
		if payloads[i], err = p.dev.SignAnswer(c, device.ChallengeApproved); err != nil {
			b.Fatal(err)
		}
	}
	// One JWT for all: it is valid for ten minutes, and the server
	// verifies it on every request all the same.
	jwt, err := p.dev.JWT(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("token:"+jwt))
	out := make([]answer, n)
	for i := range n {
		body := url.Values{"AuthPayload": {payloads[i]}}.Encode()
		out[i] = answer{sid: sids[i], q: requestAs(auth, http.MethodPost, p.challenges+"/"+sids[i], body)}
	}
	return out
}

// inProcess is a device.Doer that serves each request with h, in-process,
// shaped as a net/http server would have received it.
type inProcess struct{ h http.Handler }

func (p inProcess) Do(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RequestURI = req.URL.RequestURI()
	r.Host = req.URL.Host
	r.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	r.RemoteAddr = "192.0.2.1:1234"
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// BenchmarkChallengeCreate is CreateChallenge through the full stack, as
// a backend sends it (account auth; a message and one field): a durable
// write of the challenge and its push.
func BenchmarkChallengeCreate(b *testing.B) {
	p := newPushEnv(b, newBenchEnv(b))
	q := p.request(http.MethodPost, p.challenges, p.challengeForm(time.Time{}))
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, p.h, http.StatusCreated)
	}
}

// BenchmarkChallengeFetch is FetchChallenge of one pending challenge with
// account auth, repeated as BenchmarkFetch repeats its fetch.
func BenchmarkChallengeFetch(b *testing.B) {
	p := newPushEnv(b, newBenchEnv(b))
	sid := p.createChallenge(b, p.challengeForm(time.Now().Add(time.Hour-time.Minute)))
	q := p.request(http.MethodGet, p.challenges+"/"+sid, "")
	b.ReportAllocs()
	for b.Loop() {
		q.serve(b, p.h, http.StatusOK)
	}
}

// BenchmarkChallengeUpdate is UpdateChallenge approving a pending
// challenge with a device JWT and a signed AuthPayload: two signature
// checks and a durable write, the webhook event's included. Each
// iteration answers its own challenge, made and signed before the timer
// starts.
func BenchmarkChallengeUpdate(b *testing.B) {
	p := newPushEnv(b, newBenchEnv(b))
	answers := p.answers(b, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for _, a := range answers {
		a.q.serve(b, p.h, http.StatusOK)
	}
	b.StopTimer()
	for _, a := range answers {
		if got := p.challengeStatus(b, a.sid); got != device.ChallengeApproved {
			b.Fatalf("challenge %s after UpdateChallenge: status %q, want %q", a.sid, got, device.ChallengeApproved)
		}
	}
}
