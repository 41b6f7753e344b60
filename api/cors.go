package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// CORS values, as the real service sends them.
const (
	corsAllowMethods  = "GET, POST, OPTIONS"
	corsAllowHeaders  = "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since, User-Agent"
	corsExposeHeaders = "ETag, Twilio-Request-Id"
)

// cors is the CORS stage: it sets the Access-Control-* header fields on
// every response, as Twilio does whatever the Origin (echo's CORS
// middleware sends them only to requests with an Origin, and would echo
// that Origin back where Twilio sends "*"); answers preflight requests,
// which carry no credentials, before authentication; and refuses form
// posts from other sites' pages (docs/design.md, "Cross-site form posts").
func cors() echo.MiddlewareFunc {
	// Shared by every response, never written to: setting them allocates
	// nothing.
	fields := map[string][]string{
		"Access-Control-Allow-Origin":      {"*"},
		"Access-Control-Allow-Methods":     {corsAllowMethods},
		"Access-Control-Allow-Headers":     {corsAllowHeaders},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Expose-Headers":    {corsExposeHeaders},
	}
	maxAge := []string{"86400"}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			for name, values := range fields {
				h[name] = values
			}
			r := c.Request()
			if r.Method == http.MethodOptions {
				h["Access-Control-Max-Age"] = maxAge
				return c.NoContent(http.StatusNoContent)
			}
			if crossSiteForm(r) {
				return errCrossSite
			}
			return next(c)
		}
	}
}

// crossSiteForm reports whether r is a state-changing request that a
// browser sent for a page of another site without CORS: a form post or a
// no-cors fetch, which would carry Basic credentials the browser cached
// for verifyd. Browsers mark such requests with Sec-Fetch-Site and
// Sec-Fetch-Mode; scripts that pass CORS send Sec-Fetch-Mode: cors, and
// clients that are not browsers send neither.
func crossSiteForm(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return (site == "cross-site" || site == "same-site") && r.Header.Get("Sec-Fetch-Mode") != "cors"
}
