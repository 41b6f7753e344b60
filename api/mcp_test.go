package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/verifykit/verifykit/api"
	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/gen/verifyserver"
)

// basicAuthTransport adds HTTP Basic credentials to every request, as an
// MCP client configured with an Authorization header does.
type basicAuthTransport struct {
	user, pass string
	next       http.RoundTripper
}

func (b basicAuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.user == "" {
		return b.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.SetBasicAuth(b.user, b.pass)
	return b.next.RoundTrip(req)
}

// mcpSession connects the go-sdk's own client to e's /mcp, sending
// user:pass with every request (none when user is empty).
func (e *env) mcpSession(t *testing.T, user, pass string) *mcp.ClientSession {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	c := mcp.NewClient(&mcp.Implementation{Name: "verifykit-test", Version: "1.0.0"}, nil)
	cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint:   e.URL + "/mcp",
		HTTPClient: &http.Client{Transport: basicAuthTransport{user, pass, tr}},
	}, nil)
	if err != nil {
		t.Fatalf("connect to %s/mcp: %v", e.URL, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// callTool calls a tool and returns its result, failing the test only on
// protocol errors: tool errors are in the result.
func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s, %v): %v", name, args, err)
	}
	return res
}

// toolText is the text of a result's single text content.
func toolText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("tool result has %d contents, want 1: %+v", len(res.Content), res.Content)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("tool result content is %T, want *mcp.TextContent", res.Content[0])
	}
	return tc.Text
}

// toolToken decodes a successful result's structured content.
func toolToken(t *testing.T, name string, res *mcp.CallToolResult) models.AccessToken {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s: tool error %s", name, toolText(t, res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var tok models.AccessToken
	if err := json.Unmarshal(b, &tok); err != nil {
		t.Fatalf("%s: structured content %s: %v", name, b, err)
	}
	// The text content carries the same JSON, for clients without
	// structured content.
	var fromText models.AccessToken
	if err := json.Unmarshal([]byte(toolText(t, res)), &fromText); err != nil {
		t.Fatalf("%s: text content: %v", name, err)
	}
	if diff := cmp.Diff(tok, fromText); diff != "" {
		t.Errorf("%s: text and structured content differ (-structured +text):\n%s", name, diff)
	}
	return tok
}

func TestMCPListTools(t *testing.T) {
	e := startEnv(t, api.Config{})
	cs := e.mcpSession(t, "", "") // listing needs no credentials; calls do
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	type toolShape struct {
		Name       string
		Properties []string
		Required   []string
		Output     []string
		ReadOnly   bool
	}
	var got []toolShape
	for _, tool := range res.Tools {
		in := schemaMap(t, tool.InputSchema)
		out := schemaMap(t, tool.OutputSchema)
		got = append(got, toolShape{
			Name:       tool.Name,
			Properties: sortedKeysOf(in["properties"]),
			Required:   sortedStrings(in["required"]),
			Output:     sortedKeysOf(out["properties"]),
			ReadOnly:   tool.Annotations != nil && tool.Annotations.ReadOnlyHint,
		})
		if !strings.Contains(tool.Description, "REST operation") {
			t.Errorf("tool %s: description %q does not name its REST operation", tool.Name, tool.Description)
		}
	}
	fields := []string{"account_sid", "date_created", "entity_identity", "factor_friendly_name", "factor_type", "service_sid", "sid", "token", "ttl", "url"}
	factorFields := []string{"account_sid", "config", "date_created", "date_updated", "entity_sid", "factor_type", "friendly_name", "identity", "metadata", "service_sid", "sid", "status", "url"}
	want := map[string]toolShape{
		"create_access_token": {
			Name:       "create_access_token",
			Properties: []string{"factor_friendly_name", "factor_type", "identity", "service_sid", "ttl"},
			Required:   []string{"factor_type", "identity", "service_sid"},
			Output:     fields,
		},
		"fetch_access_token": {
			Name:       "fetch_access_token",
			Properties: []string{"service_sid", "sid"},
			Required:   []string{"service_sid", "sid"},
			Output:     fields,
			ReadOnly:   true,
		},
		"create_new_factor": {
			Name: "create_new_factor",
			Properties: []string{"binding_alg", "binding_public_key", "config_app_id", "config_notification_platform",
				"config_notification_token", "config_sdk_version", "factor_type", "friendly_name", "identity", "metadata", "service_sid"},
			Required: []string{"factor_type", "friendly_name", "identity", "service_sid"},
			Output:   append(slices.Clone(factorFields), "binding", "options"),
		},
		"list_entity": {
			Name:       "list_entity",
			Properties: []string{"page", "page_size", "page_token", "service_sid"},
			Required:   []string{"service_sid"},
			Output:     []string{"entities", "meta"},
			ReadOnly:   true,
		},
	}
	slices.Sort(want["create_new_factor"].Output)
	// One tool per operation of the spec, made from it.
	doc, err := verifyserver.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	var wantNames, gotNames []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			wantNames = append(wantNames, snakeCase(op.OperationID))
		}
	}
	for _, g := range got {
		gotNames = append(gotNames, g.Name)
		if w, ok := want[g.Name]; ok {
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("tool %s mismatch (-want +got):\n%s", g.Name, diff)
			}
		}
	}
	slices.Sort(wantNames)
	slices.Sort(gotNames)
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("tools mismatch (-one per operation +listed):\n%s", diff)
	}
}

func TestMCPCreateThenFetch(t *testing.T) {
	e := startEnv(t, api.Config{})
	creds := []struct{ name, user, pass string }{
		{"auth token", e.A.AccountSID, e.A.AuthToken},
		{"api key", e.A.APIKeySID, e.A.APISecret},
	}
	for _, cr := range creds {
		t.Run(cr.name, func(t *testing.T) {
			cs := e.mcpSession(t, cr.user, cr.pass)
			created := toolToken(t, "create_access_token", callTool(t, cs, "create_access_token", map[string]any{
				"service_sid":          e.A.ServiceSID,
				"identity":             "ff483d1ff591898a9942916050d2ca3f",
				"factor_type":          "push",
				"factor_friendly_name": "John Doe iPhone",
				"ttl":                  300,
			}))
			if created.SID == nil || !tokenSIDPattern.MatchString(*created.SID) {
				t.Fatalf("create_access_token: sid %v, want YK + 32 hex", created.SID)
			}
			want := models.AccessToken{
				SID:                created.SID,
				AccountSID:         &e.A.AccountSID,
				ServiceSID:         &e.A.ServiceSID,
				EntityIdentity:     ptr("ff483d1ff591898a9942916050d2ca3f"),
				FactorType:         models.Push,
				FactorFriendlyName: ptr("John Doe iPhone"),
				Token:              created.Token,
				URL:                ptr(e.URL + "/v2/Services/" + e.A.ServiceSID + "/AccessTokens/" + *created.SID),
				TTL:                300,
				DateCreated:        created.DateCreated,
			}
			if diff := cmp.Diff(want, created); diff != "" {
				t.Errorf("create_access_token mismatch (-want +got):\n%s", diff)
			}

			fetched := toolToken(t, "fetch_access_token", callTool(t, cs, "fetch_access_token", map[string]any{
				"service_sid": e.A.ServiceSID, "sid": *created.SID,
			}))
			if diff := cmp.Diff(created, fetched); diff != "" {
				t.Errorf("fetch_access_token mismatch with the created token (-created +fetched):\n%s", diff)
			}

			// REST sees the same token.
			resp, body := e.do(t, http.MethodGet, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens/"+*created.SID, "", "", cr.user+":"+cr.pass)
			var rest models.AccessToken
			if err := json.Unmarshal(body, &rest); resp.StatusCode != http.StatusOK || err != nil {
				t.Fatalf("REST fetch of the MCP-created token: status %d, %v (body %s)", resp.StatusCode, err, body)
			}
			if diff := cmp.Diff(created, rest); diff != "" {
				t.Errorf("REST fetch mismatch with the MCP-created token (-mcp +rest):\n%s", diff)
			}

			// Defaults are the REST API's.
			minimal := toolToken(t, "create_access_token", callTool(t, cs, "create_access_token", map[string]any{
				"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "push",
			}))
			if minimal.TTL != 60 || minimal.FactorFriendlyName != nil {
				t.Errorf("create_access_token without ttl and factor_friendly_name: ttl %d, friendly name %v; want 60 and null", minimal.TTL, minimal.FactorFriendlyName)
			}
		})
	}
}

// TestMCPErrorsAreREST checks that each failing tool call returns, as a
// tool error, exactly the Twilio error body the REST API sends for the
// same request.
func TestMCPErrorsAreREST(t *testing.T) {
	e := startEnv(t, api.Config{})
	a := e.mcpSession(t, e.A.AccountSID, e.A.AuthToken)
	tokenA := toolToken(t, "create_access_token", callTool(t, a, "create_access_token", map[string]any{
		"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "push",
	}))
	unknown := "YK" + strings.Repeat("0", 32)
	collection := "/v2/Services/" + e.A.ServiceSID + "/AccessTokens"
	validForm := "Identity=user-0001&FactorType=push"

	tests := []struct {
		name       string
		user, pass string
		tool       string
		args       map[string]any
		restMethod string // the equivalent REST request
		restPath   string
		restForm   string
		wantCode   float64
		wantMsg    string
	}{
		{
			name: "no credentials", tool: "create_access_token",
			args:       map[string]any{"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "push"},
			restMethod: http.MethodPost, restPath: collection, restForm: validForm,
			wantCode: 20003, wantMsg: "Authenticate",
		},
		{
			name: "wrong secret", user: e.A.AccountSID, pass: strings.Repeat("0", 32), tool: "fetch_access_token",
			args:       map[string]any{"service_sid": e.A.ServiceSID, "sid": *tokenA.SID},
			restMethod: http.MethodGet, restPath: collection + "/" + *tokenA.SID,
			wantCode: 20003, wantMsg: "Authenticate",
		},
		{
			name: "ttl below 60", user: e.A.AccountSID, pass: e.A.AuthToken, tool: "create_access_token",
			args:       map[string]any{"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "push", "ttl": 5},
			restMethod: http.MethodPost, restPath: collection, restForm: validForm + "&Ttl=5",
			wantCode: 60200, wantMsg: "Invalid parameter: Ttl",
		},
		{
			name: "unknown factor type", user: e.A.AccountSID, pass: e.A.AuthToken, tool: "create_access_token",
			args:       map[string]any{"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "sms"},
			restMethod: http.MethodPost, restPath: collection, restForm: "Identity=user-0001&FactorType=sms",
			wantCode: 60200, wantMsg: "Invalid parameter: FactorType",
		},
		{
			name: "malformed service sid", user: e.A.AccountSID, pass: e.A.AuthToken, tool: "fetch_access_token",
			args:       map[string]any{"service_sid": "VA/../x", "sid": *tokenA.SID},
			restMethod: http.MethodGet, restPath: "/v2/Services/" + url.PathEscape("VA/../x") + "/AccessTokens/" + *tokenA.SID,
			wantCode: 60200, wantMsg: "Invalid parameter: ServiceSid",
		},
		{
			// The tool sends the REST request its arguments make, and an
			// empty segment matches no operation there.
			name: "empty service sid", user: e.A.AccountSID, pass: e.A.AuthToken, tool: "fetch_access_token",
			args:       map[string]any{"service_sid": "", "sid": *tokenA.SID},
			restMethod: http.MethodGet, restPath: "/v2/Services//AccessTokens/" + *tokenA.SID,
			wantCode: 20404, wantMsg: "The requested resource /v2/Services//AccessTokens/" + *tokenA.SID + " was not found",
		},
		{
			name: "unknown token", user: e.A.APIKeySID, pass: e.A.APISecret, tool: "fetch_access_token",
			args:       map[string]any{"service_sid": e.A.ServiceSID, "sid": unknown},
			restMethod: http.MethodGet, restPath: collection + "/" + unknown,
			wantCode: 20404, wantMsg: "The requested resource " + collection + "/" + unknown + " was not found",
		},
		{
			name: "another account's token", user: e.B.AccountSID, pass: e.B.AuthToken, tool: "fetch_access_token",
			args:       map[string]any{"service_sid": e.A.ServiceSID, "sid": *tokenA.SID},
			restMethod: http.MethodGet, restPath: collection + "/" + *tokenA.SID,
			wantCode: 20404, wantMsg: "The requested resource " + collection + "/" + *tokenA.SID + " was not found",
		},
		{
			name: "another account's service", user: e.B.APIKeySID, pass: e.B.APISecret, tool: "create_access_token",
			args:       map[string]any{"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "push"},
			restMethod: http.MethodPost, restPath: collection, restForm: validForm,
			wantCode: 20404, wantMsg: "The requested resource " + collection + " was not found",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := callTool(t, e.mcpSession(t, tc.user, tc.pass), tc.tool, tc.args)
			if !res.IsError {
				t.Fatalf("%s(%v): not a tool error: %+v", tc.tool, tc.args, res)
			}
			text := toolText(t, res)
			var got map[string]any
			if err := json.Unmarshal([]byte(text), &got); err != nil {
				t.Fatalf("%s(%v): error text %q is not the Twilio JSON: %v", tc.tool, tc.args, text, err)
			}
			if got["code"] != tc.wantCode || got["message"] != tc.wantMsg {
				t.Errorf("%s(%v): error %s, want code %v message %q", tc.tool, tc.args, text, tc.wantCode, tc.wantMsg)
			}

			auth := ""
			if tc.user != "" {
				auth = tc.user + ":" + tc.pass
			}
			ct := ""
			if tc.restForm != "" {
				ct = "application/x-www-form-urlencoded"
			}
			_, restBody := e.do(t, tc.restMethod, tc.restPath, ct, tc.restForm, auth)
			if text != strings.TrimSpace(string(restBody)) {
				t.Errorf("%s(%v): MCP error differs from REST's:\nmcp  %s\nrest %s", tc.tool, tc.args, text, restBody)
			}
		})
	}
}

// TestMCPShapeErrors pins what the MCP SDK itself rejects before any REST
// request: missing required arguments, wrong JSON types, unknown arguments.
func TestMCPShapeErrors(t *testing.T) {
	e := startEnv(t, api.Config{})
	cs := e.mcpSession(t, e.A.AccountSID, e.A.AuthToken)
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"missing identity", map[string]any{"service_sid": e.A.ServiceSID, "factor_type": "push"}, "identity"},
		{"ttl as text", map[string]any{"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "push", "ttl": "300"}, "ttl"},
		{"unknown argument", map[string]any{"service_sid": e.A.ServiceSID, "identity": "user-0001", "factor_type": "push", "Ttl": 300}, "Ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := callTool(t, cs, "create_access_token", tc.args)
			if text := toolText(t, res); !res.IsError || !strings.Contains(text, "validating \"arguments\"") || !strings.Contains(text, tc.want) {
				t.Errorf("create_access_token(%v) = %q (isError %v), want an argument validation error naming %s", tc.args, text, res.IsError, tc.want)
			}
		})
	}
}

// TestMCPAuthFailureLimit checks that tool calls count towards the same
// failed-authentication limit as REST requests from the same client.
func TestMCPAuthFailureLimit(t *testing.T) {
	e := startEnv(t, api.Config{AuthFailureLimit: 2})
	cs := e.mcpSession(t, e.A.AccountSID, strings.Repeat("0", 32))
	args := map[string]any{"service_sid": e.A.ServiceSID, "sid": "YK" + strings.Repeat("0", 32)}
	var codes []float64
	for range 3 {
		var got map[string]any
		if err := json.Unmarshal([]byte(toolText(t, callTool(t, cs, "fetch_access_token", args))), &got); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, got["code"].(float64))
	}
	if diff := cmp.Diff([]float64{20003, 20003, 20429}, codes); diff != "" {
		t.Errorf("three failed tool calls with a limit of 2 gave codes (-want +got):\n%s", diff)
	}
	// REST, from the same address, is refused too.
	resp, body := e.do(t, http.MethodGet, "/v2/Services/"+e.A.ServiceSID+"/AccessTokens/YK"+strings.Repeat("0", 32), "", "", e.A.AccountSID+":"+e.A.AuthToken)
	checkErrorBody(t, resp, body, http.StatusTooManyRequests, 20429)
}

func TestMCPOpenAPIResource(t *testing.T) {
	e := startEnv(t, api.Config{})
	cs := e.mcpSession(t, "", "")
	list, err := cs.ListResources(t.Context(), nil)
	if err != nil {
		t.Fatalf("ListResources: %v", err)
	}
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI+" "+r.MIMEType)
	}
	if diff := cmp.Diff([]string{"verifykit://openapi.json application/json"}, uris); diff != "" {
		t.Errorf("ListResources mismatch (-want +got):\n%s", diff)
	}
	res, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "verifykit://openapi.json"})
	if err != nil {
		t.Fatalf("ReadResource(verifykit://openapi.json): %v", err)
	}
	want, err := verifyserver.GetSpecJSON()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Contents) != 1 || res.Contents[0].Text != string(want) {
		t.Errorf("ReadResource(verifykit://openapi.json) did not return the embedded contract byte for byte")
	}
}

func TestMCPHTTP(t *testing.T) {
	e := startEnv(t, api.Config{})
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`
	tests := []struct {
		name       string
		method     string
		header     map[string]string
		body       string
		wantStatus int
		wantClose  bool // the server closes the connection after answering
	}{
		{"initialize", http.MethodPost, map[string]string{"Accept": "application/json, text/event-stream"}, initialize, http.StatusOK, false},
		{"stateless: no event stream", http.MethodGet, map[string]string{"Accept": "text/event-stream"}, "", http.StatusMethodNotAllowed, false},
		// Refused by the CORS stage, before the limits stage tracks the
		// body; net/http reads what is left of it, a complete body here,
		// before it reuses the connection.
		{"cross-site browser request", http.MethodPost, map[string]string{"Accept": "application/json, text/event-stream", "Sec-Fetch-Site": "cross-site"}, initialize, http.StatusForbidden, false},
		// The rest of a body over the limit (64 KiB) is not read: the
		// connection closes. net/http would read up to 256 KiB more itself.
		{"body over the limit", http.MethodPost, map[string]string{"Accept": "application/json, text/event-stream"}, initialize[:len(initialize)-1] + `,"pad":"` + strings.Repeat("x", 70_000) + `"}`, http.StatusRequestEntityTooLarge, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), tc.method, e.URL+"/mcp", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("%s /mcp (%s): status %d, want %d", tc.method, tc.name, resp.StatusCode, tc.wantStatus)
			}
			if resp.Close != tc.wantClose {
				t.Errorf("%s /mcp (%s): connection closed %t, want %t", tc.method, tc.name, resp.Close, tc.wantClose)
			}
			// Like a REST request, each has its request id and its line.
			id := resp.Header.Get("Twilio-Request-Id")
			if !regexp.MustCompile(`^RQ[0-9a-f]{32}$`).MatchString(id) {
				t.Fatalf("%s /mcp: Twilio-Request-Id = %q, want RQ and 32 hex digits", tc.method, id)
			}
			want := fmt.Sprintf(`"request_id":%q,"method":%q,"path":"/mcp","status":%d,`, id, tc.method, tc.wantStatus)
			e.Logs.waitFor(t, want)
		})
	}
}

// schemaMap decodes a tool schema, whatever type the client holds it in.
func schemaMap(t *testing.T, s any) map[string]any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sortedKeysOf(v any) []string {
	m, _ := v.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out
}

// snakeCase spells an operationId as its tool's name: CreateNewFactor is
// create_new_factor.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
