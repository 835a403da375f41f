package stratus.guardrails.bucket_force_destroy_production

environment := object.get(input, ["parameters", "environment"], "production")

production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

violation contains {"msg": msg, "field": "spec.forceDestroy"} if {
	input.object.kind == "Bucket"
	production
	input.object.spec.forceDestroy == true
	msg := sprintf("spec.forceDestroy must not be true for env=%s (got true, allowed false)", [environment])
}
