# METADATA
# title: allowed-regions
# custom:
#   controls: []
package stratus.guardrails.allowed_regions

kinds := {"Bucket", "Database"}

regions := object.get(input, ["parameters", "regions"], [])

violation contains {"msg": msg, "field": "spec.region"} if {
	input.object.kind in kinds
	region := object.get(input.object, ["spec", "region"], "")
	region != ""
	not region in regions
	msg := sprintf("spec.region is not an allowed region (got %s, allowed %v)", [region, regions])
}

violation contains {"msg": msg, "field": "spec.region"} if {
	input.object.kind in kinds
	object.get(input.object, ["spec", "region"], "") == ""
	msg := sprintf("spec.region must be set so it can be checked (got unset, allowed %v)", [regions])
}
