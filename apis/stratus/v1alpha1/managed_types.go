package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations the managed-resource reconciler reads and writes.
const (
	// AnnotationExternalName is the name of the resource in the cloud. Set it
	// before creating a managed resource to adopt an existing cloud resource;
	// otherwise the operator sets it to a deterministic name before it creates.
	AnnotationExternalName = "stratus.dev/external-name"

	// AnnotationPaused, set to "true", stops all reconciliation, deletion
	// included, until it is removed.
	AnnotationPaused = "stratus.dev/paused"

	// AnnotationCreatePending records, before the cloud call, that the
	// operator is about to create the external resource: the intent that makes
	// a create safe to resume after a crash.
	AnnotationCreatePending = "stratus.dev/external-create-pending"

	// AnnotationCreateSucceeded recorded, in versions before 0.3, when the
	// cloud accepted the create. It is no longer written: the resource's
	// deterministic name makes the pending mark enough to resume a create,
	// success shows in the Ready condition and the CreatedExternalResource
	// Event, and the write cost one API request per create. Objects that
	// carry it are still recognized as created by the operator.
	AnnotationCreateSucceeded = "stratus.dev/external-create-succeeded"
)

// Finalizer is the finalizer that keeps a managed resource until its cloud
// resource has been deleted or orphaned.
const Finalizer = "stratus.dev/managed-resource"

// Condition types of every managed resource.
const (
	// ConditionReady is True when the cloud resource exists and is usable.
	ConditionReady = "Ready"
	// ConditionSynced is True when the last reconcile brought the cloud
	// resource in line with the spec (or, observe-only, observed it).
	ConditionSynced = "Synced"
	// ConditionFeaturesSupported is False when the endpoint lacks a feature
	// the spec uses; the rest of the resource is still reconciled.
	ConditionFeaturesSupported = "FeaturesSupported"
)

// Reasons of the Ready condition.
const (
	ReasonAvailable       = "Available"
	ReasonCreating        = "Creating"
	ReasonDeleting        = "Deleting"
	ReasonDeletionBlocked = "DeletionBlocked"
	ReasonNotFound        = "NotFound"
	ReasonUnavailable     = "Unavailable"
)

// Reasons of the Synced condition.
const (
	ReasonReconcileSuccess = "ReconcileSuccess"
	ReasonReconcileError   = "ReconcileError"
	ReasonReconcilePaused  = "ReconcilePaused"
	ReasonObserveOnly      = "ObserveOnly"
	ReasonInvalidSpec      = "InvalidSpec"
	ReasonNameConflict     = "NameConflict"
	ReasonThrottled        = "Throttled"
	ReasonBadCredentials   = "BadCredentials"
	// ReasonProviderConfigNotAllowed: the provider configuration may not be
	// used from this namespace, or uses what its namespace is not allowed.
	ReasonProviderConfigNotAllowed = "ProviderConfigNotAllowed"
	// ReasonAdoptionNotAllowed: the cloud resource exists, no object owns
	// it, and the provider configuration does not let this namespace adopt.
	ReasonAdoptionNotAllowed = "AdoptionNotAllowed"
	// ReasonExternalNameImmutable: the external name changed after the
	// operator began to manage the resource.
	ReasonExternalNameImmutable = "ExternalNameImmutable"
	// ReasonProviderConfigChanged: providerConfigRef now reaches another
	// provider or account than the one the resource lives in.
	ReasonProviderConfigChanged = "ProviderConfigChanged"
	// ReasonExternalResourceMissing: the cloud resource the operator managed
	// was deleted behind its back and is not recreated.
	ReasonExternalResourceMissing = "ExternalResourceMissing"
)

// Reasons of the FeaturesSupported condition.
const (
	ReasonAllSupported         = "AllSupported"
	ReasonEndpointLacksFeature = "EndpointLacksFeature"
)

// DeletionPolicy says what happens to the cloud resource when the managed
// resource is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

// The deletion policies.
const (
	// DeletionDelete deletes the cloud resource.
	DeletionDelete DeletionPolicy = "Delete"
	// DeletionOrphan keeps the cloud resource.
	DeletionOrphan DeletionPolicy = "Orphan"
)

// ManagementPolicy says what the operator may do to the cloud resource.
// +kubebuilder:validation:Enum=Full;ObserveOnly
type ManagementPolicy string

// The management policies.
const (
	// ManagementFull creates, updates and deletes the cloud resource.
	ManagementFull ManagementPolicy = "Full"
	// ManagementObserveOnly only reads the cloud resource: it never creates,
	// changes or deletes it, and reports drift without correcting it.
	ManagementObserveOnly ManagementPolicy = "ObserveOnly"
)

// OnExternalDeletion says what happens when the cloud resource the operator
// manages is deleted behind its back.
// +kubebuilder:validation:Enum=Report;Recreate
type OnExternalDeletion string

// The OnExternalDeletion values.
const (
	// OnExternalDeletionReport reports the loss (a Warning Event and
	// Ready=False ExternalResourceMissing) and creates nothing: a new, empty
	// bucket or database under the same name would hide that data was lost.
	OnExternalDeletionReport OnExternalDeletion = "Report"
	// OnExternalDeletionRecreate creates the resource again, empty, and
	// says so in a Warning Event.
	OnExternalDeletionRecreate OnExternalDeletion = "Recreate"
)

// ProviderConfigKind is the kind of a provider configuration.
// +kubebuilder:validation:Enum=ProviderConfig;ClusterProviderConfig
type ProviderConfigKind string

// The provider configuration kinds.
const (
	ProviderConfigKindNamespaced ProviderConfigKind = "ProviderConfig"
	ProviderConfigKindCluster    ProviderConfigKind = "ClusterProviderConfig"
)

// ProviderConfigReference names the configuration a managed resource uses: a
// ProviderConfig in its own namespace or a ClusterProviderConfig.
type ProviderConfigReference struct {
	// kind of the configuration.
	// +optional
	// +kubebuilder:default=ProviderConfig
	Kind ProviderConfigKind `json:"kind,omitempty"`

	// name of the configuration.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// LocalSecretReference names a Secret in the managed resource's namespace.
type LocalSecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// ManagedResourceSpec holds the fields every managed resource shares.
type ManagedResourceSpec struct {
	// providerConfigRef names the configuration used to reach the cloud.
	// +required
	ProviderConfigRef ProviderConfigReference `json:"providerConfigRef"`

	// deletionPolicy says whether deleting this object deletes the cloud
	// resource (Delete) or keeps it (Orphan).
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// managementPolicy is Full, or ObserveOnly to only read the cloud.
	// +optional
	// +kubebuilder:default=Full
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`

	// writeConnectionSecretToRef names a Secret in this namespace to which
	// the operator writes how to connect to the resource. Kinds whose
	// credentials the operator generates (a Database owner's password) use
	// the Secret <name>-connection when this is unset.
	// +optional
	WriteConnectionSecretToRef *LocalSecretReference `json:"writeConnectionSecretToRef,omitempty"`

	// pollInterval is how often the cloud resource is observed for drift,
	// from 10s to 24h. Defaults to the manager's --poll-interval.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="pollInterval must be between 10s and 24h"
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// onExternalDeletion says what happens when the cloud resource is
	// deleted behind the operator's back: Report (the default) says so and
	// creates nothing; Recreate creates it again, empty.
	// +optional
	// +kubebuilder:default=Report
	OnExternalDeletion OnExternalDeletion `json:"onExternalDeletion,omitempty"`
}

// ExternalResourceStatus records the cloud resource the operator manages for
// an object, once it has found it to be the object's own. Only the operator
// writes status, so this is the operator's record, not a user's claim.
type ExternalResourceStatus struct {
	// name of the resource in the cloud.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// provider the resource lives in.
	// +required
	Provider Provider `json:"provider"`

	// providerConfigRef is the configuration the resource was last reached
	// with.
	// +required
	ProviderConfigRef ProviderConfigReference `json:"providerConfigRef"`
}

// DriftedField is a field in which the cloud differs from the spec.
type DriftedField struct {
	// field is the spec path, such as spec.versioning.
	// +required
	// +kubebuilder:validation:MaxLength=256
	Field string `json:"field"`

	// desired is the value in the spec.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Desired string `json:"desired,omitempty"`

	// observed is the value in the cloud.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Observed string `json:"observed,omitempty"`
}

// ManagedResourceStatus holds the status every managed resource shares.
type ManagedResourceStatus struct {
	// conditions: Ready, Synced and FeaturesSupported.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// drift lists the fields in which the cloud differed from an unchanged
	// spec at the last observation: changes made behind the operator's back.
	// Under management policy Full they were corrected in the same reconcile.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Drift []DriftedField `json:"drift,omitempty"`

	// lastDriftTime is when drift was last detected.
	// +optional
	LastDriftTime *metav1.Time `json:"lastDriftTime,omitempty"`

	// externalResource is the cloud resource the operator manages for this
	// object, set once it found the resource to be this object's own.
	// +optional
	ExternalResource *ExternalResourceStatus `json:"externalResource,omitempty"`
}
