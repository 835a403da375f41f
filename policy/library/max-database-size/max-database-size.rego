# METADATA
# title: max-database-size
# custom:
#   controls: []
package stratus.guardrails.max_database_size

order := {"Small": 1, "Medium": 2, "Large": 3, "XLarge": 4}

max_size := object.get(input, ["parameters", "max"], "Large")

violation contains {"msg": msg, "field": "spec.sizeClass"} if {
	input.object.kind == "Database"
	size := object.get(input.object, ["spec", "sizeClass"], "")
	size != ""
	order[size] > order[max_size]
	msg := sprintf("spec.sizeClass is larger than allowed (got %s, allowed at most %s)", [size, max_size])
}

violation contains {"msg": msg, "field": "spec.sizeClass"} if {
	input.object.kind == "Database"
	size := object.get(input.object, ["spec", "sizeClass"], "")
	size != ""
	not order[size]
	msg := sprintf("spec.sizeClass is not a known size class (got %s, allowed Small, Medium, Large or XLarge)", [size])
}

violation contains {"msg": msg, "field": "spec.sizeClass"} if {
	input.object.kind == "Database"
	not order[max_size]
	msg := sprintf("spec.sizeClass cannot be checked: parameters.max is not a known size class (got %v, allowed Small, Medium, Large or XLarge)", [max_size])
}
