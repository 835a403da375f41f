# METADATA
# title: bucket-versioning-production
# custom:
#   controls:
#   - "AWS Security Hub S3.14, AWS Config s3-bucket-versioning-enabled"
#   - "AWS Control Tower CT.S3.PR.11"
package stratus.guardrails.bucket_versioning_production

environment := object.get(input, ["parameters", "environment"], "production")

# Production is the env label of the object, of the object before this
# update (removing the label does not switch the rule off in the same
# request), or of its namespace, which only the platform team sets.
production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

production if input.oldObject.metadata.labels.env == environment

production if input.namespace.metadata.labels.env == environment

violation contains {"msg": msg, "field": "spec.versioning"} if {
	input.object.kind == "Bucket"
	production
	got := object.get(input.object, ["spec", "versioning"], "unset")
	got != "Enabled"
	msg := sprintf("spec.versioning must be Enabled for env=%s (got %s, allowed Enabled)", [environment, got])
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
