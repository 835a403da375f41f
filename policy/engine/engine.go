package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// Namespace is the object's Namespace, {"metadata": {"name": ...,
	// "labels": {...}}}; nil for a cluster-scoped object or when it is
	// not known (stratus policy test).
	Namespace map[string]any
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

// Guardrail is one compiled and prepared policy. It is immutable, but for
// its quarantine, and safe for concurrent use.
type Guardrail struct {
	name   string
	query  string
	params *ast.Term
	pq     rego.PreparedEvalQuery
	limits Limits
	// compiler is what the module compiled to, for the tests.
	compiler *ast.Compiler
	// quarantined is set when an evaluation did not stop at its time
	// limit: it is not evaluated again.
	quarantined atomic.Bool
}

// Option changes how a guardrail is compiled.
type Option func(*compileOptions)

type compileOptions struct {
	limits  Limits
	timeout time.Duration
}

// WithLimits sets the limits of each evaluation; DefaultLimits otherwise.
func WithLimits(l Limits) Option {
	return func(o *compileOptions) { o.limits = l }
}

// WithCompileTimeout bounds the compilation; DefaultCompileTimeout
// otherwise, 0 for none.
func WithCompileTimeout(d time.Duration) Option {
	return func(o *compileOptions) { o.timeout = d }
}

// DefaultCompileTimeout bounds a compilation: the library's guardrails
// compile in about a millisecond, and OPA's type checker, which cannot be
// interrupted, takes exponential time on rules whose values nest into each
// other.
const DefaultCompileTimeout = 5 * time.Second

// Name returns the guardrail's name.
func (g *Guardrail) Name() string { return g.name }

// Query returns the query the guardrail evaluates, data.<package>.violation.
func (g *Guardrail) Query() string { return g.query }

// Compile parses and compiles module (Rego v1) once and prepares the query
// data.<package>.violation with params fixed as input.parameters. A parse or
// compile error, or a forbidden built-in function (see Capabilities), is
// returned as a *CompileError carrying line and column.
//
// A compilation that takes longer than its timeout is abandoned with a
// *CompileError; it goes on in the background, once for each distinct
// module, since OPA's compiler cannot be interrupted.
func Compile(name, module string, params map[string]any, opts ...Option) (*Guardrail, error) {
	if name == "" {
		return nil, errors.New("guardrail name must not be empty")
	}
	o := compileOptions{limits: DefaultLimits, timeout: DefaultCompileTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if params == nil {
		params = map[string]any{}
	}
	pv, err := ast.InterfaceToValue(params)
	if err != nil {
		return nil, fmt.Errorf("guardrail %q: parameters: %w", name, err)
	}
	if o.timeout <= 0 {
		g, err := compile(name, module)
		return g.with(pv, o.limits), err
	}
	c := compilations.start(name, module)
	timer := time.NewTimer(o.timeout)
	defer timer.Stop()
	select {
	case <-c.done:
		return c.g.with(pv, o.limits), c.err
	case <-timer.C:
		return nil, &CompileError{Guardrail: name, Errors: []PositionError{{
			Line: 1, Column: 1, Code: "guardrail_compile_timeout",
			Message: fmt.Sprintf("the module did not compile within %s (do values of rules nest into each other, doubling at each level?)", o.timeout),
		}}}
	}
}

// with returns a copy of the compiled g with its parameters and limits.
func (g *Guardrail) with(params ast.Value, l Limits) *Guardrail {
	if g == nil {
		return nil
	}
	return &Guardrail{name: g.name, query: g.query, params: ast.NewTerm(params), pq: g.pq, limits: l, compiler: g.compiler}
}

// compile parses, checks, compiles and prepares a module.
func compile(name, module string) (*Guardrail, error) {
	caps := Capabilities()
	filename := name + ".rego"
	mod, err := ast.ParseModuleWithOpts(filename, module, ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: caps})
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
	if errs := sandboxErrors(mod); len(errs) > 0 {
		return nil, &CompileError{Guardrail: name, Errors: errs}
	}
	compiler := ast.NewCompiler().
		WithDefaultRegoVersion(ast.RegoV1).
		WithCapabilities(caps).
		// Schemas in annotations would be loaded, $ref and all.
		WithUseTypeCheckAnnotations(false)
	compiler.Compile(map[string]*ast.Module{filename: mod})
	if compiler.Failed() {
		return nil, toCompileError(name, compiler.Errors)
	}
	query := mod.Package.Path.String() + ".violation"
	pq, err := rego.New(
		rego.Query(query),
		rego.Compiler(compiler),
		rego.Capabilities(caps),
		rego.SetRegoVersion(ast.RegoV1),
		rego.GenerateJSON(readViolations),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, toCompileError(name, err)
	}
	return &Guardrail{name: name, query: query, pq: pq, compiler: compiler}, nil
}

// compilations are the compilations under way, by guardrail name and
// module: a module that takes too long is compiled once, however often it
// is applied.
var compilations = &inflight{calls: map[string]*compilation{}}

type inflight struct {
	mu    sync.Mutex
	calls map[string]*compilation
}

type compilation struct {
	done chan struct{}
	g    *Guardrail
	err  error
}

func (f *inflight) start(name, module string) *compilation {
	key := name + "\x00" + module
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.calls[key]; ok {
		return c
	}
	c := &compilation{done: make(chan struct{})}
	f.calls[key] = c
	go func() {
		c.g, c.err = compile(name, module)
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		close(c.done)
	}()
	return c
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
	object, oldObject, operation, userInfo, namespace *ast.Term
	prefixKind, prefixRef                             string
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
	if p.namespace, err = conv(in.Namespace); err != nil {
		return nil, fmt.Errorf("converting namespace: %w", err)
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
		[2]*ast.Term{ast.StringTerm("namespace"), p.namespace},
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
// An evaluation that exceeds the guardrail's limits, or calls a forbidden
// built-in function, stops with a *LimitError.
func (g *Guardrail) EvaluatePrepared(ctx context.Context, p *PreparedInput) ([]Violation, error) {
	vs, _, err := g.evaluate(ctx, p)
	return vs, err
}

// watchdogGrace is how long past its time limit, or past the caller's
// deadline, an evaluation may take to reach its next step before it is
// abandoned and its guardrail quarantined.
const watchdogGrace = 250 * time.Millisecond

// evaluate is EvaluatePrepared, also returning what the evaluation spent.
//
// The budget stops an evaluation between two steps. A single step that
// runs long (comparing two huge values that share their parts) is not
// interrupted: the evaluation runs on its own goroutine, and when it is not
// back by its time limit and a grace, the caller gets a *LimitError and the
// guardrail is quarantined, so that no more goroutines get stuck in it.
func (g *Guardrail) evaluate(ctx context.Context, p *PreparedInput) ([]Violation, *budget, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("guardrail %q: %w", g.name, err)
	}
	if g.quarantined.Load() {
		return nil, nil, g.quarantine()
	}
	b := newBudget(ctx, g.name, g.limits)
	eval := func() (rego.ResultSet, error) {
		return g.pq.Eval(withBudget(ctx, b), rego.EvalParsedInput(p.value(g.params)), rego.EvalExternalCancel(b))
	}
	var (
		rs  rego.ResultSet
		err error
	)
	if g.limits.Timeout <= 0 && ctx.Done() == nil {
		rs, err = eval()
	} else {
		type result struct {
			rs  rego.ResultSet
			err error
		}
		done := make(chan result, 1)
		workers.run(func() {
			rs, err := eval()
			done <- result{rs, err}
		})
		var expire <-chan time.Time
		if g.limits.Timeout > 0 {
			t := time.NewTimer(g.limits.Timeout + watchdogGrace)
			defer t.Stop()
			expire = t.C
		}
		select {
		case r := <-done:
			rs, err = r.rs, r.err
		case <-expire:
			g.quarantined.Store(true)
			return nil, b, g.quarantine()
		case <-ctx.Done():
			t := time.NewTimer(watchdogGrace)
			defer t.Stop()
			select {
			case r := <-done:
				rs, err = r.rs, r.err
			case <-t.C:
				g.quarantined.Store(true)
				return nil, b, fmt.Errorf("guardrail %q: %w (%w)", g.name, ctx.Err(), g.quarantine())
			}
		}
	}
	if lerr := b.exceeded(); lerr != nil {
		return nil, b, lerr
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, b, fmt.Errorf("guardrail %q: %w: %v", g.name, cerr, err)
		}
		return nil, b, fmt.Errorf("guardrail %q: %w", g.name, err)
	}
	var out []Violation
	prefix := fmt.Sprintf("[%s] %s %s: ", g.name, p.prefixKind, p.prefixRef)
	for _, r := range rs {
		for _, e := range r.Expressions {
			read, ok := e.Value.(violations)
			if !ok {
				return nil, b, fmt.Errorf("guardrail %q: %s is %v, want a set", g.name, g.query, e.Value)
			}
			if read.err != "" {
				return nil, b, fmt.Errorf("guardrail %q: %s %s", g.name, g.query, read.err)
			}
			for _, v := range read.items {
				v.Guardrail = g.name
				v.Message = prefix + v.Message
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message < out[j].Message })
	return out, b, nil
}

// workers run evaluations for their callers, who wait with a watchdog. A
// worker is kept for the next evaluation rather than started for each: a
// new goroutine grows its stack to OPA's depth every time, and costs more
// than the evaluation of a small policy.
var workers = &pool{jobs: make(chan func())}

// pool is a set of goroutines that run functions, as many as run at once;
// one idle for a minute exits.
type pool struct {
	jobs chan func()
}

// run runs f on an idle worker, or on a new one when none is idle.
func (p *pool) run(f func()) {
	select {
	case p.jobs <- f:
	default:
		go p.work(f)
	}
}

func (p *pool) work(f func()) {
	idle := time.NewTimer(time.Minute)
	defer idle.Stop()
	for {
		f()
		idle.Reset(time.Minute)
		select {
		case f = <-p.jobs:
		case <-idle.C:
			return
		}
	}
}

func (g *Guardrail) quarantine() *LimitError {
	return &LimitError{Guardrail: g.name, Limit: LimitTime, Message: fmt.Sprintf(
		"is quarantined: an evaluation did not stop at its time limit of %s (a single step ran past it, comparing, copying or computing a value too large); "+
			"it is not evaluated again until the Guardrail changes", g.limits.Timeout)}
}

// The bounds of what one evaluation reports.
const (
	// MaxViolations is how many violations of one object one guardrail
	// reports; the rest are counted in one more.
	MaxViolations = 100
	// MaxMessageBytes is how long a violation's message may be.
	MaxMessageBytes = 4096
)

// violations are the elements of a violation set, read straight from the
// evaluation's result: OPA would convert the whole set to Go values first,
// however large the policy made them.
type violations struct {
	items []Violation
	err   string
}

// readViolations reads the result of data.<package>.violation.
func readViolations(t *ast.Term, _ *rego.EvalContext) (any, error) {
	set, ok := t.Value.(ast.Set)
	if !ok {
		return violations{err: fmt.Sprintf("is %s, want a set", ast.ValueName(t.Value))}, nil
	}
	var out violations
	sorted := set.Sorted()
	for i := range sorted.Len() {
		e := sorted.Elem(i)
		if i == MaxViolations {
			out.items = append(out.items, Violation{Message: fmt.Sprintf("and %d more violations", set.Len()-MaxViolations)})
			break
		}
		var v Violation
		switch x := e.Value.(type) {
		case ast.String:
			v.Message = string(x)
		case ast.Object:
			if m := x.Get(ast.InternedTerm("msg")); m != nil && isNonEmptyString(m) {
				v.Message = string(m.Value.(ast.String))
			} else {
				v.Message = text(e)
			}
			if f := x.Get(ast.InternedTerm("field")); f != nil {
				if fs, ok := f.Value.(ast.String); ok {
					v.Field = truncateString(string(fs), 256)
				}
			}
		default:
			v.Message = text(e)
		}
		v.Message = truncateString(v.Message, MaxMessageBytes)
		out.items = append(out.items, v)
	}
	return out, nil
}

func isNonEmptyString(t *ast.Term) bool {
	s, ok := t.Value.(ast.String)
	return ok && s != ""
}

// text prints a value in Rego's syntax, unless it is too large to.
func text(t *ast.Term) string {
	if s := sizeOf(t, MaxMessageBytes); s.bytes() > MaxMessageBytes {
		return fmt.Sprintf("<%s too large to print>", ast.ValueName(t.Value))
	}
	return t.String()
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
