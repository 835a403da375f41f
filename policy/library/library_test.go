package library

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/stratus-operator/stratus/policy/engine"
)

func TestAtLeastTwelveGuardrails(t *testing.T) {
	if n := len(All()); n < 12 {
		t.Fatalf("library has %d guardrails, want at least 12", n)
	}
}

func TestEveryEntryIsComplete(t *testing.T) {
	for _, e := range All() {
		t.Run(e.Name, func(t *testing.T) {
			if strings.TrimSpace(e.Module) == "" {
				t.Error("empty module")
			}
			if !strings.HasPrefix(e.Doc, "# "+e.Name+"\n") {
				t.Errorf("README.md must start with '# %s'", e.Name)
			}
			for _, want := range []string{"Applies to:", "Parameters", "Example violation", "[" + e.Name + "] "} {
				if !strings.Contains(e.Doc, want) {
					t.Errorf("README.md lacks %q", want)
				}
			}
			if _, err := fs.Stat(files, path.Join(e.Name, e.Name+"_test.rego")); err != nil {
				t.Errorf("missing %s_test.rego: %v", e.Name, err)
			}
			if _, err := engine.Compile(e.Name, e.Module, nil); err != nil {
				t.Errorf("engine.Compile: %v", err)
			}
		})
	}
}

// TestControlsMatchTheReadme checks that each README lists under
// "Controls:" the controls of the module's METADATA, or says there are none.
func TestControlsMatchTheReadme(t *testing.T) {
	mapped := 0
	for _, e := range All() {
		t.Run(e.Name, func(t *testing.T) {
			i := strings.Index(e.Doc, "\nControls:")
			if i < 0 {
				t.Fatal("README.md lacks a Controls: section")
			}
			section := e.Doc[i+len("\nControls:"):]
			section = section[:strings.Index(section, "\nApplies to:")]
			if len(e.Controls) == 0 {
				if !strings.HasPrefix(section, " none") {
					t.Errorf("the module maps no control, and the README does not say none: %q", section)
				}
				return
			}
			mapped++
			// The list items, each joined from its wrapped lines.
			var items []string
			for _, line := range strings.Split(section, "\n") {
				switch {
				case strings.HasPrefix(line, "- "):
					items = append(items, line[2:])
				case strings.HasPrefix(line, "  ") && len(items) > 0:
					items[len(items)-1] += " " + strings.TrimSpace(line)
				}
			}
			if !slices.Equal(items, e.Controls) {
				t.Errorf("README.md lists\n%q\nthe module's METADATA\n%q", items, e.Controls)
			}
		})
	}
	if mapped < 6 {
		t.Errorf("%d guardrails map a control, want the security ones at least", mapped)
	}
}

// TestRegoUnitTests runs each guardrail's _test.rego with OPA's test runner
// and fails on any failing, erroring or missing test. Every guardrail must
// have at least one test_allow_* and one test_deny_* test.
func TestRegoUnitTests(t *testing.T) {
	for _, e := range All() {
		t.Run(e.Name, func(t *testing.T) {
			testFile := path.Join(e.Name, e.Name+"_test.rego")
			src, err := fs.ReadFile(files, testFile)
			if err != nil {
				t.Fatalf("missing tests: %v", err)
			}
			modules := map[string]*ast.Module{}
			for file, text := range map[string]string{path.Join(e.Name, e.Name+".rego"): e.Module, testFile: string(src)} {
				m, err := ast.ParseModuleWithOpts(file, text, ast.ParserOptions{RegoVersion: ast.RegoV1})
				if err != nil {
					t.Fatalf("parse %s: %v", file, err)
				}
				modules[file] = m
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ch, err := tester.NewRunner().
				SetDefaultRegoVersion(ast.RegoV1).
				SetCompiler(ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1).WithEnablePrintStatements(true)).
				RaiseBuiltinErrors(true).
				SetTimeout(30*time.Second).
				Run(ctx, modules)
			if err != nil {
				t.Fatalf("running tests: %v", err)
			}
			var allow, deny int
			for r := range ch {
				switch {
				case r.Error != nil:
					t.Errorf("%s: error: %v", r.Name, r.Error)
				case r.Skip:
					t.Errorf("%s: skipped", r.Name)
				case r.Fail:
					t.Errorf("%s: FAIL %s", r.Name, r.String())
				}
				if r.Location != nil && !strings.HasSuffix(r.Location.File, "_test.rego") {
					t.Errorf("%s: test rule outside the _test.rego file (%s)", r.Name, r.Location.File)
				}
				switch {
				case strings.HasPrefix(r.Name, "test_allow"):
					allow++
				case strings.HasPrefix(r.Name, "test_deny"):
					deny++
				}
			}
			if allow == 0 || deny == 0 {
				t.Errorf("want test_allow_* and test_deny_* tests, got %d allow and %d deny", allow, deny)
			}
		})
	}
}

// TestThroughEngine checks the engine-formatted message of a library guardrail.
func TestThroughEngine(t *testing.T) {
	e, ok := Get("allowed-regions")
	if !ok {
		t.Fatal("allowed-regions missing")
	}
	g, err := engine.Compile(e.Name, e.Module, map[string]any{"regions": []any{"eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := g.Evaluate(context.Background(), engine.Input{
		Operation: "CREATE",
		Object: map[string]any{
			"kind":     "Database",
			"metadata": map[string]any{"name": "orders", "namespace": "shop"},
			"spec":     map[string]any{"region": "us-east-1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[allowed-regions] Database shop/orders: spec.region is not an allowed region (got us-east-1, allowed ["eu-west-1"])`
	if len(vs) != 1 || vs[0].Message != want || vs[0].Field != "spec.region" {
		t.Fatalf("got %+v\nwant %s", vs, want)
	}
}
