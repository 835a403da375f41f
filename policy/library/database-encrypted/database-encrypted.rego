# METADATA
# title: database-encrypted
# custom:
#   controls:
#   - "AWS Security Hub RDS.3, AWS Config rds-storage-encrypted"
#   - "CIS AWS Foundations Benchmark v3.0.0 2.3.1"
package stratus.guardrails.database_encrypted

violation contains {"msg": msg, "field": "spec.storageEncrypted"} if {
	input.object.kind == "Database"
	input.object.spec.storageEncrypted == false
	msg := "spec.storageEncrypted must not be false (got false, allowed true or unset)"
}
