package stratus.guardrails.database_encrypted

violation contains {"msg": msg, "field": "spec.storageEncrypted"} if {
	input.object.kind == "Database"
	input.object.spec.storageEncrypted == false
	msg := "spec.storageEncrypted must not be false (got false, allowed true or unset)"
}
