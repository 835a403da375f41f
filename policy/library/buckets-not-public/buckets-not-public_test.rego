package stratus.guardrails.buckets_not_public_test

import data.stratus.guardrails.buckets_not_public.violation

bucket(access, annotations) := {
	"kind": "Bucket",
	"metadata": {"name": "logs", "namespace": "team-a", "annotations": annotations},
	"spec": {"publicAccess": access},
}

test_deny_public_bucket if {
	some v in violation with input as {"object": bucket("Allowed", {})}
	v.field == "spec.publicAccess"
	contains(v.msg, "got Allowed")
}

test_deny_annotation_not_true if {
	count(violation) == 1 with input as {"object": bucket("Allowed", {"guardrails.stratus.dev/allow-public": "false"})}
}

test_allow_blocked_bucket if {
	count(violation) == 0 with input as {"object": bucket("Blocked", {})}
}

test_allow_unset_access if {
	count(violation) == 0 with input as {"object": {"kind": "Bucket", "metadata": {"name": "b"}, "spec": {}}}
}

test_allow_annotated_public_bucket if {
	count(violation) == 0 with input as {"object": bucket("Allowed", {"guardrails.stratus.dev/allow-public": "true"})}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": object.union(bucket("Allowed", {}), {"kind": "Database"})}
}
