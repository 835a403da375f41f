# METADATA
# title: naming-convention
# custom:
#   controls: []
package stratus.guardrails.naming_convention

kinds := object.get(input, ["parameters", "kinds"], ["Bucket", "Database"])

pattern := object.get(input, ["parameters", "pattern"], `^[a-z][a-z0-9-]{1,61}[a-z0-9]$`)

violation contains {"msg": msg, "field": "metadata.name"} if {
	input.object.kind in kinds
	name := object.get(input.object, ["metadata", "name"], "")
	name != ""
	not regex.match(pattern, name)
	msg := sprintf("metadata.name does not follow the naming convention (got %s, allowed names matching %s)", [name, pattern])
}
