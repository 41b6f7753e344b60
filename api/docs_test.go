package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"

	"github.com/verifykit/verifykit"
	"github.com/verifykit/verifykit/api"
)

func TestOpenAPIYAMLServedByteForByte(t *testing.T) {
	e := startEnv(t, api.Config{})
	resp, body := e.do(t, http.MethodGet, "/openapi.yaml", "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.yaml: status %d, want 200 (body %s)", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("GET /openapi.yaml: Content-Type %q, want application/yaml", ct)
	}
	repo, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, repo) {
		t.Errorf("GET /openapi.yaml: body (%d bytes) differs from the repository's openapi.yaml (%d bytes)", len(body), len(repo))
	}
	if string(body) != verifykit.OpenAPIYAML() {
		t.Error("GET /openapi.yaml: body differs from verifykit.OpenAPIYAML()")
	}
}

func TestOpenAPIJSONEqualsYAML(t *testing.T) {
	e := startEnv(t, api.Config{})
	resp, body := e.do(t, http.MethodGet, "/openapi.json", "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: status %d, want 200 (body %s)", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET /openapi.json: Content-Type %q, want application/json", ct)
	}
	var got any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("GET /openapi.json: body is not JSON: %v", err)
	}
	var want any
	if err := yaml.Unmarshal([]byte(verifykit.OpenAPIYAML()), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonNumbers(want), got); diff != "" {
		t.Errorf("GET /openapi.json differs from openapi.yaml (-yaml +json):\n%s", diff)
	}
	// The keys keep the YAML's order, so the JSON reads the same way.
	if !bytes.HasPrefix(body, []byte("{\n  \"openapi\": \"3.0.3\",\n  \"info\": {\n    \"title\": ")) {
		t.Errorf("GET /openapi.json starts %q, want openapi, then info, then title, indented", body[:min(len(body), 60)])
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("load /openapi.json as OpenAPI: %v", err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Errorf("/openapi.json does not validate as OpenAPI: %v", err)
	}
}

// jsonNumbers turns the integers of a decoded YAML value into float64, as
// encoding/json decodes every number.
func jsonNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = jsonNumbers(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonNumbers(x)
		}
		return out
	case int:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return v
}

func TestDocsPage(t *testing.T) {
	e := startEnv(t, api.Config{})
	resp, body := e.do(t, http.MethodGet, "/docs", "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /docs: status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET /docs: Content-Type %q, want text/html; charset=utf-8", ct)
	}
	page := string(body)
	for _, want := range []string{
		// title and servers
		"<title>Twilio Verify v2 Access Tokens (verifykit) 1.0.0</title>",
		"https://verify.twilio.com",
		// auth
		"accountSid_authToken", "HTTP Basic auth.",
		// both operations
		`id="CreateAccessToken"`, `id="FetchAccessToken"`,
		"/v2/Services/{ServiceSid}/AccessTokens</code>", "/v2/Services/{ServiceSid}/AccessTokens/{Sid}</code>",
		"Create an access token", "Fetch an access token",
		// parameters with their rules
		"ServiceSid", "pattern ^VA[0-9a-fA-F]{32}$", "exactly 34 characters",
		// form fields with types and rules
		">Identity<", ">FactorType<", ">FactorFriendlyName<", ">Ttl<", "from 60 to 300", "default 60", "8 to 64 characters",
		"Sent as <code>FactorType=push&amp;Identity=ff483d1ff591898a9942916050d2ca3f</code>",
		// responses, with the Twilio codes
		`id="CreateAccessToken-201"`, `id="FetchAccessToken-200"`, "Twilio code 60200", "Twilio code 20003", "Twilio code 20404",
		"&#34;Invalid parameter: Ttl&#34;",
		// the resource's fields
		`id="schema-AccessToken"`, ">sid<", ">account_sid<", ">service_sid<", ">entity_identity<", ">factor_type<",
		">factor_friendly_name<", ">token<", ">url<", ">ttl<", ">date_created<", "format date-time", "string | null",
		// the example, pretty-printed
		"&#34;date_created&#34;: &#34;2015-07-30T20:00:00Z&#34;,\n",
		// the description's Markdown
		"<strong>Access Tokens</strong>", "<strong>Nullable properties are always present and sent as <code>null</code></strong>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /docs: page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "src=\"http", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("GET /docs: page contains %q; it must load nothing", bad)
		}
	}

	// The policy allows exactly the page's own style sheet.
	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("GET /docs: page has no style element")
	}
	sum := sha256.Sum256([]byte(m[1]))
	wantSrc := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, wantSrc) {
		t.Errorf("GET /docs: Content-Security-Policy %q, want default-src 'none' and %s", csp, wantSrc)
	}
}

func TestContractEndpointsMethods(t *testing.T) {
	e := startEnv(t, api.Config{})
	paths := []string{"/openapi.yaml", "/openapi.json", "/docs"}
	tests := []struct {
		method     string
		wantStatus int
	}{
		{http.MethodGet, http.StatusOK},
		{http.MethodHead, http.StatusOK},
		{http.MethodPost, http.StatusMethodNotAllowed},
		{http.MethodPut, http.StatusMethodNotAllowed},
		{http.MethodDelete, http.StatusMethodNotAllowed},
		{http.MethodOptions, http.StatusMethodNotAllowed},
	}
	for _, path := range paths {
		_, full := e.do(t, http.MethodGet, path, "", "", "")
		for _, tc := range tests {
			t.Run(tc.method+" "+path, func(t *testing.T) {
				resp, body := e.do(t, tc.method, path, "", "", "")
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("%s %s: status %d, want %d", tc.method, path, resp.StatusCode, tc.wantStatus)
				}
				switch tc.method {
				case http.MethodGet:
					if resp.Header.Get("ETag") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
						t.Errorf("GET %s: headers %v, want an ETag and nosniff", path, resp.Header)
					}
				case http.MethodHead:
					if len(body) != 0 || resp.ContentLength != int64(len(full)) {
						t.Errorf("HEAD %s: %d body bytes, Content-Length %d; want none and %d", path, len(body), resp.ContentLength, len(full))
					}
				default:
					if allow := resp.Header.Get("Allow"); allow != "GET, HEAD" {
						t.Errorf("%s %s: Allow %q, want GET, HEAD", tc.method, path, allow)
					}
				}
			})
		}
	}
}

func TestContractEndpointsConditional(t *testing.T) {
	e := startEnv(t, api.Config{})
	for _, path := range []string{"/openapi.yaml", "/openapi.json", "/docs"} {
		resp, _ := e.do(t, http.MethodGet, path, "", "", "")
		etag := resp.Header.Get("ETag")
		req, err := http.NewRequest(http.MethodGet, e.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s: status %d, want 304", path, etag, resp.StatusCode)
		}
	}
}
