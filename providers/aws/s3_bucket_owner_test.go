package aws

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

func TestBucketOwnership(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	c := connectS3(t)
	plain := plainS3(t, srv.Endpoint)
	labels := map[string]string{"env": "test"}

	cases := map[string]struct {
		reason string
		labels map[string]string
		// createdBy is the owner the bucket was created for: nil for the
		// Bucket's own, a zero Owner for a bucket made before marks.
		createdBy *driver.Owner
		// wantOwner is the mark Observe reads before Update: nil for the
		// Bucket's own.
		wantOwner *driver.OwnerMark
	}{
		"own-marked": {
			reason: "A bucket the driver created for the Bucket carries its mark: no ownership drift.",
			labels: labels,
		},
		"own-unmarked": {
			reason:    "A bucket made before marks is unmarked: ownership drift, which Update corrects by writing the mark with the labels.",
			labels:    labels,
			createdBy: &driver.Owner{},
			wantOwner: &driver.OwnerMark{},
		},
		"own-unmarked-untagged": {
			reason:    "A bucket without any tag is unmarked: Update writes the mark alone.",
			createdBy: &driver.Owner{},
			wantOwner: &driver.OwnerMark{},
		},
		"own-other": {
			reason:    "A bucket with another object's mark shows that object's mark and the ownership drift; Update (called once the reconciler allowed the claim) writes the Bucket's.",
			labels:    labels,
			createdBy: func() *driver.Owner { o := testOwner("team-b", "own-other"); return &o }(),
			wantOwner: func() *driver.OwnerMark { m := testOwner("team-b", "own-other").Mark(); return &m }(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, storagev1alpha1.BucketSpec{Labels: tc.labels})
			mine := testOwner("test", name)
			createdBy, wantOwner := mine, mine.Mark()
			if tc.createdBy != nil {
				createdBy = *tc.createdBy
			}
			if tc.wantOwner != nil {
				wantOwner = *tc.wantOwner
			}
			createAs(t, c, b, createdBy)
			if got := read(t, plain, name).Owner; got != wantOwner {
				t.Fatalf("%s\nthe mark read back after Create = %+v; want %+v", tc.reason, got, wantOwner)
			}

			// Observe reports the mark, and the ownership drift when it is
			// not the Bucket's.
			want := upToDate(name, srv.Endpoint)
			want.Owner = wantOwner
			want.Drift = driver.OwnershipDrift(mine, wantOwner)
			if wantOwner != mine.Mark() && len(want.Drift) != 1 {
				t.Fatalf("the test expects ownership drift for %+v", wantOwner)
			}
			if diff := cmp.Diff(want, observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.labels, b.Status.AtProvider.Labels); diff != "" {
				t.Errorf("%s\nstatus.atProvider.labels: -want, +got:\n%s", tc.reason, diff)
			}

			// So does it for a Bucket being deleted, with a HEAD and the tags.
			counter := &countingTransport{}
			counted := connectS3(t, WithHTTPClient(&http.Client{Transport: counter}))
			gone := b.DeepCopy()
			gone.DeletionTimestamp = &metav1.Time{Time: time.Now()}
			o, err := counted.Observe(t.Context(), requestFor(gone))
			if err != nil {
				t.Fatalf("Observe(...) of a Bucket being deleted: %v", err)
			}
			type deletingObs struct {
				Exists     bool
				Owner      driver.OwnerMark
				Drift      []stratusv1alpha1.DriftedField
				HEAD, GETs int
			}
			if diff := cmp.Diff(deletingObs{Exists: true, Owner: wantOwner, Drift: want.Drift, HEAD: 1, GETs: 1},
				deletingObs{o.Exists, o.Owner, o.Drift, counter.count(http.MethodHead), counter.count(http.MethodGet)}); diff != "" {
				t.Errorf("%s\nObserve(...) of a Bucket being deleted: -want, +got:\n%s", tc.reason, diff)
			}

			// Update stamps the Bucket's mark and keeps the labels.
			if _, err := c.Update(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			rb := read(t, plain, name)
			if diff := cmp.Diff(struct {
				Tags  map[string]string
				Owner driver.OwnerMark
			}{tc.labels, mine.Mark()}, struct {
				Tags  map[string]string
				Owner driver.OwnerMark
			}{rb.Tags, rb.Owner}); diff != "" {
				t.Errorf("%s\ntags after Update: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(upToDate(name, srv.Endpoint), observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...) after Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBucketCreateOverExisting(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	c := connectS3(t)
	co := c.(driver.CreateObserver[*storagev1alpha1.Bucket])
	plain := plainS3(t, srv.Endpoint)

	cases := map[string]struct {
		reason string
		// setup makes the bucket behind the Bucket's back.
		setup func(t *testing.T, name string)
		// wantOwner is the mark the bucket carries.
		wantOwner driver.OwnerMark
	}{
		"exists-bare": {
			reason: "A bare bucket of the account (no encryption, no public access block, no tags) gets none of the spec's settings nor a mark.",
			setup: func(t *testing.T, name string) {
				if _, err := plain.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
					t.Fatalf("CreateBucket(%s): %v", name, err)
				}
			},
		},
		"exists-unmarked": {
			reason: "An unmarked bucket with suspended versioning and tags of its own keeps them.",
			setup: func(t *testing.T, name string) {
				b := aws.String(name)
				if _, err := plain.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: b}); err != nil {
					t.Fatalf("CreateBucket(%s): %v", name, err)
				}
				for _, st := range []types.BucketVersioningStatus{types.BucketVersioningStatusEnabled, types.BucketVersioningStatusSuspended} {
					if _, err := plain.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: b,
						VersioningConfiguration: &types.VersioningConfiguration{Status: st}}); err != nil {
						t.Fatalf("PutBucketVersioning(%s): %v", name, err)
					}
				}
				if _, err := plain.PutBucketTagging(t.Context(), &s3.PutBucketTaggingInput{Bucket: b,
					Tagging: &types.Tagging{TagSet: desiredTags(map[string]string{"env": "legacy"})}}); err != nil {
					t.Fatalf("PutBucketTagging(%s): %v", name, err)
				}
			},
		},
		"exists-other-owner": {
			reason: "Another Bucket's bucket keeps its settings and its owner's mark.",
			setup: func(t *testing.T, name string) {
				other := newBucket(name, storagev1alpha1.BucketSpec{
					PublicAccess: storagev1alpha1.PublicAccessAllowed,
					Labels:       map[string]string{"team": "b"},
				})
				createAs(t, c, other, testOwner("team-b", name))
			},
			wantOwner: testOwner("team-b", "exists-other-owner").Mark(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.setup(t, name)
			before := read(t, plain, name)
			if before.Owner != tc.wantOwner {
				t.Fatalf("the bucket's mark before Create = %+v; want %+v", before.Owner, tc.wantOwner)
			}

			b := newBucket(name, fullSpec())
			wantConn := driver.ConnectionDetails{"bucket": []byte(name), "region": []byte("us-east-1"), "endpoint": []byte(srv.Endpoint)}
			conn, err := c.Create(t.Context(), requestFor(b))
			if err != nil {
				t.Fatalf("%s\nCreate(...) over an existing bucket: %v", tc.reason, err)
			}
			if diff := cmp.Diff(wantConn, conn); diff != "" {
				t.Errorf("%s\nCreate(...) connection: -want, +got:\n%s", tc.reason, diff)
			}
			obs, conn, err := co.CreateAndObserve(t.Context(), requestFor(b))
			if err != nil || obs != nil {
				t.Fatalf("%s\nCreateAndObserve(...) over an existing bucket = %+v, %v; want no observation and no error", tc.reason, obs, err)
			}
			if diff := cmp.Diff(wantConn, conn); diff != "" {
				t.Errorf("%s\nCreateAndObserve(...) connection: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(before, read(t, plain, name)); diff != "" {
				t.Errorf("%s\nthe bucket after Create: -before, +after:\n%s", tc.reason, diff)
			}

			// The reconciler then observes it: whose it is, and that it is
			// not the Bucket's.
			got := observe(t, c, b)
			var ownership []stratusv1alpha1.DriftedField
			for _, d := range got.Drift {
				if d.Field == driver.OwnershipField {
					ownership = append(ownership, d)
				}
			}
			want := observed{Exists: true, Owner: tc.wantOwner, Drift: driver.OwnershipDrift(testOwner("test", name), tc.wantOwner)}
			if diff := cmp.Diff(want, observed{Exists: got.Exists, Owner: got.Owner, Drift: ownership}); diff != "" {
				t.Errorf("%s\nObserve(...) after Create: -want, +got:\n%s", tc.reason, diff)
			}
			noOwnerKeys(t, tc.reason, got.Drift, b.Status.AtProvider.Labels)
		})
	}
}

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
		"noowner-keeps-mark": {
			reason: "A request without an owner replaces the labels and keeps the mark the bucket carries.",
			marked: true,
			labels: map[string]string{"env": "prod"},
			want:   readBack{Encryption: "AES256", PublicAccess: "true true true true", Tags: map[string]string{"env": "prod"}}.markedBy("noowner-keeps-mark"),
		},
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
