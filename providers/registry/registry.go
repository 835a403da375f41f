package registry

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/aws"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/gcp"
	"github.com/stratus-operator/stratus/providers/managed"
	"github.com/stratus-operator/stratus/providers/postgres"
)

// +kubebuilder:rbac:groups=storage.stratus.dev,resources=buckets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storage.stratus.dev,resources=buckets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=storage.stratus.dev,resources=buckets/finalizers,verbs=update
// +kubebuilder:rbac:groups=database.stratus.dev,resources=databases,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=database.stratus.dev,resources=databases/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=database.stratus.dev,resources=databases/finalizers,verbs=update
// +kubebuilder:rbac:groups=stratus.dev,resources=providerconfigs;clusterproviderconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Drivers are the drivers of every kind, by provider. Tests and benchmarks
// may build their own.
type Drivers struct {
	Buckets   map[stratusv1alpha1.Provider]driver.Driver[*storagev1alpha1.Bucket]
	Databases map[stratusv1alpha1.Provider]driver.Driver[*databasev1alpha1.Database]
}

// DefaultDrivers returns the drivers the operator ships.
func DefaultDrivers() Drivers {
	return Drivers{
		Buckets: map[stratusv1alpha1.Provider]driver.Driver[*storagev1alpha1.Bucket]{
			stratusv1alpha1.ProviderAWS: aws.NewBucketDriver(),
			stratusv1alpha1.ProviderGCP: gcp.NewBucketDriver(),
		},
		Databases: map[stratusv1alpha1.Provider]driver.Driver[*databasev1alpha1.Database]{
			stratusv1alpha1.ProviderPostgreSQL: postgres.NewDatabaseDriver(),
			stratusv1alpha1.ProviderAWS:        aws.NewDatabaseDriver(),
			stratusv1alpha1.ProviderGCP:        gcp.NewDatabaseDriver(),
		},
	}
}

// BucketKind describes the Bucket kind to the generic reconciler.
func BucketKind(drivers map[stratusv1alpha1.Provider]driver.Driver[*storagev1alpha1.Bucket]) managed.Kind[*storagev1alpha1.Bucket] {
	return managed.Kind[*storagev1alpha1.Bucket]{
		New:     func() *storagev1alpha1.Bucket { return &storagev1alpha1.Bucket{} },
		Drivers: drivers,
		ExternalName: func(b *storagev1alpha1.Bucket) string {
			if b.Spec.BucketName != "" {
				return b.Spec.BucketName
			}
			return BucketName(b.Namespace, b.Name)
		},
		Region: func(b *storagev1alpha1.Bucket) string { return b.Spec.Region },
	}
}

// DatabaseKind describes the Database kind to the generic reconciler.
func DatabaseKind(drivers map[stratusv1alpha1.Provider]driver.Driver[*databasev1alpha1.Database]) managed.Kind[*databasev1alpha1.Database] {
	return managed.Kind[*databasev1alpha1.Database]{
		New:     func() *databasev1alpha1.Database { return &databasev1alpha1.Database{} },
		Drivers: drivers,
		ExternalName: func(d *databasev1alpha1.Database) string {
			if d.Spec.DatabaseName != "" {
				return d.Spec.DatabaseName
			}
			return DatabaseName(d.Namespace, d.Name)
		},
		Region: func(d *databasev1alpha1.Database) string { return d.Spec.Region },
	}
}

// ManagedKinds are the kinds Setup reconciles.
func ManagedKinds() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{
		storagev1alpha1.GroupVersion.WithKind("Bucket"),
		databasev1alpha1.GroupVersion.WithKind("Database"),
	}
}

// Setup registers the reconciler of every managed kind with mgr.
func Setup(mgr ctrl.Manager, drivers Drivers, opts managed.Options) error {
	configs := managed.NewProviderConfigs(mgr.GetClient(), mgr.GetAPIReader())
	if err := managed.Setup(mgr, BucketKind(drivers.Buckets), configs, opts); err != nil {
		return err
	}
	return managed.Setup(mgr, DatabaseKind(drivers.Databases), configs, opts)
}
