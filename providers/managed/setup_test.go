package managed

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// TestChangesReachTheirObjects: a provider configuration or a namespace
// that changes re-triggers exactly the objects that depend on it.
func TestChangesReachTheirObjects(t *testing.T) {
	using := func(ns, name string, kind stratusv1alpha1.ProviderConfigKind, config string) client.Object {
		return newBucket(func(b *storagev1alpha1.Bucket) {
			b.Namespace, b.Name = ns, name
			b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: kind, Name: config}
		})
	}
	scheme := testScheme(t)
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&storagev1alpha1.Bucket{}, configRefIndex, func(o client.Object) []string {
			return []string{configKey(o.GetNamespace(), o.(bucket).ManagedSpec().ProviderConfigRef)}
		}).
		WithObjects(
			using("a", "shared-1", stratusv1alpha1.ProviderConfigKindCluster, "shared"),
			using("b", "shared-2", stratusv1alpha1.ProviderConfigKindCluster, "shared"),
			using("a", "own", stratusv1alpha1.ProviderConfigKindNamespaced, "shared"),
			using("b", "other", stratusv1alpha1.ProviderConfigKindCluster, "other"),
		).Build()
	u := usersOf[bucket](c, scheme, storagev1alpha1.GroupVersion.WithKind("Bucket"))
	ctx := context.Background()
	names := func(reqs []reconcile.Request) []string {
		var out []string
		for _, r := range reqs {
			out = append(out, r.String())
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		reason string
		got    []reconcile.Request
		want   []string
	}{
		{"a ClusterProviderConfig reaches the objects of every namespace that name it, not a namespaced one of the same name",
			u.ofConfig(stratusv1alpha1.ProviderConfigKindCluster)(ctx, &stratusv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "shared"}}),
			[]string{"a/shared-1", "b/shared-2"}},
		{"a ProviderConfig reaches the objects of its own namespace that name it",
			u.ofConfig(stratusv1alpha1.ProviderConfigKindNamespaced)(ctx, &stratusv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "shared"}}),
			[]string{"a/own"}},
		{"a namespace reaches the objects in it",
			u.inNamespace(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b"}}),
			[]string{"b/other", "b/shared-2"}},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, names(tc.got)); diff != "" {
			t.Errorf("%s: -want, +got:\n%s", tc.reason, diff)
		}
	}
}
