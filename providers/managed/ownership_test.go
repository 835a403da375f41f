package managed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// markOf is the owner mark an object of the test cluster writes.
func markOf(namespace, name string) driver.OwnerMark {
	return driver.Owner{Cluster: testCluster, Namespace: namespace, Name: name, UID: "uid-" + name}.Mark()
}

// recorded marks b as managed by the operator: synced, with the record in
// status of the resource it manages.
func recorded(b *storagev1alpha1.Bucket) {
	synced(b)
	b.Status.ExternalResource = &stratusv1alpha1.ExternalResourceStatus{
		Name: "team-logs", Provider: stratusv1alpha1.ProviderAWS, ProviderConfigRef: b.Spec.ProviderConfigRef,
	}
}

func withAnnotation(key, value string) func(*storagev1alpha1.Bucket) {
	return func(b *storagev1alpha1.Bucket) {
		if b.Annotations == nil {
			b.Annotations = map[string]string{}
		}
		b.Annotations[key] = value
	}
}

func deleting(b *storagev1alpha1.Bucket) {
	now := metav1.Now()
	b.DeletionTimestamp = &now
	if len(b.Finalizers) == 0 {
		b.Finalizers = []string{stratusv1alpha1.Finalizer}
	}
}

func clusterConfig(name string, mutate func(*stratusv1alpha1.ProviderConfigSpec)) *stratusv1alpha1.ClusterProviderConfig {
	pc := &stratusv1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider:    stratusv1alpha1.ProviderAWS,
			Region:      "eu-west-1",
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient},
		},
	}
	if mutate != nil {
		mutate(&pc.Spec)
	}
	return pc
}

func usesCluster(name string) func(*storagev1alpha1.Bucket) {
	return func(b *storagev1alpha1.Bucket) {
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindCluster, Name: name}
	}
}

// namespacedConfig returns the configuration "aws" of namespace team.
func namespacedConfig(mutate func(*stratusv1alpha1.ProviderConfigSpec)) *stratusv1alpha1.ProviderConfig {
	pc := &stratusv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "aws"},
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider: stratusv1alpha1.ProviderAWS,
			Region:   "eu-west-1",
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret,
				SecretRef: &stratusv1alpha1.SecretReference{Name: "aws-credentials"}},
		},
	}
	mutate(&pc.Spec)
	return pc
}

// TestOwnership covers what one namespace could try against another's
// resources, and the operator's own resources after a crash or an upgrade.
// Each refusal must leave the cloud alone: no create, update or delete.
func TestOwnership(t *testing.T) {
	victimSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "stratus-system", Name: "operator-credentials"}, Data: map[string][]byte{"key": []byte("k")}}
	ownSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "aws-credentials"}, Data: map[string][]byte{"key": []byte("k")}}
	otherBucket := &storagev1alpha1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: "victim", Name: "data"}}
	cases := []struct {
		reason string
		bucket *storagev1alpha1.Bucket
		objs   []client.Object
		cloud  *cloud
		want   outcome
		// connects is how many times the driver connected.
		connects int32
		released bool
	}{
		{
			reason:   "a resource another object owns is never adopted, even where adoption is allowed",
			bucket:   newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "victim-data")),
			objs:     append(adoptingConfig(), otherBucket),
			cloud:    &cloud{exists: true, owner: markOf("victim", "data"), drift: []stratusv1alpha1.DriftedField{{Field: "spec.labels"}}},
			want:     outcome{Ready: "False/NameConflict", Synced: "False/NameConflict", Events: []string{"Refused"}, Requeue: true},
			connects: 1,
		},
		{
			reason:   "a resource another cluster's object owns is refused",
			bucket:   newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "theirs")),
			objs:     adoptingConfig(),
			cloud:    &cloud{exists: true, owner: driver.Owner{Cluster: "elsewhere", Namespace: "team", Name: "other"}.Mark()},
			want:     outcome{Ready: "False/NameConflict", Synced: "False/NameConflict", Events: []string{"Refused"}, Requeue: true},
			connects: 1,
		},
		{
			reason:   "an unowned resource named by the annotation is not adopted without the configuration's leave",
			bucket:   newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "unowned")),
			objs:     []client.Object{namespacedConfig(func(*stratusv1alpha1.ProviderConfigSpec) {}), ownSecret},
			cloud:    &cloud{exists: true},
			want:     outcome{Ready: "False/Unavailable", Synced: "False/AdoptionNotAllowed", Events: []string{"Refused"}, Requeue: true},
			connects: 1,
		},
		{
			reason: "adoption through a namespace's configuration needs the namespace's own credentials, not the operator's",
			bucket: newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "unowned")),
			objs: []client.Object{namespacedConfig(func(s *stratusv1alpha1.ProviderConfigSpec) {
				s.Credentials = stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient}
				s.Adoption = &stratusv1alpha1.NamespacePolicy{From: stratusv1alpha1.NamespacesFromAll}
			})},
			cloud:    &cloud{exists: true},
			want:     outcome{Ready: "False/Unavailable", Synced: "False/AdoptionNotAllowed", Events: []string{"Refused"}, Requeue: true},
			connects: 1,
		},
		{
			reason:   "a stale mark (its object is gone from this cluster) is no owner: adopted where allowed, and marked",
			bucket:   newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "orphaned")),
			objs:     adoptingConfig(),
			cloud:    &cloud{exists: true, owner: markOf("gone", "data"), drift: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField}}},
			want:     outcome{Updates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"AdoptedExternalResource", "UpdatedExternalResource"}, Requeue: true},
			connects: 1,
		},
		{
			reason:   "the bucket name in the spec is no way around adoption",
			bucket:   newBucket(func(b *storagev1alpha1.Bucket) { b.Spec.BucketName = "unowned" }),
			cloud:    &cloud{exists: true},
			want:     outcome{Ready: "False/Unavailable", Synced: "False/AdoptionNotAllowed", Events: []string{"Refused"}, Requeue: true},
			connects: 1,
		},
		{
			reason: "a pending-create annotation a user wrote proves nothing under a name the user chose",
			bucket: newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "unowned"),
				withAnnotation(stratusv1alpha1.AnnotationCreatePending, "2026-01-01T00:00:00Z")),
			cloud:    &cloud{exists: true},
			want:     outcome{Ready: "False/Unavailable", Synced: "False/AdoptionNotAllowed", Events: []string{"Refused"}, Requeue: true},
			connects: 1,
		},
		{
			reason: "a create begun under the generated name that crashed before the mark is resumed and marked",
			bucket: newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "team-logs"),
				withAnnotation(stratusv1alpha1.AnnotationCreatePending, "2026-01-01T00:00:00Z")),
			cloud:    &cloud{exists: true, drift: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField}}},
			want:     outcome{Updates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"UpdatedExternalResource"}, Requeue: true},
			connects: 1,
		},
		{
			reason:   "a resource made Ready by a version that wrote no marks is still the object's, and gets marked",
			bucket:   newBucket(synced),
			cloud:    &cloud{exists: true, drift: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField}}},
			want:     outcome{Updates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"DriftDetected", "DriftCorrected"}, Requeue: true, Drift: 1},
			connects: 1,
		},
		{
			reason:   "a changed external name on a managed object is refused before the cloud is observed",
			bucket:   newBucket(recorded, withAnnotation(stratusv1alpha1.AnnotationExternalName, "someone-elses")),
			cloud:    &cloud{exists: true, owner: markOf("team", "logs")},
			want:     outcome{Ready: "True/Available", Synced: "False/ExternalNameImmutable", Events: []string{"Refused"}, Requeue: true},
			connects: 0,
		},
		{
			reason: "a providerConfigRef that moves the object to another provider is refused",
			bucket: newBucket(recorded, usesCluster("gcp"), func(b *storagev1alpha1.Bucket) {
				b.Status.ExternalResource.Provider = stratusv1alpha1.ProviderGCP
			}),
			objs:     []client.Object{clusterConfig("gcp", nil)},
			cloud:    &cloud{},
			want:     outcome{Ready: "True/Available", Synced: "False/ProviderConfigChanged", Events: []string{"Refused"}, Requeue: true},
			connects: 0,
		},
		{
			reason:   "a providerConfigRef that reaches another account creates nothing there",
			bucket:   newBucket(recorded, usesCluster("other-account")),
			objs:     []client.Object{clusterConfig("other-account", nil)},
			cloud:    &cloud{},
			want:     outcome{Ready: "False/ExternalResourceMissing", Synced: "False/ProviderConfigChanged", Events: []string{"ExternalResourceMissing"}, Requeue: true},
			connects: 1,
		},
		{
			reason:   "a providerConfigRef that reaches the same resource (a credentials rotation) is taken",
			bucket:   newBucket(recorded, usesCluster("rotated")),
			objs:     []client.Object{clusterConfig("rotated", nil)},
			cloud:    &cloud{exists: true, owner: markOf("team", "logs")},
			want:     outcome{Ready: "True/Available", Synced: "True/ReconcileSuccess", Requeue: true},
			connects: 1,
		},
		{
			reason:   "the record does not vouch for an unmarked resource of the same name reached through another configuration",
			bucket:   newBucket(recorded, usesCluster("shared-account")),
			objs:     []client.Object{clusterConfig("shared-account", nil)},
			cloud:    &cloud{exists: true},
			want:     outcome{Ready: "False/NameConflict", Synced: "False/NameConflict", Events: []string{"Refused"}, Requeue: true},
			connects: 1,
		},
		{
			reason: "a deletion left blocked without a record vouches for nothing: a name set afterwards is not deleted",
			bucket: newBucket(withAnnotation(stratusv1alpha1.AnnotationCreatePending, "2026-01-01T00:00:00Z"),
				withAnnotation(stratusv1alpha1.AnnotationExternalName, "someone-elses"), deleting,
				func(b *storagev1alpha1.Bucket) {
					b.Status.Conditions = []metav1.Condition{{Type: stratusv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
						Reason: stratusv1alpha1.ReasonDeletionBlocked, LastTransitionTime: metav1.Now()}}
				}),
			cloud:    &cloud{exists: true},
			want:     outcome{Ready: "<none>", Synced: "<none>", Events: []string{"ReleasedWithoutDeleting"}},
			connects: 1,
			released: true,
		},
		{
			reason:   "a resource deleted behind the operator's back is reported, not recreated empty",
			bucket:   newBucket(recorded),
			cloud:    &cloud{},
			want:     outcome{Ready: "False/ExternalResourceMissing", Synced: "False/ExternalResourceMissing", Events: []string{"ExternalResourceMissing"}, Requeue: true},
			connects: 1,
		},
		{
			reason: "a resource deleted behind the operator's back is recreated when the spec asks for it",
			bucket: newBucket(recorded, func(b *storagev1alpha1.Bucket) {
				b.Spec.OnExternalDeletion = stratusv1alpha1.OnExternalDeletionRecreate
			}),
			cloud:    &cloud{},
			want:     outcome{Creates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"RecreatingExternalResource", "CreatedExternalResource"}, Requeue: true},
			connects: 1,
		},
		{
			reason:   "deleting an object whose name reaches another object's resource deletes nothing, and lets the object go",
			bucket:   newBucket(withAnnotation(stratusv1alpha1.AnnotationExternalName, "victim-data"), deleting),
			objs:     []client.Object{otherBucket},
			cloud:    &cloud{exists: true, owner: markOf("victim", "data")},
			want:     outcome{Ready: "<none>", Synced: "<none>", Events: []string{"ReleasedWithoutDeleting"}},
			connects: 1,
			released: true,
		},
		{
			reason:   "deleting through another account than the one the resource lives in is refused, not a silent release",
			bucket:   newBucket(recorded, usesCluster("other-account"), deleting),
			objs:     []client.Object{clusterConfig("other-account", nil)},
			cloud:    &cloud{},
			want:     outcome{Ready: "True/Available", Synced: "False/ProviderConfigChanged", Events: []string{"CannotDeleteExternalResource"}, Requeue: true},
			connects: 1,
		},
		{
			reason: "a cluster configuration that does not allow the namespace is refused before connecting",
			bucket: newBucket(usesCluster("restricted")),
			objs: []client.Object{clusterConfig("restricted", func(s *stratusv1alpha1.ProviderConfigSpec) {
				s.AllowedNamespaces = &stratusv1alpha1.NamespacePolicy{From: stratusv1alpha1.NamespacesFromSelector,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "payments"}}}
			})},
			cloud:    &cloud{},
			want:     outcome{Ready: "False/Unavailable", Synced: "False/ProviderConfigNotAllowed", Events: []string{"CannotConnectToProvider"}, Requeue: true},
			connects: 0,
		},
		{
			reason: "a cluster configuration that allows the namespace by its labels is used",
			bucket: newBucket(usesCluster("labelled")),
			objs: []client.Object{clusterConfig("labelled", func(s *stratusv1alpha1.ProviderConfigSpec) {
				s.AllowedNamespaces = &stratusv1alpha1.NamespacePolicy{From: stratusv1alpha1.NamespacesFromSelector,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{stratusv1alpha1.LabelAllowAmbientCredentials: "true"}}}
			})},
			cloud:    &cloud{},
			want:     outcome{Creates: 1, Ready: "True/Available", Synced: "True/ReconcileSuccess", Events: []string{"CreatedExternalResource"}, Requeue: true},
			connects: 1,
		},
		{
			reason: "a namespace's configuration cannot read a Secret of another namespace",
			bucket: newBucket(),
			objs: []client.Object{victimSecret, namespacedConfig(func(s *stratusv1alpha1.ProviderConfigSpec) {
				s.Credentials.SecretRef = &stratusv1alpha1.SecretReference{Namespace: "stratus-system", Name: "operator-credentials"}
			})},
			cloud:    &cloud{},
			want:     outcome{Ready: "False/Unavailable", Synced: "False/ProviderConfigNotAllowed", Events: []string{"CannotConnectToProvider"}, Requeue: true},
			connects: 0,
		},
		{
			reason: "a namespace's configuration cannot send credentials to an endpoint of its choosing without the namespace label",
			bucket: newBucket(),
			objs: []client.Object{ownSecret, namespacedConfig(func(s *stratusv1alpha1.ProviderConfigSpec) {
				s.Endpoint = "http://169.254.169.254"
			})},
			cloud:    &cloud{},
			want:     outcome{Ready: "False/Unavailable", Synced: "False/ProviderConfigNotAllowed", Events: []string{"CannotConnectToProvider"}, Requeue: true},
			connects: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			if tc.cloud.exists && !tc.cloud.owner.Marked() && tc.cloud.drift == nil {
				tc.cloud.drift = driver.OwnershipDrift(driver.Owner{Cluster: testCluster, Namespace: "team", Name: "logs"}, tc.cloud.owner)
				tc.want.Drift = 0
			}
			objs := append([]client.Object{tc.bucket}, tc.objs...)
			if tc.bucket.Spec.ProviderConfigRef.Kind == stratusv1alpha1.ProviderConfigKindNamespaced && !hasNamespacedConfig(objs) {
				objs = append(objs, namespacedConfig(func(s *stratusv1alpha1.ProviderConfigSpec) {
					s.Credentials = stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient}
				}))
			}
			h := newHarness(t, tc.cloud, false, objs...)
			res, err := h.reconcile(t)
			var b storagev1alpha1.Bucket
			getErr := h.client.Get(context.Background(), client.ObjectKeyFromObject(tc.bucket), &b)
			if released := apierrors.IsNotFound(getErr); released != tc.released {
				t.Errorf("%s\nreleased = %v, want %v (get: %v)", tc.reason, released, tc.released, getErr)
			}
			got := outcome{
				Creates: tc.cloud.creates.Load(), Updates: tc.cloud.updates.Load(), Deletes: tc.cloud.deletes.Load(),
				Ready: condition(&b, stratusv1alpha1.ConditionReady), Synced: condition(&b, stratusv1alpha1.ConditionSynced),
				Events: h.events(), Err: err != nil, Requeue: res.RequeueAfter > 0, Drift: len(b.Status.Drift),
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nReconcile(...): -want, +got:\n%s", tc.reason, diff)
			}
			if c := tc.cloud.connects.Load(); c != tc.connects {
				t.Errorf("%s\nconnects = %d, want %d", tc.reason, c, tc.connects)
			}
		})
	}
}

func hasNamespacedConfig(objs []client.Object) bool {
	for _, o := range objs {
		if _, ok := o.(*stratusv1alpha1.ProviderConfig); ok {
			return true
		}
	}
	return false
}

// TestCreateMarksTheResource proves the request carries the object's
// identity, which the cloud then reports as its owner.
func TestCreateMarksTheResource(t *testing.T) {
	c := &cloud{}
	h := newHarness(t, c, false, newBucket())
	if _, err := h.reconcile(t); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	want := driver.Owner{Cluster: testCluster, Namespace: "team", Name: "logs", UID: "uid-1"}.Mark()
	if diff := cmp.Diff(want, c.owner); diff != "" {
		t.Errorf("owner mark written by Create: -want, +got:\n%s", diff)
	}
	b := h.get(t)
	wantRecord := &stratusv1alpha1.ExternalResourceStatus{Name: "team-logs", Provider: stratusv1alpha1.ProviderAWS,
		ProviderConfigRef: stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindNamespaced, Name: "aws"}}
	if diff := cmp.Diff(wantRecord, b.Status.ExternalResource); diff != "" {
		t.Errorf("status.externalResource: -want, +got:\n%s", diff)
	}
}

// TestConnectsDoNotStallOtherConfigs proves that a connect that hangs for
// one configuration holds up neither another configuration's connect nor,
// once it failed, the other objects of its own.
func TestConnectsDoNotStallOtherConfigs(t *testing.T) {
	cache := newClientCache[bucket]()
	hang := make(chan struct{})
	defer close(hang)
	drv := driver.DriverFunc[bucket](func(ctx context.Context, cfg driver.Config) (driver.Client[bucket], error) {
		if cfg.Spec.Endpoint == "http://hangs" {
			select {
			case <-hang:
			case <-ctx.Done():
			}
			return nil, errors.New("dial tcp: i/o timeout")
		}
		return driver.ClientFuncs[bucket]{}, nil
	})
	slow := resolvedConfig{Config: driver.Config{Spec: stratusv1alpha1.ProviderConfigSpec{Endpoint: "http://hangs"}}, key: "ProviderConfig/a/slow", version: "1"}
	fast := resolvedConfig{key: "ProviderConfig/b/fast", version: "1"}

	slowCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	slowDone := make(chan error, 1)
	go func() { _, err := cache.get(slowCtx, drv, slow); slowDone <- err }()
	time.Sleep(20 * time.Millisecond) // the slow connect holds its own lock

	start := time.Now()
	if _, err := cache.get(context.Background(), drv, fast); err != nil {
		t.Fatalf("connect with another configuration: %v", err)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Errorf("a connect with another configuration waited %v behind a hanging one", waited)
	}
	if err := <-slowDone; err == nil {
		t.Fatal("the hanging connect succeeded")
	}

	start = time.Now()
	_, err := cache.get(context.Background(), drv, slow)
	if err == nil || time.Since(start) > 50*time.Millisecond {
		t.Errorf("a connect that failed just now was tried again (err %v after %v); want its error at once", err, time.Since(start))
	}
	cache.now = func() time.Time { return time.Now().Add(failedConnectTTL) }
	retryCtx, cancelRetry := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelRetry()
	if _, err := cache.get(retryCtx, drv, slow); err == nil || !errors.Is(err, context.DeadlineExceeded) && err.Error() != "dial tcp: i/o timeout" {
		t.Errorf("after %v the connect should be tried again; got %v", failedConnectTTL, err)
	}
}
