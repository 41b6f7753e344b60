package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/verifykit/verifykit/internal/spec"
)

// FuzzCompiledParams holds the compiled request check of each operation
// that has one to kin-openapi's ValidateRequest on the same path values,
// unescaped as echo-middleware unescapes them: both must accept the same
// requests and name the same parameter when they refuse one.
func FuzzCompiledParams(f *testing.F) {
	sid := func(p string) string { return p + strings.Repeat("a", 32) }
	for _, seed := range [][2]string{
		{sid("VA"), sid("YK")}, {"", sid("YK")}, {sid("VA"), ""}, {sid("VA"), sid("YK") + "x"},
		{sid("VA")[:33] + "g", sid("YK")}, {sid("va"), sid("YK")}, {"VA" + strings.Repeat("A", 32), "YK" + strings.Repeat("F", 32)},
		{"VA%61" + strings.Repeat("a", 31), sid("YK")}, {"%zz", sid("YK")}, {sid("VA"), "YK%2F" + strings.Repeat("a", 30)},
		{sid("VA"), "YK" + strings.Repeat("é", 16)}, {"\xff", "\x00"}, {sid("YK"), sid("VA")},
	} {
		f.Add(seed[0], seed[1])
	}
	doc, err := spec.Load(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	rt := newRouteTable(doc)
	var ops []*operation
	for _, o := range rt.ops {
		if o.params != nil {
			ops = append(ops, o)
		}
	}
	if len(ops) == 0 {
		f.Fatal("no operation has compiled parameters")
	}
	opts := validationOptions()
	f.Fuzz(func(t *testing.T, service, token string) {
		values := map[string]string{"ServiceSid": service, "Sid": token}
		for _, o := range ops {
			ri := &requestInfo{op: o}
			params := map[string]string{}
			for _, p := range o.params {
				ri.paramNames = append(ri.paramNames, p.name)
				ri.paramValues = append(ri.paramValues, values[p.name])
				params[p.name] = values[p.name]
				if u, err := url.PathUnescape(values[p.name]); err == nil {
					params[p.name] = u
				}
			}
			got := checkParams(ri)
			want := openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
				Request:    httptest.NewRequest(http.MethodGet, "/", nil),
				PathParams: params,
				Route:      o.route,
				Options:    &opts,
			})
			if (got == nil) != (want == nil) {
				t.Fatalf("%s(%q, %q): compiled check says %v, kin-openapi says %v", o.id, service, token, got, want)
			}
			if got == nil {
				continue
			}
			var re *openapi3filter.RequestError
			if !errors.As(want, &re) || re.Parameter == nil {
				t.Fatalf("%s(%q, %q): kin-openapi error %v names no parameter", o.id, service, token, want)
			}
			if g, w := classify(got, nil).message, errInvalidParameter(re.Parameter.Name).message; g != w {
				t.Errorf("%s(%q, %q): compiled check says %q, kin-openapi %q", o.id, service, token, g, w)
			}
		}
	})
}

// TestKnownResponsesAgreeWithKin: whenever the compiled checks and the
// remembered verdicts call a response valid, kin-openapi agrees.
// routeOf returns the spec operation echo routes method and path to.
func routeOf(t *testing.T, method, path string) *operation {
	t.Helper()
	doc, err := spec.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := newRouteTable(doc).lookup(method, path)
	if o == nil {
		t.Fatalf("no route for %s %s", method, path)
	}
	return o
}

// tokenBody is a valid AccessToken resource, as a fetch or a create sends it.
var tokenBody = `{"account_sid":"AC` + strings.Repeat("c", 32) + `","date_created":"2026-11-25T18:44:06Z","entity_identity":"ff483d1ff591898a9942916050d2ca3f","factor_friendly_name":null,"factor_type":"push","service_sid":"VA` + strings.Repeat("a", 32) + `","sid":"YK` + strings.Repeat("b", 32) + `","token":"x","ttl":60,"url":"https://verify.twilio.com/v2/Services/VA` + strings.Repeat("a", 32) + `/AccessTokens/YK` + strings.Repeat("b", 32) + `"}` + "\n"

func TestKnownResponsesAgreeWithKin(t *testing.T) {
	o := routeOf(t, http.MethodGet, "/v2/Services/:ServiceSid/AccessTokens/:Sid")
	ri := &requestInfo{op: o, paramNames: []string{"ServiceSid", "Sid"}, paramValues: []string{"VA" + strings.Repeat("a", 32), "YK" + strings.Repeat("b", 32)}}
	body := tokenBody
	valid := func() http.Header {
		return http.Header{
			"Content-Type":                     {"application/json"},
			"Twilio-Request-Id":                {"RQ" + strings.Repeat("d", 32)},
			"Access-Control-Allow-Credentials": {"true"},
		}
	}
	v := newResponseValidator(ResponseValidationEnforce)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	// Remember the valid response once, through kin-openapi.
	rec := &recorder{header: valid(), status: http.StatusOK}
	rec.body.WriteString(body)
	if err := v.check(r, ri, rec); err != nil {
		t.Fatalf("valid response: %v", err)
	}
	for name, edit := range map[string]func(http.Header){
		"as remembered":          func(http.Header) {},
		"request id missing":     func(h http.Header) { delete(h, "Twilio-Request-Id") },
		"request id empty list":  func(h http.Header) { h["Twilio-Request-Id"] = []string{} },
		"request id empty":       func(h http.Header) { h["Twilio-Request-Id"] = []string{""} },
		"request id twice":       func(h http.Header) { h["Twilio-Request-Id"] = []string{"RQ" + strings.Repeat("d", 32), "x"} },
		"request id invalid":     func(h http.Header) { h["Twilio-Request-Id"] = []string{"RQ-nope"} },
		"credentials not a bool": func(h http.Header) { h["Access-Control-Allow-Credentials"] = []string{"yes"} },
		"credentials empty list": func(h http.Header) { h["Access-Control-Allow-Credentials"] = []string{} },
		"other content type":     func(h http.Header) { h["Content-Type"] = []string{"text/plain"} },
	} {
		h := valid()
		edit(h)
		rec := &recorder{header: h, status: http.StatusOK}
		rec.body.WriteString(body)
		known := o.responses[http.StatusOK].known(http.MethodGet, rec)
		kinErr := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: ri.pathParams(), Route: o.route, Options: &v.full},
			Status:                 http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(body)), Options: &v.full,
		})
		if known && kinErr != nil {
			t.Errorf("%s: known valid, kin-openapi says %v", name, kinErr)
		}
		// The remembered response must take the fast path, or this test
		// would hold nothing to kin-openapi.
		if name == "as remembered" && !known {
			t.Errorf("%s: not known valid after kin-openapi accepted it", name)
		}
		if got := v.check(r, ri, rec); (got == nil) != (kinErr == nil) {
			t.Errorf("%s: check says %v, kin-openapi says %v", name, got, kinErr)
		}
	}
}

// TestCreatedBodiesAreNotRemembered: a 201 body describes a new resource
// and never repeats, so kin-openapi validates every one and none is kept;
// other statuses of the same operation still remember theirs.
func TestCreatedBodiesAreNotRemembered(t *testing.T) {
	o := routeOf(t, http.MethodPost, "/v2/Services/:ServiceSid/AccessTokens")
	ri := &requestInfo{op: o, paramNames: []string{"ServiceSid"}, paramValues: []string{"VA" + strings.Repeat("a", 32)}}
	v := newResponseValidator(ResponseValidationEnforce)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	header := http.Header{
		"Content-Type":                     {"application/json"},
		"Twilio-Request-Id":                {"RQ" + strings.Repeat("d", 32)},
		"Access-Control-Allow-Credentials": {"true"},
	}
	for i := range 2 {
		rec := &recorder{header: header, status: http.StatusCreated}
		rec.body.WriteString(tokenBody)
		if o.responses[http.StatusCreated].known(http.MethodPost, rec) {
			t.Fatalf("send %d: a 201 body was known valid without kin-openapi", i+1)
		}
		if err := v.check(r, ri, rec); err != nil {
			t.Fatalf("send %d: valid 201: %v", i+1, err)
		}
	}
	if kv := o.responses[http.StatusBadRequest]; kv == nil || kv.bodies["application/json"] == nil {
		t.Errorf("400: want a verdict cache for application/json, got %+v", kv)
	}
}
