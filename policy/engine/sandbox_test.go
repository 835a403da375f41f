package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// allowedNondeterministic are the built-in functions OPA marks
// nondeterministic that guardrails may call, and why they are safe.
var allowedNondeterministic = map[string]string{
	"time.now_ns":            "reads the clock",
	"rand.intn":              "reads randomness",
	"uuid.rfc4122":           "reads randomness",
	"io.jwt.decode_verify":   "checks a token against keys given as arguments, and the clock",
	"io.jwt.encode_sign":     "signs with a key given as an argument, with randomness",
	"io.jwt.encode_sign_raw": "signs with a key given as an argument, with randomness",
}

// TestEveryNondeterministicBuiltinIsDecided fails when OPA gains a built-in
// function that reaches outside the evaluation (OPA marks them
// nondeterministic) that no one has decided on yet.
func TestEveryNondeterministicBuiltinIsDecided(t *testing.T) {
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if !b.Nondeterministic {
			continue
		}
		_, no := forbidden[b.Name]
		_, yes := allowedNondeterministic[b.Name]
		if no == yes {
			t.Errorf("%s is nondeterministic: decide whether guardrails may call it (forbidden in sandbox.go, or allowedNondeterministic here)", b.Name)
		}
	}
	for name := range forbidden {
		if ast.BuiltinMap[name] == nil {
			t.Errorf("forbidden %s is not a built-in function of this OPA", name)
		}
	}
}

func TestCapabilitiesLackForbiddenBuiltins(t *testing.T) {
	caps := Capabilities()
	if caps.AllowNet == nil || len(caps.AllowNet) != 0 {
		t.Errorf("allow_net = %#v, want empty (nil allows every host)", caps.AllowNet)
	}
	names := map[string]bool{}
	for _, b := range caps.Builtins {
		names[b.Name] = true
	}
	for name := range forbidden {
		if names[name] {
			t.Errorf("the capabilities keep %s", name)
		}
	}
	for _, name := range []string{"sprintf", "time.now_ns", "net.cidr_expand", "regex.match", "object.get"} {
		if !names[name] {
			t.Errorf("the capabilities lack %s", name)
		}
	}
	if len(Forbidden()) != len(forbidden) || Forbidden()[0][0] > Forbidden()[1][0] {
		t.Errorf("Forbidden() = %v, want every forbidden function, sorted", Forbidden())
	}
}

// spellings are ways to write a call of the forbidden function name, each a
// module with the function at line 4 (column given, the tab is 1), that the sandbox must
// refuse. %[1]s is the function, %[2]s its arguments.
var spellings = []struct {
	name   string
	module string
	column int
}{
	{"call", "x := %[1]s(%[2]s)", 7},
	{"call in the condition", "%[1]s(%[2]s)", 2},
	{"output argument", "%[1]s(%[2]s, out)\n\tout != null", 2},
	{"brackets", "x := %[3]s(%[2]s)", 7},
	{"escaped brackets", "x := %[4]s(%[2]s)", 7},
	{"with replacing a built-in", "x := count([1]) with count as %[1]s", 32},
	{"with replacing a function", "x := f(1) with f as %[1]s", 22},
	{"with mocking it", "x := 1 with %[1]s as f", 14},
	{"as a value", "x := %[1]s", 7},
	{"in a comprehension", "x := [y | some i in [1]; y := %[1]s(%[2]s)]", 32},
	{"in a template string", "x := $\"{%[1]s(%[2]s)}\"", 10},
	{"in every", "every i in [1] { %[1]s(%[2]s) }", 19},
	{"in a not", "not %[1]s(%[2]s)", 6},
	{"nested in another call", "x := count([%[1]s(%[2]s)])", 14},
	{"in an object value", "x := {\"k\": %[1]s(%[2]s)}", 13},
	{"inside walk", "walk(%[1]s(%[2]s), [p, v])", 7},
	{"in an array of functions", "some f in [%[1]s]", 13},
	{"after an import of that name", "import data.x as %[5]s\n\tx := %[1]s(%[2]s)", 7},
	{"with a local of that name", "x := %[1]s(%[2]s); %[5]s := {}", 7},
}

// args are arguments that type-check for each forbidden function; url is
// where a request would go.
func args(name, url string) string {
	switch name {
	case "http.send":
		return fmt.Sprintf(`{"method": "GET", "url": %q}`, url)
	case "net.lookup_ip_addr":
		return `"example.com"`
	case "opa.runtime":
		return ""
	case "json.match_schema":
		return fmt.Sprintf(`{}, {"$ref": %q}`, url)
	case "json.verify_schema":
		return fmt.Sprintf(`{"$ref": %q}`, url)
	case "strings.render_template":
		return `"{{.x}}", {"x": 1}`
	case "graph.reachable_paths":
		return `{"a": ["b"]}, {"a"}`
	}
	return ""
}

// bracketed spells name with brackets: http["send"]; escaped adds a
// unicode escape: http["s\u0065nd"].
func bracketed(name string, escape bool) string {
	i := strings.LastIndexByte(name, '.')
	last := name[i+1:]
	if escape {
		last = fmt.Sprintf(`\u%04x%s`, last[0], last[1:])
	}
	return fmt.Sprintf("%s[%q]", name[:i], last)
}

func spelled(name, url string, spelling string) string {
	root := name[:strings.IndexByte(name, '.')]
	body := fmt.Sprintf(spelling, name, args(name, url), bracketed(name, false), strings.ReplaceAll(bracketed(name, true), `\\u`, `\u`), root)
	body = strings.ReplaceAll(body, "(, ", "(")
	header := ""
	if imp, rest, ok := strings.Cut(body, "\n\t"); ok && strings.HasPrefix(imp, "import ") {
		// An import goes before the rules; the function stays on line 4.
		header, body = imp+"\n", rest
		return "package t\n" + header + "violation contains {\"msg\": \"x\"} if {\n\t" + body + "\n}\n\nf(x) := x\n"
	}
	return "package t\n\nviolation contains {\"msg\": \"x\"} if {\n\t" + body + "\n}\n\nf(x) := x\n"
}

// TestSandboxRefusesEverySpelling compiles each spelling of each forbidden
// function and wants it refused with its name, line and column.
func TestSandboxRefusesEverySpelling(t *testing.T) {
	for _, fb := range Forbidden() {
		name := fb[0]
		for _, sp := range spellings {
			t.Run(name+"/"+sp.name, func(t *testing.T) {
				module := spelled(name, "http://127.0.0.1:1/x", sp.module)
				_, err := Compile("t", module, nil)
				var ce *CompileError
				if !errors.As(err, &ce) {
					t.Fatalf("Compile of\n%s\n= %v, want a *CompileError", module, err)
				}
				pe := ce.Errors[0]
				if pe.Code != CodeSandbox || !strings.HasPrefix(pe.Message, name+" is not allowed in a guardrail: ") {
					t.Fatalf("Compile of\n%s\nerror %+v, want %s naming %s", module, ce.Errors, CodeSandbox, name)
				}
				if pe.Line != 4 || pe.Column != sp.column {
					t.Errorf("Compile of\n%s\nerror at %d:%d, want 4:%d", module, pe.Line, pe.Column, sp.column)
				}
			})
		}
	}
}

// TestSandboxAllowsLookalikes checks names that only look like forbidden
// ones are not refused.
func TestSandboxAllowsLookalikes(t *testing.T) {
	for _, body := range []string{
		`x := "http.send"`,
		`x := input.http.send`,
		`x := data.http.send`,
		`x := {"opa": {"runtime": 1}}; x.opa.runtime == 1`,
		`x := net.cidr_expand("10.0.0.0/30")`,
		`x := json.marshal({"http.send": 1})`,
	} {
		module := "package t\n\nviolation contains {\"msg\": \"x\"} if {\n\t" + body + "\n}\n"
		if _, err := Compile("t", module, nil); err != nil {
			t.Errorf("Compile of\n%s\n= %v", module, err)
		}
	}
}

// TestSandboxAtRunTime checks the last line: a forbidden function that
// reaches an evaluation (it cannot through Compile) stops it.
func TestSandboxAtRunTime(t *testing.T) {
	before := forbiddenCalls.Load()
	b := newBudget(context.Background(), "t", DefaultLimits)
	f := guard("opa.runtime", func(topdown.BuiltinContext, []*ast.Term, func(*ast.Term) error) error {
		t.Fatal("opa.runtime ran")
		return nil
	})
	err := f(topdown.BuiltinContext{Context: withBudget(context.Background(), b)}, nil, func(*ast.Term) error { return nil })
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitSandbox || !strings.Contains(le.Error(), "called opa.runtime") {
		t.Fatalf("guard = %v, want a sandbox LimitError", err)
	}
	if forbiddenCalls.Load() != before+1 {
		t.Errorf("forbiddenCalls went from %d to %d", before, forbiddenCalls.Load())
	}
	// Outside a guardrail's evaluation it is OPA's own.
	ran := false
	f = guard("opa.runtime", func(topdown.BuiltinContext, []*ast.Term, func(*ast.Term) error) error { ran = true; return nil })
	if err := f(topdown.BuiltinContext{Context: context.Background()}, nil, nil); err != nil || !ran {
		t.Errorf("guard outside a guardrail: ran %v, err %v", ran, err)
	}
}

// listener counts the requests and lookups that reach it.
type listener struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newListener(t testing.TB) *listener {
	l := &listener{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		l.hits.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// FuzzSandbox compiles modules that try to reach a forbidden function and
// evaluates those that compile. Whatever the module, no forbidden function
// may run and no request may reach the listener. The seeds are every
// spelling of every forbidden function; `go test` runs them as a test.
func FuzzSandbox(f *testing.F) {
	l := newListener(f)
	for _, fb := range Forbidden() {
		for _, sp := range spellings {
			f.Add(spelled(fb[0], l.srv.URL, sp.module))
		}
	}
	// Harmless modules, for the mutator to start from.
	f.Add("package t\n\nviolation contains {\"msg\": \"x\"} if {\n\tinput.object.spec.publicAccess == \"Allowed\"\n}\n")
	f.Add("package t\n\nimport data.http\n\nviolation contains {\"msg\": \"x\"} if {\n\thttp.send({})\n}\n")
	f.Add("package http\n\nsend(x) := x\n\nviolation contains {\"msg\": \"x\"} if {\n\tsend(1)\n}\n")
	f.Add("package t\n\n# METADATA\n# schemas:\n#   - input: {\"$ref\": \"" + l.srv.URL + "/schema\"}\nviolation contains {\"msg\": \"x\"} if {\n\tinput.x\n}\n")

	in := Input{Object: bucket("Allowed"), Operation: "CREATE"}
	f.Fuzz(func(t *testing.T, module string) {
		calls := forbiddenCalls.Load()
		g, err := Compile("fuzz", module, nil, WithLimits(Limits{Timeout: 100 * time.Millisecond, Steps: 10_000, Bytes: 1 << 20}))
		if err == nil {
			_, _ = g.Evaluate(context.Background(), in)
		}
		if n := forbiddenCalls.Load() - calls; n != 0 {
			t.Fatalf("module\n%s\ncompiled and called a forbidden function at run time", module)
		}
		if n := l.hits.Load(); n != 0 {
			t.Fatalf("module\n%s\nreached the listener (%d requests)", module, n)
		}
		if err != nil {
			return
		}
		// What compiled refers to no forbidden function, wherever the
		// evaluation goes.
		for _, mod := range g.compiler.Modules {
			ast.WalkRefs(mod, func(r ast.Ref) bool {
				for name, fr := range forbiddenRefs {
					if r.HasPrefix(fr) {
						t.Fatalf("module\n%s\ncompiled with a reference to %s: %v", module, name, r)
					}
				}
				return false
			})
		}
	})
}
