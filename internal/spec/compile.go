package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/getkin/kin-openapi/openapi3"
)

// StringCheck is a string schema compiled once, at start-up, into a plain
// function: it accepts exactly the strings that kin-openapi's VisitJSON
// accepts for that schema with [SchemaOptions], at a fraction of the cost
// and without allocating. Only simple schemas compile (see
// [CompileString]); everything else stays with kin-openapi.
type StringCheck struct {
	minLength int64
	maxLength int64 // negative: no maximum
	pattern   *regexp.Regexp
	enum      []string
}

// CompileString compiles s when it uses only type string, minLength,
// maxLength, pattern and a string enum, besides annotations such as
// description. It reports false for any other keyword (formats,
// nullable, composition, non-string types…) and for patterns that
// kin-openapi rewrites before compiling (\uXXXX escapes): those schemas are
// left to kin-openapi, so nothing is ever judged by a partial copy of it.
func CompileString(s *openapi3.Schema) (*StringCheck, bool) {
	if s == nil || !s.Type.Is(openapi3.TypeString) || s.Always != nil ||
		len(s.OneOf)+len(s.AnyOf)+len(s.AllOf) != 0 || s.Not != nil {
		return nil, false
	}
	rest := *s
	rest.Type, rest.MinLength, rest.MaxLength, rest.Pattern, rest.Enum = nil, 0, nil, "", nil
	if !rest.IsEmpty() {
		return nil, false
	}
	c := &StringCheck{minLength: int64(s.MinLength), maxLength: -1}
	if s.MaxLength != nil {
		c.maxLength = int64(*s.MaxLength)
	}
	if s.Pattern != "" {
		if strings.Contains(s.Pattern, `\u`) {
			return nil, false
		}
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, false
		}
		c.pattern = re
	}
	for _, v := range s.Enum {
		str, ok := v.(string)
		if !ok {
			return nil, false
		}
		c.enum = append(c.enum, str)
	}
	return c, true
}

// Valid reports whether v is valid against the compiled schema.
func (c *StringCheck) Valid(v string) bool {
	if c.enum != nil && !slices.Contains(c.enum, v) {
		return false
	}
	if c.minLength != 0 || c.maxLength >= 0 {
		// Counted as kin-openapi counts: runes, surrogates as two.
		var n int64
		for _, r := range v {
			if utf16.IsSurrogate(r) {
				n += 2
			} else {
				n++
			}
		}
		if n < c.minLength || (c.maxLength >= 0 && n > c.maxLength) {
			return false
		}
	}
	return c.pattern == nil || c.pattern.MatchString(v)
}

// String describes the check, for test failures.
func (c *StringCheck) String() string {
	return fmt.Sprintf("string[min %d, max %d, pattern %v, enum %q]", c.minLength, c.maxLength, c.pattern, c.enum)
}
