# METADATA
# title: bucket-encryption
# custom:
#   controls:
#   - "AWS Config s3-bucket-server-side-encryption-enabled"
#   - "AWS Security Hub S3.17, AWS Config s3-default-encryption-kms, AWS Control Tower CT.S3.PR.10 (with requireCustomerManaged: true)"
#   - "CIS AWS Foundations Benchmark v1.5.0 2.1.1"
package stratus.guardrails.bucket_encryption

require_customer_managed := object.get(input, ["parameters", "requireCustomerManaged"], false)

mode := object.get(input.object, ["spec", "encryption", "mode"], "")

violation contains {"msg": msg, "field": "spec.encryption.mode"} if {
	input.object.kind == "Bucket"
	mode == ""
	msg := "spec.encryption.mode is required (got unset, allowed ProviderManaged or CustomerManaged)"
}

violation contains {"msg": msg, "field": "spec.encryption.mode"} if {
	input.object.kind == "Bucket"
	require_customer_managed == true
	mode != ""
	mode != "CustomerManaged"
	msg := sprintf("spec.encryption.mode must use a customer-managed key (got %s, allowed CustomerManaged)", [mode])
}

violation contains {"msg": msg, "field": "spec.encryption.keyID"} if {
	input.object.kind == "Bucket"
	mode == "CustomerManaged"
	object.get(input.object, ["spec", "encryption", "keyID"], "") == ""
	msg := "spec.encryption.keyID is required with CustomerManaged encryption (got unset, allowed a key ID)"
}
