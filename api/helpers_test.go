package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/gen/verifyclient"
	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/provision"
	"github.com/verifykit/verifykit/internal/store"
	"github.com/verifykit/verifykit/internal/store/sqlite"
	"github.com/verifykit/verifykit/internal/token"
	"github.com/verifykit/verifykit/internal/validate"
)

// tenant is one provisioned account with its credentials and a service.
type tenant struct {
	AccountSID, AuthToken string
	APIKeySID, APISecret  string
	ServiceSID            string
}

// env is a running verifyd handler on a real SQLite store, served over
// loopback HTTP.
type env struct {
	URL   string
	Store store.Store
	Keys  *token.KeySet
	A, B  tenant // two accounts, to test ownership
	Logs  *logBuffer
}

func newTenant(t testing.TB, st store.Store, name string) tenant {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	acc, authToken, err := provision.Account(ctx, st, name, now)
	if err != nil {
		t.Fatal(err)
	}
	key, secret, err := provision.APIKey(ctx, st, acc.SID, name+" key", now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := provision.Service(ctx, st, acc.SID, name+" service", now)
	if err != nil {
		t.Fatal(err)
	}
	return tenant{AccountSID: acc.SID, AuthToken: authToken, APIKeySID: key.SID, APISecret: secret, ServiceSID: svc.SID}
}

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "verifyd.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func startEnv(t *testing.T, cfg api.Config) *env {
	t.Helper()
	st := openStore(t)
	keys, err := provision.KeySet(context.Background(), st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	h, err := api.NewHandler(cfg, st, keys, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return &env{URL: srv.URL, Store: st, Keys: keys, A: newTenant(t, st, "A"), B: newTenant(t, st, "B"), Logs: logs}
}

// client returns the generated client, authenticating as user:pass.
func (e *env) client(t *testing.T, user, pass string) *verifyclient.ClientWithResponses {
	t.Helper()
	c, err := verifyclient.NewClientWithResponses(e.URL, verifyclient.WithRequestEditorFn(basicAuth(user, pass)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func basicAuth(user, pass string) verifyclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.SetBasicAuth(user, pass)
		return nil
	}
}

// do sends a raw request, for the inputs the typed client cannot express.
func (e *env) do(t *testing.T, method, path, contentType, body string, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(path, "//") || strings.Contains(path, "%") {
		req.URL.Opaque = path // send the path exactly as written
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// checkErrorBody asserts a Twilio error body that validates against the
// spec's Error schema, with the wanted status and code.
func checkErrorBody(t *testing.T, resp *http.Response, body []byte, wantStatus, wantCode int) {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, wantStatus, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if id := resp.Header.Get("Twilio-Request-Id"); len(id) != 34 || !strings.HasPrefix(id, "RQ") {
		t.Errorf("Twilio-Request-Id = %q, want RQ + 32 hex", id)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if err := errorSchema(t).VisitJSON(v, validate.SchemaOptions()...); err != nil {
		t.Errorf("error body %s does not match the spec's Error schema: %v", body, err)
	}
	m, _ := v.(map[string]any)
	if got := m["code"]; got != float64(wantCode) {
		t.Errorf("code = %v, want %d (body %s)", got, wantCode, body)
	}
	if got := m["status"]; got != float64(wantStatus) {
		t.Errorf("body status = %v, want %d", got, wantStatus)
	}
}

func errorSchema(t *testing.T) *openapi3.Schema {
	t.Helper()
	doc, err := verifyserver.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas["Error"].Value
}

// logBuffer collects the JSON logs of concurrent handlers.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor fails t unless the logs come to hold want within a few seconds:
// a handler writes its access log line after the client may have read the
// response.
func (l *logBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(l.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line holds %s; the logs:\n%s", want, l.String())
		}
	}
}
