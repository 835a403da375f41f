package stratus.guardrails.database_not_public_test

import data.stratus.guardrails.database_not_public.violation

db(spec) := {"kind": "Database", "metadata": {"name": "orders", "namespace": "shop"}, "spec": spec}

test_deny_public_database if {
	some v in violation with input as {"object": db({"publiclyAccessible": true})}
	v.field == "spec.publiclyAccessible"
	contains(v.msg, "got true, allowed false")
}

test_allow_private_database if {
	count(violation) == 0 with input as {"object": db({"publiclyAccessible": false})}
}

test_allow_unset if {
	count(violation) == 0 with input as {"object": db({})}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": object.union(db({"publiclyAccessible": true}), {"kind": "Bucket"})}
}
