package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// Engine is a database engine.
// +kubebuilder:validation:Enum=postgres;mysql
type Engine string

// The database engines.
const (
	EnginePostgres Engine = "postgres"
	EngineMySQL    Engine = "mysql"
)

// SizeClass is a portable instance size; each cloud maps it to an instance
// class or tier.
// +kubebuilder:validation:Enum=Small;Medium;Large;XLarge
type SizeClass string

// The size classes.
const (
	SizeSmall  SizeClass = "Small"
	SizeMedium SizeClass = "Medium"
	SizeLarge  SizeClass = "Large"
	SizeXLarge SizeClass = "XLarge"
)

// DatabaseSpec is the portable description of a database. Instance fields
// (sizeClass, storageGB, highAvailability, backupRetentionDays,
// storageEncrypted, publiclyAccessible, region) apply to managed database
// services; a driver that cannot honour a field that is set rejects the
// resource with a clear condition rather than ignoring it.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.region) || (has(self.region) && self.region == oldSelf.region)",message="region is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.databaseName) || (has(self.databaseName) && self.databaseName == oldSelf.databaseName)",message="databaseName is immutable"
// +kubebuilder:validation:XValidation:rule="self.engine == oldSelf.engine",message="engine is immutable"
type DatabaseSpec struct {
	stratusv1alpha1.ManagedResourceSpec `json:",inline"`

	// engine of the database.
	// +optional
	// +kubebuilder:default=postgres
	Engine Engine `json:"engine,omitempty"`

	// engineVersion is the major version, such as "16".
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[0-9]+(\.[0-9]+)*$`
	EngineVersion string `json:"engineVersion,omitempty"`

	// databaseName is the name of the database inside the server. Defaults
	// to a name derived from this object's namespace and name. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	DatabaseName string `json:"databaseName,omitempty"`

	// owner is the role that owns the database; the operator creates it with
	// a generated password delivered only through the connection Secret.
	// Defaults to the database name followed by _owner.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	Owner string `json:"owner,omitempty"`

	// region of the database instance. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Region string `json:"region,omitempty"`

	// sizeClass of the database instance.
	// +optional
	SizeClass SizeClass `json:"sizeClass,omitempty"`

	// storageGB is the allocated storage.
	// +optional
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=65536
	StorageGB *int32 `json:"storageGB,omitempty"`

	// backupRetentionDays keeps automated backups this many days; 0 turns
	// them off.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=35
	BackupRetentionDays *int32 `json:"backupRetentionDays,omitempty"`

	// highAvailability runs a standby in another zone.
	// +optional
	HighAvailability *bool `json:"highAvailability,omitempty"`

	// storageEncrypted encrypts storage at rest; managed services default
	// to true.
	// +optional
	StorageEncrypted *bool `json:"storageEncrypted,omitempty"`

	// publiclyAccessible gives the instance a public address.
	// +optional
	PubliclyAccessible *bool `json:"publiclyAccessible,omitempty"`

	// deletionProtection blocks deleting the database while true: the
	// object stays, with a DeletionBlocked condition, until it is set false
	// (or the deletionPolicy is Orphan).
	// +optional
	DeletionProtection bool `json:"deletionProtection,omitempty"`
}

// DatabaseObservation is what was last observed of the database.
type DatabaseObservation struct {
	// name of the database.
	// +optional
	Name string `json:"name,omitempty"`
	// owner of the database.
	// +optional
	Owner string `json:"owner,omitempty"`
	// engineVersion the server runs.
	// +optional
	EngineVersion string `json:"engineVersion,omitempty"`
	// host clients connect to.
	// +optional
	Host string `json:"host,omitempty"`
	// port clients connect to.
	// +optional
	Port int32 `json:"port,omitempty"`
	// state of the instance as the cloud reports it.
	// +optional
	State string `json:"state,omitempty"`
}

// DatabaseStatus is the observed state of a Database.
type DatabaseStatus struct {
	stratusv1alpha1.ManagedResourceStatus `json:",inline"`

	// atProvider is what was observed in the cloud.
	// +optional
	AtProvider DatabaseObservation `json:"atProvider,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories={stratus,managed},shortName=db
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].status`
// +kubebuilder:printcolumn:name="SYNCED",type=string,JSONPath=`.status.conditions[?(@.type=='Synced')].status`
// +kubebuilder:printcolumn:name="EXTERNAL-NAME",type=string,JSONPath=`.metadata.annotations.stratus\.dev/external-name`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="ENGINE",type=string,JSONPath=`.spec.engine`,priority=10
// +kubebuilder:printcolumn:name="HOST",type=string,JSONPath=`.status.atProvider.host`,priority=10
// +kubebuilder:printcolumn:name="REASON",type=string,JSONPath=`.status.conditions[?(@.type=='Ready')].reason`,priority=10

// Database is a database: an instance on a managed service (RDS, Cloud SQL)
// or a database and its owner role on a PostgreSQL server.
type Database struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired database.
	// +required
	Spec DatabaseSpec `json:"spec"`

	// status is the observed database.
	// +optional
	Status DatabaseStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DatabaseList is a list of Databases.
type DatabaseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Database `json:"items"`
}

// ManagedSpec returns the fields every managed resource shares.
func (d *Database) ManagedSpec() *stratusv1alpha1.ManagedResourceSpec {
	return &d.Spec.ManagedResourceSpec
}

// ManagedStatus returns the status every managed resource shares.
func (d *Database) ManagedStatus() *stratusv1alpha1.ManagedResourceStatus {
	return &d.Status.ManagedResourceStatus
}

func init() {
	SchemeBuilder.Register(&Database{}, &DatabaseList{})
}
