package stratus.guardrails.database_deletion_protection_production_test

import data.stratus.guardrails.database_deletion_protection_production.violation

db(env, spec) := {"kind": "Database", "metadata": {"name": "orders", "namespace": "shop", "labels": {"env": env}}, "spec": spec}

test_deny_production_unprotected if {
	some v in violation with input as {"object": db("production", {})}
	v.field == "spec.deletionProtection"
	contains(v.msg, "got false, allowed true")
}

test_deny_production_explicit_false if {
	count(violation) == 1 with input as {"object": db("production", {"deletionProtection": false})}
}

test_allow_production_protected if {
	count(violation) == 0 with input as {"object": db("production", {"deletionProtection": true})}
}

test_allow_dev_unprotected if {
	count(violation) == 0 with input as {"object": db("dev", {})}
}

test_allow_bucket if {
	count(violation) == 0 with input as {"object": object.union(db("production", {}), {"kind": "Bucket"})}
}

unlabelled(spec) := {"kind": "Database", "metadata": {"name": "orders", "namespace": "shop"}, "spec": spec}

namespace(env) := {"metadata": {"name": "shop", "labels": {"env": env}}}

test_deny_label_removed_with_protection_off if {
	vs := violation with input as {"operation": "UPDATE", "object": unlabelled({"deletionProtection": false}), "oldObject": db("production", {"deletionProtection": true})}
	{v.field | some v in vs} == {"spec.deletionProtection", "metadata.labels.env"}
}

test_deny_label_removed if {
	some v in violation with input as {"operation": "UPDATE", "object": unlabelled({"deletionProtection": true}), "oldObject": db("production", {"deletionProtection": true})}
	v.field == "metadata.labels.env"
}

test_deny_production_namespace_without_label if {
	count(violation) == 1 with input as {"object": unlabelled({}), "namespace": namespace("production")}
}

test_allow_label_kept if {
	count(violation) == 0 with input as {"operation": "UPDATE", "object": db("production", {"deletionProtection": true}), "oldObject": db("production", {"deletionProtection": true})}
}

test_allow_dev_namespace if {
	count(violation) == 0 with input as {"object": unlabelled({}), "namespace": namespace("dev")}
}
