package stratus.guardrails.database_backups_production

environment := object.get(input, ["parameters", "environment"], "production")

min_days := object.get(input, ["parameters", "minDays"], 7)

production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

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
