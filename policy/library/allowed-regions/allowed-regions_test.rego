package stratus.guardrails.allowed_regions_test

import data.stratus.guardrails.allowed_regions.violation

obj(kind, spec) := {"kind": kind, "metadata": {"name": "x", "namespace": "team-a"}, "spec": spec}

params := {"regions": ["eu-west-1", "eu-central-1"]}

test_deny_bucket_outside_regions if {
	some v in violation with input as {"object": obj("Bucket", {"region": "us-east-1"}), "parameters": params}
	v.field == "spec.region"
	contains(v.msg, `got us-east-1, allowed ["eu-west-1", "eu-central-1"]`)
}

test_deny_database_outside_regions if {
	count(violation) == 1 with input as {"object": obj("Database", {"region": "ap-south-1"}), "parameters": params}
}

test_deny_unset_region if {
	some v in violation with input as {"object": obj("Bucket", {}), "parameters": params}
	contains(v.msg, "got unset")
}

test_deny_everything_without_parameters if {
	count(violation) == 1 with input as {"object": obj("Bucket", {"region": "eu-west-1"})}
}

test_allow_bucket_in_region if {
	count(violation) == 0 with input as {"object": obj("Bucket", {"region": "eu-west-1"}), "parameters": params}
}

test_allow_database_in_region if {
	count(violation) == 0 with input as {"object": obj("Database", {"region": "eu-central-1"}), "parameters": params}
}

test_allow_other_kind if {
	count(violation) == 0 with input as {"object": obj("ProviderConfig", {"region": "us-east-1"}), "parameters": params}
}
