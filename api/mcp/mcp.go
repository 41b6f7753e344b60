// Package mcp serves the spec's operations as Model Context Protocol tools,
// over streamable HTTP. The tools are made from openapi.yaml, one per
// operation, and a call re-enters the REST handler as an HTTP request that
// carries the MCP request's credentials: authentication, validation,
// ownership and the Twilio errors are the REST API's own, and a tool
// returns exactly what a REST client gets, the resource or the Twilio
// error JSON as a tool error.
package mcp

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/verifykit/verifykit/gen/verifyserver"
)

// Path is where verifyd speaks MCP.
const Path = "/mcp"

// specResourceURI names the contract among the MCP server's resources.
const specResourceURI = "verifykit://openapi.json"

// NewHandler serves MCP with one tool per operation of doc; each call goes
// to rest. It is stateless: every HTTP request stands alone, so each call
// is authenticated with its own request's credentials and the server keeps
// no sessions.
func NewHandler(doc *openapi3.T, rest http.Handler, log *slog.Logger) (http.Handler, error) {
	spec, err := verifyserver.GetSpecJSON()
	if err != nil {
		return nil, fmt.Errorf("mcp: %w", err)
	}
	// The SDK logs every connect and disconnect at INFO, which in
	// stateless mode means three lines per request: keep its warnings.
	log = slog.New(minLevel{log.Handler(), slog.LevelWarn}).With(slog.String("component", "mcp"))
	srv := mcp.NewServer(&mcp.Implementation{
		Name:    "verifyd",
		Title:   doc.Info.Title,
		Version: doc.Info.Version,
	}, &mcp.ServerOptions{
		Logger: log,
		Instructions: "The Twilio Verify v2 operations of this verifyd, one tool each. " +
			"Every tool call is authenticated with the HTTP Basic credentials of the MCP request " +
			"(an Account SID and its Auth Token, or an API Key SID and its secret) and acts for that account. " +
			"A failed call returns the Twilio error JSON (code, message, more_info, status). " +
			"The contract is the resource " + specResourceURI + ".",
	})
	ops, err := operations(doc)
	if err != nil {
		return nil, fmt.Errorf("mcp: %w", err)
	}
	for _, op := range ops {
		mcp.AddTool(srv, op.tool(), func(ctx context.Context, req *mcp.CallToolRequest, args map[string]any) (*mcp.CallToolResult, map[string]any, error) {
			return op.call(ctx, req, rest, args)
		})
	}
	srv.AddResource(&mcp.Resource{
		URI:         specResourceURI,
		Name:        "openapi.json",
		Title:       "The verifykit contract (OpenAPI 3.0.3)",
		Description: "openapi.yaml as JSON: every operation, parameter, resource and error response.",
		MIMEType:    "application/json",
		Size:        int64(len(spec)),
	}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
			URI: req.Params.URI, MIMEType: "application/json", Text: string(spec),
		}}}, nil
	})

	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:    true,
		JSONResponse: true,
		Logger:       log,
		// The SDK's DNS-rebinding guard refuses loopback connections whose
		// Host is not loopback, which would break verifyd behind a local
		// reverse proxy. It is not needed here: nothing behind /mcp works
		// without the caller's own Basic credentials, which a rebinding
		// page cannot send.
		DisableLocalhostProtection: true,
	})
	return http.NewCrossOriginProtection().Handler(withCaller(h)), nil
}

// operation is one operation of the spec as a tool.
type operation struct {
	id, method, path string
	summary          string
	args             []arg
	output           map[string]any // JSON Schema of the 2xx body; nil for none
}

// arg is a tool argument: a parameter or form field of the operation.
type arg struct {
	name     string // snake_case, as MCP tools name arguments
	in       string // "path", "query" or "form"
	spec     string // the name in the spec
	required bool
	schema   *openapi3.Schema
	desc     string
}

// operations reads every operation of doc, in operationId order.
func operations(doc *openapi3.T) ([]*operation, error) {
	var ops []*operation
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			op := &operation{id: o.OperationID, method: method, path: path,
				summary: strings.TrimSpace(o.Summary + ". " + o.Description)}
			for _, ref := range append(slices.Clone(item.Parameters), o.Parameters...) {
				p := ref.Value
				if p.In != openapi3.ParameterInPath && p.In != openapi3.ParameterInQuery {
					continue
				}
				op.add(arg{name: snake(p.Name), in: p.In, spec: p.Name, required: p.Required,
					schema: p.Schema.Value, desc: p.Description})
			}
			if o.RequestBody != nil {
				if media := o.RequestBody.Value.Content.Get("application/x-www-form-urlencoded"); media != nil {
					s := media.Schema.Value
					for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
						f := s.Properties[name].Value
						op.add(arg{name: snake(name), in: "form", spec: name, required: slices.Contains(s.Required, name),
							schema: f, desc: f.Description})
					}
				}
			}
			for code, ref := range o.Responses.Map() {
				if strings.HasPrefix(code, "2") && ref.Value != nil {
					if media := ref.Value.Content.Get("application/json"); media != nil {
						op.output = jsonSchema(media.Schema.Value)
					}
				}
			}
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(a, b *operation) int { return strings.Compare(a.id, b.id) })
	for _, op := range ops {
		for _, a := range op.args {
			if a.schema == nil || a.schema.Type == nil || len(a.schema.Type.Slice()) != 1 {
				return nil, fmt.Errorf("%s: argument %s: want one JSON type in the spec", op.id, a.name)
			}
		}
	}
	return ops, nil
}

// add adds a unless an argument of that name exists: two spellings of one
// parameter (PageToken and pageToken) are one argument.
func (op *operation) add(a arg) {
	for _, b := range op.args {
		if b.name == a.name {
			return
		}
	}
	op.args = append(op.args, a)
}

// tool is the MCP tool of op. Its input schema carries the spec's types,
// required fields and descriptions, but none of its value rules (patterns,
// lengths, ranges, enums): the REST validator checks those, so a bad value
// gets the same 400 · 60200 as over REST.
func (op *operation) tool() *mcp.Tool {
	props := map[string]any{}
	required := []string{}
	for _, a := range op.args {
		where := map[string]string{"path": "path parameter", "query": "query parameter", "form": "form field"}[a.in]
		p := map[string]any{
			"type":        a.schema.Type.Slice()[0],
			"description": strings.TrimSpace(a.desc) + " (REST: " + where + " " + a.spec + ")",
		}
		if a.schema.Items != nil && a.schema.Items.Value != nil && a.schema.Items.Value.Type != nil {
			p["items"] = map[string]any{"type": a.schema.Items.Value.Type.Slice()[0]}
		}
		props[a.name] = p
		if a.required {
			required = append(required, a.name)
		}
	}
	t := &mcp.Tool{
		Name:        snake(op.id),
		Title:       strings.TrimSuffix(op.summary[:strings.Index(op.summary+".", ".")], "."),
		Description: op.summary + "\n\nREST operation " + op.id + ": " + op.method + " " + op.path + ".",
		InputSchema: map[string]any{
			"type":                 "object",
			"properties":           props,
			"required":             required,
			"additionalProperties": false,
		},
		Annotations: &mcp.ToolAnnotations{OpenWorldHint: new(false)},
	}
	if op.output != nil {
		t.OutputSchema = op.output
	}
	switch op.method {
	case http.MethodGet:
		t.Annotations.ReadOnlyHint, t.Annotations.IdempotentHint = true, true
	case http.MethodDelete:
		t.Annotations.DestructiveHint = new(true)
	default:
		t.Annotations.DestructiveHint = new(false)
	}
	return t
}

// forwardedHeaders are the header fields of the MCP request that its tool
// calls pass on to the REST handler.
var forwardedHeaders = []string{"Authorization", "User-Agent", "X-Forwarded-For"}

// call sends op to rest with args, on behalf of the MCP request req.
func (op *operation) call(ctx context.Context, req *mcp.CallToolRequest, rest http.Handler, args map[string]any) (*mcp.CallToolResult, map[string]any, error) {
	path := op.path
	query, form := url.Values{}, url.Values{}
	for _, a := range op.args {
		v, ok := args[a.name]
		if !ok {
			continue
		}
		values := formValues(v)
		switch a.in {
		case "path":
			path = strings.Replace(path, "{"+a.spec+"}", url.PathEscape(strings.Join(values, ",")), 1)
		case "query":
			query[a.spec] = values
		case "form":
			form[a.spec] = values
		}
	}
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body *strings.Reader
	if op.method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequestWithContext(ctx, op.method, target, http.NoBody)
	if body != nil {
		r, err = http.NewRequestWithContext(ctx, op.method, target, body)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	r.RequestURI = target
	if c, ok := ctx.Value(callerKey{}).(caller); ok {
		r.Host, r.RemoteAddr, r.TLS = c.host, c.remoteAddr, c.tls
	}
	if extra := req.GetExtra(); extra != nil {
		for _, name := range forwardedHeaders {
			if v := extra.Header.Values(name); len(v) > 0 {
				r.Header[name] = v
			}
		}
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	// The REST response, recorded in memory: httptest's recorder is
	// net/http's own.
	w := httptest.NewRecorder()
	rest.ServeHTTP(w, r)
	if w.Code < 200 || w.Code > 299 {
		return nil, nil, &toolError{body: bytes.TrimSpace(w.Body.Bytes())}
	}
	if w.Body.Len() == 0 {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		return nil, nil, fmt.Errorf("decode %s response: %w", op.id, err)
	}
	return nil, out, nil
}

// formValues spells a JSON argument as form values: an array as the
// repeated key, anything else as one value.
func formValues(v any) []string {
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, item := range list {
			out = append(out, formValue(item))
		}
		return out
	}
	return []string{formValue(v)}
}

func formValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v) // objects: the stringified JSON Twilio's form fields take
	return string(b)
}

// toolError is a Twilio error from the REST handler. Its text is the error
// JSON as the REST API sent it, which the MCP SDK returns as the content of
// a tool result marked isError.
type toolError struct {
	body []byte
}

func (e *toolError) Error() string { return string(e.body) }

// caller is what the tools need to know of the HTTP request that carried
// a call, to build the REST request the way a REST client's would arrive:
// the same Host (for each resource's url), peer and TLS state.
type caller struct {
	host       string
	remoteAddr string
	tls        *tls.ConnectionState
}

// callerKey is the context key of the caller; the MCP SDK passes the HTTP
// request's context values on to tool handlers.
type callerKey struct{}

func withCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := caller{host: r.Host, remoteAddr: r.RemoteAddr, tls: r.TLS}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
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

// snake spells a spec name as a tool or argument name: FactorType is
// factor_type, Binding.PublicKey binding_public_key, ServiceSid
// service_sid.
func snake(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case r == '.' || r == '-' || r == '_':
			b.WriteByte('_')
			prevLower = false
			continue
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
			continue
		}
		b.WriteRune(r)
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	return b.String()
}

// jsonSchema converts an OpenAPI 3.0 schema (with its references
// resolved) to JSON Schema, as MCP output schemas are written: nullable
// becomes a "null" type.
func jsonSchema(s *openapi3.Schema) map[string]any {
	if len(s.AllOf) > 0 {
		return mergeAllOf(s)
	}
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
	if s.Items != nil && s.Items.Value != nil {
		m["items"] = jsonSchema(s.Items.Value)
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

// mergeAllOf flattens an allOf of object schemas, the spec's way of saying
// "a Factor with its binding", into one object schema.
func mergeAllOf(s *openapi3.Schema) map[string]any {
	props := map[string]any{}
	var required []string
	for _, part := range s.AllOf {
		sub := jsonSchema(part.Value)
		if p, ok := sub["properties"].(map[string]any); ok {
			maps.Copy(props, p)
		}
		if r, ok := sub["required"].([]string); ok {
			required = append(required, r...)
		}
	}
	m := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		m["required"] = required
	}
	if s.Description != "" {
		m["description"] = strings.TrimSpace(s.Description)
	}
	return m
}
