// Package engine compiles and evaluates Rego guardrails against Stratus
// managed resources (Bucket, Database, ...).
//
// # Module contract
//
// A guardrail is one Rego module written in Rego v1 syntax. Its package is
// free; the engine queries data.<package>.violation. The module defines
// partial set rules of the form
//
//	violation contains {"msg": msg, "field": field} if { ... }
//
// where msg describes only the problem, conventionally
// "<field> <problem> (got X, allowed Y)", and field is the JSON path of the
// offending field (for example "spec.publicAccess"). The engine prefixes every
// message with "[<guardrail-name>] <Kind> <namespace>/<name>: ", so the final
// message reads
//
//	[buckets-not-public] Bucket team-a/logs: spec.publicAccess must be Blocked (got Allowed, allowed Blocked)
//
// The input document is
//
//	{
//	  "object":     <the object being admitted, or null on DELETE>,
//	  "oldObject":  <the previous object on UPDATE/DELETE, or null>,
//	  "operation":  "CREATE" | "UPDATE" | "DELETE" | "CONNECT" | "",
//	  "userInfo":   <the requesting user, or null>,
//	  "namespace":  {"metadata": {"name": ..., "labels": {...}}} of the
//	                object's Namespace, or null (cluster-scoped, or not known)
//	  "parameters": <the guardrail's parameters, {} when none>
//	}
//
// Namespace labels are the platform team's: a tenant with a namespaced Role
// cannot change them, so a rule keyed on them cannot be switched off by the
// tenant, unlike one keyed on the object's own labels.
//
// Parameters are fixed at Compile time and are available to the module as
// input.parameters. A module should check input.object.kind and only judge
// the kinds it concerns.
//
// # Lifecycle
//
// Compile parses, compiles and prepares a module once per policy revision; a
// module that does not compile is rejected with the line and column of the
// error and is never loaded.
//
// # Sandbox
//
// A guardrail sees its input and nothing else. It is compiled with
// Capabilities: OPA's built-in functions without those that reach outside
// the evaluation (http.send, net.lookup_ip_addr, opa.runtime, and the JSON
// schema functions, whose $ref loads files and URLs) or whose cost one call
// hides (strings.render_template, graph.reachable_paths). A module that
// names one, however spelled, is refused with its position. Each evaluation
// is bounded by Limits: steps, bytes built by built-in functions, and time.
// An evaluation that exceeds one stops with a *LimitError, and one stuck in
// a single step past its time limit quarantines its guardrail. A Set holds the current guardrails by name and is
// replaced atomically with Set.Replace, so requests in flight keep evaluating
// the revision they started with. Guardrail.Evaluate and Set.Evaluate convert
// the request input to Rego values once and evaluate it against each
// prepared query; evaluation stops when the context is cancelled or its
// deadline passes.
package engine
