package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/verifykit/verifykit/api"
)

// TestErrors drives every error path over HTTP and checks the status, the
// Twilio code and that the body is the spec's Error.
func TestErrors(t *testing.T) {
	e := startEnv(t, api.Config{BodyLimit: 1024})
	a := e.A.AccountSID + ":" + e.A.AuthToken
	svc := e.A.ServiceSID
	create := "/v2/Services/" + svc + "/AccessTokens"
	fetch := create + "/YK" + strings.Repeat("a", 32)
	const form = "application/x-www-form-urlencoded"
	valid := "FactorType=push&Identity=abcdefgh"

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		auth        string
		wantStatus  int
		wantCode    int
		wantMessage string
	}{
		// credentials
		{name: "no credentials", method: "GET", path: fetch, wantStatus: 401, wantCode: 20003, wantMessage: "Authenticate"},
		{name: "wrong auth token", method: "GET", path: fetch, auth: e.A.AccountSID + ":" + strings.Repeat("0", 32), wantStatus: 401, wantCode: 20003},
		{name: "unknown account", method: "GET", path: fetch, auth: "AC" + strings.Repeat("0", 32) + ":x", wantStatus: 401, wantCode: 20003},
		{name: "API key with wrong secret", method: "GET", path: fetch, auth: e.A.APIKeySID + ":" + e.A.AuthToken, wantStatus: 401, wantCode: 20003},
		{name: "username not a SID", method: "GET", path: fetch, auth: "admin:admin", wantStatus: 401, wantCode: 20003},
		{name: "empty password", method: "GET", path: fetch, auth: e.A.AccountSID + ":", wantStatus: 401, wantCode: 20003},
		{name: "other account's secret", method: "GET", path: fetch, auth: e.A.AccountSID + ":" + e.B.AuthToken, wantStatus: 401, wantCode: 20003},
		{name: "create without credentials", method: "POST", path: create, contentType: form, body: valid, wantStatus: 401, wantCode: 20003},

		// path parameters
		{name: "token sid too short", method: "GET", path: create + "/YK123", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Sid"},
		{name: "token sid too long", method: "GET", path: create + "/YK" + strings.Repeat("a", 33), auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Sid"},
		{name: "token sid wrong prefix", method: "GET", path: create + "/YA" + strings.Repeat("a", 32), auth: a, wantStatus: 400, wantCode: 60200},
		{name: "token sid lowercase prefix", method: "GET", path: create + "/yk" + strings.Repeat("a", 32), auth: a, wantStatus: 400, wantCode: 60200},
		{name: "token sid not hex", method: "GET", path: create + "/YK" + strings.Repeat("g", 32), auth: a, wantStatus: 400, wantCode: 60200},
		{name: "token sid with encoded NUL", method: "GET", path: create + "/YK" + strings.Repeat("a", 31) + "%00", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Sid"},
		{name: "token sid with encoded space", method: "GET", path: create + "/YK" + strings.Repeat("a", 31) + "%20", auth: a, wantStatus: 400, wantCode: 60200},
		{name: "token sid with encoded unicode", method: "GET", path: create + "/YK" + strings.Repeat("a", 30) + "%C3%A9", auth: a, wantStatus: 400, wantCode: 60200},
		// An encoded slash stays inside its segment, as in kin-openapi's
		// router: the Sid is there, and invalid.
		{name: "token sid with encoded slash", method: "GET", path: create + "/YK" + strings.Repeat("a", 30) + "%2F1", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Sid"},
		{name: "token sid percent-encoded, decodes to a valid unknown sid", method: "GET", path: create + "/YK" + strings.Repeat("a", 31) + "%61", auth: a, wantStatus: 404, wantCode: 20404},
		{name: "service sid wrong prefix", method: "GET", path: "/v2/Services/VB" + svc[2:] + "/AccessTokens/YK" + strings.Repeat("a", 32), auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: ServiceSid"},
		{name: "service sid non-hex on create", method: "POST", path: "/v2/Services/VA" + strings.Repeat("z", 32) + "/AccessTokens", contentType: form, body: valid, auth: a, wantStatus: 400, wantCode: 60200},
		{name: "service sid with encoded newline", method: "POST", path: "/v2/Services/" + svc[:33] + "%0A/AccessTokens", contentType: form, body: valid, auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: ServiceSid"},

		// form body
		{name: "missing Identity", method: "POST", path: create, contentType: form, body: "FactorType=push", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Identity"},
		{name: "missing FactorType", method: "POST", path: create, contentType: form, body: "Identity=abcdefgh", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorType"},
		{name: "empty body", method: "POST", path: create, contentType: form, auth: a, wantStatus: 400, wantCode: 60200},
		{name: "unknown FactorType", method: "POST", path: create, contentType: form, body: "FactorType=sms&Identity=abcdefgh", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorType"},
		{name: "Ttl below 60", method: "POST", path: create, contentType: form, body: valid + "&Ttl=59", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Ttl"},
		{name: "Ttl above 300", method: "POST", path: create, contentType: form, body: valid + "&Ttl=301", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Ttl"},
		{name: "Ttl not a number", method: "POST", path: create, contentType: form, body: valid + "&Ttl=abc", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Ttl"},
		{name: "Ttl fractional", method: "POST", path: create, contentType: form, body: valid + "&Ttl=60.5", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Ttl"},
		{name: "Identity too short", method: "POST", path: create, contentType: form, body: "FactorType=push&Identity=abc", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Identity"},
		{name: "Identity too long", method: "POST", path: create, contentType: form, body: "FactorType=push&Identity=" + strings.Repeat("a", 65), auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Identity"},
		{name: "Identity with spaces", method: "POST", path: create, contentType: form, body: "FactorType=push&Identity=john+doe+1", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Identity"},
		{name: "FactorFriendlyName too long", method: "POST", path: create, contentType: form, body: valid + "&FactorFriendlyName=" + strings.Repeat("n", 65), auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorFriendlyName"},
		{name: "FactorFriendlyName with a NUL", method: "POST", path: create, contentType: form, body: valid + "&FactorFriendlyName=a%00b", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorFriendlyName"},
		{name: "FactorFriendlyName with a newline", method: "POST", path: create, contentType: form, body: valid + "&FactorFriendlyName=a%0Ab", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorFriendlyName"},
		{name: "FactorFriendlyName not UTF-8", method: "POST", path: create, contentType: form, body: valid + "&FactorFriendlyName=%FF%FE", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: FactorFriendlyName"},
		{name: "unknown field", method: "POST", path: create, contentType: form, body: valid + "&Color=red", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Color"},
		{name: "field given twice", method: "POST", path: create, contentType: form, body: valid + "&Ttl=60&Ttl=120", auth: a, wantStatus: 400, wantCode: 60200, wantMessage: "Invalid parameter: Ttl"},
		{name: "lowercase field name", method: "POST", path: create, contentType: form, body: "factortype=push&identity=abcdefgh", auth: a, wantStatus: 400, wantCode: 60200},
		{name: "JSON content type", method: "POST", path: create, contentType: "application/json", body: `{"Identity":"abcdefgh","FactorType":"push"}`, auth: a, wantStatus: 400, wantCode: 60200},
		{name: "no content type", method: "POST", path: create, body: valid, auth: a, wantStatus: 400, wantCode: 60200},
		{name: "bad percent-encoding in body", method: "POST", path: create, contentType: form, body: "Identity=%zz&FactorType=push", auth: a, wantStatus: 400, wantCode: 60200},
		{name: "body over the limit", method: "POST", path: create, contentType: form, body: valid + "&FactorFriendlyName=" + strings.Repeat("n", 2000), auth: a, wantStatus: 413, wantCode: 20413},

		// resources and methods
		{name: "unknown token", method: "GET", path: fetch, auth: a, wantStatus: 404, wantCode: 20404, wantMessage: "The requested resource " + fetch + " was not found"},
		{name: "unknown service on create", method: "POST", path: "/v2/Services/VA" + strings.Repeat("0", 32) + "/AccessTokens", contentType: form, body: valid, auth: a, wantStatus: 404, wantCode: 20404},
		{name: "unknown service on fetch", method: "GET", path: "/v2/Services/VA" + strings.Repeat("0", 32) + "/AccessTokens/YK" + strings.Repeat("a", 32), auth: a, wantStatus: 404, wantCode: 20404},
		{name: "unknown path", method: "GET", path: "/v2/Services", auth: a, wantStatus: 404, wantCode: 20404},
		// A path parameter is one non-empty segment, as in the spec's
		// templates: other paths match no operation.
		{name: "trailing slash", method: "GET", path: fetch + "/", auth: a, wantStatus: 404, wantCode: 20404, wantMessage: "The requested resource " + fetch + "/ was not found"},
		{name: "extra segment", method: "GET", path: fetch + "/x", auth: a, wantStatus: 404, wantCode: 20404, wantMessage: "The requested resource " + fetch + "/x was not found"},
		{name: "extra segments", method: "GET", path: fetch + "/x/y", auth: a, wantStatus: 404, wantCode: 20404},
		{name: "list with a trailing slash", method: "GET", path: create + "/", auth: a, wantStatus: 404, wantCode: 20404},
		{name: "create with a trailing slash", method: "POST", path: create + "/", contentType: form, body: valid, auth: a, wantStatus: 404, wantCode: 20404},
		{name: "empty service sid", method: "GET", path: "/v2/Services//AccessTokens/YK" + strings.Repeat("a", 32), auth: a, wantStatus: 404, wantCode: 20404},
		{name: "DELETE with an extra segment", method: "DELETE", path: fetch + "/x", auth: a, wantStatus: 404, wantCode: 20404},
		{name: "extra segment without credentials", method: "GET", path: fetch + "/x", wantStatus: 401, wantCode: 20003},
		{name: "DELETE on a token", method: "DELETE", path: fetch, auth: a, wantStatus: 405, wantCode: 20004, wantMessage: "Method not allowed"},
		{name: "GET on the list", method: "GET", path: create, auth: a, wantStatus: 405, wantCode: 20004},
		{name: "POST on a token", method: "POST", path: fetch, contentType: form, body: valid, auth: a, wantStatus: 405, wantCode: 20004},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := countTokens(t, e)
			resp, body := e.do(t, tc.method, tc.path, tc.contentType, tc.body, tc.auth)
			checkErrorBody(t, resp, body, tc.wantStatus, tc.wantCode)
			if tc.wantMessage != "" && !strings.Contains(string(body), `"message":"`+tc.wantMessage+`"`) {
				t.Errorf("%s %s: body %s, want message %q", tc.method, tc.path, body, tc.wantMessage)
			}
			if tc.wantStatus == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="Twilio API"` {
				t.Errorf("WWW-Authenticate = %q, want Basic realm=\"Twilio API\"", resp.Header.Get("WWW-Authenticate"))
			}
			if tc.wantStatus == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
			if after := countTokens(t, e); after != before {
				t.Errorf("a rejected request changed the store: %d tokens before, %d after", before, after)
			}
		})
	}
}

// countTokens counts access tokens through SQL-free means: the rows the
// store holds for both tenants' services are not listable, so the test
// counts creates by probing the log of successful creates instead.
func countTokens(t *testing.T, e *env) int {
	t.Helper()
	created := regexp.MustCompile(`"method":"POST","path":"/v2/Services/VA[0-9a-f]{32}/AccessTokens","status":201`)
	return len(created.FindAllStringIndex(e.Logs.String(), -1))
}

func TestPreflight(t *testing.T) {
	e := startEnv(t, api.Config{})
	resp, body := e.do(t, http.MethodOptions, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens", "", "", "")
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Errorf("OPTIONS = %d %q, want 204 and no body", resp.StatusCode, body)
	}
	if resp.Header.Get("Access-Control-Allow-Methods") == "" || resp.Header.Get("Twilio-Request-Id") == "" {
		t.Errorf("preflight headers = %v, want CORS headers and a request id", resp.Header)
	}
}

// TestPercentEncodedSID: a path whose escapes decode to a valid SID names
// that SID (RFC 3986 equivalence), exactly like the plain path.
func TestPercentEncodedSID(t *testing.T) {
	e := startEnv(t, api.Config{})
	a := e.A.AccountSID + ":" + e.A.AuthToken
	path := "/v2/Services/%56%41" + e.A.ServiceSID[2:] + "/AccessTokens"
	resp, body := e.do(t, http.MethodPost, path, "application/x-www-form-urlencoded", "FactorType=push&Identity=abcdefgh", a)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"service_sid":"`+e.A.ServiceSID+`"`) {
		t.Errorf("POST %s = %d %s, want 201 for service %s", path, resp.StatusCode, body, e.A.ServiceSID)
	}
}
