package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const publicModule = `package test.public

violation contains {"msg": msg, "field": "spec.publicAccess"} if {
	input.object.kind == "Bucket"
	input.object.spec.publicAccess == "Allowed"
	msg := sprintf("spec.publicAccess must be Blocked (got %v, allowed Blocked)", [input.object.spec.publicAccess])
}
`

const regionModule = `package test.regions

violation contains {"msg": msg, "field": "spec.region"} if {
	region := input.object.spec.region
	not region in input.parameters.regions
	msg := sprintf("spec.region is not allowed (got %v, allowed %v)", [region, input.parameters.regions])
}
`

func bucket(public string) map[string]any {
	return map[string]any{
		"apiVersion": "storage.stratus.dev/v1alpha1",
		"kind":       "Bucket",
		"metadata":   map[string]any{"name": "logs", "namespace": "team-a"},
		"spec":       map[string]any{"region": "eu-west-1", "publicAccess": public},
	}
}

func mustCompile(t testing.TB, name, module string, params map[string]any) *Guardrail {
	t.Helper()
	g, err := Compile(name, module, params)
	if err != nil {
		t.Fatalf("Compile(%s): %v", name, err)
	}
	return g
}

func TestCompileErrorHasPosition(t *testing.T) {
	module := "package bad\n\nviolation contains msg if {\n\tmsg := )\n}\n"
	_, err := Compile("bad", module, nil)
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("want *CompileError, got %T %v", err, err)
	}
	if len(ce.Errors) == 0 || ce.Errors[0].Line != 4 || ce.Errors[0].Column == 0 {
		t.Fatalf("want line and column, got %+v", ce.Errors)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("bad.rego:%d:%d:", ce.Errors[0].Line, ce.Errors[0].Column)) {
		t.Fatalf("message lacks position: %v", err)
	}

	// A compile (not parse) error: unsafe variable, on line 4.
	module = "package bad\n\nviolation contains {\"msg\": \"x\"} if {\n\tx == 1\n}\n"
	_, err = Compile("unsafe", module, nil)
	if !errors.As(err, &ce) || ce.Errors[0].Line != 4 || ce.Errors[0].Column == 0 {
		t.Fatalf("want compile error at line 4, got %v", err)
	}

	// Rego v0 syntax is rejected.
	if _, err := Compile("v0", "package v0\n\nviolation[msg] { msg := \"x\" }\n", nil); err == nil {
		t.Fatal("v0 module compiled")
	}
	// A module without a violation rule is rejected.
	if _, err := Compile("none", "package none\n\nallow := true\n", nil); err == nil {
		t.Fatal("module without violation compiled")
	}
}

func TestViolationMessageFormat(t *testing.T) {
	g := mustCompile(t, "buckets-not-public", publicModule, nil)
	if g.Query() != "data.test.public.violation" {
		t.Fatalf("query = %q", g.Query())
	}
	vs, err := g.Evaluate(context.Background(), Input{Object: bucket("Allowed"), Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	want := "[buckets-not-public] Bucket team-a/logs: spec.publicAccess must be Blocked (got Allowed, allowed Blocked)"
	if len(vs) != 1 || vs[0].Message != want || vs[0].Field != "spec.publicAccess" || vs[0].Guardrail != "buckets-not-public" {
		t.Fatalf("got %+v\nwant %q", vs, want)
	}
	vs, err = g.Evaluate(context.Background(), Input{Object: bucket("Blocked"), Operation: "CREATE"})
	if err != nil || len(vs) != 0 {
		t.Fatalf("allowed bucket: %+v %v", vs, err)
	}
	// DELETE: the old object names the resource.
	vs, err = g.Evaluate(context.Background(), Input{OldObject: bucket("Allowed"), Operation: "DELETE"})
	if err != nil || len(vs) != 0 {
		t.Fatalf("delete: %+v %v", vs, err)
	}
}

func TestParameters(t *testing.T) {
	eu := mustCompile(t, "allowed-regions", regionModule, map[string]any{"regions": []any{"eu-west-1"}})
	us := mustCompile(t, "allowed-regions", regionModule, map[string]any{"regions": []string{"us-east-1"}})
	in := Input{Object: bucket("Blocked"), Operation: "CREATE"}
	if vs, err := eu.Evaluate(context.Background(), in); err != nil || len(vs) != 0 {
		t.Fatalf("eu: %+v %v", vs, err)
	}
	vs, err := us.Evaluate(context.Background(), in)
	if err != nil || len(vs) != 1 {
		t.Fatalf("us: %+v %v", vs, err)
	}
	if !strings.Contains(vs[0].Message, `(got eu-west-1, allowed ["us-east-1"])`) {
		t.Fatalf("message = %q", vs[0].Message)
	}
	// nil parameters are an empty object.
	echo := mustCompile(t, "echo", `package echo

violation contains {"msg": sprintf("%v", [input.parameters])} if true
`, nil)
	vs, err = echo.Evaluate(context.Background(), in)
	if err != nil || len(vs) != 1 || !strings.HasSuffix(vs[0].Message, ": {}") {
		t.Fatalf("echo: %+v %v", vs, err)
	}
}

func TestSetEvaluate(t *testing.T) {
	s, err := NewSet(
		mustCompile(t, "buckets-not-public", publicModule, nil),
		mustCompile(t, "allowed-regions", regionModule, map[string]any{"regions": []any{"us-east-1"}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := s.Evaluate(context.Background(), []string{"buckets-not-public", "allowed-regions"}, Input{Object: bucket("Allowed")})
	if err != nil || len(vs) != 2 || vs[0].Guardrail != "buckets-not-public" || vs[1].Guardrail != "allowed-regions" {
		t.Fatalf("%+v %v", vs, err)
	}
	if _, err := s.Evaluate(context.Background(), []string{"nope"}, Input{Object: bucket("Allowed")}); err == nil {
		t.Fatal("unknown guardrail accepted")
	}
	g := mustCompile(t, "x", publicModule, nil)
	if err := s.Replace(g, g); err == nil {
		t.Fatal("duplicate accepted")
	}
	if got := s.Names(); len(got) != 2 {
		t.Fatalf("failed Replace changed the set: %v", got)
	}
	var zero Set
	if vs, err := zero.Evaluate(context.Background(), nil, Input{}); err != nil || len(vs) != 0 {
		t.Fatalf("zero set: %v %v", vs, err)
	}
}

func TestConcurrentEvaluateAndReplace(t *testing.T) {
	public := mustCompile(t, "g", publicModule, nil)
	regions := mustCompile(t, "g", regionModule, map[string]any{"regions": []any{"us-east-1"}})
	s, err := NewSet(public)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := Input{Object: bucket("Allowed"), Operation: "CREATE"}
			for ctx.Err() == nil {
				vs, err := s.Evaluate(context.Background(), []string{"g"}, in)
				if err != nil {
					errc <- err
					return
				}
				// Either revision yields exactly one violation, never a mix.
				if len(vs) != 1 {
					errc <- fmt.Errorf("got %d violations", len(vs))
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			g := public
			if i%2 == 1 {
				g = regions
			}
			if err := s.Replace(g); err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func TestDeadlineRespected(t *testing.T) {
	// Without limits: the caller's deadline alone stops it.
	slow, err := Compile("slow", `package slow

violation contains {"msg": "slow"} if {
	count([x | some x in numbers.range(1, 100000000); x % 7 == 3]) > 0
}
`, nil, WithLimits(Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = slow.Evaluate(ctx, Input{Object: bucket("Blocked")})
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("evaluation ran %v past a 100ms deadline", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	// An already expired context is refused before evaluating.
	_, err = slow.Evaluate(ctx, Input{Object: bucket("Blocked")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	g := mustCompile(b, "buckets-not-public", publicModule, nil)
	in := Input{Object: bucket("Allowed"), Operation: "CREATE"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateWithoutLimits is BenchmarkEvaluate without limits, so
// without the worker and the watchdog, to see what they cost.
func BenchmarkEvaluateWithoutLimits(b *testing.B) {
	g, err := Compile("buckets-not-public", publicModule, nil, WithLimits(Limits{}))
	if err != nil {
		b.Fatal(err)
	}
	in := Input{Object: bucket("Allowed"), Operation: "CREATE"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
