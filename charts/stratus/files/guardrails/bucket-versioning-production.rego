package stratus.guardrails.bucket_versioning_production

environment := object.get(input, ["parameters", "environment"], "production")

production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

violation contains {"msg": msg, "field": "spec.versioning"} if {
	input.object.kind == "Bucket"
	production
	got := object.get(input.object, ["spec", "versioning"], "unset")
	got != "Enabled"
	msg := sprintf("spec.versioning must be Enabled for env=%s (got %s, allowed Enabled)", [environment, got])
}
