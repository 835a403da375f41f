package gcp

import (
	"maps"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// labelsOf reads every label of a bucket, the owner mark's included, with a
// plain client.
func labelsOf(t *testing.T, c *storage.Client, name string) map[string]string {
	t.Helper()
	a, err := c.Bucket(name).Attrs(t.Context())
	if err != nil {
		t.Fatalf("Attrs(%s): %v", name, err)
	}
	return a.Labels
}

// union returns the labels of every map, later ones over earlier ones.
func union(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// ownedBucket is newBucket with a UID, as the API server gives every object.
func ownedBucket(name string, spec storagev1alpha1.BucketSpec) *storagev1alpha1.Bucket {
	b := newBucket(name, spec)
	b.UID = types.UID("5e1f6a2b-0c3d-4e5f-8a9b-" + name)
	return b
}

// TestBucketOwnerMark checks what the suite's ownership behaviours leave to
// Cloud Storage: the mark's labels never show in status.atProvider.labels
// or in label drift, and Update keeps them when it replaces the labels.
func TestBucketOwnerMark(t *testing.T) {
	t.Parallel()
	c := connectGCS(t)
	plain := plainGCS(t)

	specLabels := map[string]string{"env": "test"}
	b := ownedBucket("owner-label-drift", storagev1alpha1.BucketSpec{Labels: specLabels})
	req := requestFor(b)
	owner := req.Owner
	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	if diff := cmp.Diff(union(specLabels, owner.Labels()), labelsOf(t, plain, b.Name)); diff != "" {
		t.Errorf("labels after Create: -want, +got:\n%s", diff)
	}
	var ua storage.BucketAttrsToUpdate
	ua.SetLabel("env", "prod")
	ua.SetLabel("extra", "x")
	if _, err := plain.Bucket(b.Name).Update(t.Context(), ua); err != nil {
		t.Fatalf("changing the labels behind the driver's back: %v", err)
	}

	obs, err := c.Observe(t.Context(), req)
	if err != nil {
		t.Fatalf("Observe(...): %v", err)
	}
	want := []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=test", Observed: "env=prod, extra=x"}}
	if diff := cmp.Diff(want, obs.Drift); diff != "" || obs.Owner != owner.Mark() {
		t.Errorf("Observe(...): owner %+v; drift -want, +got:\n%s", obs.Owner, diff)
	}
	if diff := cmp.Diff(map[string]string{"env": "prod", "extra": "x"}, b.Status.AtProvider.Labels); diff != "" {
		t.Errorf("status.atProvider.labels: -want, +got:\n%s", diff)
	}

	if _, err := c.Update(t.Context(), req); err != nil {
		t.Fatalf("Update(...): %v", err)
	}
	if diff := cmp.Diff(union(specLabels, owner.Labels()), labelsOf(t, plain, b.Name)); diff != "" {
		t.Errorf("labels after Update: -want, +got:\n%s", diff)
	}
	if _, err := c.Observe(t.Context(), req); err != nil {
		t.Fatalf("Observe(...): %v", err)
	}
	if diff := cmp.Diff(specLabels, b.Status.AtProvider.Labels); diff != "" {
		t.Errorf("status.atProvider.labels after Update: -want, +got:\n%s", diff)
	}
}
