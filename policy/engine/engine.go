package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Input is one admission request as seen by the guardrails.
type Input struct {
	// Object is the object being admitted (nil on DELETE).
	Object map[string]any
	// OldObject is the previous version of the object (UPDATE and DELETE).
	OldObject map[string]any
	// Operation is the admission operation, e.g. CREATE, UPDATE or DELETE.
	Operation string
	// UserInfo describes the requesting user.
	UserInfo map[string]any
}

// Violation is one problem a guardrail found.
type Violation struct {
	// Guardrail is the name of the guardrail that reported the violation.
	Guardrail string
	// Message is the full message: "[name] Kind namespace/name: problem".
	Message string
	// Field is the JSON path of the offending field, if the policy gave one.
	Field string
}

// CompileError is returned by Compile when a module does not parse or
// compile. Errors holds each problem with its position.
type CompileError struct {
	Guardrail string
	Errors    []PositionError
}

// PositionError is one compile problem at a line and column of the module.
type PositionError struct {
	Line    int
	Column  int
	Code    string
	Message string
}

func (e *CompileError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, pe := range e.Errors {
		parts = append(parts, fmt.Sprintf("%s.rego:%d:%d: %s: %s", e.Guardrail, pe.Line, pe.Column, pe.Code, pe.Message))
	}
	return fmt.Sprintf("guardrail %q does not compile: %s", e.Guardrail, strings.Join(parts, "; "))
}

// Guardrail is one compiled and prepared policy. It is immutable and safe
// for concurrent use.
type Guardrail struct {
	name   string
	query  string
	params *ast.Term
	pq     rego.PreparedEvalQuery
}

// Name returns the guardrail's name.
func (g *Guardrail) Name() string { return g.name }

// Query returns the query the guardrail evaluates, data.<package>.violation.
func (g *Guardrail) Query() string { return g.query }

// Compile parses and compiles module (Rego v1) once and prepares the query
// data.<package>.violation with params fixed as input.parameters. A parse or
// compile error is returned as a *CompileError carrying line and column.
func Compile(name, module string, params map[string]any) (*Guardrail, error) {
	if name == "" {
		return nil, errors.New("guardrail name must not be empty")
	}
	filename := name + ".rego"
	mod, err := ast.ParseModuleWithOpts(filename, module, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, toCompileError(name, err)
	}
	if mod == nil {
		return nil, &CompileError{Guardrail: name, Errors: []PositionError{{Line: 1, Column: 1, Code: "rego_parse_error", Message: "empty module"}}}
	}
	if !definesViolation(mod) {
		return nil, &CompileError{Guardrail: name, Errors: []PositionError{{
			Line: mod.Package.Location.Row, Column: mod.Package.Location.Col,
			Code: "guardrail_contract_error", Message: "module does not define a violation rule",
		}}}
	}
	compiler := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	compiler.Compile(map[string]*ast.Module{filename: mod})
	if compiler.Failed() {
		return nil, toCompileError(name, compiler.Errors)
	}

	if params == nil {
		params = map[string]any{}
	}
	pv, err := ast.InterfaceToValue(params)
	if err != nil {
		return nil, fmt.Errorf("guardrail %q: parameters: %w", name, err)
	}

	query := mod.Package.Path.String() + ".violation"
	pq, err := rego.New(
		rego.Query(query),
		rego.Compiler(compiler),
		rego.SetRegoVersion(ast.RegoV1),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, toCompileError(name, err)
	}
	return &Guardrail{name: name, query: query, params: ast.NewTerm(pv), pq: pq}, nil
}

func definesViolation(mod *ast.Module) bool {
	for _, r := range mod.Rules {
		ref := r.Head.Ref()
		if len(ref) > 0 && ref[0].Value.Compare(ast.Var("violation")) == 0 {
			return true
		}
	}
	return false
}

func toCompileError(name string, err error) error {
	var astErrs ast.Errors
	if !errors.As(err, &astErrs) {
		var one *ast.Error
		if errors.As(err, &one) {
			astErrs = ast.Errors{one}
		}
	}
	if len(astErrs) == 0 {
		return fmt.Errorf("guardrail %q does not compile: %w", name, err)
	}
	ce := &CompileError{Guardrail: name}
	for _, e := range astErrs {
		pe := PositionError{Code: e.Code, Message: e.Message}
		if e.Location != nil {
			pe.Line, pe.Column = e.Location.Row, e.Location.Col
		}
		ce.Errors = append(ce.Errors, pe)
	}
	return ce
}

// PreparedInput is a request converted to Rego terms once, shared by every
// guardrail that judges the request.
type PreparedInput struct {
	object, oldObject, operation, userInfo *ast.Term
	prefixKind, prefixRef                  string
}

// Prepare converts a request to Rego terms once, for EvaluatePrepared.
func Prepare(in Input) (*PreparedInput, error) {
	conv := func(m map[string]any) (*ast.Term, error) {
		if m == nil {
			return ast.NullTerm(), nil
		}
		v, err := ast.InterfaceToValue(m)
		if err != nil {
			return nil, err
		}
		return ast.NewTerm(v), nil
	}
	var p PreparedInput
	var err error
	if p.object, err = conv(in.Object); err != nil {
		return nil, fmt.Errorf("converting object: %w", err)
	}
	if p.oldObject, err = conv(in.OldObject); err != nil {
		return nil, fmt.Errorf("converting oldObject: %w", err)
	}
	if p.userInfo, err = conv(in.UserInfo); err != nil {
		return nil, fmt.Errorf("converting userInfo: %w", err)
	}
	p.operation = ast.StringTerm(in.Operation)
	subject := in.Object
	if subject == nil {
		subject = in.OldObject
	}
	p.prefixKind, p.prefixRef = describe(subject)
	return &p, nil
}

func describe(obj map[string]any) (kind, ref string) {
	kind, _ = obj["kind"].(string)
	if kind == "" {
		kind = "Object"
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		name, _ = meta["generateName"].(string)
	}
	if ns, _ := meta["namespace"].(string); ns != "" {
		return kind, ns + "/" + name
	}
	return kind, name
}

func (p *PreparedInput) value(params *ast.Term) ast.Value {
	return ast.NewObject(
		[2]*ast.Term{ast.StringTerm("object"), p.object},
		[2]*ast.Term{ast.StringTerm("oldObject"), p.oldObject},
		[2]*ast.Term{ast.StringTerm("operation"), p.operation},
		[2]*ast.Term{ast.StringTerm("userInfo"), p.userInfo},
		[2]*ast.Term{ast.StringTerm("parameters"), params},
	)
}

// Evaluate judges one request. It returns the violations found, sorted by
// message; evaluation stops with an error when ctx is done.
func (g *Guardrail) Evaluate(ctx context.Context, in Input) ([]Violation, error) {
	p, err := Prepare(in)
	if err != nil {
		return nil, fmt.Errorf("guardrail %q: %w", g.name, err)
	}
	return g.EvaluatePrepared(ctx, p)
}

// EvaluatePrepared judges a request prepared with Prepare, like Evaluate.
func (g *Guardrail) EvaluatePrepared(ctx context.Context, p *PreparedInput) ([]Violation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("guardrail %q: %w", g.name, err)
	}
	rs, err := g.pq.Eval(ctx, rego.EvalParsedInput(p.value(g.params)))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("guardrail %q: %w: %v", g.name, cerr, err)
		}
		return nil, fmt.Errorf("guardrail %q: %w", g.name, err)
	}
	var out []Violation
	prefix := fmt.Sprintf("[%s] %s %s: ", g.name, p.prefixKind, p.prefixRef)
	for _, r := range rs {
		for _, e := range r.Expressions {
			items, ok := e.Value.([]any)
			if !ok {
				return nil, fmt.Errorf("guardrail %q: %s is %T, want a set", g.name, g.query, e.Value)
			}
			for _, it := range items {
				v := Violation{Guardrail: g.name}
				switch x := it.(type) {
				case map[string]any:
					msg, _ := x["msg"].(string)
					v.Field, _ = x["field"].(string)
					if msg == "" {
						msg = fmt.Sprint(x)
					}
					v.Message = prefix + msg
				case string:
					v.Message = prefix + x
				default:
					v.Message = prefix + fmt.Sprint(x)
				}
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out, nil
}
