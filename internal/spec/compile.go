package spec

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// StringCheck is a string schema compiled once, at start-up, into a plain
// function: it accepts exactly the strings that kin-openapi's VisitJSON
// accepts for that schema with [SchemaOptions], at a fraction of the cost
// and without allocating. Only simple schemas compile (see
// [CompileString]); everything else stays with kin-openapi.
type StringCheck struct {
	// minLength and maxLength are converted to int64 as kin-openapi
	// converts them, overflow included, so that they compare alike.
	minLength int64
	maxLength int64
	hasMax    bool
	pattern   *regexp.Regexp
	// pieces is pattern as straight-line matching code, for the
	// anchored shapes that need no backtracking (compilePieces); nil
	// leaves matching to pattern.
	pieces []piece
	enum   []string
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
	c := &StringCheck{minLength: int64(s.MinLength)} //nolint:gosec // G115: wraps exactly as kin-openapi's own conversion does
	if s.MaxLength != nil {
		c.maxLength, c.hasMax = int64(*s.MaxLength), true //nolint:gosec // G115: as above
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
		if pieces, ok := compilePieces(s.Pattern); ok {
			c.pieces = pieces
		}
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
	if c.minLength != 0 || c.hasMax {
		// Counted as kin-openapi counts: runes, surrogates as two.
		var n int64
		for _, r := range v {
			if utf16.IsSurrogate(r) {
				n += 2
			} else {
				n++
			}
		}
		if (c.minLength != 0 && n < c.minLength) || (c.hasMax && n > c.maxLength) {
			return false
		}
	}
	switch {
	case c.pieces != nil:
		return matchPieces(c.pieces, v)
	case c.pattern != nil:
		return c.pattern.MatchString(v)
	}
	return true
}

// piece is one step of an anchored pattern: a literal, or a character
// class repeated min to max times (max < 0: no bound).
type piece struct {
	literal  string
	class    []rune    // pairs of inclusive ranges, as regexp/syntax gives them
	ascii    [2]uint64 // class, for runes below utf8.RuneSelf: bit r set if r is in it
	min, max int
}

// newClassPiece returns the piece of class repeated min to max times.
func newClassPiece(class []rune, min, max int) piece {
	p := piece{class: class, min: min, max: max}
	for r := rune(0); r < utf8.RuneSelf; r++ {
		if inClass(class, r) {
			p.ascii[r/64] |= 1 << (r % 64)
		}
	}
	return p
}

// compilePieces turns a pattern of the shape ^(literal|class|class{n,m})*$
// into pieces, as the SID and request id patterns are. A class with a
// variable count must be the last piece, so that matching never has to
// backtrack; any other shape reports false and stays with regexp.
func compilePieces(pattern string) ([]piece, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 ||
		re.Sub[0].Op != syntax.OpBeginText || re.Sub[len(re.Sub)-1].Op != syntax.OpEndText {
		return nil, false
	}
	var out []piece
	for i, sub := range re.Sub[1 : len(re.Sub)-1] {
		var p piece
		switch sub.Op {
		case syntax.OpLiteral:
			if sub.Flags&syntax.FoldCase != 0 || slices.Contains(sub.Rune, utf8.RuneError) {
				return nil, false
			}
			p.literal = string(sub.Rune)
		case syntax.OpCharClass:
			p = newClassPiece(sub.Rune, 1, 1)
		case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
			if sub.Sub[0].Op != syntax.OpCharClass {
				return nil, false
			}
			lo, hi := sub.Min, sub.Max
			switch sub.Op {
			case syntax.OpStar:
				lo, hi = 0, -1
			case syntax.OpPlus:
				lo, hi = 1, -1
			case syntax.OpQuest:
				lo, hi = 0, 1
			}
			p = newClassPiece(sub.Sub[0].Rune, lo, hi)
			if p.min != p.max && i != len(re.Sub)-3 {
				return nil, false
			}
		default:
			return nil, false
		}
		out = append(out, p)
	}
	return out, len(out) > 0
}

// matchPieces reports whether the whole of v matches pieces, reading v as
// regexp does: rune by rune, each invalid byte as utf8.RuneError.
func matchPieces(pieces []piece, v string) bool {
	for _, p := range pieces {
		if p.class == nil {
			if !strings.HasPrefix(v, p.literal) {
				return false
			}
			v = v[len(p.literal):]
			continue
		}
		n := 0
		for (p.max < 0 || n < p.max) && v != "" {
			if c := v[0]; c < utf8.RuneSelf {
				if p.ascii[c/64]&(1<<(c%64)) == 0 {
					break
				}
				v = v[1:]
			} else {
				r, size := utf8.DecodeRuneInString(v)
				if !inClass(p.class, r) {
					break
				}
				v = v[size:]
			}
			n++
		}
		if n < p.min {
			return false
		}
	}
	return v == ""
}

func inClass(class []rune, r rune) bool {
	for i := 0; i+1 < len(class); i += 2 {
		if class[i] <= r && r <= class[i+1] {
			return true
		}
	}
	return false
}

// String describes the check, for test failures.
func (c *StringCheck) String() string {
	return fmt.Sprintf("string[min %d, max %d (%v), pattern %v, enum %q]", c.minLength, c.maxLength, c.hasMax, c.pattern, c.enum)
}
