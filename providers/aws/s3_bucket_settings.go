package aws

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// The bucket features an S3-compatible endpoint may lack, as reported in
// Observation.Unsupported.
const (
	featureVersioning   = "versioning"
	featureEncryption   = "encryption"
	featurePublicAccess = "publicAccess"
	featureLifecycle    = "lifecycle"
	featureLabels       = "labels"
)

// The spec fields Observe compares.
const (
	fieldVersioning   = "spec.versioning"
	fieldEncryption   = "spec.encryption"
	fieldPublicAccess = "spec.publicAccess"
	fieldLifecycle    = "spec.lifecycle"
	fieldLabels       = "spec.labels"
)

// The S3 server-side encryption algorithms the spec's modes map to.
const (
	sseProviderManaged = string(types.ServerSideEncryptionAes256) // SSE-S3
	sseCustomerManaged = string(types.ServerSideEncryptionAwsKms) // SSE-KMS
)

// none stands for a setting that is not configured.
const none = driver.NoValue

// bucketState is what Observe read of a bucket's settings. A feature in
// unsupported was not read.
type bucketState struct {
	// region is where the bucket is.
	region string
	// versioning is Enabled, Suspended, or empty for a bucket that was never
	// versioned.
	versioning string
	// encryption holds the default encryption rules; empty means none.
	encryption []types.ServerSideEncryptionRule
	// publicAccess is the public access block; nil means none.
	publicAccess *types.PublicAccessBlockConfiguration
	// lifecycle holds the lifecycle rules; empty means none.
	lifecycle []types.LifecycleRule
	// tags are the bucket's tags, the owner mark's included; empty means
	// none.
	tags []types.Tag
	// unsupported holds the features the endpoint does not implement.
	unsupported map[string]bool
}

// drift returns the fields in which a bucket differs from its spec, leaving
// out the features the endpoint does not implement.
func drift(spec storagev1alpha1.BucketSpec, s bucketState) []stratusv1alpha1.DriftedField {
	var out []stratusv1alpha1.DriftedField
	add := func(field, desired, observed string) {
		out = append(out, driver.Drifted(field, desired, observed))
	}

	if !s.unsupported[featureVersioning] {
		desired, observed := desiredVersioning(spec), observedVersioning(s.versioning)
		if !versioningMatches(desired, s.versioning) {
			add(fieldVersioning, string(desired), observed)
		}
	}
	if !s.unsupported[featureEncryption] {
		if desired, observed := desiredEncryptionString(spec), encryptionString(s.encryption); desired != observed {
			add(fieldEncryption, desired, observed)
		}
	}
	if !s.unsupported[featurePublicAccess] {
		if desired, observed := string(desiredPublicAccess(spec)), publicAccessString(s.publicAccess); desired != observed {
			add(fieldPublicAccess, desired, observed)
		}
	}
	if !s.unsupported[featureLifecycle] {
		desired := lifecycleString(desiredLifecycleRules(spec.Lifecycle))
		if observed := lifecycleString(s.lifecycle); desired != observed {
			add(fieldLifecycle, desired, observed)
		}
	}
	if !s.unsupported[featureLabels] {
		// The owner mark is among the tags but is no label: it is compared
		// apart, as the ownership field.
		if desired, observed := driver.FormatLabels(driver.WithoutOwnerKeys(spec.Labels)), driver.FormatLabels(s.labels()); desired != observed {
			add(fieldLabels, desired, observed)
		}
	}
	return out
}

// labels returns the bucket's tags without the owner mark's: what
// status.atProvider.labels shows and spec.labels is compared with.
func (s bucketState) labels() map[string]string {
	return driver.WithoutOwnerKeys(tagMap(s.tags))
}

// ownerMark returns the owner mark among the bucket's tags.
func (s bucketState) ownerMark() driver.OwnerMark {
	return driver.MarkFromTags(tagMap(s.tags))
}

// desiredVersioning returns the spec's versioning, Disabled when unset.
func desiredVersioning(spec storagev1alpha1.BucketSpec) storagev1alpha1.Versioning {
	if spec.Versioning == storagev1alpha1.VersioningEnabled {
		return storagev1alpha1.VersioningEnabled
	}
	return storagev1alpha1.VersioningDisabled
}

// versioningMatches reports whether an S3 versioning status satisfies the
// desired versioning: Disabled is met by a bucket that was never versioned
// and by a suspended one, since versioning once enabled can only be
// suspended.
func versioningMatches(desired storagev1alpha1.Versioning, status string) bool {
	if desired == storagev1alpha1.VersioningEnabled {
		return status == string(types.BucketVersioningStatusEnabled)
	}
	return status != string(types.BucketVersioningStatusEnabled)
}

// observedVersioning names an S3 versioning status for a DriftedField.
func observedVersioning(status string) string {
	if status == "" {
		return string(storagev1alpha1.VersioningDisabled)
	}
	return status
}

// desiredEncryption returns the spec's encryption mode and key, with the
// default ProviderManaged when the spec names none.
func desiredEncryption(spec storagev1alpha1.BucketSpec) (storagev1alpha1.EncryptionMode, string) {
	if spec.Encryption == nil || spec.Encryption.Mode != storagev1alpha1.EncryptionCustomerManaged {
		return storagev1alpha1.EncryptionProviderManaged, ""
	}
	return storagev1alpha1.EncryptionCustomerManaged, spec.Encryption.KeyID
}

// desiredEncryptionRule returns the default encryption rule for the spec.
func desiredEncryptionRule(spec storagev1alpha1.BucketSpec) types.ServerSideEncryptionRule {
	mode, keyID := desiredEncryption(spec)
	if mode == storagev1alpha1.EncryptionCustomerManaged {
		return types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
			SSEAlgorithm:   types.ServerSideEncryptionAwsKms,
			KMSMasterKeyID: aws.String(keyID),
		}}
	}
	return types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
		SSEAlgorithm: types.ServerSideEncryptionAes256,
	}}
}

// desiredEncryptionString describes the spec's encryption the way
// encryptionString describes a bucket's.
func desiredEncryptionString(spec storagev1alpha1.BucketSpec) string {
	mode, keyID := desiredEncryption(spec)
	if mode == storagev1alpha1.EncryptionCustomerManaged {
		return encryptionDescription(sseCustomerManaged, keyID)
	}
	return encryptionDescription(sseProviderManaged, "")
}

// encryptionString describes a bucket's default encryption: ProviderManaged
// for SSE-S3, CustomerManaged with its key for SSE-KMS, None, or the
// algorithm for anything else.
func encryptionString(rules []types.ServerSideEncryptionRule) string {
	algorithm, keyID := encryptionAlgorithm(rules)
	return encryptionDescription(algorithm, keyID)
}

func encryptionDescription(algorithm, keyID string) string {
	switch {
	case algorithm == "":
		return none
	case algorithm == sseProviderManaged && keyID == "":
		return string(storagev1alpha1.EncryptionProviderManaged)
	case algorithm == sseCustomerManaged && keyID != "":
		return fmt.Sprintf("%s (key %s)", storagev1alpha1.EncryptionCustomerManaged, keyID)
	case algorithm == sseCustomerManaged:
		return algorithm + " with the AWS managed key"
	case keyID != "":
		return fmt.Sprintf("%s (key %s)", algorithm, keyID)
	}
	return algorithm
}

// encryptionAlgorithm returns the algorithm and key of the first rule that
// sets a default encryption, or empty strings.
func encryptionAlgorithm(rules []types.ServerSideEncryptionRule) (algorithm, keyID string) {
	for _, r := range rules {
		if d := r.ApplyServerSideEncryptionByDefault; d != nil && d.SSEAlgorithm != "" {
			return string(d.SSEAlgorithm), aws.ToString(d.KMSMasterKeyID)
		}
	}
	return "", ""
}

// desiredPublicAccess returns the spec's public access, Blocked when unset.
func desiredPublicAccess(spec storagev1alpha1.BucketSpec) storagev1alpha1.PublicAccess {
	if spec.PublicAccess == storagev1alpha1.PublicAccessAllowed {
		return storagev1alpha1.PublicAccessAllowed
	}
	return storagev1alpha1.PublicAccessBlocked
}

// blockAllPublicAccess is the public access block of a Blocked bucket.
func blockAllPublicAccess() *types.PublicAccessBlockConfiguration {
	return &types.PublicAccessBlockConfiguration{
		BlockPublicAcls:       aws.Bool(true),
		IgnorePublicAcls:      aws.Bool(true),
		BlockPublicPolicy:     aws.Bool(true),
		RestrictPublicBuckets: aws.Bool(true),
	}
}

// publicAccessString describes a public access block: Blocked when all four
// settings are on, Allowed when there is none or all are off, else the
// settings that are on.
func publicAccessString(c *types.PublicAccessBlockConfiguration) string {
	if c == nil {
		return string(storagev1alpha1.PublicAccessAllowed)
	}
	settings := []struct {
		name string
		on   bool
	}{
		{"BlockPublicAcls", aws.ToBool(c.BlockPublicAcls)},
		{"IgnorePublicAcls", aws.ToBool(c.IgnorePublicAcls)},
		{"BlockPublicPolicy", aws.ToBool(c.BlockPublicPolicy)},
		{"RestrictPublicBuckets", aws.ToBool(c.RestrictPublicBuckets)},
	}
	var on []string
	for _, s := range settings {
		if s.on {
			on = append(on, s.name)
		}
	}
	switch len(on) {
	case 0:
		return string(storagev1alpha1.PublicAccessAllowed)
	case len(settings):
		return string(storagev1alpha1.PublicAccessBlocked)
	}
	return "Partially blocked (" + strings.Join(on, ", ") + ")"
}

// publicAccessBlocked reports whether every public access is blocked.
func publicAccessBlocked(c *types.PublicAccessBlockConfiguration) bool {
	return publicAccessString(c) == string(storagev1alpha1.PublicAccessBlocked)
}

// desiredLifecycleRules returns the S3 lifecycle rules for the spec's.
func desiredLifecycleRules(rules []storagev1alpha1.LifecycleRule) []types.LifecycleRule {
	out := make([]types.LifecycleRule, 0, len(rules))
	for _, r := range rules {
		lr := types.LifecycleRule{
			ID:     aws.String(r.Name),
			Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String(r.Prefix)},
		}
		if r.ExpirationDays != nil {
			lr.Expiration = &types.LifecycleExpiration{Days: aws.Int32(*r.ExpirationDays)}
		}
		if r.NoncurrentVersionExpirationDays != nil {
			lr.NoncurrentVersionExpiration = &types.NoncurrentVersionExpiration{
				NoncurrentDays: aws.Int32(*r.NoncurrentVersionExpirationDays),
			}
		}
		out = append(out, lr)
	}
	return out
}

// lifecycleString describes lifecycle rules compactly, sorted by name, such
// as "logs: prefix=logs/ expiration=30d; old: noncurrentExpiration=7d". It
// mentions whatever a rule holds beyond what the spec can express, so that
// such a rule never compares equal to a spec's.
func lifecycleString(rules []types.LifecycleRule) string {
	if len(rules) == 0 {
		return none
	}
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		parts = append(parts, lifecycleRuleString(r))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

func lifecycleRuleString(r types.LifecycleRule) string {
	var attrs []string
	prefix := aws.ToString(r.Prefix)
	if f := r.Filter; f != nil {
		if f.Prefix != nil {
			prefix = *f.Prefix
		}
		if f.Tag != nil || f.And != nil || f.ObjectSizeGreaterThan != nil || f.ObjectSizeLessThan != nil {
			attrs = append(attrs, "filter=custom")
		}
	}
	if prefix != "" {
		attrs = append(attrs, "prefix="+prefix)
	}
	if r.Status != types.ExpirationStatusEnabled {
		attrs = append(attrs, "status="+string(r.Status))
	}
	if e := r.Expiration; e != nil {
		if e.Days != nil {
			attrs = append(attrs, "expiration="+strconv.Itoa(int(*e.Days))+"d")
		}
		if e.Date != nil {
			attrs = append(attrs, "expirationDate="+e.Date.Format("2006-01-02"))
		}
		if aws.ToBool(e.ExpiredObjectDeleteMarker) {
			attrs = append(attrs, "expiredObjectDeleteMarker")
		}
	}
	if e := r.NoncurrentVersionExpiration; e != nil {
		if e.NoncurrentDays != nil {
			attrs = append(attrs, "noncurrentExpiration="+strconv.Itoa(int(*e.NoncurrentDays))+"d")
		}
		if e.NewerNoncurrentVersions != nil {
			attrs = append(attrs, "newerNoncurrentVersions="+strconv.Itoa(int(*e.NewerNoncurrentVersions)))
		}
	}
	if n := len(r.Transitions); n > 0 {
		attrs = append(attrs, "transitions="+strconv.Itoa(n))
	}
	if n := len(r.NoncurrentVersionTransitions); n > 0 {
		attrs = append(attrs, "noncurrentTransitions="+strconv.Itoa(n))
	}
	if r.AbortIncompleteMultipartUpload != nil {
		attrs = append(attrs, "abortIncompleteMultipartUpload")
	}
	name := aws.ToString(r.ID)
	if len(attrs) == 0 {
		return name
	}
	return name + ": " + strings.Join(attrs, " ")
}

// desiredTags returns the S3 tags for labels (or labels and an owner mark:
// withOwnerTags), sorted by key.
func desiredTags(labels map[string]string) []types.Tag {
	tags := make([]types.Tag, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(labels[k])})
	}
	return tags
}

// tagMap returns tags as a map, nil when there are none.
func tagMap(tags []types.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// createdState is the state of a bucket just created, in region, with every
// setting of spec and owner's mark applied: what Observe would read of it.
func createdState(spec storagev1alpha1.BucketSpec, owner driver.Owner, region string) bucketState {
	st := bucketState{
		region:      region,
		encryption:  []types.ServerSideEncryptionRule{desiredEncryptionRule(spec)},
		lifecycle:   desiredLifecycleRules(spec.Lifecycle),
		tags:        desiredTags(withOwnerTags(spec.Labels, owner)),
		unsupported: map[string]bool{},
	}
	if desiredVersioning(spec) == storagev1alpha1.VersioningEnabled {
		st.versioning = string(types.BucketVersioningStatusEnabled)
	}
	if desiredPublicAccess(spec) == storagev1alpha1.PublicAccessBlocked {
		st.publicAccess = blockAllPublicAccess()
	}
	return st
}
