package stratus.guardrails.bucket_encryption_test

import data.stratus.guardrails.bucket_encryption.violation

bucket(spec) := {"kind": "Bucket", "metadata": {"name": "logs", "namespace": "team-a"}, "spec": spec}

test_deny_no_encryption if {
	some v in violation with input as {"object": bucket({})}
	v.field == "spec.encryption.mode"
	contains(v.msg, "got unset")
}

test_deny_provider_managed_when_customer_required if {
	some v in violation with input as {
		"object": bucket({"encryption": {"mode": "ProviderManaged"}}),
		"parameters": {"requireCustomerManaged": true},
	}
	contains(v.msg, "got ProviderManaged, allowed CustomerManaged")
}

test_deny_customer_managed_without_key if {
	some v in violation with input as {"object": bucket({"encryption": {"mode": "CustomerManaged"}})}
	v.field == "spec.encryption.keyID"
}

test_allow_provider_managed if {
	count(violation) == 0 with input as {"object": bucket({"encryption": {"mode": "ProviderManaged"}})}
}

test_allow_customer_managed_with_key if {
	count(violation) == 0 with input as {
		"object": bucket({"encryption": {"mode": "CustomerManaged", "keyID": "arn:aws:kms:k"}}),
		"parameters": {"requireCustomerManaged": true},
	}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": {"kind": "Database", "metadata": {"name": "d"}, "spec": {}}}
}
