package stratus.guardrails.database_encrypted_test

import data.stratus.guardrails.database_encrypted.violation

db(spec) := {"kind": "Database", "metadata": {"name": "orders", "namespace": "shop"}, "spec": spec}

test_deny_unencrypted if {
	some v in violation with input as {"object": db({"storageEncrypted": false})}
	v.field == "spec.storageEncrypted"
	contains(v.msg, "got false")
}

test_allow_encrypted if {
	count(violation) == 0 with input as {"object": db({"storageEncrypted": true})}
}

test_allow_unset if {
	count(violation) == 0 with input as {"object": db({})}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": object.union(db({"storageEncrypted": false}), {"kind": "Bucket"})}
}
