package stratus.guardrails.orphan_production_data

kinds := {"Bucket", "Database"}

environment := object.get(input, ["parameters", "environment"], "production")

production if object.get(input.object, ["metadata", "labels", "env"], "") == environment

violation contains {"msg": msg, "field": "spec.deletionPolicy"} if {
	input.object.kind in kinds
	production
	got := object.get(input.object, ["spec", "deletionPolicy"], "Delete")
	got != "Orphan"
	msg := sprintf("spec.deletionPolicy must keep production data for env=%s (got %s, allowed Orphan)", [environment, got])
}
