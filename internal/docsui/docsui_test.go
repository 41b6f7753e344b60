package docsui_test

import (
	"bytes"
	"encoding/json"
	"go.yaml.in/yaml/v4"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/verifykit/verifykit/gen/verifyserver"
	"github.com/verifykit/verifykit/internal/docsui"
)

func start(t *testing.T) string {
	t.Helper()
	h, err := docsui.Handler()
	if err != nil {
		t.Fatalf("Handler: %v", err)
	}
	srv := httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, method, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// served lists every path the handler answers, with its Content-Type.
var served = map[string]string{
	"/openapi.yaml":                          "application/yaml",
	"/openapi.json":                          "application/json",
	"/docs":                                  "text/html; charset=utf-8",
	"/docs/":                                 "text/html; charset=utf-8",
	"/docs/init.js":                          "text/javascript; charset=utf-8",
	"/docs/swagger-ui-bundle.js":             "text/javascript; charset=utf-8",
	"/docs/swagger-ui.css":                   "text/css; charset=utf-8",
	"/docs/swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
	"/docs/LICENSE":                          "text/plain; charset=utf-8",
	"/docs/NOTICE":                           "text/plain; charset=utf-8",
}

func TestServes(t *testing.T) {
	for path := range served {
		if !docsui.Serves(path) {
			t.Errorf("Serves(%q) = false, want true", path)
		}
	}
	// Everything under /docs/ is docsui's, to answer 404 for.
	for path, want := range map[string]bool{
		"/docs/nope": true, "/docs/a/b": true,
		"/": false, "/doc": false, "/docsx": false, "/openapi": false, "/openapi.yml": false,
		"/v2/Services/VAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/AccessTokens": false,
	} {
		if got := docsui.Serves(path); got != want {
			t.Errorf("Serves(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	base := start(t)
	for path, contentType := range served {
		resp, body := get(t, http.MethodGet, base+path, nil)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: status %d with %d bytes, want 200 with a body", path, resp.StatusCode, len(body))
			continue
		}
		want := map[string]string{
			"Content-Type":           contentType,
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "no-cache",
		}
		got := map[string]string{}
		for k := range want {
			got[k] = resp.Header.Get(k)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s: headers differ (-want +got):\n%s", path, diff)
		}
		if resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", path)
		}
	}
}

func TestPagePolicy(t *testing.T) {
	base := start(t)
	resp, _ := get(t, http.MethodGet, base+"/docs", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"img-src":         "'self' data:",
		"connect-src":     "'self'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
		"frame-ancestors": "'none'",
	}
	if diff := cmp.Diff(want, directives); diff != "" {
		t.Errorf("Content-Security-Policy %q differs (-want +got):\n%s", csp, diff)
	}
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options %q, want DENY", got)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", got)
	}
}

// TestPageLoadsFromVerifydOnly reads our own page and script: they name no
// other host, and everything the page loads is served here.
func TestPageLoadsFromVerifydOnly(t *testing.T) {
	base := start(t)
	_, page := get(t, http.MethodGet, base+"/docs", nil)
	_, script := get(t, http.MethodGet, base+"/docs/init.js", nil)
	absolute := regexp.MustCompile(`(?i)\bhttps?:|(["'=(]\s*)//`)
	for name, body := range map[string][]byte{"/docs": page, "/docs/init.js": script} {
		if m := absolute.Find(body); m != nil {
			t.Errorf("%s holds an absolute URL (%q); it must load from verifyd only", name, m)
		}
	}
	if bytes.Contains(page, []byte("<script>")) || bytes.Contains(page, []byte("<style")) || bytes.Contains(page, []byte(" style=")) {
		t.Error("/docs holds an inline script or style, which its policy refuses")
	}
	for _, want := range []string{`validatorUrl: null`, `fetch("/openapi.json"`, `spec.servers = [{ url: window.location.origin`} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("/docs/init.js lacks %q", want)
		}
	}

	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllSubmatch(page, -1)
	if len(refs) != 4 {
		t.Errorf("/docs refers to %d resources, want 4: its icon, the style sheet, the bundle and init.js", len(refs))
	}
	for _, m := range refs {
		ref := string(m[1])
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if !strings.HasPrefix(ref, "/docs/") {
			t.Errorf("/docs refers to %q, want a path under /docs/", ref)
			continue
		}
		if resp, _ := get(t, http.MethodGet, base+ref, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("/docs refers to %s, which answers %d", ref, resp.StatusCode)
		}
	}
}

func TestContract(t *testing.T) {
	base := start(t)
	wantJSON, err := verifyserver.GetSpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	// The YAML says what the embedded JSON says.
	_, wantYAML := get(t, http.MethodGet, base+"/openapi.yaml", nil)
	var fromYAML, fromJSON any
	if err := yaml.Unmarshal(wantYAML, &fromYAML); err != nil {
		t.Fatal(err)
	}
	// YAML decodes 300 as an int, JSON as a float64: compare as JSON.
	asJSON, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML = nil
	if err := json.Unmarshal(asJSON, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantJSON, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromJSON, fromYAML); diff != "" {
		t.Fatalf("/openapi.yaml and /openapi.json differ (-json +yaml):\n%s", diff)
	}
	for path, want := range map[string][]byte{"/openapi.json": wantJSON, "/openapi.yaml": wantYAML} {
		resp, body := get(t, http.MethodGet, base+path, nil)
		if !bytes.Equal(body, want) {
			t.Errorf("GET %s: body (%d bytes) differs from the embedded spec (%d bytes)", path, len(body), len(want))
		}
		// Anyone may read the contract, from any origin.
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want *", path, got)
		}
	}
}

func TestMethods(t *testing.T) {
	base := start(t)
	for path := range served {
		_, full := get(t, http.MethodGet, base+path, nil)
		resp, body := get(t, http.MethodHead, base+path, nil)
		if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(full)) {
			t.Errorf("HEAD %s: status %d, %d body bytes, Content-Length %d; want 200, none and %d",
				path, resp.StatusCode, len(body), resp.ContentLength, len(full))
		}
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			resp, _ := get(t, method, base+path, nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: status %d, Allow %q; want 405 and GET, HEAD", method, path, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
}

func TestConditionalAndMissing(t *testing.T) {
	base := start(t)
	for path := range served {
		resp, _ := get(t, http.MethodGet, base+path, nil)
		etag := resp.Header.Get("ETag")
		resp, body := get(t, http.MethodGet, base+path, http.Header{"If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET %s with If-None-Match %s: status %d with %d bytes, want 304 and none", path, etag, resp.StatusCode, len(body))
		}
	}
	for _, path := range []string{"/docs/nope", "/docs/assets/swagger-ui.css", "/docs/index.html"} {
		if resp, _ := get(t, http.MethodGet, base+path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
}
