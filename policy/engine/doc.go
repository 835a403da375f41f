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
//	  "parameters": <the guardrail's parameters, {} when none>
//	}
//
// Parameters are fixed at Compile time and are available to the module as
// input.parameters. A module should check input.object.kind and only judge
// the kinds it concerns.
//
// # Lifecycle
//
// Compile parses, compiles and prepares a module once per policy revision; a
// module that does not compile is rejected with the line and column of the
// error and is never loaded. A Set holds the current guardrails by name and is
// replaced atomically with Set.Replace, so requests in flight keep evaluating
// the revision they started with. Guardrail.Evaluate and Set.Evaluate convert
// the request input to Rego values once and evaluate it against each
// prepared query; evaluation stops when the context is cancelled or its
// deadline passes.
package engine
