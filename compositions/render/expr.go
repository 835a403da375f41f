package render

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// CostLimit bounds the cost of one evaluation of one expression, in CEL's
// cost units (about one per operation, plus the size of the strings and
// lists it handles). An evaluation that exceeds it fails.
const CostLimit = 1_000_000

// maxExpressionLength bounds the length of one expression, in characters.
const maxExpressionLength = 10_000

// The variables of expressions.
const (
	varSpec      = "spec"
	varMetadata  = "metadata"
	varResources = "resources"
	varSelf      = "self"
)

var (
	baseEnvOnce sync.Once
	baseEnv     *cel.Env
	baseEnvErr  error
)

// newBaseEnv returns the environment every expression shares: the
// standard library and the deterministic extensions, without variables.
func newBaseEnv() (*cel.Env, error) {
	baseEnvOnce.Do(func() {
		baseEnv, baseEnvErr = cel.NewEnv(
			cel.OptionalTypes(),
			cel.DefaultUTCTimeZone(true),
			cel.CrossTypeNumericComparisons(true),
			cel.ParserExpressionSizeLimit(maxExpressionLength),
			ext.Strings(),
			ext.Encoders(),
			ext.Math(),
			ext.Lists(),
			ext.Sets(),
			ext.Bindings(),
			ext.TwoVarComprehensions(),
		)
	})
	return baseEnv, baseEnvErr
}

// expression is one compiled expression.
type expression struct {
	src  string
	prg  cel.Program
	out  *types.Type
	refs []reference
	deps []string
}

// reference is a path of fields read from a variable, such as
// resources.db.status.atProvider.host: a chain of field selections and
// constant indexes. test is true for the field a has() tests.
type reference struct {
	root string
	path []any // string or int64
	test bool
}

// String formats the reference as resources.db.status["a.b"][0].
func (r reference) String() string {
	p := make(fieldPath, len(r.path))
	for i, e := range r.path {
		if n, ok := e.(int64); ok {
			p[i] = int(n)
			continue
		}
		p[i] = e
	}
	return r.root + p.String()
}

// compileEnv is an environment with what its expressions may refer to.
type compileEnv struct {
	env *cel.Env
	// resources are the names resources.<name> may name, nil when resources
	// is not a variable.
	resources []string
	// self is the resource whose expression it is, which must not refer to
	// itself through resources.
	self string
}

// compile parses, checks and plans an expression. It returns the reasons it
// is wrong, if any.
func (ce compileEnv) compile(src string) (*expression, []string) {
	parsed, iss := ce.env.Parse(src)
	if iss.Err() != nil {
		return nil, issues(iss)
	}
	x := &expression{src: src}
	var bad []string
	bare := false
	collectReferences(parsed.NativeRep().Expr(), &x.refs, &bare)
	if bare && ce.resources != nil {
		bad = append(bad, "resources must be followed by the name of a resource, as in resources.db")
	}
	for _, r := range x.refs {
		if r.root != varResources || ce.resources == nil {
			continue
		}
		name, ok := r.path[0].(string)
		switch {
		case !ok:
			bad = append(bad, "resources must be followed by the name of a resource, as in resources.db")
		case !slices.Contains(ce.resources, name):
			bad = append(bad, fmt.Sprintf("unknown resource %q (resources are %s)", name, strings.Join(ce.resources, ", ")))
		case name == ce.self:
			bad = append(bad, fmt.Sprintf("a resource cannot refer to itself (resources.%s); readyWhen sees it as self", name))
		case !slices.Contains(x.deps, name):
			x.deps = append(x.deps, name)
		}
	}
	if len(bad) > 0 {
		return nil, dedupe(bad)
	}
	checked, iss := ce.env.Check(parsed)
	if iss.Err() != nil {
		return nil, issues(iss)
	}
	x.out = checked.OutputType()
	prg, err := ce.env.Program(checked, cel.CostLimit(CostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, []string{err.Error()}
	}
	x.prg = prg
	slices.Sort(x.deps)
	return x, nil
}

// issues returns the messages of CEL's issues.
func issues(iss *cel.Issues) []string {
	var msgs []string
	for _, e := range iss.Errors() {
		msgs = append(msgs, e.Message)
	}
	return dedupe(msgs)
}

func dedupe(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// collectReferences appends the longest field paths read from variables in
// e to refs, and sets bare when resources is used other than as
// resources.<name>.
func collectReferences(e ast.Expr, refs *[]reference, bare *bool) {
	if root, path, ok := chain(e); ok && len(path) > 0 {
		*refs = append(*refs, reference{root: root, path: path})
		return
	}
	switch e.Kind() {
	case ast.IdentKind:
		if e.AsIdent() == varResources {
			*bare = true
		}
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			if root, path, ok := chain(sel.Operand()); ok {
				*refs = append(*refs, reference{root: root, path: append(path, sel.FieldName()), test: true})
				return
			}
		}
		collectReferences(sel.Operand(), refs, bare)
	case ast.CallKind:
		call := e.AsCall()
		if call.IsMemberFunction() {
			collectReferences(call.Target(), refs, bare)
		}
		for _, a := range call.Args() {
			collectReferences(a, refs, bare)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		for _, sub := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			collectReferences(sub, refs, bare)
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			collectReferences(el, refs, bare)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			collectReferences(me.Key(), refs, bare)
			collectReferences(me.Value(), refs, bare)
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			collectReferences(f.AsStructField().Value(), refs, bare)
		}
	}
}

// chain returns the variable and path of a chain of field selections and
// constant indexes, such as resources.db.status["a"][0].
func chain(e ast.Expr) (string, []any, bool) {
	switch e.Kind() {
	case ast.IdentKind:
		return e.AsIdent(), nil, true
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return "", nil, false
		}
		root, path, ok := chain(sel.Operand())
		return root, append(path, sel.FieldName()), ok
	case ast.CallKind:
		call := e.AsCall()
		args := call.Args()
		if call.FunctionName() != "_[_]" || len(args) != 2 || args[1].Kind() != ast.LiteralKind {
			return "", nil, false
		}
		root, path, ok := chain(args[0])
		switch idx := args[1].AsLiteral().(type) {
		case types.String:
			return root, append(path, string(idx)), ok
		case types.Int:
			return root, append(path, int64(idx)), ok
		}
	}
	return "", nil, false
}

// missingInput is an evaluation that could not complete because a field it
// reads is not there yet.
type missingInput struct {
	ref reference
}

func (m *missingInput) Error() string { return "waiting for " + m.ref.String() }

// eval evaluates the expression. An error that comes from a field that is
// not there is a *missingInput naming the first such field.
func (x *expression) eval(vars map[string]any) (ref.Val, error) {
	v, _, err := x.prg.Eval(vars)
	if err == nil {
		return v, nil
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "no such key") || strings.HasPrefix(msg, "no such attribute") || strings.HasPrefix(msg, "index out of bounds") {
		if r, ok := x.firstMissing(vars); ok {
			return nil, &missingInput{ref: r}
		}
	}
	return nil, err
}

// firstMissing returns the first field the expression reads that is not in
// vars, cut after its first missing element.
func (x *expression) firstMissing(vars map[string]any) (reference, bool) {
	for _, r := range x.refs {
		path := r.path
		if r.test {
			path = path[:len(path)-1]
		}
		cur, ok := vars[r.root]
		if !ok {
			continue
		}
		for i, e := range path {
			var found bool
			switch e := e.(type) {
			case string:
				var m map[string]any
				if m, found = cur.(map[string]any); found {
					cur, found = m[e]
				}
			case int64:
				var l []any
				if l, found = cur.([]any); found {
					found = e >= 0 && e < int64(len(l))
					if found {
						cur = l[e]
					}
				}
			}
			if !found {
				return reference{root: r.root, path: path[:i+1]}, true
			}
		}
	}
	return reference{}, false
}
