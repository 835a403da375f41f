package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// Versioning says whether a bucket keeps old versions of its objects.
// +kubebuilder:validation:Enum=Enabled;Disabled
type Versioning string

// The versioning states. A bucket whose versioning was once enabled cannot
// return to never-versioned: Disabled then means suspended.
const (
	VersioningEnabled  Versioning = "Enabled"
	VersioningDisabled Versioning = "Disabled"
)

// EncryptionMode says who holds the key that encrypts a bucket at rest.
// +kubebuilder:validation:Enum=ProviderManaged;CustomerManaged
type EncryptionMode string

// The encryption modes.
const (
	// EncryptionProviderManaged encrypts with a key the cloud manages (SSE-S3
	// on AWS, Google-managed keys on Cloud Storage).
	EncryptionProviderManaged EncryptionMode = "ProviderManaged"
	// EncryptionCustomerManaged encrypts with the customer key in keyID (a
	// KMS key ARN or ID on AWS, a Cloud KMS key name on Google Cloud).
	EncryptionCustomerManaged EncryptionMode = "CustomerManaged"
)

// PublicAccess says whether a bucket may be made public.
// +kubebuilder:validation:Enum=Blocked;Allowed
type PublicAccess string

// The public access settings.
const (
	PublicAccessBlocked PublicAccess = "Blocked"
	PublicAccessAllowed PublicAccess = "Allowed"
)

// Encryption configures encryption at rest.
// +kubebuilder:validation:XValidation:rule="self.mode == 'CustomerManaged' ? has(self.keyID) && size(self.keyID) > 0 : !has(self.keyID)",message="keyID is required with mode CustomerManaged and not allowed with ProviderManaged"
type Encryption struct {
	// mode is ProviderManaged or CustomerManaged.
	// +optional
	// +kubebuilder:default=ProviderManaged
	Mode EncryptionMode `json:"mode,omitempty"`

	// keyID identifies the customer-managed key.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	KeyID string `json:"keyID,omitempty"`
}

// LifecycleRule expires objects under a prefix.
// +kubebuilder:validation:XValidation:rule="has(self.expirationDays) || has(self.noncurrentVersionExpirationDays)",message="a lifecycle rule needs expirationDays or noncurrentVersionExpirationDays"
type LifecycleRule struct {
	// name identifies the rule.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name"`

	// prefix limits the rule to object keys that start with it; empty means
	// every object.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Prefix string `json:"prefix,omitempty"`

	// expirationDays deletes current objects this many days after creation.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=36500
	ExpirationDays *int32 `json:"expirationDays,omitempty"`

	// noncurrentVersionExpirationDays deletes old versions this many days
	// after they stop being current.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=36500
	NoncurrentVersionExpirationDays *int32 `json:"noncurrentVersionExpirationDays,omitempty"`
}

// BucketSpec is the portable description of an object-storage bucket.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.region) || (has(self.region) && self.region == oldSelf.region)",message="region is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.bucketName) || (has(self.bucketName) && self.bucketName == oldSelf.bucketName)",message="bucketName is immutable"
type BucketSpec struct {
	stratusv1alpha1.ManagedResourceSpec `json:",inline"`

	// bucketName is the name of the bucket in the cloud. Defaults to a name
	// derived from the namespace and name of this object. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`
	BucketName string `json:"bucketName,omitempty"`

	// region or location of the bucket. Defaults to the provider
	// configuration's region. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Region string `json:"region,omitempty"`

	// versioning keeps old versions of objects when Enabled.
	// +optional
	// +kubebuilder:default=Disabled
	Versioning Versioning `json:"versioning,omitempty"`

	// encryption at rest. Defaults to provider-managed keys.
	// +optional
	// +kubebuilder:default={mode: ProviderManaged}
	Encryption *Encryption `json:"encryption,omitempty"`

	// publicAccess is Blocked unless set to Allowed.
	// +optional
	// +kubebuilder:default=Blocked
	PublicAccess PublicAccess `json:"publicAccess,omitempty"`

	// lifecycle rules that expire objects.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	Lifecycle []LifecycleRule `json:"lifecycle,omitempty"`

	// labels are tags on the bucket (labels on Google Cloud). At most 45:
	// S3 allows 50 tags, and the operator's owner mark takes 5. Keys that
	// start with stratus.dev/ or stratus-owner are the operator's.
	// +optional
	// +kubebuilder:validation:MaxProperties=45
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 128 && size(self[k]) <= 256)",message="label keys are at most 128 characters and values at most 256"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('stratus.dev/') && !k.startsWith('stratus-owner'))",message="label keys starting with stratus.dev/ or stratus-owner are reserved for the operator's owner mark"
	Labels map[string]string `json:"labels,omitempty"`

	// forceDestroy lets deletion delete the objects in the bucket. Without
	// it, deleting a bucket that holds objects is blocked and nothing is lost.
	// +optional
	ForceDestroy bool `json:"forceDestroy,omitempty"`
}

// BucketObservation is what was last observed of the bucket in the cloud.
type BucketObservation struct {
	// name of the bucket.
	// +optional
	Name string `json:"name,omitempty"`
	// region of the bucket.
	// +optional
	Region string `json:"region,omitempty"`
	// versioning as the cloud reports it.
	// +optional
	Versioning string `json:"versioning,omitempty"`
	// encryption algorithm, such as AES256 or aws:kms.
	// +optional
	Encryption string `json:"encryption,omitempty"`
	// encryptionKeyID is the customer key, if any.
	// +optional
	EncryptionKeyID string `json:"encryptionKeyID,omitempty"`
	// publicAccessBlocked is true when every public access is blocked.
	// +optional
	PublicAccessBlocked *bool `json:"publicAccessBlocked,omitempty"`
	// lifecycleRules is the number of lifecycle rules.
	// +optional
	LifecycleRules int32 `json:"lifecycleRules,omitempty"`
	// labels on the bucket.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// url of the bucket.
	// +optional
	URL string `json:"url,omitempty"`
}

// BucketStatus is the observed state of a Bucket.
type BucketStatus struct {
	stratusv1alpha1.ManagedResourceStatus `json:",inline"`

	// atProvider is what was observed in the cloud.
	// +optional
	AtProvider BucketObservation `json:"atProvider,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories={stratus,managed},shortName=bkt
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="SYNCED",type=string,JSONPath=`.status.conditions[?(@.type=='Synced')].status`
// +kubebuilder:printcolumn:name="EXTERNAL-NAME",type=string,JSONPath=`.metadata.annotations.stratus\.dev/external-name`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="REGION",type=string,JSONPath=`.status.atProvider.region`,priority=10
// +kubebuilder:printcolumn:name="REASON",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`,priority=10

// Bucket is an object-storage bucket in a cloud: S3 on AWS, Cloud Storage on
// Google Cloud.
type Bucket struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired bucket.
	// +required
	Spec BucketSpec `json:"spec"`

	// status is the observed bucket.
	// +optional
	Status BucketStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BucketList is a list of Buckets.
type BucketList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Bucket `json:"items"`
}

// ManagedSpec returns the fields every managed resource shares.
func (b *Bucket) ManagedSpec() *stratusv1alpha1.ManagedResourceSpec {
	return &b.Spec.ManagedResourceSpec
}

// ManagedStatus returns the status every managed resource shares.
func (b *Bucket) ManagedStatus() *stratusv1alpha1.ManagedResourceStatus {
	return &b.Status.ManagedResourceStatus
}

func init() {
	SchemeBuilder.Register(&Bucket{}, &BucketList{})
}
