package conformance

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/test/faults"
	"github.com/stratus-operator/stratus/test/harness"
)

// s3Target is the S3 driver against versitygw behind the test shim.
type s3Target struct {
	h  *harness.Harness
	s3 *s3.Client
}

func newS3Target(h *harness.Harness) *s3Target {
	return &s3Target{h: h, s3: s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(h.Env.S3.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(h.Env.S3.AccessKey, h.Env.S3.SecretKey, ""),
	})}
}

func (*s3Target) Name() string { return "S3" }
func (*s3Target) Kind() string { return "Bucket" }

func (t *s3Target) ProviderConfig() (stratusv1alpha1.ProviderConfigSpec, map[string][]byte) {
	return stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS, Region: "us-east-1", Endpoint: t.h.Env.S3.Endpoint},
		map[string][]byte{"aws_access_key_id": []byte(t.h.Env.S3.AccessKey), "aws_secret_access_key": []byte(t.h.Env.S3.SecretKey)}
}

func (t *s3Target) BadCredentials() map[string][]byte {
	return map[string][]byte{"aws_access_key_id": []byte(t.h.Env.S3.AccessKey), "aws_secret_access_key": []byte("not-the-secret-key-0123456789")}
}

func (*s3Target) New(ns, name string, ref stratusv1alpha1.ProviderConfigReference) harness.Managed {
	days := int32(30)
	return &storagev1alpha1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: storagev1alpha1.BucketSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: ref},
			Region:              "us-east-1",
			Versioning:          storagev1alpha1.VersioningEnabled,
			Encryption:          &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged},
			PublicAccess:        storagev1alpha1.PublicAccessBlocked,
			Lifecycle:           []storagev1alpha1.LifecycleRule{{Name: "expire-logs", Prefix: "logs/", ExpirationDays: &days}},
			Labels:              map[string]string{"team": "platform", "env": "conformance"},
		},
	}
}

func (*s3Target) Mutations() []Mutation {
	bucket := func(f func(*storagev1alpha1.Bucket)) func(harness.Managed) {
		return func(o harness.Managed) { f(o.(*storagev1alpha1.Bucket)) }
	}
	days := int32(90)
	return []Mutation{
		{"spec.versioning", bucket(func(b *storagev1alpha1.Bucket) { b.Spec.Versioning = storagev1alpha1.VersioningDisabled })},
		{"spec.encryption", bucket(func(b *storagev1alpha1.Bucket) {
			b.Spec.Encryption = &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "arn:aws:kms:us-east-1:111122223333:key/conformance"}
		})},
		{"spec.publicAccess", bucket(func(b *storagev1alpha1.Bucket) { b.Spec.PublicAccess = storagev1alpha1.PublicAccessAllowed })},
		{"spec.lifecycle", bucket(func(b *storagev1alpha1.Bucket) {
			b.Spec.Lifecycle = []storagev1alpha1.LifecycleRule{{Name: "expire-all", ExpirationDays: &days}}
		})},
		{"spec.labels", bucket(func(b *storagev1alpha1.Bucket) { b.Spec.Labels = map[string]string{"team": "data"} })},
	}
}

func (*s3Target) Want(o harness.Managed) map[string]string {
	b := o.(*storagev1alpha1.Bucket)
	enc := "AES256"
	if e := b.Spec.Encryption; e != nil && e.Mode == storagev1alpha1.EncryptionCustomerManaged {
		enc = "aws:kms:" + e.KeyID
	}
	var rules []string
	for _, r := range b.Spec.Lifecycle {
		rules = append(rules, fmt.Sprintf("%s:%s:%d", r.Name, r.Prefix, aws.ToInt32(r.ExpirationDays)))
	}
	return map[string]string{
		"spec.region":       b.Spec.Region,
		"spec.versioning":   string(b.Spec.Versioning),
		"spec.encryption":   enc,
		"spec.publicAccess": string(b.Spec.PublicAccess),
		"spec.lifecycle":    strings.Join(rules, ","),
		"spec.labels":       joinLabels(b.Spec.Labels),
	}
}

func joinLabels(m map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+"="+m[k])
	}
	return strings.Join(kv, ",")
}

func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (t *s3Target) Read(ctx context.Context, name string) (Cloud, error) {
	b := aws.String(name)
	if _, err := t.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b}); err != nil {
		if c := s3Code(err); c == "NotFound" || c == "NoSuchBucket" {
			return Cloud{}, nil
		}
		return Cloud{}, err
	}
	f := map[string]string{"spec.versioning": "Disabled", "spec.publicAccess": "Allowed"}
	loc, err := t.s3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b})
	if err != nil {
		return Cloud{}, err
	}
	f["spec.region"] = string(loc.LocationConstraint)
	if f["spec.region"] == "" {
		f["spec.region"] = "us-east-1"
	}
	v, err := t.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil {
		return Cloud{}, err
	}
	if v.Status == s3types.BucketVersioningStatusEnabled {
		f["spec.versioning"] = "Enabled"
	}
	if e, err := t.s3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b}); err == nil {
		d := e.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault
		f["spec.encryption"] = string(d.SSEAlgorithm)
		if d.SSEAlgorithm == s3types.ServerSideEncryptionAwsKms {
			f["spec.encryption"] += ":" + aws.ToString(d.KMSMasterKeyID)
		}
	} else if s3Code(err) != "ServerSideEncryptionConfigurationNotFoundError" {
		return Cloud{}, err
	}
	if p, err := t.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b}); err == nil {
		c := p.PublicAccessBlockConfiguration
		if aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.BlockPublicPolicy) && aws.ToBool(c.IgnorePublicAcls) && aws.ToBool(c.RestrictPublicBuckets) {
			f["spec.publicAccess"] = "Blocked"
		}
	} else if s3Code(err) != "NoSuchPublicAccessBlockConfiguration" {
		return Cloud{}, err
	}
	if l, err := t.s3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}); err == nil {
		var rules []string
		for _, r := range l.Rules {
			prefix := ""
			if r.Filter != nil {
				prefix = aws.ToString(r.Filter.Prefix)
			}
			rules = append(rules, fmt.Sprintf("%s:%s:%d", aws.ToString(r.ID), prefix, aws.ToInt32(r.Expiration.Days)))
		}
		f["spec.lifecycle"] = strings.Join(rules, ",")
	} else if s3Code(err) != "NoSuchLifecycleConfiguration" {
		return Cloud{}, err
	}
	labels := map[string]string{}
	if tg, err := t.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b}); err == nil {
		for _, tag := range tg.TagSet {
			labels[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
	} else if s3Code(err) != "NoSuchTagSet" {
		return Cloud{}, err
	}
	f["spec.labels"] = joinLabels(driver.WithoutOwnerKeys(labels))
	return Cloud{Exists: true, Fields: f}, nil
}

func (t *s3Target) Tamper(ctx context.Context, name string) (string, error) {
	_, err := t.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	return "spec.versioning", err
}

func (t *s3Target) CreateExternal(ctx context.Context, name string) error {
	_, err := t.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	return err
}

func (t *s3Target) Count(ctx context.Context, prefix string) (int, error) {
	out, err := t.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range out.Buckets {
		if strings.HasPrefix(aws.ToString(b.Name), prefix) {
			n++
		}
	}
	return n, nil
}

// InjectTransient answers the next requests with S3's 503 SlowDown: more
// than the SDK's own retries absorb, so the operator sees it.
func (t *s3Target) InjectTransient(context.Context) error {
	t.h.Env.S3.Faults.FailNext(12, faults.S3SlowDown)
	return nil
}
