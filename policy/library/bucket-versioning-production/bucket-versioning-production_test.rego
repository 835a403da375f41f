package stratus.guardrails.bucket_versioning_production_test

import data.stratus.guardrails.bucket_versioning_production.violation

bucket(env, spec) := {"kind": "Bucket", "metadata": {"name": "logs", "namespace": "team-a", "labels": {"env": env}}, "spec": spec}

test_deny_production_unversioned if {
	some v in violation with input as {"object": bucket("production", {})}
	v.field == "spec.versioning"
	contains(v.msg, "got unset, allowed Enabled")
}

test_deny_production_disabled if {
	count(violation) == 1 with input as {"object": bucket("production", {"versioning": "Disabled"})}
}

test_deny_custom_environment if {
	count(violation) == 1 with input as {"object": bucket("prod", {}), "parameters": {"environment": "prod"}}
}

test_allow_production_enabled if {
	count(violation) == 0 with input as {"object": bucket("production", {"versioning": "Enabled"})}
}

test_allow_staging_unversioned if {
	count(violation) == 0 with input as {"object": bucket("staging", {})}
}

test_allow_unlabelled if {
	count(violation) == 0 with input as {"object": {"kind": "Bucket", "metadata": {"name": "b"}, "spec": {}}}
}

unlabelled(spec) := {"kind": "Bucket", "metadata": {"name": "logs", "namespace": "team-a"}, "spec": spec}

namespace(env) := {"metadata": {"name": "team-a", "labels": {"env": env}}}

test_deny_label_removed_with_versioning_off if {
	vs := violation with input as {"operation": "UPDATE", "object": unlabelled({"versioning": "Suspended"}), "oldObject": bucket("production", {"versioning": "Enabled"})}
	{v.field | some v in vs} == {"spec.versioning", "metadata.labels.env"}
}

test_deny_label_removed if {
	some v in violation with input as {"operation": "UPDATE", "object": unlabelled({"versioning": "Enabled"}), "oldObject": bucket("production", {"versioning": "Enabled"})}
	v.field == "metadata.labels.env"
	contains(v.msg, "(got unset, allowed production)")
}

test_deny_production_namespace_without_label if {
	count(violation) == 1 with input as {"object": unlabelled({}), "namespace": namespace("production")}
}

test_allow_label_kept if {
	count(violation) == 0 with input as {"operation": "UPDATE", "object": bucket("production", {"versioning": "Enabled"}), "oldObject": bucket("production", {"versioning": "Enabled"})}
}

test_allow_dev_namespace if {
	count(violation) == 0 with input as {"object": unlabelled({}), "namespace": namespace("dev")}
}
