package stratus.guardrails.required_labels_test

import data.stratus.guardrails.required_labels.violation

obj(kind, labels) := {"kind": kind, "metadata": {"name": "x", "namespace": "team-a", "labels": labels}, "spec": {}}

test_deny_missing_default_labels if {
	vs := violation with input as {"object": obj("Bucket", {})}
	count(vs) == 2
	{v.field | some v in vs} == {"metadata.labels.owner", "metadata.labels.cost-center"}
}

test_deny_empty_label_value if {
	count(violation) == 1 with input as {"object": obj("Database", {"owner": "", "cost-center": "cc-1"})}
}

test_deny_custom_labels if {
	some v in violation with input as {"object": obj("Bucket", {"owner": "a"}), "parameters": {"labels": ["team"]}}
	v.field == "metadata.labels.team"
}

test_deny_no_metadata_labels if {
	count(violation) == 2 with input as {"object": {"kind": "Bucket", "metadata": {"name": "x"}}}
}

test_allow_all_labels if {
	count(violation) == 0 with input as {"object": obj("Bucket", {"owner": "team-a", "cost-center": "cc-1"})}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": obj("ConfigMap", {})}
}
