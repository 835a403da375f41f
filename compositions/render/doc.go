// Package render compiles a CompositeDefinition and renders, for one
// instance of the composite, the resources it is made of.
//
// It is pure: it reads no cluster and keeps no state, so that the composite
// controller and the `stratus render` command produce the same objects from
// the same inputs.
//
// Compile parses the definition's OpenAPI v3 schemas, finds every CEL
// expression of the definition, type-checks each one against the schemas
// and compiles it once, and orders the resources by their dependencies. The
// resulting Composition is immutable and safe for concurrent use; Render
// evaluates it for one instance and the composed resources observed so far.
//
// # Expressions
//
// A string of a resource template holds expressions as ${expression}. A
// string that is a single expression takes the expression's value and type
// (an int stays an int, a map stays a map; an empty optional, such as
// ${spec.?region}, leaves the field or list item out); otherwise each
// expression's value is converted to a string, as CEL's string() does, and
// interpolated, and an expression whose type cannot be (a list, a map) is a
// compile error. $${ writes a literal ${. Keys cannot hold expressions.
// includeWhen and readyWhen (bool), status and connectionSecret.data are
// each one CEL expression, with or without ${ }; a connectionSecret value
// secret:<resource>.<key> copies a key of a resource's connection Secret.
//
// Expressions see
//
//   - spec: the instance's spec, typed from the definition's spec schema
//     (with the schema's defaults applied), so that a reference to a field
//     the schema does not declare fails at compile time;
//   - metadata: the instance's name, namespace, labels and annotations;
//   - resources.<name> (or resources['<name>']): a composed resource as
//     observed in the cluster, as a map. A template or includeWhen that
//     refers to resources.<name> depends on that resource: it is rendered
//     only once that resource is observed, and created after it. Status
//     and connection expressions may refer to any resource without
//     depending on it;
//   - self, in readyWhen only (which does not see resources): the resource
//     itself as observed.
//
// A resource whose dependencies are not observed yet, or whose expressions
// read fields of them that are not there yet, is pending, not an error; a
// status field or connection key whose inputs are not there yet is left
// out. A resource that depends on an excluded resource is excluded too. A
// spec field that is neither set nor defaulted is an error where it is read:
// test it with has(), or read it with spec.?field.orValue(default).
//
// # Metadata
//
// A rendered resource is named <instance>-<resource> in kebab case unless
// its template names it, and labeled with the composite, the resource and
// the definition. Label and annotation values may hold expressions; keys
// cannot. Label keys and values without expressions are checked when the
// definition is compiled, rendered values when they are rendered, as the
// API server would check them, so that a value it would refuse is an error
// naming its path. The resources of a namespaced composite are in the
// instance's namespace: a template may leave metadata.namespace out or set
// it to ${metadata.namespace}, and Compile refuses any other; Render
// enforces it too.
//
// Evaluation is deterministic (maps are iterated in key order, time zones
// are UTC, the CEL extensions used are pure) and bounded: each evaluation of
// an expression may cost at most CostLimit.
package render
