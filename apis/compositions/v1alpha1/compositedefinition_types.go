package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// CompositeScope says whether instances of a composite are namespaced.
// +kubebuilder:validation:Enum=Namespaced;Cluster
type CompositeScope string

// The scopes.
const (
	CompositeNamespaced CompositeScope = "Namespaced"
	CompositeCluster    CompositeScope = "Cluster"
)

// CompositeNames are the names of the new API.
type CompositeNames struct {
	// kind of the new API, such as AppStorage.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z][A-Za-z0-9]*$`
	// +kubebuilder:validation:MaxLength=63
	Kind string `json:"kind"`

	// plural resource name, such as appstorages.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9]*$`
	// +kubebuilder:validation:MaxLength=63
	Plural string `json:"plural"`

	// shortNames for kubectl.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	ShortNames []string `json:"shortNames,omitempty"`

	// categories for kubectl; "composite" is always added.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Categories []string `json:"categories,omitempty"`
}

// CompositeSchema is the OpenAPI v3 schema of the new API's spec and status.
type CompositeSchema struct {
	// spec is the OpenAPI v3 schema of the instances' spec.
	// +required
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Spec runtime.RawExtension `json:"spec"`

	// status is the OpenAPI v3 schema of the instances' status fields
	// projected from the composed resources.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Status *runtime.RawExtension `json:"status,omitempty"`
}

// ComposedResource is one resource a composite creates.
type ComposedResource struct {
	// name identifies the resource within the composite, and names it in
	// expressions (resources.<name>).
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z][a-zA-Z0-9]*$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// template is the resource to create: its apiVersion and kind, one of
	// the kinds the platform team lets compositions create (the manager's
	// --composable-kinds), and its metadata and content. String values,
	// metadata.labels and metadata.annotations values included, may hold
	// CEL expressions as ${expression}: a value that is only an expression
	// takes the expression's type; otherwise the results are interpolated
	// into the string. Expressions see spec and metadata (of the composite)
	// and resources.<name> (the other composed resources as observed);
	// referring to another resource makes this one depend on it. The
	// resources of a namespaced composite are in its namespace: such a
	// template sets no other metadata.namespace.
	// +required
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Template runtime.RawExtension `json:"template"`

	// includeWhen is a CEL expression; the resource is composed only while
	// it is true.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	IncludeWhen string `json:"includeWhen,omitempty"`

	// readyWhen is a CEL expression over the resource (self) that says
	// when it is ready; defaults to its Ready condition being True.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ReadyWhen string `json:"readyWhen,omitempty"`
}

// ConnectionSecretTemplate aggregates connection details for the
// application into one Secret named after the composite.
type ConnectionSecretTemplate struct {
	// data maps each key of the Secret to a CEL expression, such as
	// "resources.db.status.atProvider.host", or to a Secret reference
	// "secret:<resource>.<key>" that copies a key of a composed resource's
	// connection Secret.
	// +required
	// +kubebuilder:validation:MaxProperties=64
	Data map[string]string `json:"data"`
}

// CompositeVersion is one version of the new API. Every version has the
// definition's schema.
type CompositeVersion struct {
	// name of the version, such as v1alpha1.
	// +required
	// +kubebuilder:validation:Pattern=`^v[0-9]+((alpha|beta)[0-9]+)?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// served says whether the API server serves the version.
	// +optional
	// +kubebuilder:default=true
	Served bool `json:"served"`

	// storage says whether instances are stored at this version; exactly
	// one version is the storage version.
	// +optional
	// +kubebuilder:default=false
	Storage bool `json:"storage"`

	// deprecated says whether the version is deprecated: the API server
	// warns the clients that use it.
	// +optional
	Deprecated bool `json:"deprecated,omitempty"`
}

// CompositeDefinitionSpec declares a new API and what it composes.
// +kubebuilder:validation:XValidation:rule="self.versions.filter(v, v.storage).size() == 1",message="exactly one version must be the storage version"
// +kubebuilder:validation:XValidation:rule="self.group == oldSelf.group && self.names.kind == oldSelf.names.kind && self.names.plural == oldSelf.names.plural",message="group, names.kind and names.plural are immutable"
type CompositeDefinitionSpec struct {
	// group of the new API, such as platform.example.com.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group"`

	// names of the new API.
	// +required
	Names CompositeNames `json:"names"`

	// scope of the instances.
	// +optional
	// +kubebuilder:default=Namespaced
	Scope CompositeScope `json:"scope,omitempty"`

	// versions of the new API, such as v1alpha1, all with the one schema.
	// Exactly one is the storage version.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Versions []CompositeVersion `json:"versions"`

	// schema of the new API.
	// +required
	Schema CompositeSchema `json:"schema"`

	// resources the composite creates, in any order: they are created in
	// the order of their dependencies and deleted in reverse.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Resources []ComposedResource `json:"resources"`

	// status maps fields of the composite's status to CEL expressions over
	// the composed resources.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Status map[string]string `json:"status,omitempty"`

	// connectionSecret aggregates connection details into one Secret.
	// +optional
	ConnectionSecret *ConnectionSecretTemplate `json:"connectionSecret,omitempty"`
}

// CompositeDefinitionStatus reports whether the definition is valid and
// served.
type CompositeDefinitionStatus struct {
	// conditions: Established (the CRD is served) and Valid (every
	// expression compiles, the dependencies form no cycle, every composed
	// kind is one compositions may create, and the group and kind are the
	// definition's own).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// order is the order in which resources are created.
	// +optional
	// +listType=atomic
	Order []string `json:"order,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories={stratus},shortName=cd
// +kubebuilder:printcolumn:name="KIND",type=string,JSONPath=`.spec.names.kind`
// +kubebuilder:printcolumn:name="GROUP",type=string,JSONPath=`.spec.group`
// +kubebuilder:printcolumn:name="VALID",type=string,JSONPath=`.status.conditions[?(@.type=='Valid')].status`
// +kubebuilder:printcolumn:name="ESTABLISHED",type=string,JSONPath=`.status.conditions[?(@.type=='Established')].status`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`

// CompositeDefinition declares a new API that application teams request
// with one object, and the resources each instance is made of.
type CompositeDefinition struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec of the definition.
	// +required
	Spec CompositeDefinitionSpec `json:"spec"`

	// status of the definition.
	// +optional
	Status CompositeDefinitionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CompositeDefinitionList is a list of CompositeDefinitions.
type CompositeDefinitionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CompositeDefinition `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CompositeDefinition{}, &CompositeDefinitionList{})
}
