package stratus.guardrails.database_deletion_protection_production

environment := object.get(input, ["parameters", "environment"], "production")

production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

violation contains {"msg": msg, "field": "spec.deletionProtection"} if {
	input.object.kind == "Database"
	production
	got := object.get(input.object, ["spec", "deletionProtection"], false)
	got != true
	msg := sprintf("spec.deletionProtection must be true for env=%s (got %v, allowed true)", [environment, got])
}
