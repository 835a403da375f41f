package stratus.guardrails.database_backups_production_test

import data.stratus.guardrails.database_backups_production.violation

db(env, spec) := {"kind": "Database", "metadata": {"name": "orders", "namespace": "shop", "labels": {"env": env}}, "spec": spec}

test_deny_unset_retention if {
	some v in violation with input as {"object": db("production", {})}
	contains(v.msg, "got unset, allowed >= 7")
}

test_deny_short_retention if {
	some v in violation with input as {"object": db("production", {"backupRetentionDays": 3})}
	v.field == "spec.backupRetentionDays"
	contains(v.msg, "got 3, allowed >= 7")
}

test_deny_below_parameter if {
	count(violation) == 1 with input as {"object": db("production", {"backupRetentionDays": 14}), "parameters": {"minDays": 30}}
}

test_allow_sufficient_retention if {
	count(violation) == 0 with input as {"object": db("production", {"backupRetentionDays": 7})}
}

test_allow_parameter_met if {
	count(violation) == 0 with input as {"object": db("production", {"backupRetentionDays": 30}), "parameters": {"minDays": 30}}
}

test_allow_non_production if {
	count(violation) == 0 with input as {"object": db("staging", {"backupRetentionDays": 1})}
}
