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
