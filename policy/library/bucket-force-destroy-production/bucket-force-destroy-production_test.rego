package stratus.guardrails.bucket_force_destroy_production_test

import data.stratus.guardrails.bucket_force_destroy_production.violation

bucket(env, spec) := {"kind": "Bucket", "metadata": {"name": "logs", "namespace": "team-a", "labels": {"env": env}}, "spec": spec}

test_deny_production_force_destroy if {
	some v in violation with input as {"object": bucket("production", {"forceDestroy": true})}
	v.field == "spec.forceDestroy"
	contains(v.msg, "got true, allowed false")
}

test_allow_production_without_force_destroy if {
	count(violation) == 0 with input as {"object": bucket("production", {"forceDestroy": false})}
}

test_allow_dev_force_destroy if {
	count(violation) == 0 with input as {"object": bucket("dev", {"forceDestroy": true})}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": object.union(bucket("production", {"forceDestroy": true}), {"kind": "Database"})}
}

unlabelled(spec) := {"kind": "Bucket", "metadata": {"name": "logs", "namespace": "team-a"}, "spec": spec}

namespace(env) := {"metadata": {"name": "team-a", "labels": {"env": env}}}

test_deny_label_removed_with_force_destroy if {
	vs := violation with input as {"operation": "UPDATE", "object": unlabelled({"forceDestroy": true}), "oldObject": bucket("production", {})}
	{v.field | some v in vs} == {"spec.forceDestroy", "metadata.labels.env"}
}

test_deny_label_removed if {
	vs := violation with input as {"operation": "UPDATE", "object": unlabelled({}), "oldObject": bucket("production", {})}
	count(vs) == 1
	some v in vs
	v.field == "metadata.labels.env"
	contains(v.msg, "must stay production: it turns this guardrail on (got unset, allowed production)")
}

test_deny_label_changed if {
	some v in violation with input as {"operation": "UPDATE", "object": bucket("Production", {}), "oldObject": bucket("production", {})}
	contains(v.msg, "(got Production, allowed production)")
}

test_deny_production_namespace_without_label if {
	count(violation) == 1 with input as {"object": unlabelled({"forceDestroy": true}), "namespace": namespace("production")}
}

test_allow_label_kept if {
	count(violation) == 0 with input as {"operation": "UPDATE", "object": bucket("production", {"versioning": "Enabled"}), "oldObject": bucket("production", {})}
}

test_allow_other_label_changes if {
	count(violation) == 0 with input as {"operation": "UPDATE", "object": bucket("staging", {"forceDestroy": true}), "oldObject": bucket("dev", {})}
}

test_allow_dev_namespace if {
	count(violation) == 0 with input as {"object": unlabelled({"forceDestroy": true}), "namespace": namespace("dev")}
}
