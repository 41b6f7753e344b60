// Package validate is the stage of verifyd's chain that holds every
// request and response of the spec's operations to openapi.yaml, with
// kin-openapi's openapi3filter as the judge. It is echo middleware, in the
// manner of oapi-codegen's OapiRequestValidatorWithOptions, that also
// validates the response: the handler's response is held back, checked,
// and only then sent.
//
// Verdicts are memoized: a request or response that kin-openapi has judged
// is judged the same way when exactly the same inputs come again
// (operation, path parameters, query, header parameters, Content-Type and
// body bytes for a request; status, header fields and body bytes for a
// response). The memos are bounded by count and by bytes.
//
// kin-openapi does not reject form fields or query parameters that an
// operation does not declare, nor a form field given twice (which would
// bind to its first value only). The contract declares form bodies with
// additionalProperties: false and every query parameter, so this stage
// refuses those too, after kin-openapi has accepted the request.
package validate

import (
	"bytes"

	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
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
)

// ResponseMode says what happens to a response that breaks the spec.
type ResponseMode string

// The response modes.
const (
	// Enforce replaces the response with the error the stage returns
	// (*ResponseError), which the error renderer sends as a 500. The
	// default.
	Enforce ResponseMode = "enforce"
	// LogOnly logs why and sends the response unchanged.
	LogOnly ResponseMode = "log"
)

// Options configure a Validator.
type Options struct {
	// Options are kin-openapi's. AuthenticationFunc defaults to
	// openapi3filter.NoopAuthenticationFunc: the authn stage has already
	// checked the operation's security schemes.
	Options openapi3filter.Options
	// Responses is Enforce when empty.
	Responses ResponseMode
	// Logger receives the violations of LogOnly mode.
	Logger *slog.Logger
	// MemoEntries bounds each memo (requests, responses); 2048 when zero.
	// An entry holds at most maxMemoKey bytes.
	MemoEntries int
}

// RequestError is a request that breaks the spec. Parameter names the
// offending parameter, form field or part of the request, the way Twilio
// words it ("Invalid parameter: Ttl"). Code is the Twilio error code that
// the field's schema names with x-twilio-error-code, or 0 for the default.
type RequestError struct {
	Parameter string
	Code      int
}

func (e *RequestError) Error() string { return "invalid parameter: " + e.Parameter }

// ResponseError is a response of the handler that breaks the spec.
type ResponseError struct {
	Operation string
	Status    int
	Reason    string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("response violates openapi.yaml (%s, status %d): %s", e.Operation, e.Status, e.Reason)
}

// Validator validates the operations of one document.
type Validator struct {
	opts      openapi3filter.Options
	mode      ResponseMode
	log       *slog.Logger
	routes    map[routeKey]*route
	templates map[string]bool // echo path templates of the spec's paths
	global    []string        // the document's security schemes
	requests  *memo
	responses *memo
	recorders sync.Pool // of *recorder
}

// routeKey is a method and an echo path template, such as GET and
// /v2/Services/:ServiceSid/AccessTokens/:Sid.
type routeKey struct{ method, path string }

// route is one operation of the spec, resolved at start-up.
type route struct {
	route      *routers.Route
	query      map[string]bool      // the declared query parameters
	headers    []string             // the declared header parameters, canonical
	formFields map[string]formField // the declared form fields; nil without a form body
	schemes    []string             // the security schemes that may authenticate it
}

// formField is what a form body may hold of one declared field.
type formField struct {
	repeated bool // an array: the field may be given more than once
	code     int  // x-twilio-error-code of its schema, or 0
}

// ErrorCodeExtension names a schema's Twilio error code for invalid
// values, where it is not the default 60200.
const ErrorCodeExtension = "x-twilio-error-code"

// errorCode reads the ErrorCodeExtension of s; 0 when it has none.
func errorCode(s *openapi3.Schema) int {
	switch c := s.Extensions[ErrorCodeExtension].(type) {
	case float64:
		return int(c)
	case int:
		return c
	}
	return 0
}

// New returns a Validator for doc, whose servers it ignores: echo has
// already matched the request, on whatever host it came.
func New(doc *openapi3.T, opts Options) *Validator {
	kin := opts.Options
	if kin.AuthenticationFunc == nil {
		kin.AuthenticationFunc = openapi3filter.NoopAuthenticationFunc
	}
	if opts.Responses == "" {
		opts.Responses = Enforce
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MemoEntries <= 0 {
		opts.MemoEntries = defaultMemoEntries
	}
	v := &Validator{
		opts:      kin,
		mode:      opts.Responses,
		log:       opts.Logger,
		routes:    map[routeKey]*route{},
		templates: map[string]bool{},
		requests:  newMemo(opts.MemoEntries),
		responses: newMemo(opts.MemoEntries),
	}
	v.recorders.New = func() any { return &recorder{header: http.Header{}} }
	v.global = schemeNames(doc.Security)
	for path, item := range doc.Paths.Map() {
		echoPath := strings.NewReplacer("{", ":", "}", "").Replace(path)
		v.templates[echoPath] = true
		for method, op := range item.Operations() {
			rt := &route{
				route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
				query: map[string]bool{},
			}
			rt.schemes = v.global
			if op.Security != nil {
				rt.schemes = schemeNames(*op.Security)
			}
			for _, ref := range append(slices.Clone(item.Parameters), op.Parameters...) {
				switch ref.Value.In {
				case openapi3.ParameterInQuery:
					rt.query[ref.Value.Name] = true
				case openapi3.ParameterInHeader:
					rt.headers = append(rt.headers, http.CanonicalHeaderKey(ref.Value.Name))
				}
			}
			if op.RequestBody != nil {
				if media := op.RequestBody.Value.Content.Get("application/x-www-form-urlencoded"); media != nil {
					rt.formFields = map[string]formField{}
					for name, prop := range media.Schema.Value.Properties {
						rt.formFields[name] = formField{
							repeated: prop.Value.Type.Is(openapi3.TypeArray),
							code:     errorCode(prop.Value),
						}
					}
				}
			}
			v.routes[routeKey{method, echoPath}] = rt
		}
	}
	return v
}

// Schemes returns the names of the security schemes that may
// authenticate the request of c: those of its operation; for a request
// that matches no route (404) or not with its method (405), the
// document's, so that nothing reveals which paths exist before a client
// has authenticated; and none for a route outside the spec (/mcp), which
// authenticates what it does itself.
func (v *Validator) Schemes(c echo.Context) []string {
	if rt := v.routes[routeKey{c.Request().Method, c.Path()}]; rt != nil {
		return rt.schemes
	}
	if c.Path() != "" && !v.templates[c.Path()] {
		return nil
	}
	return v.global
}

// OperationID names the spec operation echo routed c to; "" for none.
func (v *Validator) OperationID(c echo.Context) string {
	if rt := v.routes[routeKey{c.Request().Method, c.Path()}]; rt != nil {
		return rt.route.Operation.OperationID
	}
	return ""
}

// Middleware is the validation stage as echo middleware. Requests that
// match no operation pass through untouched: echo answers them 404 or 405.
func (v *Validator) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if v.templates[c.Path()] && !matchesTemplate(c.Path(), echo.GetPath(c.Request())) {
				// echo's last path parameter takes the rest of the path;
				// in the spec's templates, as in kin-openapi's router, a
				// parameter is one non-empty segment. Such a path is not
				// the operation's, whatever the method.
				return echo.ErrNotFound
			}
			rt := v.routes[routeKey{c.Request().Method, c.Path()}]
			if rt == nil {
				return next(c)
			}
			if err := v.request(c, rt); err != nil {
				return err
			}
			return v.respond(c, rt, next)
		}
	}
}

// schemeNames lists the schemes of security requirements, each a way to
// authenticate on its own (verifykit's requirements name one scheme each).
func schemeNames(reqs openapi3.SecurityRequirements) []string {
	var names []string
	for _, req := range reqs {
		for name := range req {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// matchesTemplate reports whether path, as echo routed it (an encoded
// slash is still "%2F"), has the segments of echo's route template, each
// ":name" parameter one non-empty segment.
func matchesTemplate(template, path string) bool {
	for {
		ti, pi := strings.IndexByte(template, '/'), strings.IndexByte(path, '/')
		if (ti < 0) != (pi < 0) {
			return false
		}
		tseg, pseg := template, path
		if ti >= 0 {
			tseg, pseg = template[:ti], path[:pi]
		}
		if pseg == "" && strings.HasPrefix(tseg, ":") {
			return false
		}
		if ti < 0 {
			return true
		}
		template, path = template[ti+1:], path[pi+1:]
	}
}

// pathParams returns echo's path parameters unescaped, as kin-openapi's
// own routers would give them (RFC 3986 equivalence: %56%41 is VA).
func pathParams(c echo.Context) map[string]string {
	names, values := c.ParamNames(), c.ParamValues()
	params := make(map[string]string, len(names))
	for i, name := range names {
		if i >= len(values) {
			break
		}
		value := values[i]
		if strings.IndexByte(value, '%') >= 0 {
			if u, err := url.PathUnescape(value); err == nil {
				value = u
			}
		}
		params[name] = value
	}
	return params
}

// request validates the request of c, from the memo when kin-openapi has
// judged the same inputs before. Its body is read here, whole, and put
// back for the handler.
func (v *Validator) request(c echo.Context, rt *route) error {
	r := c.Request()
	// The query first, before the body is read: refusing it needs nothing
	// else of the request.
	if err := checkQuery(r.URL.RawQuery, rt.query); err != nil {
		return err
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return mbe // over the body limit: the error renderer sends 413
			}
			return &RequestError{Parameter: "body"}
		}
		body = literalSemicolons(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	in := v.requests.input()
	defer v.requests.release(in)
	requestInput(in, rt, c.ParamValues(), r, body)
	if verdict, ok := v.requests.get(in); ok {
		return verdict
	}
	verdict := v.judgeRequest(r, rt, pathParams(c), body)
	v.requests.add(in, verdict)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body)) // kin-openapi has read it
	}
	return verdict
}

// literalSemicolons reads the ';' of a form body as the character it is.
// The iOS SDK leaves ';' raw inside values (Apple's urlQueryAllowed set
// does not escape it), and Go's url.ParseQuery refuses a raw ';' since Go
// 1.17; in application/x-www-form-urlencoded ';' is never a separator
// (WHATWG URL), so escaping it changes no field.
func literalSemicolons(r *http.Request, body []byte) []byte {
	if bytes.IndexByte(body, ';') < 0 {
		return body
	}
	// Media types are case-insensitive: ParseMediaType lower-cases them.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return body
	}
	body = bytes.ReplaceAll(body, []byte(";"), []byte("%3B"))
	r.ContentLength = int64(len(body))
	return body
}

// requestInput writes everything a request's verdict depends on. The path
// parameters are echo's values, in the route's order, escaped as sent.
func requestInput(in *input, rt *route, params []string, r *http.Request, body []byte) {
	in.field(r.Method)
	in.field(rt.route.Path)
	for _, p := range params {
		in.field(p)
	}
	in.field(r.URL.RawQuery)
	in.field(r.Header.Get("Content-Type"))
	for _, name := range rt.headers {
		values := r.Header[name]
		in.field(strconv.Itoa(len(values)))
		for _, value := range values {
			in.field(value)
		}
	}
	in.fieldBytes(body)
}

// checkQuery refuses query parameters that the operation does not
// declare: the generated form binding would read them as form fields.
func checkQuery(raw string, declared map[string]bool) error {
	if raw == "" {
		return nil
	}
	q, err := url.ParseQuery(raw)
	for _, name := range slices.Sorted(maps.Keys(q)) { // the same answer every time
		if !declared[name] {
			return &RequestError{Parameter: name}
		}
	}
	if err != nil {
		return &RequestError{Parameter: "query"}
	}
	return nil
}

// judgeRequest is the verdict on a request: kin-openapi's, then its form
// fields'.
func (v *Validator) judgeRequest(r *http.Request, rt *route, params map[string]string, body []byte) error {
	err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      rt.route,
		Options:    &v.opts,
	})
	if err != nil {
		var re *openapi3filter.RequestError
		if errors.As(err, &re) {
			name := parameterName(re)
			return &RequestError{Parameter: name, Code: rt.formFields[name].code}
		}
		return fmt.Errorf("validate request: %w", err)
	}
	if rt.formFields != nil && len(body) > 0 {
		return checkForm(body, rt.formFields)
	}
	return nil
}

// parameterName names the offending parameter of a failed request
// validation, the way Twilio words it.
func parameterName(re *openapi3filter.RequestError) string {
	if re.Parameter != nil {
		return re.Parameter.Name
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		if p := se.JSONPointer(); len(p) > 0 {
			return p[0]
		}
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		if p := pe.Path(); len(p) > 0 {
			if s, ok := p[0].(string); ok {
				return s
			}
		}
	}
	if re.RequestBody != nil {
		if errors.As(re.Err, &pe) && pe.Kind == openapi3filter.KindUnsupportedFormat {
			return "Content-Type"
		}
		return "body"
	}
	return "request"
}

// checkForm refuses undeclared form fields, fields given twice unless
// they are arrays, and values that are not UTF-8 (the stores differ on
// such bytes: PostgreSQL refuses them, SQLite keeps them; the contract
// speaks of characters).
func checkForm(body []byte, declared map[string]formField) error {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return &RequestError{Parameter: "body"}
	}
	for _, name := range slices.Sorted(maps.Keys(form)) {
		values := form[name]
		f, ok := declared[name]
		if !ok || (len(values) > 1 && !f.repeated) {
			return &RequestError{Parameter: name, Code: f.code}
		}
		for _, v := range values {
			if !utf8.ValidString(v) {
				return &RequestError{Parameter: name, Code: f.code}
			}
		}
	}
	return nil
}

// respond runs the handler with its response held back, renders its error
// into that response too, and sends the response once it is found valid.
func (v *Validator) respond(c echo.Context, rt *route, next echo.HandlerFunc) error {
	orig := c.Response()
	rec := v.recorders.Get().(*recorder)
	defer v.release(rec)
	c.SetResponse(echo.NewResponse(rec, c.Echo()))
	defer c.SetResponse(orig) // also when the handler panics: the 500 goes to the client
	err := next(c)
	if err != nil {
		c.Error(err)
	}
	c.SetResponse(orig)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	r := c.Request()
	if r.Method != http.MethodHead { // kin-openapi validates no HEAD response
		if verdict := v.response(c, rt, rec); verdict != nil {
			verr := &ResponseError{Operation: rt.route.Operation.OperationID, Status: rec.status, Reason: verdict.Error()}
			if v.mode == Enforce {
				return verr // sent as a 500 carrying nothing of this response
			}
			v.log.LogAttrs(r.Context(), slog.LevelError, "response violates openapi.yaml",
				slog.String("operation", verr.Operation), slog.Int("status", verr.Status), slog.String("reason", verr.Reason))
		}
	}
	h := orig.Header()
	for name, values := range rec.header {
		h[name] = values
	}
	orig.WriteHeader(rec.status)
	if _, werr := orig.Write(rec.body.Bytes()); werr != nil {
		return nil // the client is gone; there is no one to tell
	}
	return nil
}

// response validates a held-back response, from the memo when kin-openapi
// has judged the same status, header fields and body before. A panic in
// kin-openapi counts as a violation.
func (v *Validator) response(c echo.Context, rt *route, rec *recorder) (verdict error) {
	r := c.Request()
	in := v.responses.input()
	defer v.responses.release(in)
	responseInput(in, rt, rec)
	if verdict, ok := v.responses.get(in); ok {
		return verdict
	}
	defer func() {
		if p := recover(); p != nil {
			verdict = fmt.Errorf("panic while validating: %v", p)
		}
	}()
	err := openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: pathParams(c),
			Route:      rt.route,
			Options:    &v.opts,
		},
		Status:  rec.status,
		Header:  rec.header,
		Body:    io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Options: &v.opts,
	})
	if err != nil {
		// Only the reason is kept: kin-openapi's error holds the request.
		err = errors.New(firstLine(err.Error()))
	}
	v.responses.add(in, err)
	return err
}

// responseInput writes everything a response's verdict depends on.
func responseInput(in *input, rt *route, rec *recorder) {
	in.field(rt.route.Method)
	in.field(rt.route.Path)
	in.field(strconv.Itoa(rec.status))
	names := rec.names[:0]
	for name := range rec.header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := rec.header[name]
		in.field(name)
		in.field(strconv.Itoa(len(values)))
		for _, value := range values {
			in.field(value)
		}
	}
	rec.names = names
	in.fieldBytes(rec.body.Bytes())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// recorder holds a response back until it has been validated. Recorders
// are pooled.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	names  []string // scratch for responseInput
}

// maxPooledBody keeps recorders that held an unusually large body out of
// the pool.
const maxPooledBody = 64 << 10

func (v *Validator) release(rec *recorder) {
	if rec.body.Cap() > maxPooledBody {
		return
	}
	clear(rec.header)
	rec.status = 0
	rec.body.Reset()
	v.recorders.Put(rec)
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
