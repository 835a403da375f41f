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

unlabelled(spec) := {"kind": "Database", "metadata": {"name": "orders", "namespace": "shop"}, "spec": spec}

namespace(env) := {"metadata": {"name": "shop", "labels": {"env": env}}}

test_deny_label_removed_with_short_retention if {
	vs := violation with input as {"operation": "UPDATE", "object": unlabelled({"backupRetentionDays": 1}), "oldObject": db("production", {"backupRetentionDays": 7})}
	{v.field | some v in vs} == {"spec.backupRetentionDays", "metadata.labels.env"}
}

test_deny_label_removed if {
	some v in violation with input as {"operation": "UPDATE", "object": unlabelled({"backupRetentionDays": 7}), "oldObject": db("production", {"backupRetentionDays": 7})}
	v.field == "metadata.labels.env"
}

test_deny_production_namespace_without_label if {
	count(violation) == 1 with input as {"object": unlabelled({}), "namespace": namespace("production")}
}

test_allow_label_kept if {
	count(violation) == 0 with input as {"operation": "UPDATE", "object": db("production", {"backupRetentionDays": 7}), "oldObject": db("production", {"backupRetentionDays": 7})}
}

test_allow_dev_namespace if {
	count(violation) == 0 with input as {"object": unlabelled({}), "namespace": namespace("dev")}
}
