package aws

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// The ownership tests run against versitygw behind the shim, like the other
// integration tests, and read the buckets back with a plain SDK client.

// createAs creates a bucket with the driver as owner's, a zero owner being a
// request without one (a bucket made before marks).
func createAs(t *testing.T, c driver.Client[*storagev1alpha1.Bucket], b *storagev1alpha1.Bucket, owner driver.Owner) {
	t.Helper()
	req := requestFor(b)
	req.Owner = owner
	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(%s) as %+v: %v", b.Spec.BucketName, owner, err)
	}
}

// noOwnerKeys fails the test when a drifted value or a label shows a key of
// the owner mark.
func noOwnerKeys(t *testing.T, reason string, drift []stratusv1alpha1.DriftedField, labels map[string]string) {
	t.Helper()
	for _, d := range drift {
		if d.Field != driver.OwnershipField && (strings.Contains(d.Desired, "stratus.dev/") || strings.Contains(d.Observed, "stratus.dev/")) {
			t.Errorf("%s\ndrift %+v shows the owner mark's keys", reason, d)
		}
	}
	for k := range labels {
		if driver.IsOwnerKey(k) {
			t.Errorf("%s\nstatus.atProvider.labels shows the owner mark's key %q", reason, k)
		}
	}
}

// TestBucketOwnership checks what the suite's ownership behaviours leave to
// S3: the mark's tags never show as labels or in label drift, and a bucket
// without any tag gets the mark alone.
func TestBucketOwnership(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	c := connectS3(t)
	plain := plainS3(t, srv.Endpoint)

	cases := map[string]struct {
		reason string
		labels map[string]string
		// createdBy is the owner the bucket was created for: a zero Owner
		// for a bucket made before marks.
		createdBy driver.Owner
	}{
		"own-labels": {
			reason:    "The mark is written with the labels; status.atProvider.labels and the drift show the labels alone.",
			labels:    map[string]string{"env": "test"},
			createdBy: testOwner("test", "own-labels"),
		},
		"own-unmarked-labels": {
			reason: "A bucket made before marks with labels: ownership drift only, and Update writes the mark with the labels.",
			labels: map[string]string{"env": "test"},
		},
		"own-unmarked-untagged": {
			reason: "A bucket without any tag is unmarked: Update writes the mark alone.",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, storagev1alpha1.BucketSpec{Labels: tc.labels})
			mine := testOwner("test", name)
			createAs(t, c, b, tc.createdBy)

			o := observe(t, c, b)
			want := upToDate(name, srv.Endpoint)
			want.Owner = read(t, plain, name).Owner
			want.Drift = driver.OwnershipDrift(mine, want.Owner)
			if diff := cmp.Diff(want, o); diff != "" {
				t.Errorf("%s\nObserve(...): -want, +got:\n%s", tc.reason, diff)
			}
			noOwnerKeys(t, tc.reason, o.Drift, b.Status.AtProvider.Labels)
			if diff := cmp.Diff(tc.labels, b.Status.AtProvider.Labels); diff != "" {
				t.Errorf("%s\nstatus.atProvider.labels: -want, +got:\n%s", tc.reason, diff)
			}

			if _, err := c.Update(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			rb := read(t, plain, name)
			if diff := cmp.Diff(tc.labels, rb.Tags); diff != "" || rb.Owner != mine.Mark() {
				t.Errorf("%s\ntags after Update: owner %+v, labels -want, +got:\n%s", tc.reason, rb.Owner, diff)
			}
		})
	}
}

// TestBucketUpdateWithoutOwner checks S3's tags under a request without an
// owner, beyond the suite's: the mark is never deleted with the labels, and
// an unmarked bucket loses the labels the spec dropped.
func TestBucketUpdateWithoutOwner(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	c := connectS3(t)
	plain := plainS3(t, srv.Endpoint)

	cases := map[string]struct {
		reason string
		// marked says whether the bucket is created with the Bucket's mark.
		marked bool
		labels map[string]string
		want   readBack
	}{
		"noowner-keeps-mark-without-labels": {
			reason: "Without labels either, the tags are the mark alone: never deleted.",
			marked: true,
			want:   readBack{Encryption: "AES256", PublicAccess: "true true true true"}.markedBy("noowner-keeps-mark-without-labels"),
		},
		"noowner-unmarked": {
			reason: "An unmarked bucket whose labels the spec dropped loses its tags: there is no mark to keep.",
			want:   readBack{Encryption: "AES256", PublicAccess: "true true true true"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "test"}})
			owner := driver.Owner{}
			if tc.marked {
				owner = testOwner("test", name)
			}
			createAs(t, c, b, owner)

			b.Spec.Labels = tc.labels
			req := requestFor(b)
			req.Owner = driver.Owner{}
			o, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("Observe(...): %v", err)
			}
			for _, d := range o.Drift {
				if d.Field == driver.OwnershipField {
					t.Errorf("%s\nObserve(...) without an owner reports ownership drift %+v", tc.reason, d)
				}
			}
			if _, err := c.Update(t.Context(), req); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
