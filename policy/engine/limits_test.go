package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// chain is n rules r1..rn, each rule(i) of the one before, from r0 := zero.
func chain(zero string, n int, rule func(prev string) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "r0 := %s\n", zero)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "r%d := %s\n", i, rule(fmt.Sprintf("r%d", i-1)))
	}
	return b.String()
}

// TestLimitsStopRunawayGuardrails evaluates guardrails that loop or explode
// under the default limits: each must stop with the limit it exceeded,
// quickly and without taking much memory. It logs what each took.
func TestLimitsStopRunawayGuardrails(t *testing.T) {
	big := `s := concat("", [format_int(i, 10) | some i in numbers.range(1, 20000)])` + "\n"
	tests := []struct {
		name   string
		rules  string // extra rules
		cond   string // the violation's condition
		limits *Limits
		want   string
	}{
		{name: "huge comprehension", cond: `count([[i, j] | some i in numbers.range(1, 1000); some j in numbers.range(1, 1000)]) < 0`, want: LimitSteps},
		{name: "comprehension of a million strings", cond: `count({sprintf("%d", [i]) | some i in numbers.range(1, 1000000)}) < 0`, want: LimitMemory},
		{name: "strings doubling", rules: chain(`"0123456789abcdef"`, 40, func(p string) string { return fmt.Sprintf(`concat("", [%s, %s])`, p, p) }),
			cond: `count(r40) < 0`, want: LimitMemory},
		{name: "arrays doubling", rules: chain(`[1, 2, 3, 4]`, 40, func(p string) string { return fmt.Sprintf(`array.concat(%s, %s)`, p, p) }),
			cond: `count(r40) < 0`, want: LimitMemory},
		{name: "numbers squaring", rules: chain(`12345678901234567890`, 40, func(p string) string { return fmt.Sprintf(`%s * %s`, p, p) }),
			cond: `r40 < 0`, want: LimitMemory},
		{name: "shared structure printed", rules: chain(`"a"`, 40, func(p string) string { return fmt.Sprintf(`object.get({"k": [%s, %s]}, "k", null)`, p, p) }),
			cond: `count(json.marshal(r40)) < 0`, want: LimitMemory},
		{name: "shared structure formatted", rules: chain(`"a"`, 40, func(p string) string { return fmt.Sprintf(`object.get({"k": [%s, %s]}, "k", null)`, p, p) }),
			cond: `count(sprintf("%v", [r40])) < 0`, want: LimitMemory},
		{name: "sprintf width", cond: `count(sprintf("%0999999999d", [1])) < 0`, want: LimitMemory},
		{name: "sprintf width from an argument", cond: `count(sprintf("%*d", [999999999, 1])) < 0`, want: LimitMemory},
		{name: "sprintf precision", cond: `count(sprintf("%.999999999f", [1.5])) < 0`, want: LimitMemory},
		{name: "huge range", cond: `count(numbers.range(1, 1000000000)) < 0`, want: LimitMemory},
		{name: "huge range with a step", cond: `count(numbers.range_step(1, 1000000000, 2)) < 0`, want: LimitMemory},
		{name: "network expansion", cond: `count(net.cidr_expand("10.0.0.0/8")) < 0`, want: LimitMemory},
		{name: "replace into every gap", rules: big, cond: `count(strings.replace_n({"": concat("", [s, s])}, s)) < 0`, want: LimitMemory},
		{name: "replace every character", rules: big, cond: `count(replace(s, "1", s)) < 0`, want: LimitMemory},
		{name: "regex replacement", rules: big, cond: `count(regex.replace(s, "1", concat("", ["$0", s]))) < 0`, want: LimitMemory},
		{name: "concat of a repeated string", rules: big, cond: `count(concat("", [s | some i in numbers.range(1, 2000)])) < 0`, want: LimitMemory},
		{name: "shift", cond: `bits.lsh(1, 1000000000) < 0`, want: LimitMemory},
		{name: "time", cond: `count([[i, j] | some i in numbers.range(1, 3000); some j in numbers.range(1, 3000)]) < 0`,
			limits: &Limits{Timeout: 50 * time.Millisecond}, want: LimitTime},
	}
	in := Input{Object: bucket("Allowed"), Operation: "CREATE"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			module := "package t\n\n" + tt.rules + "\nviolation contains {\"msg\": \"x\"} if {\n\t" + tt.cond + "\n}\n"
			var opts []Option
			if tt.limits != nil {
				opts = append(opts, WithLimits(*tt.limits))
			}
			g, err := Compile("runaway", module, nil, opts...)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Prepare(in)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, b, err := g.evaluate(context.Background(), p)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			steps, bytes := b.spent()
			t.Logf("%s after %v, %d steps, %s returned by built-in functions, %s allocated: %v",
				tt.want, elapsed.Round(time.Millisecond), steps, bytesString(bytes), bytesString(int64(allocated)), err)

			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tt.want || le.Guardrail != "runaway" {
				t.Fatalf("evaluation error %v, want a %s LimitError", err, tt.want)
			}
			if elapsed > 2*time.Second {
				t.Errorf("the evaluation took %v", elapsed)
			}
			if allocated > 256<<20 {
				t.Errorf("the evaluation allocated %s", bytesString(int64(allocated)))
			}
		})
	}
}

// TestLimitsLeaveOrdinaryGuardrails checks that a guardrail doing real work
// on one object stays well within the default limits.
func TestLimitsLeaveOrdinaryGuardrails(t *testing.T) {
	module := `package t

violation contains {"msg": msg, "field": field} if {
	walk(input.object, [path, value])
	is_string(value)
	count(value) > 1000
	field := concat(".", [sprintf("%v", [x]) | some x in path])
	msg := sprintf("%s is too long (got %d characters, allowed 1000)", [field, count(value)])
}

violation contains {"msg": msg} if {
	some rule in object.get(input.object, ["spec", "lifecycle"], [])
	some other in object.get(input.object, ["spec", "lifecycle"], [])
	rule != other
	rule.prefix == other.prefix
	msg := sprintf("spec.lifecycle has two rules for %s (got 2, allowed 1)", [rule.prefix])
}
`
	g, err := Compile("ordinary", module, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := bucket("Allowed")
	var rules []any
	for i := range 30 {
		rules = append(rules, map[string]any{"prefix": fmt.Sprintf("p%d/", i), "expireDays": 30})
	}
	obj["spec"].(map[string]any)["lifecycle"] = rules
	obj["metadata"].(map[string]any)["annotations"] = map[string]any{"note": strings.Repeat("x", 2000)}
	p, err := Prepare(Input{Object: obj, Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	vs, b, err := g.evaluate(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	steps, bytes := b.spent()
	t.Logf("%d violations, %d steps, %s returned by built-in functions", len(vs), steps, bytesString(bytes))
	if len(vs) != 1 || steps > DefaultLimits.Steps/5 || bytes > DefaultLimits.Bytes/5 {
		t.Errorf("%d violations, %d steps, %d bytes: want 1 violation within a fifth of the limits", len(vs), steps, bytes)
	}
}

// TestQuarantine evaluates a guardrail that compares two values sharing
// their parts, a million nodes each: one step that no limit interrupts. The
// caller gets an answer at the time limit and a grace, and the guardrail is
// not evaluated again.
func TestQuarantine(t *testing.T) {
	double := func(p string) string { return fmt.Sprintf(`object.get({"k": [%s, %s]}, "k", null)`, p, p) }
	module := "package t\n\n" + chain(`"a"`, 19, double) + strings.ReplaceAll(chain(`concat("", ["a"])`, 19, double), "r", "q") +
		"\nviolation contains {\"msg\": \"same\"} if {\n\tr19 == q19\n}\n"
	g, err := Compile("stuck", module, nil, WithLimits(Limits{Timeout: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = g.Evaluate(context.Background(), Input{Object: bucket("Allowed")})
	elapsed := time.Since(start)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitTime || !strings.Contains(le.Message, "is quarantined") {
		t.Fatalf("evaluation error %v, want a quarantine", err)
	}
	if elapsed > time.Second {
		t.Errorf("the answer took %v, want about 20ms + %v", elapsed, watchdogGrace)
	}
	start = time.Now()
	if _, err := g.Evaluate(context.Background(), Input{Object: bucket("Allowed")}); !errors.As(err, &le) || time.Since(start) > 10*time.Millisecond {
		t.Errorf("evaluating a quarantined guardrail: %v after %v, want the quarantine at once", err, time.Since(start))
	}
	// A new compilation starts afresh.
	g2, err := Compile("stuck", module, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g2.quarantined.Load() {
		t.Error("a new compilation is quarantined")
	}
}

// TestCompileTimeout compiles a module that OPA's type checker takes
// exponential time on: it is abandoned at the timeout, and compiling it
// again does not start a second compilation.
func TestCompileTimeout(t *testing.T) {
	double := func(p string) string { return fmt.Sprintf(`[%s, %s]`, p, p) }
	module := "package t\n\n" + chain(`"a"`, 18, double) + strings.ReplaceAll(chain(`"a"`, 18, double), "r", "q") +
		"\nviolation contains {\"msg\": \"same\"} if {\n\tr18 == q18\n}\n"
	for range 2 {
		start := time.Now()
		_, err := Compile("slow", module, nil, WithCompileTimeout(50*time.Millisecond))
		var ce *CompileError
		if !errors.As(err, &ce) || ce.Errors[0].Code != "guardrail_compile_timeout" {
			t.Fatalf("Compile = %v, want a guardrail_compile_timeout", err)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("Compile returned after %v", elapsed)
		}
		compilations.mu.Lock()
		n := len(compilations.calls)
		compilations.mu.Unlock()
		if n != 1 {
			t.Errorf("%d compilations under way, want 1", n)
		}
	}
}

// TestResultsAreBounded checks that a guardrail cannot answer with more
// than MaxViolations violations or longer messages than MaxMessageBytes.
func TestResultsAreBounded(t *testing.T) {
	evaluate := func(module string) []Violation {
		t.Helper()
		g, err := Compile("many", module, nil)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := g.Evaluate(context.Background(), Input{Object: bucket("Allowed")})
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	vs := evaluate(`package t

violation contains {"msg": sprintf("%05d", [i])} if {
	some i in numbers.range(1, 1000)
}
`)
	if len(vs) != MaxViolations+1 || !strings.HasSuffix(vs[len(vs)-1].Message, fmt.Sprintf(": and %d more violations", 1000-MaxViolations)) {
		t.Errorf("%d violations, the last %q: want %d and one for the rest", len(vs), vs[len(vs)-1].Message, MaxViolations)
	}

	vs = evaluate(`package t

violation contains {"msg": concat("", ["long ", concat("", [format_int(i, 10) | some i in numbers.range(1, 5000)])])} if {
	true
}

violation contains {"msg": [1, 2]} if {
	true
}
`)
	if len(vs) != 2 {
		t.Fatalf("violations %q, want 2", vs)
	}
	if len(vs[0].Message) > MaxMessageBytes+100 || !strings.HasSuffix(vs[0].Message, "...") || !strings.Contains(vs[0].Message, "long 1234") {
		t.Errorf("a long message became %d bytes: %.80q...", len(vs[0].Message), vs[0].Message)
	}
	if !strings.HasSuffix(vs[1].Message, `{"msg": [1, 2]}`) {
		t.Errorf("a message that is not a string became %q", vs[1].Message)
	}
}
