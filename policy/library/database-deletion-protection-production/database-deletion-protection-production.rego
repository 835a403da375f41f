# METADATA
# title: database-deletion-protection-production
# custom:
#   controls:
#   - "AWS Security Hub RDS.8, AWS Config rds-instance-deletion-protection-enabled"
package stratus.guardrails.database_deletion_protection_production

environment := object.get(input, ["parameters", "environment"], "production")

# Production is the env label of the object, of the object before this
# update (removing the label does not switch the rule off in the same
# request), or of its namespace, which only the platform team sets.
production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

production if input.oldObject.metadata.labels.env == environment

production if input.namespace.metadata.labels.env == environment

violation contains {"msg": msg, "field": "spec.deletionProtection"} if {
	input.object.kind == "Database"
	production
	got := object.get(input.object, ["spec", "deletionProtection"], false)
	got != true
	msg := sprintf("spec.deletionProtection must be true for env=%s (got %v, allowed true)", [environment, got])
}

# Removing or changing the label that turns this guardrail on is refused:
# otherwise it could be switched off in two steps.
violation contains {"msg": msg, "field": "metadata.labels.env"} if {
	input.object.kind == "Database"
	input.oldObject.metadata.labels.env == environment
	got := object.get(input.object, ["metadata", "labels", "env"], "unset")
	got != environment
	msg := sprintf("metadata.labels.env must stay %s: it turns this guardrail on (got %s, allowed %s)", [environment, got, environment])
}
