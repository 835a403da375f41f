package stratus.guardrails.orphan_production_data_test

import data.stratus.guardrails.orphan_production_data.violation

obj(kind, env, spec) := {"kind": kind, "metadata": {"name": "x", "namespace": "shop", "labels": {"env": env}}, "spec": spec}

test_deny_production_bucket_default_policy if {
	some v in violation with input as {"object": obj("Bucket", "production", {})}
	v.field == "spec.deletionPolicy"
	contains(v.msg, "got Delete, allowed Orphan")
}

test_deny_production_database_delete if {
	count(violation) == 1 with input as {"object": obj("Database", "production", {"deletionPolicy": "Delete"})}
}

test_allow_production_orphan if {
	count(violation) == 0 with input as {"object": obj("Database", "production", {"deletionPolicy": "Orphan"})}
}

test_allow_dev_delete if {
	count(violation) == 0 with input as {"object": obj("Bucket", "dev", {"deletionPolicy": "Delete"})}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": obj("ProviderConfig", "production", {})}
}

unlabelled(kind, spec) := {"kind": kind, "metadata": {"name": "x", "namespace": "shop"}, "spec": spec}

namespace(env) := {"metadata": {"name": "shop", "labels": {"env": env}}}

test_deny_label_removed_with_delete_policy if {
	vs := violation with input as {"operation": "UPDATE", "object": unlabelled("Bucket", {"deletionPolicy": "Delete"}), "oldObject": obj("Bucket", "production", {"deletionPolicy": "Orphan"})}
	{v.field | some v in vs} == {"spec.deletionPolicy", "metadata.labels.env"}
}

test_deny_label_removed if {
	some v in violation with input as {"operation": "UPDATE", "object": unlabelled("Database", {"deletionPolicy": "Orphan"}), "oldObject": obj("Database", "production", {"deletionPolicy": "Orphan"})}
	v.field == "metadata.labels.env"
}

test_deny_production_namespace_without_label if {
	count(violation) == 1 with input as {"object": unlabelled("Database", {}), "namespace": namespace("production")}
}

test_allow_label_kept if {
	count(violation) == 0 with input as {"operation": "UPDATE", "object": obj("Bucket", "production", {"deletionPolicy": "Orphan"}), "oldObject": obj("Bucket", "production", {"deletionPolicy": "Orphan"})}
}

test_allow_dev_namespace if {
	count(violation) == 0 with input as {"object": unlabelled("Bucket", {}), "namespace": namespace("dev")}
}
