package engine

import (
	"fmt"
	"sort"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// CodeSandbox is the code of a compile error for a built-in function a
// guardrail may not call.
const CodeSandbox = "guardrail_sandbox_error"

// forbidden are the built-in functions of OPA that a guardrail may not call,
// with the reason. A guardrail sees the request and its parameters and
// nothing else: no network, no files, no environment, and nothing whose cost
// escapes the evaluation's limits (see Limits). Everything else in OPA's
// capabilities is a pure function of its arguments (time.now_ns, rand.intn
// and uuid.rfc4122 read the clock or randomness and are allowed).
var forbidden = map[string]string{
	"http.send": "it sends HTTP requests to any address (the cloud's instance metadata service included) " +
		"and reads TLS files and environment variables",
	"net.lookup_ip_addr": "it resolves names over DNS",
	"opa.runtime":        "it returns the operator's environment variables and configuration",
	"json.match_schema":  "a schema's $ref loads files (file://) and URLs",
	"json.verify_schema": "a schema's $ref loads files (file://) and URLs",
	"strings.render_template": "a template loops over its data inside one call, " +
		"out of reach of the evaluation's step and memory limits",
	"graph.reachable_paths": "it lists every path of a graph, exponentially many, inside one call, " +
		"out of reach of the evaluation's step and memory limits",
}

// Forbidden returns the built-in functions a guardrail may not call, sorted,
// each with the reason.
func Forbidden() [][2]string {
	out := make([][2]string, 0, len(forbidden))
	for name, why := range forbidden {
		out = append(out, [2]string{name, why})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// forbiddenRefs are the forbidden names as references, as the parser reads
// a call's operator.
var forbiddenRefs = func() map[string]ast.Ref {
	m := make(map[string]ast.Ref, len(forbidden))
	for name := range forbidden {
		m[name] = ast.MustParseRef(name)
	}
	return m
}()

// Capabilities returns the capabilities guardrails are compiled with: OPA's
// own without the forbidden built-in functions, and no host that a built-in
// function may reach over the network (allow_net is empty, not unset).
var Capabilities = sync.OnceValue(func() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if _, no := forbidden[b.Name]; !no {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	caps.AllowNet = []string{}
	return caps
})

// sandboxErrors reports every reference to a forbidden built-in function in
// mod, however it is spelled: a call, a ref with brackets or escapes
// (http["se\u006ed"]), the target or the value of a with modifier, inside a
// comprehension, a template string, an every, a rule head or an else. The
// compiler, whose capabilities lack these functions, refuses them too; this
// check runs first so that the message names the function and says why.
func sandboxErrors(mod *ast.Module) []PositionError {
	var errs []PositionError
	seen := map[string]bool{}
	ast.WalkTerms(mod, func(t *ast.Term) bool {
		ref, ok := t.Value.(ast.Ref)
		if !ok {
			return false
		}
		for name, fr := range forbiddenRefs {
			if !ref.HasPrefix(fr) {
				continue
			}
			pe := PositionError{Code: CodeSandbox, Message: fmt.Sprintf("%s is not allowed in a guardrail: %s", name, forbidden[name])}
			if t.Location != nil {
				pe.Line, pe.Column = t.Location.Row, t.Location.Col
			}
			key := fmt.Sprintf("%d:%d:%s", pe.Line, pe.Column, name)
			if !seen[key] {
				seen[key] = true
				errs = append(errs, pe)
			}
		}
		return false
	})
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Column < errs[j].Column
	})
	return errs
}
