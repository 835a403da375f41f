# METADATA
# title: database-not-public
# custom:
#   controls:
#   - "AWS Security Hub RDS.2, AWS Config rds-instance-public-access-check"
#   - "CIS AWS Foundations Benchmark v3.0.0 2.3.3"
#   - "CIS Google Cloud Platform Foundation Benchmark v3.0.0 6.6"
package stratus.guardrails.database_not_public

violation contains {"msg": msg, "field": "spec.publiclyAccessible"} if {
	input.object.kind == "Database"
	input.object.spec.publiclyAccessible == true
	msg := "spec.publiclyAccessible must not be true (got true, allowed false)"
}
