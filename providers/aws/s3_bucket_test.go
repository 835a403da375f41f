package aws

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/driver/drivertest"
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

// s3Config is a provider configuration for endpoint with the given
// credentials.
func s3Config(endpoint, accessKey, secretKey string) driver.Config {
	return driver.Config{
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
}

// connect returns a driver client for endpoint with the given credentials.
func connect(t *testing.T, endpoint, accessKey, secretKey string, opts ...Option) driver.Client[*storagev1alpha1.Bucket] {
	t.Helper()
	c, err := NewBucketDriver(opts...).Connect(t.Context(), s3Config(endpoint, accessKey, secretKey))
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
	return observedOf(o)
}

// observedOf is what a test compares of o.
func observedOf(o driver.Observation) observed {
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

// TestBucketCreate checks, for specs beyond the suite's, what Create writes
// and what it reports observing: the observation of the settings it wrote,
// status.atProvider included, which spares the reconciler an Observe.
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
			res, err := c.Create(t.Context(), requestFor(b))
			if err != nil {
				t.Fatalf("%s\nCreate(...): %v", tc.reason, err)
			}
			// The bucket carries the Bucket's owner mark, apart from its
			// labels.
			if diff := cmp.Diff(tc.want.markedBy(name), read(t, plain, name)); diff != "" {
				t.Errorf("%s\nafter Create: -want, +got:\n%s", tc.reason, diff)
			}
			if res.Observed == nil {
				t.Fatalf("%s\nCreate(...) of a new bucket whose every setting the endpoint took observed nothing", tc.reason)
			}
			if diff := cmp.Diff(tc.wantAtProvider, b.Status.AtProvider); diff != "" {
				t.Errorf("%s\nstatus.atProvider after Create: -want, +got:\n%s", tc.reason, diff)
			}
			read := newBucket(name, tc.spec)
			if diff := cmp.Diff(observe(t, c, read), observedOf(*res.Observed)); diff != "" {
				t.Errorf("%s\nCreate(...) observed: Observe's -, Create's +:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantAtProvider, read.Status.AtProvider); diff != "" {
				t.Errorf("%s\nstatus.atProvider after Observe: -want, +got:\n%s", tc.reason, diff)
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
			res, err := c.Update(t.Context(), requestFor(b))
			if err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			if got := string(res.Connection["bucket"]); got != name {
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

// TestBucketForceDestroyBatches checks how Delete empties a large bucket
// with spec.forceDestroy: DeleteObjects batches of at most 1000 keys. The
// suite checks the rest of what Delete does.
func TestBucketForceDestroyBatches(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	plain := plainS3(t, srv.Endpoint)
	counter := &countingTransport{}
	c := connectS3(t, WithHTTPClient(&http.Client{Transport: counter}))
	const name = "delete-force-many"
	b := newBucket(name, storagev1alpha1.BucketSpec{ForceDestroy: true})
	if _, err := c.Create(t.Context(), requestFor(b)); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	drivertest.PutMany(t, s3Harness{srv: srv, plain: plain}, name, 1234)

	counter.reset()
	res, err := c.Delete(t.Context(), requestFor(b))
	if err != nil || !res.Gone {
		t.Fatalf("Delete(...) = %+v, %v; want the bucket gone", res, err)
	}
	if bucketExists(t, plain, name) {
		t.Fatal("the bucket still exists after Delete")
	}
	if got := counter.count("DeleteObjects"); got != 2 {
		t.Errorf("Delete(...) of 1234 objects made %d DeleteObjects calls; want 2", got)
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
	if _, err := c.Delete(t.Context(), requestFor(b)); err != nil {
		t.Fatalf("Delete(...): %v", err)
	}
	if bucketExists(t, plain, name) {
		t.Error("the bucket still exists after Delete")
	}
}
