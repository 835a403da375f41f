package aws

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// The integration tests run the driver against versitygw, a real S3 server,
// with the test shim in front of it for encryption, public access blocks and
// lifecycle rules (see package test/servers). Each test uses its own buckets.

const testKeyID = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// fullSpec sets every setting a Bucket has.
func fullSpec() storagev1alpha1.BucketSpec {
	return storagev1alpha1.BucketSpec{
		Versioning:   storagev1alpha1.VersioningEnabled,
		Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: testKeyID},
		PublicAccess: storagev1alpha1.PublicAccessBlocked,
		Lifecycle:    []storagev1alpha1.LifecycleRule{rule("logs", "logs/", 30, 0), rule("old-versions", "", 0, 7)},
		Labels:       map[string]string{"env": "test", "team": "storage"},
	}
}

// fullReadBack is what a plain S3 client reads of a bucket with fullSpec.
func fullReadBack() readBack {
	return readBack{
		Versioning:   "Enabled",
		Encryption:   "aws:kms " + testKeyID,
		PublicAccess: "true true true true",
		Lifecycle: []string{
			"logs prefix=logs/ Enabled expiration=30 noncurrent=0",
			"old-versions prefix= Enabled expiration=0 noncurrent=7",
		},
		Tags: map[string]string{"env": "test", "team": "storage"},
	}
}

// countingTransport counts the requests sent through it by operation.
type countingTransport struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Method
	if q := r.URL.Query(); q.Has("delete") {
		op = "DeleteObjects"
	}
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[op]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) reset() {
	c.mu.Lock()
	c.calls = nil
	c.mu.Unlock()
}

func (c *countingTransport) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// connect returns a driver client for endpoint with the given credentials.
func connect(t *testing.T, endpoint, accessKey, secretKey string, opts ...Option) driver.Client[*storagev1alpha1.Bucket] {
	t.Helper()
	cfg := driver.Config{
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider:    stratusv1alpha1.ProviderAWS,
			Region:      "us-east-1",
			Endpoint:    endpoint,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret},
		},
		Credentials: map[string][]byte{
			KeyAccessKeyID:     []byte(accessKey),
			KeySecretAccessKey: []byte(secretKey),
		},
	}
	c, err := NewBucketDriver(opts...).Connect(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Connect(...): %v", err)
	}
	return c
}

// connectS3 returns a driver client for the shim with the root credentials.
func connectS3(t *testing.T, opts ...Option) driver.Client[*storagev1alpha1.Bucket] {
	t.Helper()
	srv := needS3(t)
	return connect(t, srv.Endpoint, srv.AccessKey, srv.SecretKey, opts...)
}

// plainS3 returns an S3 client of its own for endpoint, to check and change
// buckets behind the driver's back.
func plainS3(t *testing.T, endpoint string) *s3.Client {
	t.Helper()
	srv := needS3(t)
	return s3.New(s3.Options{
		Region:       srv.Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, ""),
	})
}

func newBucket(name string, spec storagev1alpha1.BucketSpec) *storagev1alpha1.Bucket {
	spec.BucketName = name
	b := &storagev1alpha1.Bucket{Spec: spec}
	b.Name = name
	b.Namespace = "test"
	b.UID = testUID(b.Namespace, name)
	return b
}

// requestFor is a request about b, with b's owner as the reconciler sets it.
func requestFor(b *storagev1alpha1.Bucket) driver.Request[*storagev1alpha1.Bucket] {
	return driver.Request[*storagev1alpha1.Bucket]{
		Object: b, ExternalName: b.Spec.BucketName, Region: "us-east-1", Owner: testOwner(b.Namespace, b.Name),
	}
}

// readBack is a bucket's settings as a plain S3 client reads them.
type readBack struct {
	Versioning   string
	Encryption   string            // algorithm and key, empty for none
	PublicAccess string            // the four flags, empty for no block
	Lifecycle    []string          // one line per rule, sorted
	Tags         map[string]string // without the owner mark's
	Owner        driver.OwnerMark  // the owner mark among the tags
}

// markedBy returns rb with the owner mark of the test Bucket name.
func (rb readBack) markedBy(name string) readBack {
	rb.Owner = testOwner("test", name).Mark()
	return rb
}

func read(t *testing.T, c *s3.Client, name string) readBack {
	t.Helper()
	ctx := t.Context()
	b := aws.String(name)
	var rb readBack

	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil {
		t.Fatalf("GetBucketVersioning(%s): %v", name, err)
	}
	rb.Versioning = string(ver.Status)

	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	switch {
	case err == nil:
		for _, r := range enc.ServerSideEncryptionConfiguration.Rules {
			if d := r.ApplyServerSideEncryptionByDefault; d != nil {
				rb.Encryption = strings.TrimSpace(string(d.SSEAlgorithm) + " " + aws.ToString(d.KMSMasterKeyID))
			}
		}
	case errorCode(err) != "ServerSideEncryptionConfigurationNotFoundError":
		t.Fatalf("GetBucketEncryption(%s): %v", name, err)
	}

	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	switch {
	case err == nil:
		p := pab.PublicAccessBlockConfiguration
		rb.PublicAccess = fmt.Sprint(aws.ToBool(p.BlockPublicAcls), aws.ToBool(p.IgnorePublicAcls),
			aws.ToBool(p.BlockPublicPolicy), aws.ToBool(p.RestrictPublicBuckets))
	case errorCode(err) != "NoSuchPublicAccessBlockConfiguration":
		t.Fatalf("GetPublicAccessBlock(%s): %v", name, err)
	}

	lc, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	switch {
	case err == nil:
		for _, r := range lc.Rules {
			var prefix string
			if r.Filter != nil {
				prefix = aws.ToString(r.Filter.Prefix)
			}
			var exp, nc int32
			if r.Expiration != nil {
				exp = aws.ToInt32(r.Expiration.Days)
			}
			if r.NoncurrentVersionExpiration != nil {
				nc = aws.ToInt32(r.NoncurrentVersionExpiration.NoncurrentDays)
			}
			rb.Lifecycle = append(rb.Lifecycle, fmt.Sprintf("%s prefix=%s %s expiration=%d noncurrent=%d",
				aws.ToString(r.ID), prefix, r.Status, exp, nc))
		}
		slices.Sort(rb.Lifecycle)
	case errorCode(err) != "NoSuchLifecycleConfiguration":
		t.Fatalf("GetBucketLifecycleConfiguration(%s): %v", name, err)
	}

	tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	switch {
	case err == nil:
		rb.Tags = driver.WithoutOwnerKeys(tagMap(tags.TagSet))
		rb.Owner = driver.MarkFromTags(tagMap(tags.TagSet))
	case errorCode(err) != "NoSuchTagSet":
		t.Fatalf("GetBucketTagging(%s): %v", name, err)
	}
	return rb
}

// bucketExists asks a plain client whether a bucket exists.
func bucketExists(t *testing.T, c *s3.Client, name string) bool {
	t.Helper()
	_, err := c.HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	if err == nil {
		return true
	}
	if httpStatus(err) == http.StatusNotFound {
		return false
	}
	t.Fatalf("HeadBucket(%s): %v", name, err)
	return false
}

func putObject(t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
	}); err != nil {
		t.Fatalf("PutObject(%s/%s): %v", bucket, key, err)
	}
}

// observed is what a test compares of an Observation.
type observed struct {
	Exists, Available bool
	Drift             []stratusv1alpha1.DriftedField
	Unsupported       []string
	Connection        map[string]string
	Owner             driver.OwnerMark
}

func observe(t *testing.T, c driver.Client[*storagev1alpha1.Bucket], b *storagev1alpha1.Bucket) observed {
	t.Helper()
	o, err := c.Observe(t.Context(), requestFor(b))
	if err != nil {
		t.Fatalf("Observe(%s): %v", b.Spec.BucketName, err)
	}
	got := observed{Exists: o.Exists, Available: o.Available, Drift: o.Drift, Unsupported: o.Unsupported, Owner: o.Owner}
	for k, v := range o.Connection {
		if got.Connection == nil {
			got.Connection = map[string]string{}
		}
		got.Connection[k] = string(v)
	}
	return got
}

// upToDate is the observation of the test Bucket name's bucket, in line
// with the spec and marked with the Bucket's owner.
func upToDate(name, endpoint string) observed {
	return observed{Exists: true, Available: true, Connection: map[string]string{
		"bucket": name, "region": "us-east-1", "endpoint": endpoint,
	}, Owner: testOwner("test", name).Mark()}
}

func TestBucketCreate(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	c := connectS3(t)
	plain := plainS3(t, srv.Endpoint)

	cases := map[string]struct {
		reason         string
		spec           storagev1alpha1.BucketSpec
		want           readBack
		wantAtProvider storagev1alpha1.BucketObservation
	}{
		"create-everything": {
			reason: "Create makes the bucket and applies versioning, SSE-KMS, the public access block, lifecycle rules and tags.",
			spec:   fullSpec(),
			want:   fullReadBack(),
			wantAtProvider: storagev1alpha1.BucketObservation{
				Name: "create-everything", Region: "us-east-1", Versioning: "Enabled",
				Encryption: "aws:kms", EncryptionKeyID: testKeyID, PublicAccessBlocked: aws.Bool(true),
				LifecycleRules: 2, Labels: map[string]string{"env": "test", "team": "storage"},
				URL: srv.Endpoint + "/create-everything",
			},
		},
		"create-defaults": {
			reason: "An empty spec leaves versioning off, encrypts with SSE-S3 and blocks public access.",
			want:   readBack{Encryption: "AES256", PublicAccess: "true true true true"},
			wantAtProvider: storagev1alpha1.BucketObservation{
				Name: "create-defaults", Region: "us-east-1", Encryption: "AES256",
				PublicAccessBlocked: aws.Bool(true), URL: srv.Endpoint + "/create-defaults",
			},
		},
		"create-public": {
			reason: "Allowed public access means no public access block.",
			spec:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed},
			want:   readBack{Encryption: "AES256"},
			wantAtProvider: storagev1alpha1.BucketObservation{
				Name: "create-public", Region: "us-east-1", Encryption: "AES256",
				PublicAccessBlocked: aws.Bool(false), URL: srv.Endpoint + "/create-public",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, tc.spec)
			if got := observe(t, c, b); got.Exists {
				t.Fatalf("Observe before Create: %+v; want a bucket that does not exist", got)
			}

			conn, err := c.Create(t.Context(), requestFor(b))
			if err != nil {
				t.Fatalf("%s\nCreate(...): %v", tc.reason, err)
			}
			wantConn := driver.ConnectionDetails{"bucket": []byte(name), "region": []byte("us-east-1"), "endpoint": []byte(srv.Endpoint)}
			if diff := cmp.Diff(wantConn, conn); diff != "" {
				t.Errorf("%s\nCreate(...) connection: -want, +got:\n%s", tc.reason, diff)
			}
			// The bucket carries the Bucket's owner mark, apart from its
			// labels.
			want := tc.want.markedBy(name)
			if diff := cmp.Diff(want, read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Create: -want, +got:\n%s", tc.reason, diff)
			}

			// Create of a bucket that exists succeeds and changes nothing.
			if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("%s\nsecond Create(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(want, read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter the second Create: -want, +got:\n%s", tc.reason, diff)
			}

			if diff := cmp.Diff(upToDate(name, srv.Endpoint), observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...): -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantAtProvider, b.Status.AtProvider); diff != "" {
				t.Errorf("%s\nstatus.atProvider: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBucketCreateAndObserve(t *testing.T) {
	t.Parallel()
	c := connectS3(t)
	co, ok := c.(driver.CreateObserver[*storagev1alpha1.Bucket])
	if !ok {
		t.Fatalf("the S3 client is a %T, not a driver.CreateObserver", c)
	}
	cases := map[string]struct {
		reason string
		spec   storagev1alpha1.BucketSpec
	}{
		"cao-everything": {reason: "Every setting set: versioning, SSE-KMS, lifecycle, tags.", spec: fullSpec()},
		"cao-defaults":   {reason: "An empty spec: no versioning, SSE-S3, public access blocked."},
		"cao-public":     {reason: "Public access allowed: no public access block.", spec: storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			created := newBucket(name, tc.spec)
			got, conn, err := co.CreateAndObserve(t.Context(), requestFor(created))
			if err != nil {
				t.Fatalf("%s\nCreateAndObserve(...): %v", tc.reason, err)
			}
			if got == nil {
				t.Fatalf("%s\nCreateAndObserve(...) of a new bucket returned no observation", tc.reason)
			}
			if diff := cmp.Diff(driver.ConnectionDetails(got.Connection), conn); diff != "" {
				t.Errorf("%s\nconnection details: observation's -, returned +:\n%s", tc.reason, diff)
			}
			// The bucket is the request's owner's, as created.
			if diff := cmp.Diff(testOwner("test", name).Mark(), got.Owner); diff != "" || len(got.Drift) > 0 {
				t.Errorf("%s\nCreateAndObserve(...): drift %v, owner mark -want, +got:\n%s", tc.reason, got.Drift, diff)
			}

			// What the create implies is what reading the bucket finds, by
			// both of Observe's paths: a first lookup, and a bucket observed
			// before.
			for _, seen := range []bool{false, true} {
				read := newBucket(name, tc.spec)
				if seen {
					read.Status.AtProvider = created.Status.AtProvider
				}
				want, err := c.Observe(t.Context(), requestFor(read))
				if err != nil {
					t.Fatalf("Observe(...): %v", err)
				}
				if diff := cmp.Diff(want, *got); diff != "" {
					t.Errorf("%s\nobservation (seen before %t): Observe's -, CreateAndObserve's +:\n%s", tc.reason, seen, diff)
				}
				if diff := cmp.Diff(read.Status.AtProvider, created.Status.AtProvider); diff != "" {
					t.Errorf("%s\nstatus.atProvider (seen before %t): Observe's -, CreateAndObserve's +:\n%s", tc.reason, seen, diff)
				}
			}

			// A bucket that already existed is not vouched for: observe it.
			again, _, err := co.CreateAndObserve(t.Context(), requestFor(newBucket(name, tc.spec)))
			if err != nil {
				t.Fatalf("second CreateAndObserve(...): %v", err)
			}
			if again != nil {
				t.Errorf("%s\nsecond CreateAndObserve(...) = %+v; want no observation for a bucket that already existed", tc.reason, *again)
			}
		})
	}
}

func TestBucketUpdate(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	c := connectS3(t)
	plain := plainS3(t, srv.Endpoint)

	cases := map[string]struct {
		reason   string
		from, to storagev1alpha1.BucketSpec
		want     readBack
	}{
		"update-enable-everything": {
			reason: "Update applies every setting to a bucket created with the defaults.",
			to:     fullSpec(),
			want:   fullReadBack(),
		},
		"update-disable-everything": {
			reason: "Update suspends versioning, returns to SSE-S3, removes the public access block, the rules and the tags.",
			from:   fullSpec(),
			to: storagev1alpha1.BucketSpec{
				Versioning:   storagev1alpha1.VersioningDisabled,
				Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged},
				PublicAccess: storagev1alpha1.PublicAccessAllowed,
			},
			want: readBack{Versioning: "Suspended", Encryption: "AES256"},
		},
		"update-never-versioned": {
			reason: "Disabled versioning leaves a bucket that was never versioned unversioned rather than suspended.",
			to:     storagev1alpha1.BucketSpec{Versioning: storagev1alpha1.VersioningDisabled, Labels: map[string]string{"a": "b"}},
			want:   readBack{Encryption: "AES256", PublicAccess: "true true true true", Tags: map[string]string{"a": "b"}},
		},
		"update-rules-and-labels": {
			reason: "Update replaces lifecycle rules and tags with the spec's.",
			from:   fullSpec(),
			to: func() storagev1alpha1.BucketSpec {
				s := fullSpec()
				s.Lifecycle = []storagev1alpha1.LifecycleRule{rule("tmp", "tmp/", 1, 1)}
				s.Labels = map[string]string{"env": "prod"}
				return s
			}(),
			want: func() readBack {
				rb := fullReadBack()
				rb.Lifecycle = []string{"tmp prefix=tmp/ Enabled expiration=1 noncurrent=1"}
				rb.Tags = map[string]string{"env": "prod"}
				return rb
			}(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, tc.from)
			if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("Create(...): %v", err)
			}

			spec := tc.to
			spec.BucketName = name
			b.Spec = spec
			if o := observe(t, c, b); len(o.Drift) == 0 {
				t.Errorf("%s\nObserve(...) after the spec changed reports no drift", tc.reason)
			}
			conn, err := c.Update(t.Context(), requestFor(b))
			if err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			if got := string(conn["bucket"]); got != name {
				t.Errorf("%s\nUpdate(...) connection bucket = %q; want %q", tc.reason, got, name)
			}
			if diff := cmp.Diff(tc.want.markedBy(name), read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Update: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(upToDate(name, srv.Endpoint), observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...) after Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBucketDriftIsCorrected(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	c := connectS3(t)
	plain := plainS3(t, srv.Endpoint)

	cases := map[string]struct {
		reason string
		change func(ctx context.Context, c *s3.Client, b *string) error
		want   []stratusv1alpha1.DriftedField
		// wantOwner is the owner mark Observe reads after the change, when
		// the change is not to keep the Bucket's.
		wantOwner *driver.OwnerMark
	}{
		"drift-versioning": {
			reason: "Suspending versioning behind the driver's back is drift.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
					VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
				return err
			},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Suspended"}},
		},
		"drift-encryption": {
			reason: "Switching to SSE-S3 is drift from CustomerManaged.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b,
					ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
						Rules: []types.ServerSideEncryptionRule{sse("AES256", "")}}})
				return err
			},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.encryption",
				Desired: "CustomerManaged (key " + testKeyID + ")", Observed: "ProviderManaged"}},
		},
		"drift-encryption-removed": {
			reason: "Deleting the default encryption is drift.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				_, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: b})
				return err
			},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.encryption",
				Desired: "CustomerManaged (key " + testKeyID + ")", Observed: "None"}},
		},
		"drift-public-access": {
			reason: "Turning off part of the public access block is drift.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b,
					PublicAccessBlockConfiguration: pab(true, false, false, false)})
				return err
			},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Partially blocked (BlockPublicAcls)"}},
		},
		"drift-lifecycle": {
			reason: "Replacing the lifecycle rules is drift.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				_, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
					LifecycleConfiguration: &types.BucketLifecycleConfiguration{
						Rules: desiredLifecycleRules([]storagev1alpha1.LifecycleRule{rule("logs", "logs/", 90, 0)})}})
				return err
			},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle",
				Desired:  "logs: prefix=logs/ expiration=30d; old-versions: noncurrentExpiration=7d",
				Observed: "logs: prefix=logs/ expiration=90d"}},
		},
		"drift-labels": {
			reason: "Replacing the tags is drift in the labels and, since the owner mark went with them, in the ownership; Update writes both back.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b,
					Tagging: &types.Tagging{TagSet: desiredTags(map[string]string{"env": "prod", "owner": "someone"})}})
				return err
			},
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.labels", Desired: "env=test, team=storage", Observed: "env=prod, owner=someone"},
				{Field: driver.OwnershipField, Desired: testOwner("test", "drift-labels").ID(), Observed: "None"},
			},
			wantOwner: &driver.OwnerMark{},
		},
		"drift-labels-keep-mark": {
			reason: "Changing the labels but keeping the mark is drift in the labels only, which never show the mark's keys.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				tags := withOwnerTags(map[string]string{"env": "prod"}, testOwner("test", aws.ToString(b)))
				_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: desiredTags(tags)}})
				return err
			},
			want: []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=test, team=storage", Observed: "env=prod"}},
		},
		"drift-other-owner": {
			reason: "Another owner's mark, with the spec's labels, is drift in the ownership only; Update writes the Bucket's mark.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				tags := withOwnerTags(fullSpec().Labels, testOwner("intruder", aws.ToString(b)))
				_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: desiredTags(tags)}})
				return err
			},
			want: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField,
				Desired: testOwner("test", "drift-other-owner").ID(), Observed: testOwner("intruder", "drift-other-owner").ID()}},
			wantOwner: func() *driver.OwnerMark { m := testOwner("intruder", "drift-other-owner").Mark(); return &m }(),
		},
		"drift-everything": {
			reason: "Every changed setting is reported at once.",
			change: func(ctx context.Context, c *s3.Client, b *string) error {
				if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
					VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
					return err
				}
				if _, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
					return err
				}
				if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b}); err != nil {
					return err
				}
				_, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: b})
				return err
			},
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.versioning", Desired: "Enabled", Observed: "Suspended"},
				{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Allowed"},
				{Field: "spec.lifecycle", Desired: "logs: prefix=logs/ expiration=30d; old-versions: noncurrentExpiration=7d", Observed: "None"},
				{Field: "spec.labels", Desired: "env=test, team=storage", Observed: "None"},
				{Field: driver.OwnershipField, Desired: testOwner("test", "drift-everything").ID(), Observed: "None"},
			},
			wantOwner: &driver.OwnerMark{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := newBucket(name, fullSpec())
			if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("Create(...): %v", err)
			}
			if err := tc.change(t.Context(), plain, aws.String(name)); err != nil {
				t.Fatalf("changing the bucket behind the driver's back: %v", err)
			}

			want := upToDate(name, srv.Endpoint)
			want.Drift = tc.want
			if tc.wantOwner != nil {
				want.Owner = *tc.wantOwner
			}
			if diff := cmp.Diff(want, observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...) after the change: -want, +got:\n%s", tc.reason, diff)
			}
			if _, err := c.Update(t.Context(), requestFor(b)); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			if diff := cmp.Diff(upToDate(name, srv.Endpoint), observe(t, c, b)); diff != "" {
				t.Errorf("%s\nObserve(...) after Update: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(fullReadBack().markedBy(name), read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestBucketDelete(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	plain := plainS3(t, srv.Endpoint)

	versioned := storagev1alpha1.BucketSpec{Versioning: storagev1alpha1.VersioningEnabled}
	cases := map[string]struct {
		reason string
		// create, unless nil, is the spec the bucket is created with.
		create *storagev1alpha1.BucketSpec
		// fill puts objects in the bucket.
		fill         func(t *testing.T, bucket string)
		forceDestroy bool
		wantBlocked  bool
		// wantKeys are the keys ListObjectVersions finds after Delete.
		wantKeys []string
		// wantDeleteObjects is how many DeleteObjects calls Delete makes.
		wantDeleteObjects int
	}{
		"delete-empty": {
			reason: "An empty bucket is deleted.",
			create: &storagev1alpha1.BucketSpec{},
		},
		"delete-empty-versioned": {
			reason: "An empty versioned bucket is deleted.",
			create: &versioned,
		},
		"delete-missing": {
			reason: "Deleting a bucket that does not exist succeeds.",
		},
		"delete-blocked": {
			reason: "A bucket that holds objects is not deleted, nor are its objects, without forceDestroy.",
			create: &storagev1alpha1.BucketSpec{},
			fill: func(t *testing.T, bucket string) {
				putObject(t, plain, bucket, "keep/me.txt", "precious")
			},
			wantBlocked: true,
			wantKeys:    []string{"keep/me.txt"},
		},
		"delete-blocked-by-versions": {
			reason: "A versioned bucket whose objects were all deleted still holds old versions and delete markers: blocked.",
			create: &versioned,
			fill: func(t *testing.T, bucket string) {
				putObject(t, plain, bucket, "gone.txt", "v1")
				if _, err := plain.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("gone.txt")}); err != nil {
					t.Fatalf("DeleteObject: %v", err)
				}
			},
			wantBlocked: true,
			wantKeys:    []string{"gone.txt", "gone.txt"},
		},
		"delete-force-versioned": {
			reason: "forceDestroy deletes every version and delete marker, then the bucket.",
			create: &versioned,
			fill: func(t *testing.T, bucket string) {
				for i := range 3 {
					putObject(t, plain, bucket, "a.txt", fmt.Sprint("version ", i))
					putObject(t, plain, bucket, fmt.Sprintf("dir/%d.txt", i), "x")
				}
				if _, err := plain.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/0.txt")}); err != nil {
					t.Fatalf("DeleteObject: %v", err)
				}
			},
			forceDestroy:      true,
			wantDeleteObjects: 1,
		},
		"delete-force-many": {
			reason: "forceDestroy deletes objects in batches of at most 1000.",
			create: &storagev1alpha1.BucketSpec{},
			fill: func(t *testing.T, bucket string) {
				putMany(t, plain, bucket, 1234)
			},
			forceDestroy:      true,
			wantDeleteObjects: 2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			counter := &countingTransport{}
			c := connectS3(t, WithHTTPClient(&http.Client{Transport: counter}))
			spec := storagev1alpha1.BucketSpec{}
			if tc.create != nil {
				spec = *tc.create
			}
			spec.ForceDestroy = tc.forceDestroy
			b := newBucket(name, spec)
			if tc.create != nil {
				if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
					t.Fatalf("Create(...): %v", err)
				}
			}
			if tc.fill != nil {
				tc.fill(t, name)
			}

			counter.reset()
			err := c.Delete(t.Context(), requestFor(b))
			if tc.wantBlocked {
				if !driver.IsBlocked(err) {
					t.Fatalf("%s\nDelete(...) = %v; want a Blocked error", tc.reason, err)
				}
				if want := "set spec.forceDestroy to true"; !strings.Contains(err.Error(), want) {
					t.Errorf("%s\nDelete(...) = %q; want it to say %q", tc.reason, err, want)
				}
				if !bucketExists(t, plain, name) {
					t.Fatalf("%s\nthe bucket is gone after a blocked Delete", tc.reason)
				}
				if diff := cmp.Diff(tc.wantKeys, listVersions(t, plain, name)); diff != "" {
					t.Errorf("%s\nobject versions after a blocked Delete: -want, +got:\n%s", tc.reason, diff)
				}
				if n := counter.count("DeleteObjects") + counter.count(http.MethodDelete); n != 0 {
					t.Errorf("%s\na blocked Delete made %d delete calls; want none", tc.reason, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nDelete(...): %v", tc.reason, err)
			}
			if bucketExists(t, plain, name) {
				t.Fatalf("%s\nthe bucket still exists after Delete", tc.reason)
			}
			if got := counter.count("DeleteObjects"); got != tc.wantDeleteObjects {
				t.Errorf("%s\nDelete(...) made %d DeleteObjects calls; want %d", tc.reason, got, tc.wantDeleteObjects)
			}
			if err := c.Delete(t.Context(), requestFor(b)); err != nil {
				t.Errorf("%s\nsecond Delete(...): %v", tc.reason, err)
			}
			if got := observe(t, c, b); got.Exists {
				t.Errorf("%s\nObserve(...) after Delete: %+v; want a bucket that does not exist", tc.reason, got)
			}
		})
	}
}

// putMany puts n small objects in a bucket, a few at a time.
func putMany(t *testing.T, c *s3.Client, bucket string, n int) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		failed atomic.Value
	)
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("many/%05d", i)), Body: strings.NewReader("x"),
				}); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		t.Fatalf("PutObject: %v", err)
	}
}

// listVersions returns the keys of every object version and delete marker.
func listVersions(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	out, err := c.ListObjectVersions(t.Context(), &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListObjectVersions(%s): %v", bucket, err)
	}
	var keys []string
	for _, v := range out.Versions {
		keys = append(keys, aws.ToString(v.Key))
	}
	for _, m := range out.DeleteMarkers {
		keys = append(keys, aws.ToString(m.Key))
	}
	slices.Sort(keys)
	return keys
}

func TestBucketBadCredentials(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	good := connectS3(t)
	existing := newBucket("bad-credentials-existing", storagev1alpha1.BucketSpec{})
	if _, err := good.Create(t.Context(), requestFor(existing)); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	missing := newBucket("bad-credentials-missing", storagev1alpha1.BucketSpec{})
	// Observe reads a bucket observed before without looking it up first,
	// and only looks up one being deleted: bad credentials must show on
	// every path, never as a missing bucket.
	seenExisting, seenMissing := existing.DeepCopy(), missing.DeepCopy()
	seenMissing.Status.AtProvider = storagev1alpha1.BucketObservation{Name: missing.Spec.BucketName, Region: "us-east-1"}
	existing.Status.AtProvider = storagev1alpha1.BucketObservation{}
	deleting := seenExisting.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	if seenExisting.Status.AtProvider.Name == "" {
		t.Fatal("Create did not record status.atProvider")
	}

	cases := map[string]struct {
		reason            string
		accessKey, secret string
	}{
		"WrongSecretKey": {
			reason:    "A known access key with the wrong secret key is refused: bad credentials.",
			accessKey: srv.AccessKey,
			secret:    "wrong-secret-key-0123456789",
		},
		"UnknownAccessKey": {
			reason:    "An access key the server does not know is refused: bad credentials, not a missing bucket.",
			accessKey: "AKIAUNKNOWNUNKNOWN00",
			secret:    "unknown-secret-key-0123456789",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := connect(t, srv.Endpoint, tc.accessKey, tc.secret)
			calls := map[string]func() error{
				"Observe existing":              func() error { _, err := c.Observe(t.Context(), requestFor(existing)); return err },
				"Observe missing":               func() error { _, err := c.Observe(t.Context(), requestFor(missing)); return err },
				"Observe existing, seen before": func() error { _, err := c.Observe(t.Context(), requestFor(seenExisting)); return err },
				"Observe missing, seen before":  func() error { _, err := c.Observe(t.Context(), requestFor(seenMissing)); return err },
				"Observe existing, deleting":    func() error { _, err := c.Observe(t.Context(), requestFor(deleting)); return err },
				"Create":                        func() error { _, err := c.Create(t.Context(), requestFor(missing)); return err },
				"Update":                        func() error { _, err := c.Update(t.Context(), requestFor(existing)); return err },
				"Delete":                        func() error { return c.Delete(t.Context(), requestFor(existing)) },
			}
			for call, fn := range calls {
				err := fn()
				if !driver.IsBadCredentials(err) {
					t.Errorf("%s\n%s: %v; want a BadCredentials error", tc.reason, call, err)
					continue
				}
				if strings.Contains(err.Error(), tc.secret) || strings.Contains(err.Error(), tc.accessKey) {
					t.Errorf("%s\n%s: the error %q holds a credential", tc.reason, call, err)
				}
			}
		})
	}
	if !bucketExists(t, plainS3(t, srv.Endpoint), existing.Spec.BucketName) {
		t.Error("the bucket is gone after Delete with bad credentials")
	}
}

func TestBucketUnsupportedFeatures(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	// versitygw itself, without the shim, answers 501 NotImplemented for
	// encryption, public access blocks and lifecycle rules.
	c := connect(t, srv.BackendEndpoint, srv.AccessKey, srv.SecretKey)
	plain := plainS3(t, srv.BackendEndpoint)
	const name = "unsupported-features"
	b := newBucket(name, fullSpec())

	if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
		t.Fatalf("Create(...) against an endpoint without encryption, public access block and lifecycle: %v", err)
	}
	want := upToDate(name, srv.BackendEndpoint)
	want.Unsupported = []string{"encryption", "publicAccess", "lifecycle"}
	if diff := cmp.Diff(want, observe(t, c, b)); diff != "" {
		t.Errorf("Observe(...): -want, +got:\n%s", diff)
	}
	wantAtProvider := storagev1alpha1.BucketObservation{
		Name: name, Region: "us-east-1", Versioning: "Enabled",
		Labels: map[string]string{"env": "test", "team": "storage"},
		URL:    srv.BackendEndpoint + "/" + name,
	}
	if diff := cmp.Diff(wantAtProvider, b.Status.AtProvider); diff != "" {
		t.Errorf("status.atProvider: -want, +got:\n%s", diff)
	}

	// The supported settings are still managed.
	b.Spec.Versioning = storagev1alpha1.VersioningDisabled
	b.Spec.Labels = map[string]string{"env": "prod"}
	b.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed
	b.Spec.Lifecycle = nil
	want.Drift = []stratusv1alpha1.DriftedField{
		{Field: "spec.versioning", Desired: "Disabled", Observed: "Enabled"},
		{Field: "spec.labels", Desired: "env=prod", Observed: "env=test, team=storage"},
	}
	if diff := cmp.Diff(want, observe(t, c, b)); diff != "" {
		t.Errorf("Observe(...) after the spec changed: -want, +got:\n%s", diff)
	}
	if _, err := c.Update(t.Context(), requestFor(b)); err != nil {
		t.Fatalf("Update(...) against an endpoint without encryption, public access block and lifecycle: %v", err)
	}
	want.Drift = nil
	if diff := cmp.Diff(want, observe(t, c, b)); diff != "" {
		t.Errorf("Observe(...) after Update: -want, +got:\n%s", diff)
	}
	ver, err := plain.GetBucketVersioning(t.Context(), &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
	if err != nil || ver.Status != types.BucketVersioningStatusSuspended {
		t.Errorf("GetBucketVersioning after Update = %v, %v; want Suspended", ver, err)
	}
	if err := c.Delete(t.Context(), requestFor(b)); err != nil {
		t.Fatalf("Delete(...): %v", err)
	}
	if bucketExists(t, plain, name) {
		t.Error("the bucket still exists after Delete")
	}
}
