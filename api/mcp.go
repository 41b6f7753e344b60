package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/verifykit/verifykit"
	"github.com/verifykit/verifykit/gen/models"
)

// pathMCP is where verifyd speaks the Model Context Protocol, over
// streamable HTTP.
const pathMCP = "/mcp"

// openAPIResourceURI names the contract among the MCP server's resources.
const openAPIResourceURI = "verifykit://openapi.yaml"

// The MCP tools are the spec's two operations, reached the same way as
// over REST: each tool call becomes an HTTP request to the REST handler,
// carrying the Authorization header of the MCP request that made the call.
// Authentication (with its failure limit), validation against
// openapi.yaml, ownership and the Twilio errors are therefore the REST
// API's own, and an MCP client gets exactly what a REST client gets: the
// resource, or the Twilio error JSON as a tool error.
//
// The tools' input schemas carry the spec's types, required fields and
// descriptions, but none of its value rules (patterns, lengths, ranges,
// enums): those are checked by the REST validator, so that a bad value
// gets the same 400 · 60200 "Invalid parameter: Ttl" as over REST, rather
// than a different message from the MCP SDK.

// createAccessTokenArgs are the arguments of the create_access_token tool.
type createAccessTokenArgs struct {
	ServiceSID   string  `json:"service_sid"`
	Identity     string  `json:"identity"`
	FactorType   string  `json:"factor_type"`
	FriendlyName *string `json:"friendly_name,omitempty"`
	TTL          *int    `json:"ttl,omitempty"`
}

// fetchAccessTokenArgs are the arguments of the fetch_access_token tool.
type fetchAccessTokenArgs struct {
	ServiceSID string `json:"service_sid"`
	SID        string `json:"sid"`
}

// toolArg maps a tool argument to the spec: a path parameter of
// components.parameters, or a field of the operation's form body.
type toolArg struct {
	name     string // the argument, in snake_case
	param    string // components.parameters name, or ""
	field    string // form field of CreateAccessTokenRequest, or ""
	required bool
}

var (
	createArgs = []toolArg{
		{name: "service_sid", param: "ServiceSid", required: true},
		{name: "identity", field: "Identity", required: true},
		{name: "factor_type", field: "FactorType", required: true},
		{name: "friendly_name", field: "FactorFriendlyName"},
		{name: "ttl", field: "Ttl"},
	}
	fetchArgs = []toolArg{
		{name: "service_sid", param: "ServiceSid", required: true},
		{name: "sid", param: "AccessTokenSid", required: true},
	}
)

// newMCPHandler serves MCP at /mcp. Its tools call rest, the handler of the
// spec operations. It is stateless: every HTTP request stands alone, so
// each tool call is authenticated with that request's own credentials and
// the server keeps no sessions.
func newMCPHandler(rest http.Handler, doc *openapi3.T, bodyLimit int64, log *slog.Logger) (http.Handler, error) {
	createIn, err := toolInputSchema(doc, createArgs)
	if err != nil {
		return nil, fmt.Errorf("mcp: create_access_token: %w", err)
	}
	fetchIn, err := toolInputSchema(doc, fetchArgs)
	if err != nil {
		return nil, fmt.Errorf("mcp: fetch_access_token: %w", err)
	}
	tokenSchema, ok := doc.Components.Schemas["AccessToken"]
	if !ok {
		return nil, fmt.Errorf("mcp: the spec has no AccessToken schema")
	}
	out := jsonSchema(tokenSchema.Value)

	// The SDK logs every connect and disconnect at INFO, which in
	// stateless mode means three lines per request: keep its warnings.
	log = slog.New(minLevel{log.Handler(), slog.LevelWarn}).With(slog.String("component", "mcp"))
	srv := mcp.NewServer(&mcp.Implementation{
		Name:    "verifyd",
		Title:   doc.Info.Title,
		Version: doc.Info.Version,
	}, &mcp.ServerOptions{
		Logger: log,
		Instructions: "Create and fetch Twilio Verify v2 access tokens on this verifyd. " +
			"Every tool call is authenticated with the HTTP Basic credentials of the MCP request " +
			"(an Account SID and its Auth Token, or an API Key SID and its secret) and acts for that account. " +
			"A failed call returns the Twilio error JSON (code, message, more_info, status). " +
			"The contract is the resource " + openAPIResourceURI + ".",
	})
	t := &mcpTools{rest: rest}
	mcp.AddTool(srv, &mcp.Tool{
		Name:         "create_access_token",
		Title:        "Create an access token",
		Description:  toolDescription(doc, "CreateAccessToken"),
		InputSchema:  createIn,
		OutputSchema: out,
		Annotations:  &mcp.ToolAnnotations{DestructiveHint: new(false), OpenWorldHint: new(false)},
	}, t.create)
	mcp.AddTool(srv, &mcp.Tool{
		Name:         "fetch_access_token",
		Title:        "Fetch an access token",
		Description:  toolDescription(doc, "FetchAccessToken"),
		InputSchema:  fetchIn,
		OutputSchema: out,
		Annotations:  &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(false)},
	}, t.fetch)
	spec := verifykit.OpenAPIYAML()
	srv.AddResource(&mcp.Resource{
		URI:         openAPIResourceURI,
		Name:        "openapi.yaml",
		Title:       "The verifykit contract (OpenAPI 3.0.3)",
		Description: "openapi.yaml: both operations, their parameters, the AccessToken resource and every error response.",
		MIMEType:    "application/yaml",
		Size:        int64(len(spec)),
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
			URI: req.Params.URI, MIMEType: "application/yaml", Text: spec,
		}}}, nil
	})

	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:           true,
		JSONResponse:        true,
		Logger:              log,
		MaxRequestBodyBytes: bodyLimit,
		// The SDK's DNS-rebinding guard refuses loopback connections whose
		// Host is not loopback, which would break verifyd behind a local
		// reverse proxy. It is not needed here: nothing behind /mcp that is
		// not public works without the caller's own Basic credentials, which
		// a rebinding page cannot send.
		DisableLocalhostProtection: true,
	})
	return http.NewCrossOriginProtection().Handler(withMCPCaller(h)), nil
}

// minLevel passes on only the records at or above level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// mcpCaller is what the tools need to know of the HTTP request that
// carried a call, to build the REST request the way a REST client's would
// arrive: the same Host (for each resource's url), peer and TLS state.
type mcpCaller struct {
	host       string
	remoteAddr string
	tls        *tls.ConnectionState
}

// mcpCallerKey is the context key of the mcpCaller; the MCP SDK passes
// the HTTP request's context values on to tool handlers.
type mcpCallerKey struct{}

func withMCPCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := mcpCaller{host: r.Host, remoteAddr: r.RemoteAddr, tls: r.TLS}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), mcpCallerKey{}, c)))
	})
}

// mcpTools implements the tools on top of the REST handler.
type mcpTools struct {
	rest http.Handler
}

func (t *mcpTools) create(ctx context.Context, req *mcp.CallToolRequest, in createAccessTokenArgs) (*mcp.CallToolResult, models.AccessToken, error) {
	form := url.Values{"Identity": {in.Identity}, "FactorType": {in.FactorType}}
	if in.FriendlyName != nil {
		form.Set("FactorFriendlyName", *in.FriendlyName)
	}
	if in.TTL != nil {
		form.Set("Ttl", strconv.Itoa(*in.TTL))
	}
	path := "/v2/Services/" + url.PathEscape(in.ServiceSID) + "/AccessTokens"
	return t.call(ctx, req, http.MethodPost, path, form)
}

func (t *mcpTools) fetch(ctx context.Context, req *mcp.CallToolRequest, in fetchAccessTokenArgs) (*mcp.CallToolResult, models.AccessToken, error) {
	path := "/v2/Services/" + url.PathEscape(in.ServiceSID) + "/AccessTokens/" + url.PathEscape(in.SID)
	return t.call(ctx, req, http.MethodGet, path, nil)
}

// forwardedHeaders are the headers of the MCP request that its tool calls
// pass on to the REST handler.
var forwardedHeaders = []string{"Authorization", "User-Agent", "X-Forwarded-For"}

// call sends one request to the REST handler on behalf of the MCP request
// req, and returns the resource, or the Twilio error as a *mcpToolError.
func (t *mcpTools) call(ctx context.Context, req *mcp.CallToolRequest, method, path string, form url.Values) (*mcp.CallToolResult, models.AccessToken, error) {
	var body io.Reader = http.NoBody
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return nil, models.AccessToken{}, fmt.Errorf("build request: %w", err)
	}
	r.RequestURI = path
	if c, ok := ctx.Value(mcpCallerKey{}).(mcpCaller); ok {
		r.Host, r.RemoteAddr, r.TLS = c.host, c.remoteAddr, c.tls
	}
	if extra := req.GetExtra(); extra != nil {
		for _, name := range forwardedHeaders {
			if v := extra.Header.Values(name); len(v) > 0 {
				r.Header[name] = v
			}
		}
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}

	w := &bufferedResponse{header: http.Header{}}
	t.rest.ServeHTTP(w, r)
	if w.status < 200 || w.status > 299 {
		return nil, models.AccessToken{}, &mcpToolError{body: bytes.TrimSpace(w.body.Bytes())}
	}
	var tok models.AccessToken
	if err := json.Unmarshal(w.body.Bytes(), &tok); err != nil {
		return nil, models.AccessToken{}, fmt.Errorf("decode access token: %w", err)
	}
	return nil, tok, nil
}

// mcpToolError is a Twilio error from the REST handler. Its text is the
// error JSON as the REST API sent it, which the MCP SDK returns as the
// content of a tool result marked isError.
type mcpToolError struct {
	body []byte
}

func (e *mcpToolError) Error() string { return string(e.body) }

// bufferedResponse collects the REST handler's response to a tool call.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// toolDescription describes a tool by its operation in the spec.
func toolDescription(doc *openapi3.T, operationID string) string {
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			if op.OperationID == operationID {
				return strings.TrimSpace(op.Summary+". "+op.Description) +
					"\n\nREST operation " + operationID + ": " + method + " " + path + "."
			}
		}
	}
	return operationID
}

// toolInputSchema builds a tool's input schema from the spec: for each
// argument, the JSON type and the description of its parameter or form
// field, and which arguments are required.
func toolInputSchema(doc *openapi3.T, args []toolArg) (map[string]any, error) {
	form, ok := doc.Components.Schemas["CreateAccessTokenRequest"]
	if !ok {
		return nil, fmt.Errorf("the spec has no CreateAccessTokenRequest schema")
	}
	props := map[string]any{}
	var required []string
	for _, a := range args {
		var s *openapi3.Schema
		var desc, where string
		switch {
		case a.param != "":
			p, ok := doc.Components.Parameters[a.param]
			if !ok || p.Value.Schema == nil {
				return nil, fmt.Errorf("the spec has no parameter %s", a.param)
			}
			s, desc, where = p.Value.Schema.Value, p.Value.Description, "path parameter "+p.Value.Name
		default:
			f, ok := form.Value.Properties[a.field]
			if !ok {
				return nil, fmt.Errorf("the spec has no form field %s", a.field)
			}
			s, desc, where = f.Value, f.Value.Description, "form field "+a.field
		}
		if s.Type == nil || len(s.Type.Slice()) != 1 {
			return nil, fmt.Errorf("argument %s: want one JSON type in the spec", a.name)
		}
		props[a.name] = map[string]any{
			"type":        s.Type.Slice()[0],
			"description": strings.TrimSpace(desc) + " (REST: " + where + ")",
		}
		if a.required {
			required = append(required, a.name)
		}
	}
	return map[string]any{
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}, nil
}

// jsonSchema converts an OpenAPI 3.0 schema (with its references
// resolved) to JSON Schema, as MCP output schemas are written: nullable
// becomes a "null" type.
func jsonSchema(s *openapi3.Schema) map[string]any {
	m := map[string]any{}
	if s.Type != nil {
		types := s.Type.Slice()
		if s.Nullable {
			types = append(types, "null")
		}
		if len(types) == 1 {
			m["type"] = types[0]
		} else if len(types) > 1 {
			m["type"] = types
		}
	}
	if s.Description != "" {
		m["description"] = strings.TrimSpace(s.Description)
	}
	if len(s.Enum) > 0 {
		enum := append([]any(nil), s.Enum...)
		if s.Nullable {
			enum = append(enum, nil)
		}
		m["enum"] = enum
	}
	if s.Pattern != "" {
		m["pattern"] = s.Pattern
	}
	if s.MinLength > 0 {
		m["minLength"] = s.MinLength
	}
	if s.MaxLength != nil {
		m["maxLength"] = *s.MaxLength
	}
	if s.Min != nil {
		m["minimum"] = *s.Min
	}
	if s.Max != nil {
		m["maximum"] = *s.Max
	}
	if s.Format != "" {
		m["format"] = s.Format
	}
	if len(s.Properties) > 0 {
		props := map[string]any{}
		for name, p := range s.Properties {
			props[name] = jsonSchema(p.Value)
		}
		m["properties"] = props
	}
	if len(s.Required) > 0 {
		m["required"] = s.Required
	}
	if has := s.AdditionalProperties.Has; has != nil && !*has {
		m["additionalProperties"] = false
	}
	return m
}
