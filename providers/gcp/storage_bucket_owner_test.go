package gcp

import (
	"maps"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
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

func TestBucketOwnerMark(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	c := connectGCS(t)
	plain := plainGCS(t)

	specLabels := map[string]string{"env": "test"}
	other := driver.Owner{Cluster: testCluster, Namespace: "elsewhere", Name: "someone-else", UID: "0f0f0f0f-1111"}
	ownership := func(owner driver.Owner, observed string) stratusv1alpha1.DriftedField {
		return stratusv1alpha1.DriftedField{Field: driver.OwnershipField, Desired: owner.ID(), Observed: observed}
	}
	cases := map[string]struct {
		reason string
		// behind, unless nil, is the owner whose mark (none for the zero
		// Owner) a bucket that matches the spec gets, created behind the
		// driver's back; nil: the driver creates the bucket.
		behind *driver.Owner
		// change, unless nil, changes the bucket behind the driver's back
		// before it is observed.
		change func(owner driver.Owner) storage.BucketAttrsToUpdate
		// wantMark is the mark Observe reports.
		wantMark func(owner driver.Owner) driver.OwnerMark
		// wantDrift is the drift Observe reports.
		wantDrift func(owner driver.Owner) []stratusv1alpha1.DriftedField
		// wantAtProvider is status.atProvider.labels.
		wantAtProvider map[string]string
		// wantLabels are the bucket's labels after Update.
		wantLabels func(owner driver.Owner) map[string]string
	}{
		"owner-create-stamps": {
			reason:         "Create writes the mark with the spec's labels; Observe reports it, without drift, and shows only the spec's labels.",
			wantMark:       func(o driver.Owner) driver.OwnerMark { return o.Mark() },
			wantDrift:      func(driver.Owner) []stratusv1alpha1.DriftedField { return nil },
			wantAtProvider: specLabels,
			wantLabels:     func(o driver.Owner) map[string]string { return union(specLabels, o.Labels()) },
		},
		"owner-unmarked": {
			reason:   "A bucket without a mark is reported unmarked, with ownership drift only; Update writes the mark.",
			behind:   &driver.Owner{},
			wantMark: func(driver.Owner) driver.OwnerMark { return driver.OwnerMark{} },
			wantDrift: func(o driver.Owner) []stratusv1alpha1.DriftedField {
				return []stratusv1alpha1.DriftedField{ownership(o, driver.NoValue)}
			},
			wantAtProvider: specLabels,
			wantLabels:     func(o driver.Owner) map[string]string { return union(specLabels, o.Labels()) },
		},
		"owner-other": {
			reason:   "Another owner's mark is reported, with ownership drift, and kept out of atProvider; Update (once the reconciler decides the bucket is this object's) writes the mark over it.",
			behind:   &other,
			wantMark: func(driver.Owner) driver.OwnerMark { return other.Mark() },
			wantDrift: func(o driver.Owner) []stratusv1alpha1.DriftedField {
				return []stratusv1alpha1.DriftedField{ownership(o, other.ID())}
			},
			wantAtProvider: specLabels,
			wantLabels:     func(o driver.Owner) map[string]string { return union(specLabels, o.Labels()) },
		},
		"owner-label-drift": {
			reason: "Label drift never shows the mark's labels; Update writes the spec's labels and keeps the mark.",
			change: func(driver.Owner) storage.BucketAttrsToUpdate {
				var ua storage.BucketAttrsToUpdate
				ua.SetLabel("env", "prod")
				ua.SetLabel("extra", "x")
				return ua
			},
			wantMark: func(o driver.Owner) driver.OwnerMark { return o.Mark() },
			wantDrift: func(driver.Owner) []stratusv1alpha1.DriftedField {
				return []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=test", Observed: "env=prod, extra=x"}}
			},
			wantAtProvider: map[string]string{"env": "prod", "extra": "x"},
			wantLabels:     func(o driver.Owner) map[string]string { return union(specLabels, o.Labels()) },
		},
		"owner-mark-removed": {
			reason: "A mark removed behind the driver's back is ownership drift, and the labels that remain are no label drift; Update writes the mark again.",
			change: func(o driver.Owner) storage.BucketAttrsToUpdate {
				var ua storage.BucketAttrsToUpdate
				for k := range o.Labels() {
					ua.DeleteLabel(k)
				}
				return ua
			},
			wantMark: func(driver.Owner) driver.OwnerMark { return driver.OwnerMark{} },
			wantDrift: func(o driver.Owner) []stratusv1alpha1.DriftedField {
				return []stratusv1alpha1.DriftedField{ownership(o, driver.NoValue)}
			},
			wantAtProvider: specLabels,
			wantLabels:     func(o driver.Owner) map[string]string { return union(specLabels, o.Labels()) },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := ownedBucket(name, storagev1alpha1.BucketSpec{Labels: specLabels})
			req := requestFor(b)
			owner := req.Owner
			if tc.behind != nil {
				if err := plain.Bucket(name).Create(t.Context(), srv.ProjectID, desiredAttrs(b.Spec, *tc.behind, testLocation)); err != nil {
					t.Fatalf("creating the bucket behind the driver's back: %v", err)
				}
			} else {
				if _, err := c.Create(t.Context(), req); err != nil {
					t.Fatalf("%s\nCreate(...): %v", tc.reason, err)
				}
				if diff := cmp.Diff(union(specLabels, owner.Labels()), labelsOf(t, plain, name)); diff != "" {
					t.Errorf("%s\nlabels after Create: -want, +got:\n%s", tc.reason, diff)
				}
			}
			if tc.change != nil {
				if _, err := plain.Bucket(name).Update(t.Context(), tc.change(owner)); err != nil {
					t.Fatalf("changing the bucket behind the driver's back: %v", err)
				}
			}

			obs, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.wantMark(owner), obs.Owner); diff != "" {
				t.Errorf("%s\nObserve(...) owner mark: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantDrift(owner), obs.Drift); diff != "" {
				t.Errorf("%s\nObserve(...) drift: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantAtProvider, b.Status.AtProvider.Labels); diff != "" {
				t.Errorf("%s\nstatus.atProvider.labels: -want, +got:\n%s", tc.reason, diff)
			}

			if _, err := c.Update(t.Context(), req); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.wantLabels(owner), labelsOf(t, plain, name)); diff != "" {
				t.Errorf("%s\nlabels after Update: -want, +got:\n%s", tc.reason, diff)
			}
			obs, err = c.Observe(t.Context(), req)
			if err != nil || obs.Owner != owner.Mark() || !obs.UpToDate() {
				t.Errorf("%s\nObserve(...) after Update = owner %+v, drift %+v, %v; want the mark and no drift", tc.reason, obs.Owner, obs.Drift, err)
			}
			if diff := cmp.Diff(specLabels, b.Status.AtProvider.Labels); diff != "" {
				t.Errorf("%s\nstatus.atProvider.labels after Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}

	t.Run("owner-unknown", func(t *testing.T) {
		t.Parallel()
		// A request without an owner writes no mark, keeps the one there
		// is and reports no ownership drift.
		const name = "owner-unknown"
		b := ownedBucket(name, storagev1alpha1.BucketSpec{Labels: specLabels})
		if err := plain.Bucket(name).Create(t.Context(), srv.ProjectID, desiredAttrs(b.Spec, other, testLocation)); err != nil {
			t.Fatal(err)
		}
		req := requestFor(b)
		req.Owner = driver.Owner{}
		obs, err := c.Observe(t.Context(), req)
		if err != nil || obs.Owner != other.Mark() || !obs.UpToDate() {
			t.Errorf("Observe(...) = owner %+v, drift %+v, %v; want the other owner's mark and no drift", obs.Owner, obs.Drift, err)
		}
		b.Spec.Labels = nil
		if _, err := c.Update(t.Context(), req); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(other.Labels(), labelsOf(t, plain, name)); diff != "" {
			t.Errorf("labels after Update of a spec without labels: -want, +got:\n%s", diff)
		}
	})
}

func TestBucketCreateOverExisting(t *testing.T) {
	t.Parallel()
	srv := needGCS(t)
	c := connectGCS(t)
	plain := plainGCS(t)

	other := driver.Owner{Cluster: "another-cluster", Namespace: "test", Name: "taken", UID: "uid-0"}
	// existing is a bucket unlike the spec in every setting.
	existing := func(labels map[string]string) *storage.BucketAttrs {
		return &storage.BucketAttrs{
			Location:               testLocation,
			VersioningEnabled:      true,
			PublicAccessPrevention: storage.PublicAccessPreventionInherited,
			Lifecycle:              storage.Lifecycle{Rules: []storage.LifecycleRule{deleteRule(3, storage.Live, 0)}},
			Labels:                 labels,
		}
	}
	cases := map[string]struct {
		reason string
		labels func(owner driver.Owner) map[string]string
	}{
		"existing-unmarked": {
			reason: "A bucket without a mark is left as it is: no mark, no setting written.",
			labels: func(driver.Owner) map[string]string { return map[string]string{"keep": "me"} },
		},
		"existing-other-owner": {
			reason: "Another owner's bucket is left as it is, mark included.",
			labels: func(driver.Owner) map[string]string { return union(map[string]string{"keep": "me"}, other.Labels()) },
		},
		"existing-ours": {
			reason: "A bucket that already carries this object's mark is left as it is too.",
			labels: func(o driver.Owner) map[string]string { return o.Labels() },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := ownedBucket(name, fullSpec())
			req := requestFor(b)
			if err := plain.Bucket(name).Create(t.Context(), srv.ProjectID, existing(tc.labels(req.Owner))); err != nil {
				t.Fatalf("creating the bucket behind the driver's back: %v", err)
			}
			before := read(t, plain, name)
			beforeLabels := labelsOf(t, plain, name)

			conn, err := c.Create(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nCreate(...) over an existing bucket: %v; want no error", tc.reason, err)
			}
			if got := string(conn[ConnectionBucket]); got != name {
				t.Errorf("%s\nCreate(...) connection bucket = %q; want %q", tc.reason, got, name)
			}
			if diff := cmp.Diff(before, read(t, plain, name)); diff != "" {
				t.Errorf("%s\nCreate(...) changed the bucket's settings: -before, +after:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(beforeLabels, labelsOf(t, plain, name)); diff != "" {
				t.Errorf("%s\nCreate(...) changed the bucket's labels: -before, +after:\n%s", tc.reason, diff)
			}
		})
	}
}
