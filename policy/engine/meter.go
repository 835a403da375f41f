package engine

import (
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// termCost is what one term is taken to cost, strings and numbers aside.
const termCost = 64

// forbiddenCalls counts the calls of forbidden built-in functions that
// guard stopped, for the tests: the compiler lets none through.
var forbiddenCalls atomic.Int64

// arg returns the i-th operand, null when there is none.
func arg(ops []*ast.Term, i int) *ast.Term {
	if i < len(ops) && ops[i] != nil {
		return ops[i]
	}
	return ast.NullTerm()
}

// The built-in functions are metered once, for the whole process: OPA looks
// a built-in function up by name in one global table, so an evaluation
// cannot be given its own. A metered function behaves as before unless its
// context carries a budget, which only the evaluations of this package do.
func init() {
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		name := b.Name
		f := topdown.GetBuiltin(name)
		decl := ast.BuiltinMap[name]
		if f == nil || decl == nil || free[name] {
			continue
		}
		// The built-in function needs its context to find the budget.
		decl.CanSkipBctx = false
		if _, no := forbidden[name]; no {
			topdown.RegisterBuiltinFunc(name, guard(name, f))
			continue
		}
		topdown.RegisterBuiltinFunc(name, meter(name, f))
	}
}

// guard refuses a forbidden built-in function in a guardrail's evaluation.
func guard(name string, f topdown.BuiltinFunc) topdown.BuiltinFunc {
	return func(bctx topdown.BuiltinContext, operands []*ast.Term, iter func(*ast.Term) error) error {
		if b := budgetFrom(bctx.Context); b != nil {
			forbiddenCalls.Add(1)
			return b.forbid(name)
		}
		return f(bctx, operands, iter)
	}
}

// meter charges what f returns to the evaluation's budget, and refuses a
// call whose result would not fit before making it.
func meter(name string, f topdown.BuiltinFunc) topdown.BuiltinFunc {
	estimate := estimators[name]
	size := func(t *ast.Term, _ int64) int64 { return shallowSize(t) }
	if deep[name] {
		// Counted up to what remains: past it, the call fails anyway.
		size = func(t *ast.Term, limit int64) int64 { return sizeOf(t, limit).bytes() }
	}
	return func(bctx topdown.BuiltinContext, operands []*ast.Term, iter func(*ast.Term) error) error {
		b := budgetFrom(bctx.Context)
		if b == nil {
			return f(bctx, operands, iter)
		}
		if estimate != nil && b.limits.Bytes > 0 {
			if err := b.reserve(name, estimate(operands, b.bytes.Load())); err != nil {
				return err
			}
		}
		return f(bctx, operands, func(out *ast.Term) error {
			if err := b.charge(name, size(out, b.bytes.Load())); err != nil {
				return err
			}
			return iter(out)
		})
	}
}

// free are the built-in functions that return a scalar or a part of an
// argument: nothing to charge, nothing to meter.
var free = map[string]bool{
	"eq": true, "assign": true, "equal": true, "neq": true, "gt": true, "gte": true, "lt": true, "lte": true,
	"internal.member_2": true, "internal.member_3": true, "internal.print": true, "print": true, "trace": true,
	"internal.test_case": true,
	"is_number":          true, "is_string": true, "is_boolean": true, "is_array": true, "is_set": true, "is_object": true,
	"is_null": true, "type_name": true, "count": true, "max": true, "min": true, "object.get": true,
	"contains": true, "startswith": true, "endswith": true, "indexof": true, "strings.count": true,
	"strings.any_prefix_match": true, "strings.any_suffix_match": true, "regex.match": true, "re_match": true,
	"regex.is_valid": true, "regex.globs_match": true, "regex.template_match": true, "glob.match": true,
	"net.cidr_contains": true, "net.cidr_intersects": true, "net.cidr_overlap": true, "net.cidr_is_valid": true,
	"object.subset": true, "json.is_valid": true, "yaml.is_valid": true, "base64.is_valid": true, "uri.is_valid": true,
	"semver.compare": true, "semver.is_valid": true, "crypto.hmac.equal": true, "time.now_ns": true,
}

// deep are the built-in functions that build a whole new document (parsers
// and decoders): charged for all of it, not only its top level.
var deep = map[string]bool{
	"json.unmarshal": true, "yaml.unmarshal": true, "rego.parse_module": true,
	"graphql.parse": true, "graphql.parse_query": true, "graphql.parse_schema": true, "graphql.parse_and_verify": true,
	"regex.find_all_string_submatch_n": true, "urlquery.decode_object": true, "uri.parse": true,
	"crypto.x509.parse_certificates": true, "crypto.x509.parse_and_verify_certificates": true,
	"crypto.x509.parse_and_verify_certificates_with_options": true, "crypto.x509.parse_certificate_request": true,
	"crypto.x509.parse_keypair": true, "crypto.x509.parse_rsa_private_key": true, "crypto.parse_private_keys": true,
	"io.jwt.decode": true, "io.jwt.decode_verify": true, "rego.metadata.chain": true, "rego.metadata.rule": true,
}

// estimators give, before the call, an upper bound of the bytes a built-in
// function would build, for those that can build much more than their
// arguments in one call. limit is what remains: an estimator may stop
// counting past it.
var estimators = map[string]func(ops []*ast.Term, limit int64) int64{
	"numbers.range": func(ops []*ast.Term, _ int64) int64 {
		return rangeCount(arg(ops, 0), arg(ops, 1), nil) * termCost
	},
	"numbers.range_step": func(ops []*ast.Term, _ int64) int64 {
		return rangeCount(arg(ops, 0), arg(ops, 1), arg(ops, 2)) * termCost
	},
	"net.cidr_expand": func(ops []*ast.Term, _ int64) int64 {
		s, ok := arg(ops, 0).Value.(ast.String)
		if !ok {
			return 0
		}
		_, n, err := net.ParseCIDR(string(s))
		if err != nil {
			return 0
		}
		ones, bits := n.Mask.Size()
		if bits-ones >= 56 {
			return 1 << 62
		}
		return (int64(1) << (bits - ones)) * termCost
	},
	"sprintf": func(ops []*ast.Term, limit int64) int64 {
		format, _ := arg(ops, 0).Value.(ast.String)
		width := formatWidths(string(format), arg(ops, 1))
		s := sizeOf(arg(ops, 1), limit)
		return s.estimate(int64(len(format)) + width + 3*s.bytes())
	},
	"internal.template_string": func(ops []*ast.Term, limit int64) int64 {
		s := sizeOf(arg(ops, 0), limit)
		return s.estimate(3 * s.bytes())
	},
	"concat": func(ops []*ast.Term, _ int64) int64 {
		delim, _ := arg(ops, 0).Value.(ast.String)
		var n, total int64
		each(arg(ops, 1), func(t *ast.Term) {
			n++
			if s, ok := t.Value.(ast.String); ok {
				total += int64(len(s))
			}
		})
		return total + n*int64(len(delim))
	},
	"replace": func(ops []*ast.Term, _ int64) int64 {
		s, _ := arg(ops, 0).Value.(ast.String)
		old, _ := arg(ops, 1).Value.(ast.String)
		repl, _ := arg(ops, 2).Value.(ast.String)
		return int64(len(s)) + occurrences(string(s), string(old))*int64(len(repl))
	},
	"strings.replace_n": func(ops []*ast.Term, _ int64) int64 {
		patterns, _ := arg(ops, 0).Value.(ast.Object)
		s, _ := arg(ops, 1).Value.(ast.String)
		total := int64(len(s))
		if patterns != nil {
			patterns.Foreach(func(k, v *ast.Term) {
				old, _ := k.Value.(ast.String)
				repl, _ := v.Value.(ast.String)
				total += occurrences(string(s), string(old)) * int64(len(repl))
			})
		}
		return total
	},
	"regex.replace": func(ops []*ast.Term, _ int64) int64 {
		s, _ := arg(ops, 0).Value.(ast.String)
		repl, _ := arg(ops, 2).Value.(ast.String)
		n := int64(len(s))
		// At most one match per position; each $ expands to a part of s
		// no longer than its match, and matches do not overlap.
		return n + (n+1)*int64(len(repl)) + int64(strings.Count(string(repl), "$"))*n
	},
	"split": func(ops []*ast.Term, _ int64) int64 {
		s, _ := arg(ops, 0).Value.(ast.String)
		delim, _ := arg(ops, 1).Value.(ast.String)
		return (occurrences(string(s), string(delim)) + 1) * termCost
	},
	"strings.split_n": func(ops []*ast.Term, _ int64) int64 {
		s, _ := arg(ops, 0).Value.(ast.String)
		delim, _ := arg(ops, 1).Value.(ast.String)
		return (occurrences(string(s), string(delim)) + 1) * termCost
	},
	"indexof_n": func(ops []*ast.Term, _ int64) int64 {
		s, _ := arg(ops, 0).Value.(ast.String)
		sub, _ := arg(ops, 1).Value.(ast.String)
		return occurrences(string(s), string(sub)) * termCost
	},
	"regex.split": func(ops []*ast.Term, _ int64) int64 {
		s, _ := arg(ops, 1).Value.(ast.String)
		return (int64(len(s)) + 1) * termCost
	},
	"regex.find_n": func(ops []*ast.Term, _ int64) int64 {
		s, _ := arg(ops, 1).Value.(ast.String)
		return (int64(len(s)) + 1) * termCost
	},
	"regex.find_all_string_submatch_n": func(ops []*ast.Term, _ int64) int64 {
		pattern, _ := arg(ops, 0).Value.(ast.String)
		s, _ := arg(ops, 1).Value.(ast.String)
		groups := int64(strings.Count(string(pattern), "(")) + 1
		return (int64(len(s)) + 1) * groups * termCost
	},
	"json.marshal": func(ops []*ast.Term, limit int64) int64 {
		s := sizeOf(arg(ops, 0), limit)
		return s.estimate(6*s.strings + 32*s.terms)
	},
	"json.marshal_with_options": func(ops []*ast.Term, limit int64) int64 {
		s := sizeOf(arg(ops, 0), limit)
		var indent int64
		if o, ok := arg(ops, 1).Value.(ast.Object); ok {
			for _, k := range []string{"prefix", "indent"} {
				if v := o.Get(ast.StringTerm(k)); v != nil {
					if str, ok := v.Value.(ast.String); ok {
						indent += int64(len(str))
					}
				}
			}
		}
		return s.estimate(6*s.strings + s.terms*(32+indent*s.depth))
	},
	"yaml.marshal": func(ops []*ast.Term, limit int64) int64 {
		s := sizeOf(arg(ops, 0), limit)
		return s.estimate(6*s.strings + s.terms*(32+2*s.depth))
	},
	"json.unmarshal":    decodedSize,
	"yaml.unmarshal":    decodedSize,
	"rego.parse_module": func(ops []*ast.Term, _ int64) int64 { return stringLen(arg(ops, 1)) * termCost },
	"graphql.parse": func(ops []*ast.Term, _ int64) int64 {
		return (stringLen(arg(ops, 0)) + stringLen(arg(ops, 1))) * termCost
	},
	"graphql.parse_and_verify": func(ops []*ast.Term, _ int64) int64 {
		return (stringLen(arg(ops, 0)) + stringLen(arg(ops, 1))) * termCost
	},
	"graphql.parse_query":  func(ops []*ast.Term, _ int64) int64 { return stringLen(arg(ops, 0)) * termCost },
	"graphql.parse_schema": func(ops []*ast.Term, _ int64) int64 { return stringLen(arg(ops, 0)) * termCost },
	"bits.lsh": func(ops []*ast.Term, _ int64) int64 {
		n, ok := arg(ops, 1).Value.(ast.Number)
		if !ok {
			return 0
		}
		shift, ok := n.Int64()
		if !ok || shift < 0 || shift > 1<<40 {
			return 1 << 62
		}
		// The result is a decimal number: about 0.3 digits per bit.
		return (numberLen(arg(ops, 0)) + shift/3) * digitCost
	},
	"mul": func(ops []*ast.Term, _ int64) int64 {
		return (numberLen(arg(ops, 0)) + numberLen(arg(ops, 1))) * digitCost
	},
	"product": func(ops []*ast.Term, _ int64) int64 {
		var digits int64
		each(arg(ops, 0), func(t *ast.Term) { digits += numberLen(t) })
		return digits * digitCost
	},
}

// digitCost is what a digit of a product is taken to cost: numbers are
// decimal strings, and converting a number of a million digits to and from
// its binary form takes seconds, inside one step. It keeps products under
// about 16,000 digits.
const digitCost = 1024

// decodedSize bounds what decoding a string builds: a term for every two
// bytes of "[1,1,1]".
func decodedSize(ops []*ast.Term, _ int64) int64 { return stringLen(arg(ops, 0)) * termCost / 2 }

func stringLen(t *ast.Term) int64 {
	s, _ := t.Value.(ast.String)
	return int64(len(s))
}

func numberLen(t *ast.Term) int64 {
	n, _ := t.Value.(ast.Number)
	return int64(len(n))
}

// occurrences counts sub in s the way strings.Replace and strings.Split
// do: an empty sub matches at every rune boundary.
func occurrences(s, sub string) int64 {
	if sub == "" {
		return int64(utf8.RuneCountInString(s)) + 1
	}
	return int64(strings.Count(s, sub))
}

// rangeCount is how many numbers numbers.range(x, y) or
// numbers.range_step(x, y, step) returns; 0 when the arguments are not
// integers (the call fails on its own).
func rangeCount(x, y, step *ast.Term) int64 {
	a, ok1 := bigInt(x)
	b, ok2 := bigInt(y)
	if !ok1 || !ok2 {
		return 0
	}
	d := new(big.Int).Sub(b, a)
	d.Abs(d)
	if step != nil {
		s, ok := bigInt(step)
		if !ok || s.Sign() <= 0 {
			return 0
		}
		d.Quo(d, s)
	}
	d.Add(d, big.NewInt(1))
	if !d.IsInt64() || d.Int64() > 1<<50 {
		return 1 << 50
	}
	return d.Int64()
}

func bigInt(t *ast.Term) (*big.Int, bool) {
	n, ok := t.Value.(ast.Number)
	if !ok {
		return nil, false
	}
	return new(big.Int).SetString(string(n), 10)
}

// formatWidths adds up the widths and precisions of a format's verbs
// ("%0999d", "%.999f"), each "*" taking the largest integer of args.
func formatWidths(format string, args *ast.Term) int64 {
	var total int64
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format); i++ {
			c := format[i]
			switch {
			case c >= '0' && c <= '9':
				j := i
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				total = min(total+digitsValue(format[i:j]), 1<<60)
				i = j - 1
			case c == '*':
				total = min(total+largestInt(args), 1<<60)
			case strings.IndexByte("+-# .[]", c) >= 0:
			default:
				goto next // the verb
			}
		}
	next:
	}
	return total
}

func digitsValue(s string) int64 {
	if len(s) > 15 {
		return 1 << 50
	}
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func largestInt(args *ast.Term) int64 {
	var max int64
	each(args, func(t *ast.Term) {
		if n, ok := t.Value.(ast.Number); ok {
			if i, ok := n.Int64(); ok && i > max {
				max = i
			} else if !ok {
				max = 1 << 50
			}
		}
	})
	return max
}

// each calls f with every element of an array or a set.
func each(t *ast.Term, f func(*ast.Term)) {
	switch v := t.Value.(type) {
	case *ast.Array:
		v.Foreach(f)
	case ast.Set:
		v.Foreach(f)
	}
}

// shallowSize is the size of a term without what its elements share with
// the arguments: its own strings and one termCost per element.
func shallowSize(t *ast.Term) int64 {
	switch v := t.Value.(type) {
	case ast.String:
		return int64(len(v)) + 16
	case ast.Number:
		return int64(len(v)) + 16
	case *ast.Array:
		n := int64(v.Len()) * termCost
		v.Foreach(func(e *ast.Term) { n += scalarLen(e) })
		return n
	case ast.Set:
		n := int64(v.Len()) * 2 * termCost
		v.Foreach(func(e *ast.Term) { n += scalarLen(e) })
		return n
	case ast.Object:
		n := int64(v.Len()) * 3 * termCost
		v.Foreach(func(k, e *ast.Term) { n += scalarLen(k) + scalarLen(e) })
		return n
	}
	return termCost
}

func scalarLen(t *ast.Term) int64 {
	switch v := t.Value.(type) {
	case ast.String:
		return int64(len(v))
	case ast.Number:
		return int64(len(v))
	}
	return 0
}

// size is what a document holds: its terms, the bytes of its strings and
// numbers, and how deep it nests. over is set when sizeOf stopped counting.
type size struct {
	terms, strings, depth int64
	over                  bool
}

func (s size) bytes() int64 {
	if s.over {
		return 1 << 62
	}
	return s.terms*termCost + s.strings
}

// estimate is what an estimator computed from s, or more than anything
// when s was not counted to the end.
func (s size) estimate(n int64) int64 {
	if s.over {
		return 1 << 62
	}
	return n
}

// sizeOf measures t, walking it as a tree (a value shared twice counts
// twice, as it would once printed), and stops counting once the size
// passes limit.
func sizeOf(t *ast.Term, limit int64) size {
	var s size
	var walk func(t *ast.Term, depth int64) bool
	walk = func(t *ast.Term, depth int64) bool {
		s.terms++
		if depth > s.depth {
			s.depth = depth
		}
		if s.bytes() > limit {
			s.over = true
			return false
		}
		switch v := t.Value.(type) {
		case ast.String:
			s.strings += int64(len(v))
		case ast.Number:
			s.strings += int64(len(v))
		case *ast.Array:
			for i := 0; i < v.Len(); i++ {
				if !walk(v.Elem(i), depth+1) {
					return false
				}
			}
		case ast.Set:
			for _, e := range v.Slice() {
				if !walk(e, depth+1) {
					return false
				}
			}
		case ast.Object:
			for _, k := range v.Keys() {
				if !walk(k, depth+1) || !walk(v.Get(k), depth+1) {
					return false
				}
			}
		}
		return true
	}
	walk(t, 1)
	return s
}
