# METADATA
# title: bucket-force-destroy-production
# custom:
#   controls: []
package stratus.guardrails.bucket_force_destroy_production

environment := object.get(input, ["parameters", "environment"], "production")

# Production is the env label of the object, of the object before this
# update (removing the label does not switch the rule off in the same
# request), or of its namespace, which only the platform team sets.
production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

production if input.oldObject.metadata.labels.env == environment

production if input.namespace.metadata.labels.env == environment

violation contains {"msg": msg, "field": "spec.forceDestroy"} if {
	input.object.kind == "Bucket"
	production
	input.object.spec.forceDestroy == true
	msg := sprintf("spec.forceDestroy must not be true for env=%s (got true, allowed false)", [environment])
}

# Removing or changing the label that turns this guardrail on is refused:
# otherwise it could be switched off in two steps.
violation contains {"msg": msg, "field": "metadata.labels.env"} if {
	input.object.kind == "Bucket"
	input.oldObject.metadata.labels.env == environment
	got := object.get(input.object, ["metadata", "labels", "env"], "unset")
	got != environment
	msg := sprintf("metadata.labels.env must stay %s: it turns this guardrail on (got %s, allowed %s)", [environment, got, environment])
}
