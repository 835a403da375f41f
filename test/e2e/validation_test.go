package e2e

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// TestBadManifestsRejected: the API server itself rejects bad input, with a
// message that says what is wrong (schema, enums, CEL rules).
func TestBadManifestsRejected(t *testing.T) {
	ns := h.Namespace(t)
	cases := []struct {
		reason string
		obj    client.Object
		want   string
	}{
		{"an unknown versioning value", newBucket(ns, "b1", func(b *storagev1alpha1.Bucket) { b.Spec.Versioning = "Sometimes" }), `Unsupported value: "Sometimes"`},
		{"a customer-managed key without keyID", newBucket(ns, "b2", func(b *storagev1alpha1.Bucket) {
			b.Spec.Encryption = &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged}
		}), "keyID is required with mode CustomerManaged"},
		{"a lifecycle rule that expires nothing", newBucket(ns, "b3", func(b *storagev1alpha1.Bucket) {
			b.Spec.Lifecycle = []storagev1alpha1.LifecycleRule{{Name: "noop"}}
		}), "needs expirationDays or noncurrentVersionExpirationDays"},
		{"an invalid bucket name", newBucket(ns, "b4", func(b *storagev1alpha1.Bucket) { b.Spec.BucketName = "Not_Valid" }), "spec.bucketName"},
		{"a poll interval below 10s", newBucket(ns, "b5", func(b *storagev1alpha1.Bucket) {
			b.Spec.PollInterval = &metav1.Duration{Duration: 1e9}
		}), "pollInterval must be between 10s and 24h"},
		{"an unknown deletion policy", newBucket(ns, "b6", func(b *storagev1alpha1.Bucket) { b.Spec.DeletionPolicy = "Shred" }), `Unsupported value: "Shred"`},
		{"a bucket without a provider configuration", newBucket(ns, "b7", func(b *storagev1alpha1.Bucket) { b.Spec.ProviderConfigRef.Name = "" }), "spec.providerConfigRef.name"},
		{"an unknown size class", newDatabase(ns, "d1", func(d *databasev1alpha1.Database) { d.Spec.SizeClass = "Huge" }), `Unsupported value: "Huge"`},
		{"too little storage", newDatabase(ns, "d2", func(d *databasev1alpha1.Database) { d.Spec.StorageGB = int32p(1) }), "spec.storageGB"},
		{"an invalid database name", newDatabase(ns, "d3", func(d *databasev1alpha1.Database) { d.Spec.DatabaseName = "drop table;" }), "spec.databaseName"},
		{"a PostgreSQL provider config without a server", &stratusv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pc1"},
			Spec: stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderPostgreSQL,
				Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret, SecretRef: &stratusv1alpha1.SecretReference{Name: "x"}}},
		}, "postgresql is required when provider is PostgreSQL"},
		{"a Secret source without a Secret", &stratusv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pc2"},
			Spec:       stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS, Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret}},
		}, "secretRef is required when source is Secret"},
		{"an endpoint that is not a URL", &stratusv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pc3"},
			Spec: stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS, Endpoint: "localhost:9000",
				Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient}},
		}, "endpoint must be an http or https URL"},
		{"a cluster provider config whose Secret has no namespace", &stratusv1alpha1.ClusterProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Name: "cpc-" + ns},
			Spec: stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS,
				Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret, SecretRef: &stratusv1alpha1.SecretReference{Name: "x"}}},
		}, "spec.credentials.secretRef.namespace is required on a ClusterProviderConfig"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			err := h.Client.Create(context.Background(), tc.obj)
			if err == nil {
				t.Fatalf("%s: the API server accepted it", tc.reason)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %q does not contain %q", tc.reason, err, tc.want)
			}
		})
	}
}

// TestImmutableFields: region, bucket and database names, and the engine
// cannot change once set.
func TestImmutableFields(t *testing.T) {
	ns := h.Namespace(t)
	b := newBucket(ns, "fixed", func(b *storagev1alpha1.Bucket) {
		b.Spec.Region = "us-east-1"
		b.Spec.BucketName = "fixed-" + ns
		b.Spec.ManagementPolicy = stratusv1alpha1.ManagementObserveOnly
	})
	h.Create(t, b)
	d := newDatabase(ns, "fixed", func(d *databasev1alpha1.Database) {
		d.Spec.DatabaseName = "fixed_db"
		d.Spec.ManagementPolicy = stratusv1alpha1.ManagementObserveOnly
	})
	h.Create(t, d)
	cases := []struct {
		reason string
		obj    client.Object
		mutate func(client.Object)
		want   string
	}{
		{"region", b, func(o client.Object) { o.(*storagev1alpha1.Bucket).Spec.Region = "eu-west-1" }, "region is immutable"},
		{"removing the region", b, func(o client.Object) { o.(*storagev1alpha1.Bucket).Spec.Region = "" }, "region is immutable"},
		{"bucketName", b, func(o client.Object) { o.(*storagev1alpha1.Bucket).Spec.BucketName = "other-" + ns }, "bucketName is immutable"},
		{"databaseName", d, func(o client.Object) { o.(*databasev1alpha1.Database).Spec.DatabaseName = "other_db" }, "databaseName is immutable"},
		{"engine", d, func(o client.Object) { o.(*databasev1alpha1.Database).Spec.Engine = databasev1alpha1.EngineMySQL }, "engine is immutable"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			obj := tc.obj.DeepCopyObject().(client.Object)
			var err error
			for range 10 { // the operator may write the object meanwhile
				if err = h.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
					t.Fatal(err)
				}
				tc.mutate(obj)
				if err = h.Client.Update(context.Background(), obj); !apierrors.IsConflict(err) {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("changing %s: error %v, want one containing %q", tc.reason, err, tc.want)
			}
		})
	}
}
