# METADATA
# title: required-labels
# custom:
#   controls: []
package stratus.guardrails.required_labels

kinds := object.get(input, ["parameters", "kinds"], ["Bucket", "Database"])

required := object.get(input, ["parameters", "labels"], ["owner", "cost-center"])

violation contains {"msg": msg, "field": sprintf("metadata.labels.%s", [label])} if {
	input.object.kind in kinds
	some label in required
	object.get(input.object, ["metadata", "labels", label], "") == ""
	msg := sprintf("metadata.labels is missing label %s (got unset, allowed a non-empty value; required %v)", [label, required])
}
