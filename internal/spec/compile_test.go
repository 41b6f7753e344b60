package spec

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// compiledSchemas returns every string schema of the contract that
// compiles, by a name for failures, plus synthetic ones for the keywords
// the contract does not use on its own (enum, lengths without a pattern).
func compiledSchemas(t testing.TB) map[string]*openapi3.Schema {
	t.Helper()
	doc, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*openapi3.Schema{}
	for name, p := range doc.Components.Parameters {
		out["parameter "+name] = p.Value.Schema.Value
	}
	for name, h := range doc.Components.Headers {
		if _, ok := CompileString(h.Value.Schema.Value); ok {
			out["header "+name] = h.Value.Schema.Value
		}
	}
	for name, s := range doc.Components.Schemas {
		for prop, ps := range s.Value.Properties {
			if _, ok := CompileString(ps.Value); ok {
				out["property "+name+"."+prop] = ps.Value
			}
		}
	}
	maxLen := uint64(3)
	out["synthetic enum"] = &openapi3.Schema{Type: &openapi3.Types{"string"}, Enum: []any{"push", "sms", "ü"}}
	out["synthetic lengths"] = &openapi3.Schema{Type: &openapi3.Types{"string"}, MinLength: 2, MaxLength: &maxLen}
	// Lengths past int64 overflow in kin-openapi's comparison; the
	// compiled check must overflow the same way.
	huge := uint64(1) << 63
	out["synthetic huge maxLength"] = &openapi3.Schema{Type: &openapi3.Types{"string"}, MaxLength: &huge}
	out["synthetic huge minLength"] = &openapi3.Schema{Type: &openapi3.Types{"string"}, MinLength: huge}
	for i, pattern := range []string{`^x[0-9]{2,4}$`, `^[^a]*$`, `^é[a-zü]{2}$`, `^ab?$`, `^[a-c]+b$`, `^(ab)+$`, `^a|b$`, `^$`, `^\x{FFFD}$`} {
		out["synthetic pattern "+strconv.Itoa(i)] = &openapi3.Schema{Type: &openapi3.Types{"string"}, Pattern: pattern}
	}
	return out
}

func TestCompileStringCoversTheContract(t *testing.T) {
	doc, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The fast paths of verifyd depend on these compiling. Headers of
	// other types (a boolean) are remembered by value instead.
	for name, p := range doc.Components.Parameters {
		if c, ok := CompileString(p.Value.Schema.Value); !ok || c.pieces == nil {
			t.Errorf("parameter %s does not compile to straight-line code", name)
		}
	}
	for name, h := range doc.Components.Headers {
		_, ok := CompileString(h.Value.Schema.Value)
		if isString := h.Value.Schema.Value.Type.Is(openapi3.TypeString); ok != isString {
			t.Errorf("header %s: compiled %v, want %v", name, ok, isString)
		}
	}
}

func TestCompileStringRefuses(t *testing.T) {
	str := func() *openapi3.Types { return &openapi3.Types{"string"} }
	for name, s := range map[string]*openapi3.Schema{
		"nil type":        {Pattern: "^a$"},
		"integer":         {Type: &openapi3.Types{"integer"}},
		"two types":       {Type: &openapi3.Types{"string", "null"}},
		"format":          {Type: str(), Format: "uri"},
		"nullable":        {Type: str(), Nullable: true},
		"oneOf":           {Type: str(), OneOf: openapi3.SchemaRefs{{Value: &openapi3.Schema{}}}},
		"not":             {Type: str(), Not: &openapi3.SchemaRef{Value: &openapi3.Schema{}}},
		"unicode escape":  {Type: str(), Pattern: `^\u0041$`},
		"bad pattern":     {Type: str(), Pattern: `(`},
		"number in enum":  {Type: str(), Enum: []any{"a", 1.0}},
		"readOnly":        {Type: str(), ReadOnly: true},
		"const":           {Type: str(), Const: "a"},
		"examples (3.1)":  {Type: str(), Examples: []any{"a"}},
		"allowEmptyValue": {Type: str(), AllowEmptyValue: true},
	} {
		if c, ok := CompileString(s); ok {
			t.Errorf("%s: compiled to %v, want refused", name, c)
		}
	}
}

// FuzzStringCheck holds every compiled check to kin-openapi's verdict for
// the same schema and value: the fast paths must agree with it exactly.
func FuzzStringCheck(f *testing.F) {
	for _, s := range []string{
		"", "a", "push", "sms", "ü", "üü", "abc", "abcd",
		"x12", "x1", "x12345", "x1234", "", "bbb", "éab", "éaü", "é", "\xffab", "ab", "abb", "a", "cb", "acb", "abab", "\xff", "\xef\xbf\xbd",
		"VA" + strings.Repeat("0", 32), "VA" + strings.Repeat("F", 32), "VA" + strings.Repeat("f", 31) + "g",
		"YK" + strings.Repeat("a", 32), "AC" + strings.Repeat("b", 32), "RQ" + strings.Repeat("c", 32),
		"RQ" + strings.Repeat("C", 32), "YK" + strings.Repeat("a", 32) + "\n", "ff483d1ff591898a9942916050d2ca3f",
		"John Doe iPhone", "a\x00b", "tab\there", "\x7f", "\xed\xa0\x80", "\xff", strings.Repeat("x", 65),
		"a-b-c-d-e", "-abcdefgh", "abcdefgh-", "😀😀😀😀", "*", "GET, POST, OPTIONS", "true",
	} {
		f.Add(s)
	}
	schemas := compiledSchemas(f)
	opts := SchemaOptions()
	f.Fuzz(func(t *testing.T, v string) {
		for name, s := range schemas {
			c, ok := CompileString(s)
			if !ok {
				t.Fatalf("%s: does not compile", name)
			}
			want := s.VisitJSON(v, opts...) == nil
			if got := c.Valid(v); got != want {
				t.Errorf("%s: Valid(%q) = %v, kin-openapi says %v (%v)", name, v, got, want, c)
			}
		}
	})
}
