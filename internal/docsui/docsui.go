// Package docsui serves the contract and a browsable view of it: the spec
// at /openapi.yaml and /openapi.json, and Swagger UI at /docs with its
// assets under /docs/. Everything comes from the binary, so a page loaded
// from verifyd makes requests to that verifyd only, "Try it out" included.
//
// The Swagger UI files in assets/ are copied from the swagger-ui-dist
// version that package.json pins, by scripts/docs-assets.sh.
package docsui

//go:generate ../../scripts/docs-assets.sh

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/verifykit/verifykit/gen/verifyserver"
)

// The paths served; assets live under pathDocs + "/".
const (
	pathOpenAPIYAML = "/openapi.yaml"
	pathOpenAPIJSON = "/openapi.json"
	pathDocs        = "/docs"
)

//go:embed index.html init.js assets
var files embed.FS

// contentSecurityPolicy lets the page load from verifyd only, and nothing
// inline but data: images:
//   - script-src 'self': the bundle and init.js; no inline script, no eval.
//   - style-src 'self': swagger-ui.css. Swagger UI sets styles through the
//     DOM, which the policy does not govern, and adds no <style> element.
//   - img-src 'self' data:: swagger-ui.css draws its icons as data: SVGs,
//     and the page's empty icon (which spares a request for /favicon.ico)
//     is data: too.
//   - connect-src 'self': the fetch of /openapi.json and "Try it out".
//
// Everything else is refused: fonts, frames, workers, <base>, form posts,
// and being framed.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one response body, ready to serve.
type asset struct {
	body   []byte
	etag   string
	header map[string]string // Content-Type and any extra fields
}

func newAsset(body []byte, header map[string]string) *asset {
	sum := sha256.Sum256(body)
	return &asset{
		body:   body,
		etag:   `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
		header: header,
	}
}

// handler serves the assets by path.
type handler map[string]*asset

// Serves reports whether path is one that Handler answers: the two forms
// of the spec, /docs, and anything under /docs/.
func Serves(path string) bool {
	return path == pathOpenAPIYAML || path == pathOpenAPIJSON || path == pathDocs ||
		strings.HasPrefix(path, pathDocs+"/")
}

// Handler returns the handler of every path that Serves reports. It
// answers GET and HEAD, with an ETag for conditional requests; any other
// method gets a plain-text 405, since these paths are outside the contract
// and its Twilio errors.
func Handler() (http.Handler, error) {
	specJSON, err := verifyserver.GetSpecJSON()
	if err != nil {
		return nil, fmt.Errorf("docsui: embedded spec as JSON: %w", err)
	}
	specYAML, err := yamlOf(specJSON)
	if err != nil {
		return nil, fmt.Errorf("docsui: embedded spec as YAML: %w", err)
	}
	// Anyone may read the contract, from any origin (editors, generators).
	h := handler{
		pathOpenAPIYAML: newAsset(specYAML, map[string]string{
			"Content-Type":                "application/yaml",
			"Access-Control-Allow-Origin": "*",
		}),
		pathOpenAPIJSON: newAsset(specJSON, map[string]string{
			"Content-Type":                "application/json",
			"Access-Control-Allow-Origin": "*",
		}),
	}
	page, err := files.ReadFile("index.html")
	if err != nil {
		return nil, fmt.Errorf("docsui: %w", err)
	}
	pageHeader := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": contentSecurityPolicy,
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	h[pathDocs] = newAsset(page, pageHeader)
	h[pathDocs+"/"] = h[pathDocs]

	for name, contentType := range map[string]string{
		"init.js":                                 "text/javascript; charset=utf-8",
		"assets/swagger-ui-bundle.js":             "text/javascript; charset=utf-8",
		"assets/swagger-ui.css":                   "text/css; charset=utf-8",
		"assets/swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
		"assets/LICENSE":                          "text/plain; charset=utf-8",
		"assets/NOTICE":                           "text/plain; charset=utf-8",
	} {
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("docsui: %w", err)
		}
		h[pathDocs+"/"+strings.TrimPrefix(name, "assets/")] = newAsset(body, map[string]string{"Content-Type": contentType})
	}
	return h, nil
}

// ServeHTTP serves one asset. Each is revalidated on every use
// (no-cache): a 304 costs little, and a browser then never mixes a new
// page with an old bundle after verifyd is upgraded.
func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	for k, v := range a.header {
		hdr.Set(k, v)
	}
	hdr.Set("ETag", a.etag)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers HEAD, If-None-Match and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// yamlOf renders the embedded spec, which oapi-codegen keeps as JSON, as
// YAML: the one embedded copy serves both, keys in sorted order.
func yamlOf(specJSON []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(specJSON, &v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}
