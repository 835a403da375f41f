package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// EnforcementAction says what happens to a request that breaks a guardrail.
// +kubebuilder:validation:Enum=deny;warn;dryrun
type EnforcementAction string

// The enforcement actions.
const (
	// EnforcementDeny rejects the request.
	EnforcementDeny EnforcementAction = "deny"
	// EnforcementWarn admits the request with a warning kubectl shows.
	EnforcementWarn EnforcementAction = "warn"
	// EnforcementDryRun admits the request and only records the violation.
	EnforcementDryRun EnforcementAction = "dryrun"
)

// Operation is an admission operation a guardrail applies to.
// +kubebuilder:validation:Enum=CREATE;UPDATE;DELETE
type Operation string

// KindSelector selects kinds by API group and kind.
type KindSelector struct {
	// apiGroups of the kinds; "*" matches any.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	APIGroups []string `json:"apiGroups"`

	// kinds in those groups; "*" matches any.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Kinds []string `json:"kinds"`
}

// Match says which requests a guardrail judges.
type Match struct {
	// kinds the guardrail applies to; composites are judged by the
	// resources they would create, so listing Bucket also covers a
	// composite that would create one.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Kinds []KindSelector `json:"kinds"`

	// namespaces the guardrail applies to; empty means all.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Namespaces []string `json:"namespaces,omitempty"`

	// excludedNamespaces the guardrail never applies to.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`

	// namespaceSelector selects namespaces by label.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// labelSelector selects objects by label.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`

	// operations the guardrail applies to; defaults to CREATE and UPDATE.
	// +optional
	// +kubebuilder:validation:MaxItems=3
	Operations []Operation `json:"operations,omitempty"`
}

// GuardrailSpec is a Rego policy, what it applies to, and what happens to a
// request that breaks it.
type GuardrailSpec struct {
	// rego is a Rego module (Rego v1 syntax) defining a "violation" set
	// rule whose elements are objects with a "msg" (and optionally a
	// "field"). It sees input.object, input.oldObject, input.operation,
	// input.userInfo, input.namespace (the namespace's name and labels)
	// and input.parameters, and nothing else: built-in functions that
	// reach the network, files or the environment (http.send,
	// net.lookup_ip_addr, opa.runtime, json.match_schema, ...) are
	// refused, and each evaluation is bounded in steps, memory and time.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	Rego string `json:"rego"`

	// match says which requests the guardrail judges.
	// +required
	Match Match `json:"match"`

	// parameters are given to the policy as input.parameters.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`

	// enforcementAction is deny, warn or dryrun.
	// +optional
	// +kubebuilder:default=deny
	EnforcementAction EnforcementAction `json:"enforcementAction,omitempty"`
}

// AuditViolation is a violation found by the audit of existing resources.
type AuditViolation struct {
	// kind of the resource.
	// +required
	Kind string `json:"kind"`
	// namespace of the resource.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// name of the resource.
	// +required
	Name string `json:"name"`
	// message says what is wrong and how to fix it.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message"`
}

// GuardrailStatus reports whether the policy compiled and what the audit
// found.
type GuardrailStatus struct {
	// conditions: Compiled (the Rego compiled and is enforced) and
	// Audited (the last audit judged every resource the guardrail applies
	// to; False when its Rego failed or exceeded a limit on some).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// auditTime is when existing resources were last checked.
	// +optional
	AuditTime *metav1.Time `json:"auditTime,omitempty"`

	// totalViolations is the number of existing resources that break the
	// guardrail.
	// +optional
	TotalViolations int32 `json:"totalViolations,omitempty"`

	// violations lists the first violations the audit found.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Violations []AuditViolation `json:"violations,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories={stratus},shortName=gr
// +kubebuilder:printcolumn:name="ACTION",type=string,JSONPath=`.spec.enforcementAction`
// +kubebuilder:printcolumn:name="COMPILED",type=string,JSONPath=`.status.conditions[?(@.type=='Compiled')].status`
// +kubebuilder:printcolumn:name="VIOLATIONS",type=integer,JSONPath=`.status.totalViolations`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`

// Guardrail is a policy that the admission webhook enforces on cloud
// resources, and on what composites would create, and that the audit
// applies to existing resources.
type Guardrail struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the guardrail.
	// +required
	Spec GuardrailSpec `json:"spec"`

	// status of the guardrail.
	// +optional
	Status GuardrailStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// GuardrailList is a list of Guardrails.
type GuardrailList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Guardrail `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Guardrail{}, &GuardrailList{})
}
