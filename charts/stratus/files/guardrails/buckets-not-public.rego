# METADATA
# title: buckets-not-public
# custom:
#   controls:
#   - "AWS Security Hub S3.8, AWS Config s3-bucket-level-public-access-prohibited"
#   - "AWS Control Tower CT.S3.PR.1"
#   - "CIS AWS Foundations Benchmark v3.0.0 2.1.4"
#   - "CIS Google Cloud Platform Foundation Benchmark v3.0.0 5.1"
package stratus.guardrails.buckets_not_public

allow_annotation := "guardrails.stratus.dev/allow-public"

violation contains {"msg": msg, "field": "spec.publicAccess"} if {
	input.object.kind == "Bucket"
	input.object.spec.publicAccess == "Allowed"
	object.get(input.object, ["metadata", "annotations", allow_annotation], "") != "true"
	msg := sprintf("spec.publicAccess must be Blocked unless annotated %s=\"true\" (got Allowed, allowed Blocked)", [allow_annotation])
}
