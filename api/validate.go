package api

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	echomiddleware "github.com/oapi-codegen/echo-middleware"

	"github.com/verifykit/verifykit/internal/spec"
)

// ResponseValidation says what happens to a response that breaks the spec.
type ResponseValidation string

// The response validation modes.
const (
	// ResponseValidationEnforce replaces the response with 500 · 20500 and
	// logs why. It is the default.
	ResponseValidationEnforce ResponseValidation = "enforce"
	// ResponseValidationLog logs why and sends the response unchanged.
	ResponseValidationLog ResponseValidation = "log"
)

// operation is one operation of the spec, resolved once at start-up.
type operation struct {
	id         string
	route      *routers.Route
	formFields map[string]bool // the declared form fields; nil without a form body
	// query holds the declared query parameters: any other is refused,
	// as the generated form binding would read it as a form field.
	query map[string]bool
	// params are the operation's parameters compiled, in kin-openapi's
	// order; nil when any of them, or the operation, needs kin-openapi
	// (see compileParams).
	params []compiledParam
	// responses holds, per declared status, the compiled checks and what
	// was already found valid.
	responses map[int]*knownValid
}

// compiledParam is a path parameter whose schema compiled, with the error
// that refuses it, built once.
type compiledParam struct {
	name    string
	check   *spec.StringCheck
	invalid *apiError
}

// knownValid is what the response validator knows of one operation and
// status without asking kin-openapi: the declared headers, each with its
// compiled check or the values already found valid, and the bodies
// already found valid per Content-Type. Each verdict is a pure function of
// its key: a body's of (content type, bytes), a header's of (name, value),
// since the spec gives each header its own schema.
type knownValid struct {
	headers []*knownHeader
	bodies  map[string]*verdicts // by Content-Type, for the declared types
	noBody  bool                 // no content declared: kin-openapi checks no body
}

type knownHeader struct {
	name     string // canonical
	required bool
	check    *spec.StringCheck // nil: not compilable, see values
	values   *verdicts
}

// routeTable maps echo's route of a request (method and path template) to
// the spec's operation, so that no request is routed twice.
type routeTable struct {
	ops map[routeKey]*operation
}

// routeKey is a method and an echo path template, such as GET and
// /v2/Services/:ServiceSid/AccessTokens/:Sid.
type routeKey struct{ method, path string }

func newRouteTable(doc *openapi3.T) *routeTable {
	rt := &routeTable{ops: map[routeKey]*operation{}}
	for path, item := range doc.Paths.Map() {
		echoPath := strings.NewReplacer("{", ":", "}", "").Replace(path)
		for method, op := range item.Operations() {
			o := &operation{
				id:        op.OperationID,
				route:     &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
				params:    compileParams(doc, item, op),
				responses: map[int]*knownValid{},
				query:     map[string]bool{},
			}
			for _, ref := range append(append(openapi3.Parameters{}, item.Parameters...), op.Parameters...) {
				if ref.Value.In == openapi3.ParameterInQuery {
					o.query[ref.Value.Name] = true
				}
			}
			for status, resp := range op.Responses.Map() {
				code, err := strconv.Atoi(status)
				if err != nil {
					continue
				}
				o.responses[code] = newKnownValid(resp.Value, code != http.StatusCreated)
			}
			if op.RequestBody != nil {
				if media := op.RequestBody.Value.Content.Get("application/x-www-form-urlencoded"); media != nil {
					o.formFields = map[string]bool{}
					for name := range media.Schema.Value.Properties {
						o.formFields[name] = true
					}
				}
			}
			rt.ops[routeKey{method, echoPath}] = o
		}
	}
	return rt
}

// newKnownValid prepares the compiled checks and verdict caches of one
// declared response. rememberBodies is false for a 201: it describes a
// resource that did not exist before, so its body never repeats, and
// remembering it would only hold memory.
func newKnownValid(resp *openapi3.Response, rememberBodies bool) *knownValid {
	kv := &knownValid{bodies: map[string]*verdicts{}, noBody: len(resp.Content) == 0}
	if rememberBodies {
		for ct := range resp.Content {
			kv.bodies[ct] = newVerdicts(verdictCacheSize)
		}
	}
	for name, ref := range resp.Headers {
		if name == "Content-Type" {
			continue // kin-openapi skips exactly this key too
		}
		h := &knownHeader{name: http.CanonicalHeaderKey(name), required: ref.Value.Required}
		if ref.Value.Content == nil && ref.Value.Schema != nil && simpleStyle(ref.Value.Style, ref.Value.Explode) {
			h.check, _ = spec.CompileString(ref.Value.Schema.Value)
		}
		if h.check == nil {
			h.values = newVerdicts(headerVerdictCacheSize)
		}
		kv.headers = append(kv.headers, h)
	}
	return kv
}

// compileParams compiles the parameters of op when the operation's request
// validation comes down to string checks of its path parameters: no
// request body, no query, header or cookie parameters, every parameter of
// style simple with a schema that compiles, and security schemes that are
// all declared (authentication itself runs before validation). Otherwise
// it returns nil and every request of op goes to kin-openapi.
func compileParams(doc *openapi3.T, item *openapi3.PathItem, op *openapi3.Operation) []compiledParam {
	if op.RequestBody != nil {
		return nil
	}
	security := doc.Security
	if op.Security != nil {
		security = *op.Security
	}
	for _, req := range security {
		for name := range req {
			if doc.Components == nil || doc.Components.SecuritySchemes[name] == nil {
				return nil
			}
		}
	}
	// kin-openapi's order: the path item's parameters that the operation
	// does not override, then the operation's.
	var all []*openapi3.Parameter
	for _, ref := range item.Parameters {
		if op.Parameters.GetByInAndName(ref.Value.In, ref.Value.Name) == nil {
			all = append(all, ref.Value)
		}
	}
	for _, ref := range op.Parameters {
		all = append(all, ref.Value)
	}
	out := make([]compiledParam, 0, len(all))
	for _, p := range all {
		if p.In != openapi3.ParameterInPath || p.Content != nil || p.Schema == nil || p.AllowEmptyValue || !simpleStyle(p.Style, p.Explode) {
			return nil
		}
		check, ok := spec.CompileString(p.Schema.Value)
		if !ok {
			return nil
		}
		out = append(out, compiledParam{name: p.Name, check: check, invalid: errInvalidParameter(p.Name)})
	}
	return out
}

// simpleStyle reports whether a parameter or header is serialised in style
// simple without explode, the default of both.
func simpleStyle(style string, explode *bool) bool {
	return (style == "" || style == openapi3.SerializationSimple) && (explode == nil || !*explode)
}

func (rt *routeTable) lookup(method, echoPath string) *operation {
	return rt.ops[routeKey{method, echoPath}]
}

// validationOptions are the kin-openapi options of both directions.
func validationOptions() openapi3filter.Options {
	return openapi3filter.Options{
		// Authentication ran before validation, in authenticate.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// The handler applies defaults; the body is not re-encoded.
		SkipSettingDefaults:     true,
		IncludeResponseStatus:   true,
		SchemaValidationOptions: spec.SchemaOptions(),
	}
}

// requestValidator checks every request of a spec operation against the
// spec, then rejects form fields the spec does not declare and fields
// given twice, which kin-openapi lets through.
//
// A request without a body to an operation whose parameters compiled is
// checked by the compiled checks, which agree with kin-openapi by
// construction (spec.CompileString) and by test; every other request goes
// through echo-middleware and kin-openapi.
type requestValidator struct {
	opts *echomiddleware.Options
}

func newRequestValidator() *requestValidator {
	return &requestValidator{opts: &echomiddleware.Options{Options: validationOptions(), DoNotValidateServers: true}}
}

func (v *requestValidator) check(c echo.Context, ri *requestInfo) error {
	r := c.Request()
	if r.URL.RawQuery != "" {
		if err := checkQuery(r.URL, ri.op.query); err != nil {
			return err
		}
	}
	if ri.op.params != nil && (r.Body == nil || r.Body == http.NoBody) {
		return checkParams(ri)
	}
	if herr := echomiddleware.ValidateRequestFromContext(c, echoRouted{}, v.opts); herr != nil {
		return herr
	}
	if ri.op.formFields != nil {
		return checkFormFields(c, ri.op.formFields)
	}
	return nil
}

// checkParams is the compiled form of kin-openapi's request validation for
// an operation with only path parameters: each value, unescaped as
// echo-middleware does, must be present and valid against its schema.
// The first invalid one is reported, as kin-openapi reports it.
func checkParams(ri *requestInfo) error {
	for _, p := range ri.op.params {
		raw := ri.param(p.name)
		// PathUnescape returns a value without '%' as it is; IndexByte
		// finds that out faster.
		if strings.IndexByte(raw, '%') >= 0 {
			if u, err := url.PathUnescape(raw); err == nil {
				raw = u
			}
		}
		if raw == "" || !p.check.Valid(raw) {
			return p.invalid
		}
	}
	return nil
}

// param returns echo's value of a path parameter; "" when absent.
func (ri *requestInfo) param(name string) string {
	for i, n := range ri.paramNames {
		if n == name && i < len(ri.paramValues) {
			return ri.paramValues[i]
		}
	}
	return ""
}

// echoRouted is the routers.Router that echo-middleware asks for the
// request's operation: echo has already routed the request, and the
// pipeline recorded the result, so no second router runs.
type echoRouted struct{}

// FindRoute implements routers.Router.
func (echoRouted) FindRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	ri := requestInfoFrom(r.Context())
	if ri == nil || ri.op == nil {
		return nil, nil, &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
	}
	return ri.op.route, ri.pathParams(), nil
}

// pathParams returns echo's path parameters as kin-openapi wants them.
func (ri *requestInfo) pathParams() map[string]string {
	params := make(map[string]string, len(ri.paramNames))
	for i, name := range ri.paramNames {
		if i < len(ri.paramValues) {
			params[name] = ri.paramValues[i]
		}
	}
	return params
}

// checkQuery rejects query parameters that the operation does not
// declare, and a query that does not parse.
func checkQuery(u *url.URL, declared map[string]bool) error {
	q, err := url.ParseQuery(u.RawQuery)
	for _, name := range slices.Sorted(maps.Keys(q)) { // the same answer every time
		if !declared[name] {
			return errInvalidParameter(name)
		}
	}
	if err != nil {
		return errInvalidParameter("query")
	}
	return nil
}

// checkFormFields rejects undeclared and repeated form fields.
func checkFormFields(c echo.Context, declared map[string]bool) error {
	form, err := c.FormParams()
	if err != nil {
		return fmt.Errorf("parse form: %w", err)
	}
	for name, values := range form {
		if !declared[name] || len(values) > 1 {
			return errInvalidParameter(name)
		}
		// Stores differ on bytes that are not UTF-8 (PostgreSQL refuses
		// them, SQLite keeps them); the contract speaks of characters.
		if !utf8.ValidString(values[0]) {
			return errInvalidParameter(name)
		}
	}
	return nil
}

// responseValidator holds back each response of a spec operation until it
// has been checked against the spec.
type responseValidator struct {
	mode      ResponseValidation
	full      openapi3filter.Options
	recorders sync.Pool
}

func newResponseValidator(mode ResponseValidation) *responseValidator {
	return &responseValidator{mode: mode, full: validationOptions()}
}

// recorder returns an empty recorder whose headers go to header.
func (v *responseValidator) recorder(header http.Header) *recorder {
	rec, _ := v.recorders.Get().(*recorder)
	if rec == nil {
		rec = &recorder{}
	}
	rec.header = header
	return rec
}

// release returns rec to the pool unless its buffer grew unusually large.
func (v *responseValidator) release(rec *recorder) {
	if rec.body.Cap() > maxVerdictBody {
		return
	}
	rec.header, rec.status = nil, 0
	rec.body.Reset()
	v.recorders.Put(rec)
}

// check validates a held-back response. What the compiled checks and the
// remembered verdicts cover is decided without kin-openapi; anything else
// sends the whole response to kin-openapi, and what it finds valid is
// remembered.
func (v *responseValidator) check(r *http.Request, ri *requestInfo, rec *recorder) error {
	kv := ri.op.responses[rec.status] // nil for an undeclared status: kin rejects it
	if kv != nil && kv.known(r.Method, rec) {
		return nil
	}
	err := openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: ri.pathParams(),
			Route:      ri.op.route,
			Options:    &v.full,
		},
		Status:  rec.status,
		Header:  rec.header,
		Body:    io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Options: &v.full,
	})
	if err != nil || kv == nil {
		return err
	}
	if r.Method == http.MethodHead {
		return nil // kin-openapi looked at nothing
	}
	if b := kv.bodies[contentType(rec.header)]; b != nil {
		b.add(rec.body.Bytes())
	}
	for _, h := range kv.headers {
		if values := rec.header[h.name]; h.values != nil && len(values) == 1 && values[0] != "" {
			h.values.add([]byte(values[0]))
		}
	}
	return nil
}

// known reports whether a response of this status is valid from compiled
// checks and remembered verdicts alone; false means kin-openapi decides.
// It mirrors openapi3filter.ValidateResponse for a declared status.
func (kv *knownValid) known(method string, rec *recorder) bool {
	if method == http.MethodHead {
		return true // kin-openapi validates no HEAD response
	}
	for _, h := range kv.headers {
		values, present := rec.header[h.name]
		if !present {
			if h.required {
				return false
			}
			continue
		}
		if len(values) != 1 || values[0] == "" {
			return false
		}
		if h.check != nil {
			if !h.check.Valid(values[0]) {
				return false
			}
		} else if !h.values.has([]byte(values[0])) {
			return false
		}
	}
	if kv.noBody {
		return true
	}
	b := kv.bodies[contentType(rec.header)]
	return b != nil && b.has(rec.body.Bytes())
}

// contentType is h.Get("Content-Type") without canonicalising the key,
// which already is canonical.
func contentType(h http.Header) string {
	if v := h["Content-Type"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// recorder holds a response back: headers go to the real response's map,
// status and body wait for validation.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// verdictCacheSize bounds each operation and status's set of remembered
// bodies, by count and by bytes: an error body may carry a path or a field
// name from the request, so what a client sends must not grow the set
// beyond verdictCacheBytes. Bodies larger than maxVerdictBody are never
// remembered.
const (
	verdictCacheSize       = 4096
	verdictCacheBytes      = 256 << 10
	headerVerdictCacheSize = 256
	maxVerdictBody         = 16 << 10
)

// verdicts is a bounded set of response bodies found valid. Lookups index
// the maps with string(body), which Go does without copying the bytes.
type verdicts struct {
	mu        sync.Mutex
	half      int // entries per generation
	halfBytes int // bytes per generation
	curBytes  int
	cur, prev map[string]struct{}
}

func newVerdicts(max int) *verdicts {
	return &verdicts{half: max / 2, halfBytes: verdictCacheBytes / 2, cur: map[string]struct{}{}}
}

func (v *verdicts) has(body []byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.cur[string(body)]; ok {
		return true
	}
	_, ok := v.prev[string(body)]
	return ok
}

func (v *verdicts) add(body []byte) {
	if len(body) > maxVerdictBody {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cur) >= v.half || v.curBytes+len(body) > v.halfBytes {
		v.prev, v.cur, v.curBytes = v.cur, map[string]struct{}{}, 0
	}
	v.cur[string(body)] = struct{}{}
	v.curBytes += len(body)
}
