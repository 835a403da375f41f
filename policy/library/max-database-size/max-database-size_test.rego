package stratus.guardrails.max_database_size_test

import data.stratus.guardrails.max_database_size.violation

db(size) := {"kind": "Database", "metadata": {"name": "orders", "namespace": "shop"}, "spec": {"sizeClass": size}}

test_deny_above_default if {
	some v in violation with input as {"object": db("XLarge")}
	v.field == "spec.sizeClass"
	contains(v.msg, "got XLarge, allowed at most Large")
}

test_deny_above_parameter if {
	count(violation) == 1 with input as {"object": db("Large"), "parameters": {"max": "Medium"}}
}

test_deny_unknown_size if {
	count(violation) == 1 with input as {"object": db("Huge")}
}

test_deny_bad_parameter if {
	count(violation) == 1 with input as {"object": db("Small"), "parameters": {"max": "Tiny"}}
}

test_allow_at_max if {
	count(violation) == 0 with input as {"object": db("Medium"), "parameters": {"max": "Medium"}}
}

test_allow_below_max if {
	count(violation) == 0 with input as {"object": db("Small")}
}

test_allow_unset if {
	count(violation) == 0 with input as {"object": {"kind": "Database", "metadata": {"name": "d"}, "spec": {}}}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": object.union(db("XLarge"), {"kind": "Bucket"})}
}
