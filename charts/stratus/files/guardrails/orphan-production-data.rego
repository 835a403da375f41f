# METADATA
# title: orphan-production-data
# custom:
#   controls: []
package stratus.guardrails.orphan_production_data

kinds := {"Bucket", "Database"}

environment := object.get(input, ["parameters", "environment"], "production")

# Production is the env label of the object, of the object before this
# update (removing the label does not switch the rule off in the same
# request), or of its namespace, which only the platform team sets.
production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

production if input.oldObject.metadata.labels.env == environment

production if input.namespace.metadata.labels.env == environment

violation contains {"msg": msg, "field": "spec.deletionPolicy"} if {
	input.object.kind in kinds
	production
	got := object.get(input.object, ["spec", "deletionPolicy"], "Delete")
	got != "Orphan"
	msg := sprintf("spec.deletionPolicy must keep production data for env=%s (got %s, allowed Orphan)", [environment, got])
}

# Removing or changing the label that turns this guardrail on is refused:
# otherwise it could be switched off in two steps.
violation contains {"msg": msg, "field": "metadata.labels.env"} if {
	input.object.kind in kinds
	input.oldObject.metadata.labels.env == environment
	got := object.get(input.object, ["metadata", "labels", "env"], "unset")
	got != environment
	msg := sprintf("metadata.labels.env must stay %s: it turns this guardrail on (got %s, allowed %s)", [environment, got, environment])
}
