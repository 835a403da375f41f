package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/driver/drivertest"
	"github.com/stratus-operator/stratus/test/faults"
	"github.com/stratus-operator/stratus/test/servers"
)

// TestBucketDriverSuite runs the driver suite against versitygw behind the
// shim, reading back with a plain S3 client.
func TestBucketDriverSuite(t *testing.T) {
	t.Parallel()
	srv := needS3(t)
	drivertest.RunBuckets(t, s3Harness{srv: srv, plain: plainS3(t, srv.Endpoint)})
}

// s3Harness plugs the S3 driver into the suite.
type s3Harness struct {
	srv   *servers.S3Server
	plain *s3.Client
}

func (h s3Harness) Config(*testing.T) driver.Config {
	return s3Config(h.srv.Endpoint, h.srv.AccessKey, h.srv.SecretKey)
}

func (h s3Harness) Connect(t *testing.T, cfg driver.Config) (driver.Client[*storagev1alpha1.Bucket], error) {
	return NewBucketDriver().Connect(t.Context(), cfg)
}

func (h s3Harness) BadCredentials(*testing.T) []drivertest.Credentials {
	const secret = "wrong-secret-key-0123456789"
	const unknownKey, unknownSecret = "AKIAUNKNOWNUNKNOWN00", "unknown-secret-key-0123456789"
	return []drivertest.Credentials{
		{Name: "WrongSecretKey", Data: s3Config("", h.srv.AccessKey, secret).Credentials, Secrets: []string{secret}},
		{Name: "UnknownAccessKey", Data: s3Config("", unknownKey, unknownSecret).Credentials, Secrets: []string{unknownKey, unknownSecret}},
	}
}

func (s3Harness) Throttling() faults.Response { return faults.S3SlowDown }

func (s3Harness) New(name string) *storagev1alpha1.Bucket { return newBucket(name, fullSpec()) }

func (s3Harness) Request(b *storagev1alpha1.Bucket) driver.Request[*storagev1alpha1.Bucket] {
	return requestFor(b)
}

func (s3Harness) Mutations() []drivertest.Mutation[*storagev1alpha1.Bucket] {
	return []drivertest.Mutation[*storagev1alpha1.Bucket]{
		{Field: "spec.versioning", Apply: func(b *storagev1alpha1.Bucket) { b.Spec.Versioning = storagev1alpha1.VersioningDisabled }},
		{Field: "spec.encryption", Apply: func(b *storagev1alpha1.Bucket) {
			b.Spec.Encryption = &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged}
		}},
		{Field: "spec.publicAccess", Apply: func(b *storagev1alpha1.Bucket) { b.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed }},
		{Field: "spec.lifecycle", Apply: func(b *storagev1alpha1.Bucket) {
			b.Spec.Lifecycle = []storagev1alpha1.LifecycleRule{rule("tmp", "tmp/", 1, 1)}
		}},
		{Field: "spec.labels", Apply: func(b *storagev1alpha1.Bucket) { b.Spec.Labels = map[string]string{"env": "prod"} }},
	}
}

// Want describes the spec in the words of readBack.fields.
func (s3Harness) Want(b *storagev1alpha1.Bucket) map[string]string {
	rb := readBack{Encryption: "AES256", Tags: b.Spec.Labels}
	if b.Spec.Versioning == storagev1alpha1.VersioningEnabled {
		rb.Versioning = "Enabled"
	}
	if e := b.Spec.Encryption; e != nil && e.Mode == storagev1alpha1.EncryptionCustomerManaged {
		rb.Encryption = "aws:kms " + e.KeyID
	}
	if b.Spec.PublicAccess != storagev1alpha1.PublicAccessAllowed {
		rb.PublicAccess = "true true true true"
	}
	for _, r := range b.Spec.Lifecycle {
		rb.Lifecycle = append(rb.Lifecycle, fmt.Sprintf("%s prefix=%s Enabled expiration=%d noncurrent=%d",
			r.Name, r.Prefix, aws.ToInt32(r.ExpirationDays), aws.ToInt32(r.NoncurrentVersionExpirationDays)))
	}
	slices.Sort(rb.Lifecycle)
	return rb.fields()
}

// fields are the portable fields of a read-back.
func (rb readBack) fields() map[string]string {
	versioning := "Disabled" // a bucket never versioned, or suspended
	if rb.Versioning == "Enabled" {
		versioning = "Enabled"
	}
	return map[string]string{
		"spec.versioning":   versioning,
		"spec.encryption":   rb.Encryption,
		"spec.publicAccess": rb.PublicAccess,
		"spec.lifecycle":    strings.Join(rb.Lifecycle, "; "),
		"spec.labels":       driver.FormatLabels(rb.Tags),
	}
}

func (h s3Harness) Read(t *testing.T, name string) drivertest.Resource {
	if !bucketExists(t, h.plain, name) {
		return drivertest.Resource{}
	}
	rb := read(t, h.plain, name)
	return drivertest.Resource{Exists: true, Fields: rb.fields(), Owner: rb.Owner}
}

func (h s3Harness) Tamper(t *testing.T, name string) string {
	if _, err := h.plain.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatalf("PutBucketVersioning(%s): %v", name, err)
	}
	return "spec.versioning"
}

// Mark replaces the owner mark among the bucket's tags.
func (h s3Harness) Mark(t *testing.T, name string, owner driver.Owner) {
	b := aws.String(name)
	out, err := h.plain.GetBucketTagging(t.Context(), &s3.GetBucketTaggingInput{Bucket: b})
	if err != nil && errorCode(err) != codeNoTagSet {
		t.Fatalf("GetBucketTagging(%s): %v", name, err)
	}
	var current map[string]string
	if err == nil {
		current = tagMap(out.TagSet)
	}
	tags := withOwnerTags(current, owner)
	if len(tags) == 0 {
		_, err = h.plain.DeleteBucketTagging(t.Context(), &s3.DeleteBucketTaggingInput{Bucket: b})
	} else {
		_, err = h.plain.PutBucketTagging(t.Context(), &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: desiredTags(tags)}})
	}
	if err != nil {
		t.Fatalf("write the tags of %s: %v", name, err)
	}
}

func (h s3Harness) Put(ctx context.Context, bucket, key, body string) error {
	_, err := h.plain.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	return err
}

func (h s3Harness) Remove(t *testing.T, bucket, key string) {
	if _, err := h.plain.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		t.Fatalf("DeleteObject(%s/%s): %v", bucket, key, err)
	}
}

func (h s3Harness) Versions(t *testing.T, bucket string) []string {
	return listVersions(t, h.plain, bucket)
}
