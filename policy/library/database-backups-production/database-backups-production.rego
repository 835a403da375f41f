# METADATA
# title: database-backups-production
# custom:
#   controls:
#   - "AWS Security Hub RDS.11, AWS Config db-instance-backup-enabled (backupRetentionMinimum is minDays)"
#   - "CIS Google Cloud Platform Foundation Benchmark v3.0.0 6.7"
package stratus.guardrails.database_backups_production

environment := object.get(input, ["parameters", "environment"], "production")

min_days := object.get(input, ["parameters", "minDays"], 7)

# Production is the env label of the object, of the object before this
# update (removing the label does not switch the rule off in the same
# request), or of its namespace, which only the platform team sets.
production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

production if input.oldObject.metadata.labels.env == environment

production if input.namespace.metadata.labels.env == environment

violation contains {"msg": msg, "field": "spec.backupRetentionDays"} if {
	input.object.kind == "Database"
	production
	not is_number(object.get(input.object, ["spec", "backupRetentionDays"], null))
	msg := sprintf("spec.backupRetentionDays must be set for env=%s (got unset, allowed >= %v)", [environment, min_days])
}

violation contains {"msg": msg, "field": "spec.backupRetentionDays"} if {
	input.object.kind == "Database"
	production
	days := input.object.spec.backupRetentionDays
	is_number(days)
	days < min_days
	msg := sprintf("spec.backupRetentionDays is too short for env=%s (got %v, allowed >= %v)", [environment, days, min_days])
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
