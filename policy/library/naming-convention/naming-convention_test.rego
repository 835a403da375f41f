package stratus.guardrails.naming_convention_test

import data.stratus.guardrails.naming_convention.violation

obj(kind, name) := {"kind": kind, "metadata": {"name": name, "namespace": "shop"}, "spec": {}}

test_deny_default_pattern if {
	some v in violation with input as {"object": obj("Bucket", "x")}
	v.field == "metadata.name"
	contains(v.msg, "got x, allowed names matching")
}

test_deny_custom_pattern if {
	count(violation) == 1 with input as {"object": obj("Database", "orders"), "parameters": {"pattern": `^shop-[a-z]+$`}}
}

test_allow_default_pattern if {
	count(violation) == 0 with input as {"object": obj("Bucket", "team-a-logs")}
}

test_allow_custom_pattern if {
	count(violation) == 0 with input as {"object": obj("Database", "shop-orders"), "parameters": {"pattern": `^shop-[a-z]+$`}}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": obj("ConfigMap", "x")}
}

test_allow_generate_name if {
	count(violation) == 0 with input as {"object": {"kind": "Bucket", "metadata": {"generateName": "X_"}}}
}
