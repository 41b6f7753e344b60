package api

import (
	"context"
	"errors"
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
