package render

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// segment is a piece of a template string: literal text, or an expression.
type segment struct {
	text   string
	isExpr bool
}

// hasExpressions reports whether s holds ${ or the escape $${.
func hasExpressions(s string) bool { return strings.Contains(s, "${") }

// parseSegments splits a template string into literal text and
// expressions. An expression ends at the } that closes its ${, skipping
// braces and quotes inside CEL string literals; $${ is a literal ${.
func parseSegments(s string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			segs = append(segs, segment{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end, err := exprEnd(s, i+2)
			if err != nil {
				return nil, err
			}
			expr := strings.TrimSpace(s[i+2 : end])
			if expr == "" {
				return nil, errors.New("empty expression ${}")
			}
			flush()
			segs = append(segs, segment{text: expr, isExpr: true})
			i = end + 1
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	return segs, nil
}

// exprEnd returns the index of the } that closes an expression starting at
// start.
func exprEnd(s string, start int) (int, error) {
	depth := 0
	for i := start; i < len(s); i++ {
		switch c := s[i]; c {
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i, nil
			}
			depth--
		case '\'', '"':
			end, err := stringEnd(s, i)
			if err != nil {
				return 0, err
			}
			i = end
		}
	}
	return 0, fmt.Errorf("unterminated expression %q: missing }", s[start-2:])
}

// stringEnd returns the index of the last quote of the CEL string literal
// that opens at i.
func stringEnd(s string, i int) (int, error) {
	q := s[i]
	// A prefix of r or R (with b or B) makes a raw string, without escapes.
	j := i
	for j > 0 && i-j < 2 && strings.IndexByte("rRbB", s[j-1]) >= 0 {
		j--
	}
	raw := strings.ContainsAny(s[j:i], "rR") && (j == 0 || !isIdentByte(s[j-1]))
	triple := strings.Repeat(string(q), 3)
	if strings.HasPrefix(s[i:], triple) {
		for j := i + 3; j < len(s); j++ {
			if !raw && s[j] == '\\' {
				j++
				continue
			}
			if strings.HasPrefix(s[j:], triple) {
				return j + 2, nil
			}
		}
		return 0, fmt.Errorf("unterminated string literal in %q", s[i:])
	}
	for j := i + 1; j < len(s); j++ {
		if !raw && s[j] == '\\' {
			j++
			continue
		}
		if s[j] == q {
			return j, nil
		}
	}
	return 0, fmt.Errorf("unterminated string literal in %q", s[i:])
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// expressionOf returns the CEL of a field that holds one expression, with
// or without ${ }: includeWhen, readyWhen, status and connection data.
func expressionOf(s string) (string, error) {
	if !hasExpressions(s) {
		if strings.TrimSpace(s) == "" {
			return "", errors.New("empty expression")
		}
		return s, nil
	}
	segs, err := parseSegments(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	if len(segs) != 1 || !segs[0].isExpr {
		return "", errors.New("must be one expression, not text with ${...} in it")
	}
	return segs[0].text, nil
}

// fieldPath is the place of a value in a JSON document: map keys (string)
// and list indexes (int).
type fieldPath []any

var simpleKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// String formats a path as .spec.items[0]["app.example.com/name"].
func (p fieldPath) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		case string:
			if simpleKey.MatchString(e) {
				b.WriteString("." + e)
			} else {
				b.WriteString("[" + strconv.Quote(e) + "]")
			}
		}
	}
	return b.String()
}

func (p fieldPath) child(e any) fieldPath {
	out := make(fieldPath, len(p), len(p)+1)
	copy(out, p)
	return append(out, e)
}

// walkStrings calls fn for every string value of a JSON document, in key
// order, and reports keys that hold expressions to bad.
func walkStrings(v any, path fieldPath, fn func(fieldPath, string), bad func(fieldPath, string)) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			if hasExpressions(k) {
				bad(path.child(k), k)
			}
			walkStrings(v[k], path.child(k), fn, bad)
		}
	case []any:
		for i, e := range v {
			walkStrings(e, path.child(i), fn, bad)
		}
	case string:
		fn(path, v)
	}
}

// omitted marks a field whose whole-value expression gave an empty
// optional; removeOmitted takes it out.
type omitted struct{}

// setAt sets the value at path in doc, which holds it already.
func setAt(doc any, path fieldPath, value any) {
	cur := doc
	for i, e := range path {
		last := i == len(path)-1
		switch e := e.(type) {
		case string:
			m := cur.(map[string]any)
			if last {
				m[e] = value
				return
			}
			cur = m[e]
		case int:
			l := cur.([]any)
			if last {
				l[e] = value
				return
			}
			cur = l[e]
		}
	}
}

// removeOmitted returns v without the fields and list items marked omitted.
func removeOmitted(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if _, ok := e.(omitted); ok {
				delete(v, k)
				continue
			}
			v[k] = removeOmitted(e)
		}
	case []any:
		out := v[:0]
		for _, e := range v {
			if _, ok := e.(omitted); ok {
				continue
			}
			out = append(out, removeOmitted(e))
		}
		return out
	}
	return v
}
