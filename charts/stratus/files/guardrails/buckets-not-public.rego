package stratus.guardrails.buckets_not_public

allow_annotation := "guardrails.stratus.dev/allow-public"

violation contains {"msg": msg, "field": "spec.publicAccess"} if {
	input.object.kind == "Bucket"
	input.object.spec.publicAccess == "Allowed"
	object.get(input.object, ["metadata", "annotations", allow_annotation], "") != "true"
	msg := sprintf("spec.publicAccess must be Blocked unless annotated %s=\"true\" (got Allowed, allowed Blocked)", [allow_annotation])
}
