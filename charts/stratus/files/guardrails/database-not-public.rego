package stratus.guardrails.database_not_public

violation contains {"msg": msg, "field": "spec.publiclyAccessible"} if {
	input.object.kind == "Database"
	input.object.spec.publiclyAccessible == true
	msg := "spec.publiclyAccessible must not be true (got true, allowed false)"
}
