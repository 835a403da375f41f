package e2e

import (
	"context"
	"errors"
	"fmt"
	"github.com/stratus-operator/stratus/test/harness"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/providers/registry"
)

func newBucket(ns, name string, mutate ...func(*storagev1alpha1.Bucket)) *storagev1alpha1.Bucket {
	b := &storagev1alpha1.Bucket{
		TypeMeta:   metav1.TypeMeta{APIVersion: storagev1alpha1.GroupVersion.String(), Kind: "Bucket"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: storagev1alpha1.BucketSpec{
			ManagedResourceSpec: stratusv1alpha1.ManagedResourceSpec{ProviderConfigRef: awsProvider},
		},
	}
	for _, m := range mutate {
		m(b)
	}
	return b
}

// s3Bucket is what the S3 server holds for a bucket.
type s3Bucket struct {
	Exists       bool
	Versioning   string
	Encryption   string
	PublicBlock  bool
	Lifecycle    []string
	Tags         map[string]string
	ObjectsCount int
	// Owner is the owner mark, kept apart from the tags a spec sets.
	Owner driver.OwnerMark
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// readS3 reads a bucket's settings with a plain S3 client.
func readS3(t *testing.T, name string) s3Bucket {
	t.Helper()
	ctx := context.Background()
	var got s3Bucket
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}); err != nil {
		var nf *s3types.NotFound
		if errors.As(err, &nf) || apiCode(err) == "NotFound" || apiCode(err) == "NoSuchBucket" {
			return got
		}
		t.Fatalf("head bucket %s: %v", name, err)
	}
	got.Exists = true
	v, err := s3c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("get versioning of %s: %v", name, err)
	}
	got.Versioning = string(v.Status)
	if e, err := s3c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(name)}); err == nil {
		got.Encryption = string(e.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm)
	} else if apiCode(err) != "ServerSideEncryptionConfigurationNotFoundError" {
		t.Fatalf("get encryption of %s: %v", name, err)
	}
	if p, err := s3c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(name)}); err == nil {
		c := p.PublicAccessBlockConfiguration
		got.PublicBlock = aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.BlockPublicPolicy) && aws.ToBool(c.IgnorePublicAcls) && aws.ToBool(c.RestrictPublicBuckets)
	} else if apiCode(err) != "NoSuchPublicAccessBlockConfiguration" {
		t.Fatalf("get public access block of %s: %v", name, err)
	}
	if l, err := s3c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(name)}); err == nil {
		for _, r := range l.Rules {
			got.Lifecycle = append(got.Lifecycle, fmt.Sprintf("%s:%d", aws.ToString(r.ID), aws.ToInt32(r.Expiration.Days)))
		}
	} else if apiCode(err) != "NoSuchLifecycleConfiguration" {
		t.Fatalf("get lifecycle of %s: %v", name, err)
	}
	if tg, err := s3c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)}); err == nil {
		all := map[string]string{}
		for _, tag := range tg.TagSet {
			all[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		got.Owner = driver.MarkFromTags(all)
		if got.Tags = driver.WithoutOwnerKeys(all); got.Tags == nil {
			got.Tags = map[string]string{}
		}
	} else if apiCode(err) != "NoSuchTagSet" {
		t.Fatalf("get tags of %s: %v", name, err)
	}
	objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("list objects of %s: %v", name, err)
	}
	got.ObjectsCount = len(objs.Contents)
	return got
}

func putObject(t *testing.T, bucket, key string) {
	t.Helper()
	if _, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("precious data")}); err != nil {
		t.Fatalf("put object %s/%s: %v", bucket, key, err)
	}
}

func createS3Bucket(t *testing.T, name string) {
	t.Helper()
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s out of band: %v", name, err)
	}
}

func int32p(v int32) *int32 { return &v }

// TestBucketLifecycle: create → exists with its settings; spec change →
// updated; out-of-band change → drift reported and corrected; delete →
// gone from the S3 server.
func TestBucketLifecycle(t *testing.T) {
	ns := h.Namespace(t)
	b := newBucket(ns, "assets", func(b *storagev1alpha1.Bucket) {
		b.Spec.Versioning = storagev1alpha1.VersioningEnabled
		b.Spec.Labels = map[string]string{"team": "web", "cost-center": "42"}
		b.Spec.Lifecycle = []storagev1alpha1.LifecycleRule{{Name: "expire-tmp", Prefix: "tmp/", ExpirationDays: int32p(7)}}
		b.Spec.WriteConnectionSecretToRef = &stratusv1alpha1.LocalSecretReference{Name: "assets-bucket"}
	})
	h.Create(t, b)
	h.WaitReady(t, b)
	name := registry.BucketName(ns, "assets")
	if got := b.Annotations[stratusv1alpha1.AnnotationExternalName]; got != name {
		t.Fatalf("external name = %q, want the deterministic %q", got, name)
	}

	want := s3Bucket{Exists: true, Versioning: "Enabled", Encryption: "AES256", PublicBlock: true,
		Lifecycle: []string{"expire-tmp:7"}, Tags: map[string]string{"team": "web", "cost-center": "42"},
		Owner: driver.OwnerMark{ID: driver.Owner{Cluster: clusterName(t), Namespace: ns, Name: "assets"}.ID(), Namespace: ns, Name: "assets", UID: string(b.UID)}}
	if got := readS3(t, name); !equalS3(got, want) {
		t.Fatalf("S3 holds %+v after create, want %+v", got, want)
	}
	if b.Status.AtProvider.Name != name || b.Status.AtProvider.Versioning != "Enabled" {
		t.Errorf("status.atProvider = %+v, want the observed bucket", b.Status.AtProvider)
	}
	if b.Status.ObservedGeneration != b.Generation {
		t.Errorf("observedGeneration = %d, want %d", b.Status.ObservedGeneration, b.Generation)
	}
	var secret = secretData(t, ns, "assets-bucket")
	if string(secret["bucket"]) != name || string(secret["endpoint"]) == "" {
		t.Errorf("connection secret = %v, want bucket %q and an endpoint", keys(secret), name)
	}

	// A spec change is applied at once.
	harness.Update(t, h, b, func(b *storagev1alpha1.Bucket) {
		b.Spec.Labels = map[string]string{"team": "platform"}
		b.Spec.Lifecycle = nil
	})
	harness.Eventually(t, "spec change applied in S3", func() error {
		got := readS3(t, name)
		if len(got.Lifecycle) != 0 || len(got.Tags) != 1 || got.Tags["team"] != "platform" {
			return fmt.Errorf("S3 holds %+v", got)
		}
		return nil
	})

	// A change made behind the operator's back is drift: reported, corrected.
	if _, err := s3c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(name),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}}); err != nil {
		t.Fatalf("suspend versioning out of band: %v", err)
	}
	note := h.WaitEvent(t, b, "Bucket", "DriftDetected")
	if !strings.Contains(note, "spec.versioning") {
		t.Errorf("DriftDetected event %q does not name spec.versioning", note)
	}
	h.WaitEvent(t, b, "Bucket", "DriftCorrected")
	harness.Eventually(t, "drift corrected in S3", func() error {
		if got := readS3(t, name); got.Versioning != "Enabled" {
			return fmt.Errorf("versioning is %q", got.Versioning)
		}
		return nil
	})
	h.WaitFor(t, b, "lastDriftTime recorded", func() error {
		if b.Status.LastDriftTime == nil {
			return errors.New("status.lastDriftTime is not set")
		}
		return nil
	})

	h.Delete(t, b)
	h.WaitGone(t, b)
	if got := readS3(t, name); got.Exists {
		t.Errorf("bucket %s still exists in S3 after deletion with policy Delete", name)
	}
	if _, err := getSecret(ns, "assets-bucket"); err == nil {
		t.Errorf("connection secret still exists after the bucket was deleted")
	}
}

// TestBucketDriftStatus: a drift that observe-only does not correct stays
// in status.drift with the desired and observed values.
func TestBucketObserveOnly(t *testing.T) {
	ns := h.Namespace(t, adoptionAllowed)
	name := "observed-" + ns
	createS3Bucket(t, name)
	b := newBucket(ns, "observed", func(b *storagev1alpha1.Bucket) {
		b.Annotations = map[string]string{stratusv1alpha1.AnnotationExternalName: name}
		b.Spec.ManagementPolicy = stratusv1alpha1.ManagementObserveOnly
		b.Spec.Versioning = storagev1alpha1.VersioningEnabled
		b.Spec.Labels = map[string]string{"owner": "someone"}
	})
	h.Create(t, b)
	h.WaitFor(t, b, "observe-only Ready with drift", func() error {
		if err := harness.ConditionIs(b, stratusv1alpha1.ConditionReady, metav1.ConditionTrue, stratusv1alpha1.ReasonAvailable); err != nil {
			return err
		}
		if err := harness.ConditionIs(b, stratusv1alpha1.ConditionSynced, metav1.ConditionTrue, stratusv1alpha1.ReasonObserveOnly); err != nil {
			return err
		}
		if !slices.ContainsFunc(b.Status.Drift, func(d stratusv1alpha1.DriftedField) bool {
			return d.Field == "spec.versioning" && d.Desired == "Enabled"
		}) {
			return fmt.Errorf("status.drift = %+v, want spec.versioning", b.Status.Drift)
		}
		return nil
	})
	// Nothing was written: no versioning, no tags, no encryption.
	if got := readS3(t, name); got.Versioning != "" || len(got.Tags) != 0 || got.Encryption != "" || got.PublicBlock {
		t.Errorf("observe-only wrote to the bucket: S3 holds %+v", got)
	}
	if slices.Contains(b.Finalizers, stratusv1alpha1.Finalizer) {
		t.Errorf("observe-only added a finalizer")
	}
	h.Delete(t, b)
	h.WaitGone(t, b)
	if got := readS3(t, name); !got.Exists {
		t.Errorf("deleting an observe-only Bucket deleted the cloud bucket")
	}
}

// TestBucketOrphan: deletionPolicy Orphan keeps the cloud bucket.
func TestBucketOrphan(t *testing.T) {
	ns := h.Namespace(t)
	b := newBucket(ns, "kept", func(b *storagev1alpha1.Bucket) { b.Spec.DeletionPolicy = stratusv1alpha1.DeletionOrphan })
	h.Create(t, b)
	h.WaitReady(t, b)
	h.Delete(t, b)
	h.WaitGone(t, b)
	if got := readS3(t, registry.BucketName(ns, "kept")); !got.Exists {
		t.Errorf("bucket with deletionPolicy Orphan was deleted from S3")
	}
	if !slices.Contains(h.EventReasons(t, b, "Bucket"), "OrphanedExternalResource") {
		t.Errorf("no OrphanedExternalResource event")
	}
}

// TestBucketNotEmptiedByDelete: deleting a Bucket that holds objects is
// blocked and loses nothing, until spec.forceDestroy explicitly allows it.
func TestBucketNotEmptiedByDelete(t *testing.T) {
	ns := h.Namespace(t)
	b := newBucket(ns, "data")
	h.Create(t, b)
	h.WaitReady(t, b)
	name := registry.BucketName(ns, "data")
	putObject(t, name, "reports/2026.csv")

	h.Delete(t, b)
	h.WaitFor(t, b, "deletion blocked", func() error {
		return harness.ConditionIs(b, stratusv1alpha1.ConditionReady, metav1.ConditionFalse, stratusv1alpha1.ReasonDeletionBlocked)
	})
	if got := readS3(t, name); !got.Exists || got.ObjectsCount != 1 {
		t.Fatalf("S3 holds %+v while deletion is blocked, want the bucket with its object", got)
	}
	if msg := harness.ConditionMessage(b, stratusv1alpha1.ConditionReady); !strings.Contains(msg, "forceDestroy") {
		t.Errorf("DeletionBlocked message %q does not say how to proceed", msg)
	}

	harness.Update(t, h, b, func(b *storagev1alpha1.Bucket) { b.Spec.ForceDestroy = true })
	h.WaitGone(t, b)
	if got := readS3(t, name); got.Exists {
		t.Errorf("bucket still exists after forceDestroy")
	}
}

// TestBucketAdoptByExternalName: an existing bucket named by the
// external-name annotation is adopted and brought in line with the spec; an
// existing bucket without it is refused, untouched.
func TestBucketAdoptByExternalName(t *testing.T) {
	ns := h.Namespace(t, adoptionAllowed)
	legacy := "legacy-" + ns
	createS3Bucket(t, legacy)
	putObject(t, legacy, "old.txt")
	b := newBucket(ns, "legacy", func(b *storagev1alpha1.Bucket) {
		b.Annotations = map[string]string{stratusv1alpha1.AnnotationExternalName: legacy}
		b.Spec.Labels = map[string]string{"adopted": "yes"}
	})
	h.Create(t, b)
	h.WaitReady(t, b)
	if got := readS3(t, legacy); got.Tags["adopted"] != "yes" || got.ObjectsCount != 1 {
		t.Errorf("adopted bucket holds %+v, want the label applied and the object kept", got)
	}
	if !slices.Contains(h.EventReasons(t, b, "Bucket"), "AdoptedExternalResource") {
		t.Errorf("no AdoptedExternalResource event")
	}

	// The deterministic name of "taken" already exists, and nobody asked to adopt it.
	taken := registry.BucketName(ns, "taken")
	createS3Bucket(t, taken)
	c := newBucket(ns, "taken", func(b *storagev1alpha1.Bucket) { b.Spec.Labels = map[string]string{"x": "y"} })
	h.Create(t, c)
	h.WaitFor(t, c, "name conflict reported", func() error {
		return harness.ConditionIs(c, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonNameConflict)
	})
	if msg := harness.ConditionMessage(c, stratusv1alpha1.ConditionSynced); !strings.Contains(msg, stratusv1alpha1.AnnotationExternalName) {
		t.Errorf("NameConflict message %q does not say how to adopt", msg)
	}
	if got := readS3(t, taken); len(got.Tags) != 0 {
		t.Errorf("a bucket the operator did not create was changed: %+v", got)
	}
}

// TestBucketBadCredentials: refused credentials give a clear condition,
// never the secret itself.
func TestBucketBadCredentials(t *testing.T) {
	ns := h.Namespace(t, customEndpoints)
	const secretKey = "wrong-secret-key-do-not-leak"
	h.Create(t, corev1Secret{ns: ns, name: "bad-aws", data: map[string]string{"aws_access_key_id": "AKIAWRONG", "aws_secret_access_key": secretKey}}.object())
	h.Create(t, &stratusv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"},
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider: stratusv1alpha1.ProviderAWS, Region: "us-east-1", Endpoint: h.Env.S3.Endpoint,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret, SecretRef: &stratusv1alpha1.SecretReference{Name: "bad-aws"}},
		},
	})
	b := newBucket(ns, "denied", func(b *storagev1alpha1.Bucket) {
		b.Spec.ProviderConfigRef = stratusv1alpha1.ProviderConfigReference{Kind: stratusv1alpha1.ProviderConfigKindNamespaced, Name: "bad"}
	})
	h.Create(t, b)
	h.WaitFor(t, b, "bad credentials reported", func() error {
		return harness.ConditionIs(b, stratusv1alpha1.ConditionSynced, metav1.ConditionFalse, stratusv1alpha1.ReasonBadCredentials)
	})
	for _, c := range b.Status.Conditions {
		if strings.Contains(c.Message, secretKey) {
			t.Errorf("condition %s leaks the secret key: %s", c.Type, c.Message)
		}
	}
	if got := readS3(t, registry.BucketName(ns, "denied")); got.Exists {
		t.Errorf("a bucket was created with refused credentials")
	}
}

func equalS3(a, b s3Bucket) bool {
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}
