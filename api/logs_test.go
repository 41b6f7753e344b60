package api_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
)

// faultyStore breaks on purpose: fetched tokens come back with an invalid
// SID that carries the token itself, so that the response fails validation
// (500) and any log that echoed the value would leak the token; creates
// fail as if the disk were gone (503).
type faultyStore struct{ store.Store }

func (s faultyStore) FetchAccessToken(ctx context.Context, accountSID, serviceSID, sid string) (store.AccessToken, error) {
	t, err := s.Store.FetchAccessToken(ctx, accountSID, serviceSID, sid)
	t.SID = "YK" + t.Token
	return t, err
}

func (s faultyStore) CreateAccessToken(context.Context, store.AccessToken) error {
	return fmt.Errorf("%w: injected write failure", store.ErrUnavailable)
}

// TestLogsHoldNoSecrets runs a whole session, successes and every kind of
// failure, and checks that the logs hold no credential, no Authorization
// header and no access token.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := startEnv(t, api.Config{})
	secrets := map[string]string{
		"A's auth token": e.A.AuthToken, "A's API secret": e.A.APISecret,
		"B's auth token": e.B.AuthToken, "B's API secret": e.B.APISecret,
	}
	forbid := func(what, s string) {
		secrets[what] = s
	}
	authHeader := func(user, pass string) string {
		v := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		forbid("Authorization "+user+":"+pass, v)
		forbid("base64 of "+user+":"+pass, strings.TrimPrefix(v, "Basic "))
		return v
	}
	send := func(h http.Handler, method, path, auth, body string, header http.Header) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.RemoteAddr = "192.0.2.1:40000"
		for k, v := range header {
			req.Header[k] = v
		}
		if body != "" {
			req.Header.Set("Content-Type", formType)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	// The session runs over loopback HTTP, through the handler startEnv
	// serves; status codes are checked loosely, the logs strictly.
	remote := func(method, path, auth, body string, header http.Header) (int, string) {
		req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if body != "" && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", formType)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	listA := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens"
	const valid = "FactorType=push&Identity=abcdefgh&FactorFriendlyName=Alice+iPhone"
	accountA := authHeader(e.A.AccountSID, e.A.AuthToken)
	keyA := authHeader(e.A.APIKeySID, e.A.APISecret)
	accountB := authHeader(e.B.AccountSID, e.B.AuthToken)
	var tokenSIDs []string
	for i, auth := range []string{accountA, keyA} {
		status, body := remote("POST", listA, auth, valid, nil)
		if status != 201 {
			t.Fatalf("create %d = %d %s", i, status, body)
		}
		var tok struct{ SID, Token string }
		if err := json.Unmarshal([]byte(body), &tok); err != nil {
			t.Fatal(err)
		}
		tokenSIDs = append(tokenSIDs, tok.SID)
		forbid("token "+tok.SID, tok.Token)
		forbid("ciphertext of "+tok.SID, strings.Split(tok.Token, ".")[3])
	}
	type step struct {
		method, path, auth, body string
		header                   http.Header
		status                   int
	}
	steps := []step{
		{"GET", listA + "/" + tokenSIDs[0], accountA, "", nil, 200},
		{"GET", listA + "/" + tokenSIDs[1], keyA, "", nil, 200},
		{"GET", listA + "/" + tokenSIDs[0], accountB, "", nil, 404},
		{"POST", listA, accountA, valid + "&Ttl=5", nil, 400},
		{"POST", listA, accountA, valid + "&Color=" + e.A.AuthToken, nil, 400},
		{"POST", listA, accountA, valid + "&FactorFriendlyName=" + strings.Repeat("n", 70<<10), nil, 413},
		{"GET", listA + "/YK" + strings.Repeat("0", 32), accountA, "", nil, 404},
		{"DELETE", listA + "/" + tokenSIDs[0], accountA, "", nil, 405},
		{"GET", listA + "/" + tokenSIDs[0], accountA, "", http.Header{"X-Padding": {strings.Repeat("p", 17<<10)}}, 431},
		{"GET", listA + "/" + tokenSIDs[0], "Bearer " + secrets["token "+tokenSIDs[0]], "", nil, 401},
		{"GET", listA + "/" + tokenSIDs[0], authHeader(e.A.AccountSID, e.B.AuthToken), "", nil, 401},
		{"GET", listA + "/" + tokenSIDs[0], authHeader(e.A.APIKeySID, e.A.AuthToken), "", nil, 401},
		{"GET", listA + "/" + tokenSIDs[0], authHeader("admin", "hunter2-wrong-password"), "", nil, 401},
		{"GET", listA + "/" + tokenSIDs[0], authHeader("AC"+strings.Repeat("0", 32), "wrong-password-for-unknown-account"), "", nil, 401},
	}
	// Account A's SID has failed once above; eight more here.
	for i := range 8 {
		steps = append(steps, step{"GET", listA + "/" + tokenSIDs[0], authHeader(e.A.AccountSID, fmt.Sprintf("wrong-password-%d", i)), "", nil, 401})
	}
	// The same operations as MCP tools: a token created there, and a call
	// with a wrong secret (the tenth failure).
	mcpHeader := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"}}
	status, body := remote("POST", "/mcp", keyA, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_access_token",`+
		`"arguments":{"service_sid":"`+e.A.ServiceSID+`","identity":"abcdefgh","factor_type":"push"}}}`, mcpHeader)
	var call struct {
		Result struct{ Content []struct{ Text string } }
	}
	var tok struct{ SID, Token string }
	if err := json.Unmarshal([]byte(body), &call); err != nil || len(call.Result.Content) != 1 || json.Unmarshal([]byte(call.Result.Content[0].Text), &tok) != nil || tok.Token == "" {
		t.Fatalf("MCP create_access_token = %d %s, want a token", status, body)
	}
	forbid("token "+tok.SID, tok.Token)
	forbid("ciphertext of "+tok.SID, strings.Split(tok.Token, ".")[3])
	steps = append(steps, step{"POST", "/mcp", authHeader(e.A.AccountSID, "wrong-password-over-mcp"),
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"fetch_access_token","arguments":{"service_sid":"` + e.A.ServiceSID + `","sid":"` + tok.SID + `"}}}`,
		mcpHeader, 200})
	// Ten failures of A's account SID: now even its valid auth token is refused.
	steps = append(steps, step{"GET", listA + "/" + tokenSIDs[0], accountA, "", nil, 429})
	for _, w := range steps {
		status, body := remote(w.method, w.path, w.auth, w.body, w.header)
		if status != w.status {
			t.Errorf("%s %s = %d, want %d (%s)", w.method, w.path, status, w.status, body)
		}
	}

	// 5xx, which are logged with their cause: a second handler on the same
	// store and logger, whose store breaks.
	h, err := api.NewHandler(api.Config{}, faultyStore{e.Store}, e.Keys, slog.New(slog.NewJSONHandler(e.Logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := send(h, "GET", listA+"/"+tokenSIDs[0], accountA, "", nil); status != 500 {
		t.Errorf("fetch through a store that breaks the token = %d %s, want 500", status, body)
	}
	if status, body := send(h, "POST", listA, keyA, valid, nil); status != 503 {
		t.Errorf("create on a store that cannot write = %d %s, want 503", status, body)
	}

	logs := e.Logs.String()
	for _, line := range []string{`"status":200`, `"status":401`, `"status":429`, "response violates openapi.yaml", "injected write failure", `"status":500`, `"status":503`} {
		if !strings.Contains(logs, line) {
			t.Errorf("the logs lack %s, so the session did not run as planned:\n%s", line, logs)
		}
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain %s (%q):\n%s", what, s, logs)
		}
	}
}

// TestStoreHoldsNoSecrets reads the raw database files, write-ahead log
// included, after every credential has been used: auth tokens and API
// secrets are stored only as hashes.
func TestStoreHoldsNoSecrets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "verifyd.db"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := provision.KeySet(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewHandler(api.Config{}, st, keys, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a, b := newTenant(t, st, "A"), newTenant(t, st, "B")
	wrong := "0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		tn         tenant
		user, pass string
		want       int
	}{
		{a, a.AccountSID, a.AuthToken, 201}, {a, a.APIKeySID, a.APISecret, 201},
		{b, b.AccountSID, b.AuthToken, 201}, {b, b.APIKeySID, b.APISecret, 201},
		{a, a.AccountSID, wrong, 401},
	} {
		req := httptest.NewRequest(http.MethodPost, "/v2/Services/"+c.tn.ServiceSID+"/AccessTokens", strings.NewReader("FactorType=push&Identity=abcdefgh"))
		req.Header.Set("Content-Type", formType)
		req.SetBasicAuth(c.user, c.pass)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Fatalf("create as %s = %d %s, want %d", c.user, rec.Code, rec.Body, c.want)
		}
	}

	secrets := map[string]string{
		"A's auth token": a.AuthToken, "A's API secret": a.APISecret,
		"B's auth token": b.AuthToken, "B's API secret": b.APISecret,
		"a wrong password": wrong,
	}
	check := func(when string) {
		t.Helper()
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, data...)
		}
		if !strings.Contains(string(all), a.APIKeySID) || !strings.Contains(string(all), "hmac-sha256$") {
			t.Fatalf("%s: the files of %s hold no API key SID or hash; wrong files?", when, dir)
		}
		for what, s := range secrets {
			raw, _ := hex.DecodeString(s)
			for _, form := range []string{s, strings.ToUpper(s), string(raw), base64.StdEncoding.EncodeToString([]byte(s))} {
				if strings.Contains(string(all), form) {
					t.Errorf("%s: the database files contain %s (as %q)", when, what, form)
				}
			}
		}
	}
	check("open")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
}
