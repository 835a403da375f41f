package registry

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Drivers are the drivers of every kind, by provider. Tests and benchmarks
// may build their own.
type Drivers struct {
	Buckets   map[stratusv1alpha1.Provider]driver.Registration[*storagev1alpha1.Bucket]
	Databases map[stratusv1alpha1.Provider]driver.Registration[*databasev1alpha1.Database]
}

// DefaultDrivers returns the drivers the operator ships.
func DefaultDrivers() Drivers {
	return Drivers{
		Buckets: map[stratusv1alpha1.Provider]driver.Registration[*storagev1alpha1.Bucket]{
			stratusv1alpha1.ProviderAWS: aws.NewBucketDriver(),
			stratusv1alpha1.ProviderGCP: gcp.NewBucketDriver(),
		},
		Databases: map[stratusv1alpha1.Provider]driver.Registration[*databasev1alpha1.Database]{
			stratusv1alpha1.ProviderPostgreSQL: postgres.NewDatabaseDriver(),
			stratusv1alpha1.ProviderAWS:        aws.NewDatabaseDriver(),
			stratusv1alpha1.ProviderGCP:        gcp.NewDatabaseDriver(),
		},
	}
}

// BucketKind describes the Bucket kind to the generic reconciler.
func BucketKind(drivers map[stratusv1alpha1.Provider]driver.Registration[*storagev1alpha1.Bucket]) managed.Kind[*storagev1alpha1.Bucket] {
	return managed.Kind[*storagev1alpha1.Bucket]{
		New:     func() *storagev1alpha1.Bucket { return &storagev1alpha1.Bucket{} },
		Drivers: drivers,
		ExternalName: func(b *storagev1alpha1.Bucket) string {
			if b.Spec.BucketName != "" {
				return b.Spec.BucketName
			}
			return BucketName(b.Namespace, b.Name)
		},
		GeneratedName: func(b *storagev1alpha1.Bucket) string { return BucketName(b.Namespace, b.Name) },
		Region:        func(b *storagev1alpha1.Bucket) string { return b.Spec.Region },
		ForgetObservation: func(b *storagev1alpha1.Bucket) {
			b.Status.AtProvider = storagev1alpha1.BucketObservation{}
		},
	}
}

// DatabaseKind describes the Database kind to the generic reconciler.
func DatabaseKind(drivers map[stratusv1alpha1.Provider]driver.Registration[*databasev1alpha1.Database]) managed.Kind[*databasev1alpha1.Database] {
	return managed.Kind[*databasev1alpha1.Database]{
		New:     func() *databasev1alpha1.Database { return &databasev1alpha1.Database{} },
		Drivers: drivers,
		ExternalName: func(d *databasev1alpha1.Database) string {
			if d.Spec.DatabaseName != "" {
				return d.Spec.DatabaseName
			}
			return DatabaseName(d.Namespace, d.Name)
		},
		GeneratedName: func(d *databasev1alpha1.Database) string { return DatabaseName(d.Namespace, d.Name) },
		Region:        func(d *databasev1alpha1.Database) string { return d.Spec.Region },
		ForgetObservation: func(d *databasev1alpha1.Database) {
			d.Status.AtProvider = databasev1alpha1.DatabaseObservation{}
		},
	}
}

// clusterUIDTimeout bounds the lookup of the cluster's identity at start.
const clusterUIDTimeout = 30 * time.Second

// ClusterUID returns the UID of the kube-system namespace: a name for the
// cluster that stays the same for its life and differs between clusters.
func ClusterUID(ctx context.Context, reader client.Reader) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterUIDTimeout)
	defer cancel()
	var ns corev1.Namespace
	if err := reader.Get(ctx, types.NamespacedName{Name: metav1.NamespaceSystem}, &ns); err != nil {
		return "", fmt.Errorf("name the cluster by the UID of namespace %s (or set --cluster-name): %w", metav1.NamespaceSystem, err)
	}
	return string(ns.UID), nil
}

// ManagedKinds are the kinds Setup reconciles.
func ManagedKinds() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{
		storagev1alpha1.GroupVersion.WithKind("Bucket"),
		databasev1alpha1.GroupVersion.WithKind("Database"),
	}
}

// Setup registers the reconciler of every managed kind with mgr. Without
// opts.ClusterName, the cluster is named by its kube-system namespace's UID.
func Setup(mgr ctrl.Manager, drivers Drivers, opts managed.Options) error {
	if opts.ClusterName == "" {
		name, err := ClusterUID(context.Background(), mgr.GetAPIReader())
		if err != nil {
			return err
		}
		opts.ClusterName = name
	}
	configs := managed.NewProviderConfigs(mgr.GetClient(), mgr.GetAPIReader())
	if err := managed.Setup(mgr, BucketKind(drivers.Buckets), configs, opts); err != nil {
		return err
	}
	return managed.Setup(mgr, DatabaseKind(drivers.Databases), configs, opts)
}
