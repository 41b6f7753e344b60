package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
	// valid remembers, per declared status, what was already found valid.
	valid map[int]*knownValid
}

// knownValid remembers the parts of one operation and status's responses
// already found valid. Each verdict is a pure function of its key: a body's
// of (content type, bytes), a header's of (name, value), since the spec
// gives each header its own schema. Validation then skips only parts
// proven valid before; everything new is checked by kin-openapi.
type knownValid struct {
	bodies  map[string]*verdicts // by Content-Type, for the declared types
	headers map[string]*verdicts // by canonical name, for the declared headers
}

// routeTable maps echo's route of a request (method and path template) to
// the spec's operation, so that no request is routed twice.
type routeTable struct {
	ops map[string]*operation // "GET /v2/Services/:ServiceSid/AccessTokens/:Sid"
}

func newRouteTable(doc *openapi3.T) *routeTable {
	rt := &routeTable{ops: map[string]*operation{}}
	for path, item := range doc.Paths.Map() {
		echoPath := strings.NewReplacer("{", ":", "}", "").Replace(path)
		for method, op := range item.Operations() {
			o := &operation{
				id:    op.OperationID,
				route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
				valid: map[int]*knownValid{},
			}
			for status, resp := range op.Responses.Map() {
				code, err := strconv.Atoi(status)
				if err != nil {
					continue
				}
				kv := &knownValid{bodies: map[string]*verdicts{}, headers: map[string]*verdicts{}}
				for ct := range resp.Value.Content {
					kv.bodies[ct] = newVerdicts(verdictCacheSize)
				}
				for name := range resp.Value.Headers {
					kv.headers[http.CanonicalHeaderKey(name)] = newVerdicts(headerVerdictCacheSize)
				}
				o.valid[code] = kv
			}
			if op.RequestBody != nil {
				if media := op.RequestBody.Value.Content.Get("application/x-www-form-urlencoded"); media != nil {
					o.formFields = map[string]bool{}
					for name := range media.Schema.Value.Properties {
						o.formFields[name] = true
					}
				}
			}
			rt.ops[method+" "+echoPath] = o
		}
	}
	return rt
}

func (rt *routeTable) lookup(method, echoPath string) *operation {
	return rt.ops[method+" "+echoPath]
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

// validateRequests checks every request against the spec with
// echo-middleware and kin-openapi, then rejects form fields the spec does
// not declare and fields given twice, which kin-openapi lets through.
func validateRequests() echo.MiddlewareFunc {
	opts := &echomiddleware.Options{Options: validationOptions(), DoNotValidateServers: true}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ri := requestInfoFrom(c.Request().Context())
			if ri == nil || ri.op == nil {
				return next(c) // echo answers 404 or 405
			}
			if herr := echomiddleware.ValidateRequestFromContext(c, echoRouted{}, opts); herr != nil {
				return herr
			}
			if ri.op.formFields != nil {
				if err := checkFormFields(c, ri.op.formFields); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// echoRouted is the routers.Router that echo-middleware asks for the
// request's operation: echo has already routed the request, and
// requestScope recorded the result, so no second router runs.
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

// validateResponses holds back each response of a spec operation until it
// has been checked against the spec.
func validateResponses(mode ResponseValidation, log *slog.Logger) echo.MiddlewareFunc {
	full := validationOptions()
	headersOnly := validationOptions()
	headersOnly.ExcludeResponseBody = true
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			ri := requestInfoFrom(r.Context())
			if ri == nil || ri.op == nil {
				return next(c)
			}
			o := ri.op
			orig := c.Response()
			rec := &recorder{header: orig.Header()}
			c.SetResponse(echo.NewResponse(rec, c.Echo()))
			err := next(c)
			c.SetResponse(orig)
			if err != nil {
				return err // renderError writes the declared error shape
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			if verr := validateResponse(r.Context(), c, o, rec, &full, &headersOnly); verr != nil {
				log.LogAttrs(r.Context(), slog.LevelError, "response violates openapi.yaml",
					slog.String("request_id", requestIDFrom(r.Context())),
					slog.String("operation", o.id),
					slog.Int("status", rec.status),
					slog.String("reason", verr.Error()))
				if mode != ResponseValidationLog {
					return errInternal(fmt.Errorf("response violates openapi.yaml: %w", verr))
				}
			}
			orig.WriteHeader(rec.status)
			_, werr := orig.Write(rec.body.Bytes())
			return werr
		}
	}
}

// validateResponse checks a held-back response with kin-openapi, leaving
// out the body and the header values already known valid for this
// operation and status, and remembers what it found valid.
func validateResponse(ctx context.Context, c echo.Context, o *operation, rec *recorder, full, headersOnly *openapi3filter.Options) error {
	var params map[string]string
	if ri := requestInfoFrom(ctx); ri != nil {
		params = ri.pathParams()
	}
	body := rec.body.Bytes()
	ct := rec.header.Get("Content-Type")
	kv := o.valid[rec.status] // nil for an undeclared status: kin rejects it

	opts := full
	header := rec.header
	var bodies *verdicts
	if kv != nil {
		bodies = kv.bodies[ct]
		if bodies != nil && bodies.has(body) {
			opts = headersOnly
		}
		// Hand kin-openapi only the declared headers not yet known valid;
		// none is required, and other headers are not its concern.
		header = make(http.Header, len(kv.headers)+1)
		header["Content-Type"] = rec.header["Content-Type"]
		for name, known := range kv.headers {
			if v := rec.header[name]; len(v) > 0 && !(len(v) == 1 && known.has([]byte(v[0]))) {
				header[name] = v
			}
		}
	}
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    c.Request(),
			PathParams: params,
			Route:      o.route,
			Options:    opts,
		},
		Status:  rec.status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	})
	if err != nil || kv == nil {
		return err
	}
	if opts == full && bodies != nil {
		bodies.add(body)
	}
	for name, v := range header {
		if known := kv.headers[name]; known != nil && len(v) == 1 {
			known.add([]byte(v[0]))
		}
	}
	return nil
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
// bodies; bodies larger than maxVerdictBody are never remembered.
const (
	verdictCacheSize       = 4096
	headerVerdictCacheSize = 256
	maxVerdictBody         = 16 << 10
)

// verdicts is a bounded set of response bodies found valid. Lookups index
// the maps with string(body), which Go does without copying the bytes.
type verdicts struct {
	mu        sync.Mutex
	half      int
	cur, prev map[string]struct{}
}

func newVerdicts(max int) *verdicts {
	return &verdicts{half: max / 2, cur: map[string]struct{}{}}
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
	if len(v.cur) >= v.half {
		v.prev, v.cur = v.cur, make(map[string]struct{}, v.half)
	}
	v.cur[string(body)] = struct{}{}
}
