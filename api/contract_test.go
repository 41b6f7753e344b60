package api_test

import (
	"net/http"
	"testing"

	"github.com/verifykit/verifykit/api"
)

// TestContractRoutes checks that NewHandler sends the contract's paths to
// internal/docsui, which tests their answers in full, and everything else
// to the API.
func TestContractRoutes(t *testing.T) {
	e := startEnv(t, api.Config{})
	for path, contentType := range map[string]string{
		"/openapi.yaml":              "application/yaml",
		"/openapi.json":              "application/json",
		"/docs":                      "text/html; charset=utf-8",
		"/docs/":                     "text/html; charset=utf-8",
		"/docs/init.js":              "text/javascript; charset=utf-8",
		"/docs/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"/docs/swagger-ui.css":       "text/css; charset=utf-8",
	} {
		resp, body := e.do(t, http.MethodGet, path, "", "", "")
		if resp.StatusCode != http.StatusOK || len(body) == 0 || resp.Header.Get("Content-Type") != contentType {
			t.Errorf("GET %s: status %d, %d bytes, Content-Type %q; want 200, a body and %s",
				path, resp.StatusCode, len(body), resp.Header.Get("Content-Type"), contentType)
		}
	}
	if resp, _ := e.do(t, http.MethodGet, "/docs/nope", "", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /docs/nope: status %d, want 404", resp.StatusCode)
	}
	resp, body := e.do(t, http.MethodGet, "/docsx", "", "", e.A.AccountSID+":"+e.A.AuthToken)
	checkErrorBody(t, resp, body, http.StatusNotFound, 20404)
}
