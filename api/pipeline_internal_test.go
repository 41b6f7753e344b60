package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/internal/jsonlog"
)

func TestMatchesTemplate(t *testing.T) {
	const fetch = "/v2/Services/:ServiceSid/AccessTokens/:Sid"
	for _, tc := range []struct {
		template, path string
		want           bool
	}{
		{fetch, "/v2/Services/VA1/AccessTokens/YK1", true},
		{fetch, "/v2/Services/VA1/AccessTokens/YK%2F1", true}, // an encoded slash is inside its segment
		{fetch, "/v2/Services/VA1/AccessTokens/YK1/", false},
		{fetch, "/v2/Services/VA1/AccessTokens/YK1/x", false},
		{fetch, "/v2/Services/VA1/AccessTokens/", false},
		{fetch, "/v2/Services//AccessTokens/YK1", false},
		{"/v2/Services/:ServiceSid/AccessTokens", "/v2/Services/VA1/AccessTokens", true},
		{"/v2/Services/:ServiceSid/AccessTokens", "/v2/Services/VA1/AccessTokens/", false},
		{fetch, "/v2/Services/VA1/AccessTokens", false}, // fewer segments
		{"", "/anything/at/all", true},                  // no route: echo answers 404
		{"/v2/Services/:ServiceSid/AccessTokens", "/v2/Services//AccessTokens", false},
	} {
		if got := matchesTemplate(tc.template, tc.path); got != tc.want {
			t.Errorf("matchesTemplate(%q, %q) = %v, want %v", tc.template, tc.path, got, tc.want)
		}
	}
}

// TestLoggedPanic: a request whose handler panics behind logged still gets
// its access log line, with status 500; net/http recovers the panic.
func TestLoggedPanic(t *testing.T) {
	var logs strings.Builder
	p := &pipeline{log: slog.New(jsonlog.New(&logs, nil)), bodyLimit: 1024}
	srv := httptest.NewUnstartedServer(p.logged(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("handler bug")
	})))
	srv.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError) // the recovered panic's report
	srv.Start()
	t.Cleanup(srv.Close)
	if resp, err := http.Get(srv.URL + "/mcp"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET answered %d; want the connection dropped by the panic", resp.StatusCode)
	}
	srv.Close() // waits for the handler, and so for its line
	if want := `"method":"GET","path":"/mcp","status":500,`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs = %q, want a line with %s", logs.String(), want)
	}
}
