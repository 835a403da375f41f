package aws

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// inSync is the state of a bucket that matches an empty (all defaults) spec.
func inSync() bucketState {
	return bucketState{
		region:       "us-east-1",
		encryption:   []types.ServerSideEncryptionRule{sse("AES256", "")},
		publicAccess: blockAllPublicAccess(),
		unsupported:  map[string]bool{},
	}
}

func sse(algorithm, keyID string) types.ServerSideEncryptionRule {
	d := &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryption(algorithm)}
	if keyID != "" {
		d.KMSMasterKeyID = aws.String(keyID)
	}
	return types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: d}
}

func pab(acls, ignore, policy, restrict bool) *types.PublicAccessBlockConfiguration {
	return &types.PublicAccessBlockConfiguration{
		BlockPublicAcls:       aws.Bool(acls),
		IgnorePublicAcls:      aws.Bool(ignore),
		BlockPublicPolicy:     aws.Bool(policy),
		RestrictPublicBuckets: aws.Bool(restrict),
	}
}

func rule(name, prefix string, expiration, noncurrent int32) storagev1alpha1.LifecycleRule {
	r := storagev1alpha1.LifecycleRule{Name: name, Prefix: prefix}
	if expiration > 0 {
		r.ExpirationDays = aws.Int32(expiration)
	}
	if noncurrent > 0 {
		r.NoncurrentVersionExpirationDays = aws.Int32(noncurrent)
	}
	return r
}

func TestDrift(t *testing.T) {
	with := func(f func(*bucketState)) bucketState {
		s := inSync()
		f(&s)
		return s
	}
	cases := map[string]struct {
		reason string
		spec   storagev1alpha1.BucketSpec
		state  bucketState
		want   []stratusv1alpha1.DriftedField
	}{
		"DefaultsInSync": {
			reason: "An empty spec means unversioned, SSE-S3, all public access blocked, no rules, no tags.",
			state:  inSync(),
		},
		"EverythingInSync": {
			reason: "A bucket whose settings all match a full spec has no drift.",
			spec: storagev1alpha1.BucketSpec{
				Versioning:   storagev1alpha1.VersioningEnabled,
				Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "arn:aws:kms:us-east-1:1:key/k"},
				PublicAccess: storagev1alpha1.PublicAccessAllowed,
				Lifecycle:    []storagev1alpha1.LifecycleRule{rule("b", "", 0, 7), rule("a", "logs/", 30, 0)},
				Labels:       map[string]string{"env": "prod", "team": "data"},
			},
			state: with(func(s *bucketState) {
				s.versioning = "Enabled"
				s.encryption = []types.ServerSideEncryptionRule{sse("aws:kms", "arn:aws:kms:us-east-1:1:key/k")}
				s.publicAccess = nil
				// In another order than the spec's.
				s.lifecycle = desiredLifecycleRules([]storagev1alpha1.LifecycleRule{rule("a", "logs/", 30, 0), rule("b", "", 0, 7)})
				s.tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}, {Key: aws.String("env"), Value: aws.String("prod")}}
			}),
		},
		"VersioningSuspended": {
			reason: "Enabled versioning does not match a suspended bucket.",
			spec:   storagev1alpha1.BucketSpec{Versioning: storagev1alpha1.VersioningEnabled},
			state:  with(func(s *bucketState) { s.versioning = "Suspended" }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Suspended"}},
		},
		"VersioningNeverEnabled": {
			reason: "Enabled versioning does not match a bucket that was never versioned.",
			spec:   storagev1alpha1.BucketSpec{Versioning: storagev1alpha1.VersioningEnabled},
			state:  inSync(),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Disabled"}},
		},
		"VersioningDisabledMatchesSuspended": {
			reason: "Disabled versioning matches a suspended bucket: versioning once enabled can only be suspended.",
			spec:   storagev1alpha1.BucketSpec{Versioning: storagev1alpha1.VersioningDisabled},
			state:  with(func(s *bucketState) { s.versioning = "Suspended" }),
		},
		"VersioningDisabledButEnabled": {
			reason: "Disabled versioning does not match a versioned bucket.",
			spec:   storagev1alpha1.BucketSpec{Versioning: storagev1alpha1.VersioningDisabled},
			state:  with(func(s *bucketState) { s.versioning = "Enabled" }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Disabled", Observed: "Enabled"}},
		},
		"EncryptionMissing": {
			reason: "ProviderManaged encryption does not match a bucket without default encryption.",
			spec:   storagev1alpha1.BucketSpec{Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged}},
			state:  with(func(s *bucketState) { s.encryption = nil }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.encryption", Desired: "ProviderManaged", Observed: "None"}},
		},
		"EncryptionOtherKey": {
			reason: "CustomerManaged encryption needs SSE-KMS with the spec's key.",
			spec:   storagev1alpha1.BucketSpec{Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "key-1"}},
			state:  with(func(s *bucketState) { s.encryption = []types.ServerSideEncryptionRule{sse("aws:kms", "key-2")} }),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.encryption",
				Desired: "CustomerManaged (key key-1)", Observed: "CustomerManaged (key key-2)"}},
		},
		"EncryptionAWSManagedKMSKey": {
			reason: "SSE-KMS with the AWS managed key is neither of the spec's modes.",
			spec:   storagev1alpha1.BucketSpec{},
			state:  with(func(s *bucketState) { s.encryption = []types.ServerSideEncryptionRule{sse("aws:kms", "")} }),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.encryption",
				Desired: "ProviderManaged", Observed: "aws:kms with the AWS managed key"}},
		},
		"PublicAccessPartlyBlocked": {
			reason: "Blocked public access needs all four settings of the public access block.",
			spec:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessBlocked},
			state:  with(func(s *bucketState) { s.publicAccess = pab(true, true, false, true) }),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked",
				Observed: "Partially blocked (BlockPublicAcls, IgnorePublicAcls, RestrictPublicBuckets)"}},
		},
		"PublicAccessNoBlock": {
			reason: "Blocked public access does not match a bucket without a public access block.",
			state:  with(func(s *bucketState) { s.publicAccess = nil }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Allowed"}},
		},
		"PublicAccessAllowedAllOff": {
			reason: "Allowed public access matches a public access block whose settings are all off.",
			spec:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed},
			state:  with(func(s *bucketState) { s.publicAccess = pab(false, false, false, false) }),
		},
		"PublicAccessAllowedButBlocked": {
			reason: "Allowed public access does not match a blocked bucket.",
			spec:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed},
			state:  inSync(),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Allowed", Observed: "Blocked"}},
		},
		"LifecycleChanged": {
			reason: "A rule with other days, and a rule the spec lacks, are drift; both sides are described compactly.",
			spec:   storagev1alpha1.BucketSpec{Lifecycle: []storagev1alpha1.LifecycleRule{rule("logs", "logs/", 30, 0)}},
			state: with(func(s *bucketState) {
				s.lifecycle = desiredLifecycleRules([]storagev1alpha1.LifecycleRule{rule("logs", "logs/", 14, 0), rule("old", "", 0, 7)})
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle",
				Desired:  "logs: prefix=logs/ expiration=30d",
				Observed: "logs: prefix=logs/ expiration=14d; old: noncurrentExpiration=7d"}},
		},
		"LifecycleRemoved": {
			reason: "A spec without rules does not match a bucket with rules.",
			state: with(func(s *bucketState) {
				s.lifecycle = desiredLifecycleRules([]storagev1alpha1.LifecycleRule{rule("tmp", "tmp/", 1, 0)})
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle", Desired: "None", Observed: "tmp: prefix=tmp/ expiration=1d"}},
		},
		"LifecycleRuleWithMoreThanTheSpecSays": {
			reason: "A rule that holds what the spec cannot express (a transition, a disabled status, a legacy prefix) does not match.",
			spec:   storagev1alpha1.BucketSpec{Lifecycle: []storagev1alpha1.LifecycleRule{rule("logs", "logs/", 30, 0)}},
			state: with(func(s *bucketState) {
				s.lifecycle = []types.LifecycleRule{{
					ID:          aws.String("logs"),
					Prefix:      aws.String("logs/"),
					Status:      types.ExpirationStatusDisabled,
					Expiration:  &types.LifecycleExpiration{Days: aws.Int32(30)},
					Transitions: []types.Transition{{Days: aws.Int32(10), StorageClass: types.TransitionStorageClassGlacier}},
				}}
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle",
				Desired:  "logs: prefix=logs/ expiration=30d",
				Observed: "logs: prefix=logs/ status=Disabled expiration=30d transitions=1"}},
		},
		"LifecycleExpirationDate": {
			reason: "An expiration date is shown as a date.",
			spec:   storagev1alpha1.BucketSpec{},
			state: with(func(s *bucketState) {
				s.lifecycle = []types.LifecycleRule{{ID: aws.String("d"), Status: types.ExpirationStatusEnabled,
					Expiration: &types.LifecycleExpiration{Date: aws.Time(time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC))}}}
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle", Desired: "None", Observed: "d: expirationDate=2030-01-02"}},
		},
		"LabelsChanged": {
			reason: "Labels are compared as a whole and described sorted by key.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"team": "data", "env": "prod"}},
			state: with(func(s *bucketState) {
				s.tags = []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("owner"), Value: aws.String("me")}}
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=prod, team=data", Observed: "env=dev, owner=me"}},
		},
		"LabelsMissing": {
			reason: "Labels in the spec do not match a bucket without tags.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "prod"}},
			state:  inSync(),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=prod", Observed: "None"}},
		},
		"OwnerMarkIsNoLabel": {
			reason: "The owner mark among the tags is not compared with the labels.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "prod"}},
			state: with(func(s *bucketState) {
				s.tags = desiredTags(withOwnerTags(map[string]string{"env": "prod"}, testOwner("team-a", "logs")))
			}),
		},
		"OwnerMarkAloneIsNoLabel": {
			reason: "A bucket whose only tags are the owner mark has no labels.",
			state: with(func(s *bucketState) {
				s.tags = desiredTags(ownerTags(testOwner("team-a", "logs")))
			}),
		},
		"LabelsDriftHidesMark": {
			reason: "Labels drift describes the labels without the owner mark's keys.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "prod"}},
			state: with(func(s *bucketState) {
				s.tags = desiredTags(withOwnerTags(map[string]string{"env": "dev"}, testOwner("team-a", "logs")))
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=prod", Observed: "env=dev"}},
		},
		"UnsupportedFeaturesSkipped": {
			reason: "Features the endpoint does not implement are not compared.",
			spec: storagev1alpha1.BucketSpec{
				Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "k"},
				Lifecycle:  []storagev1alpha1.LifecycleRule{rule("logs", "", 1, 0)},
				Labels:     map[string]string{"env": "prod"},
			},
			state: bucketState{unsupported: map[string]bool{
				featureEncryption: true, featurePublicAccess: true, featureLifecycle: true, featureLabels: true,
			}},
		},
		"SeveralFields": {
			reason: "Every drifted field is reported, in the order of the spec.",
			spec: storagev1alpha1.BucketSpec{
				Versioning: storagev1alpha1.VersioningEnabled,
				Labels:     map[string]string{"env": "prod"},
			},
			state: with(func(s *bucketState) { s.publicAccess = nil }),
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.versioning", Desired: "Enabled", Observed: "Disabled"},
				{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Allowed"},
				{Field: "spec.labels", Desired: "env=prod", Observed: "None"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := drift(tc.spec, tc.state)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ndrift(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDriftValuesAreBounded(t *testing.T) {
	labels := map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		labels[k] = strings.Repeat("é", 200)
	}
	got := drift(storagev1alpha1.BucketSpec{Labels: labels}, inSync())
	if len(got) != 1 {
		t.Fatalf("drift(...) = %v; want one drifted field", got)
	}
	if d := got[0].Desired; len(d) > driver.MaxDriftValueLength || !strings.HasSuffix(d, "...") || !strings.HasPrefix(d, "a=é") {
		t.Errorf("Desired is %d bytes, ending %q; want at most %d, cut with ...", len(d), d[len(d)-8:], driver.MaxDriftValueLength)
	}
}

func TestDesiredSettings(t *testing.T) {
	cases := map[string]struct {
		reason   string
		spec     storagev1alpha1.BucketSpec
		wantSSE  string
		wantKey  string
		wantTags map[string]string
	}{
		"Defaults": {
			reason:  "Without encryption in the spec, the bucket gets SSE-S3.",
			wantSSE: "AES256",
		},
		"ProviderManaged": {
			reason:  "ProviderManaged is SSE-S3, without a key.",
			spec:    storagev1alpha1.BucketSpec{Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged}},
			wantSSE: "AES256",
		},
		"CustomerManaged": {
			reason:   "CustomerManaged is SSE-KMS with the spec's key; labels become tags.",
			spec:     storagev1alpha1.BucketSpec{Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "alias/data"}, Labels: map[string]string{"a": "1"}},
			wantSSE:  "aws:kms",
			wantKey:  "alias/data",
			wantTags: map[string]string{"a": "1"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := desiredEncryptionRule(tc.spec)
			algorithm, key := encryptionAlgorithm([]types.ServerSideEncryptionRule{r})
			if algorithm != tc.wantSSE || key != tc.wantKey {
				t.Errorf("%s\ndesiredEncryptionRule(...) = %s with key %q; want %s with key %q", tc.reason, algorithm, key, tc.wantSSE, tc.wantKey)
			}
			if diff := cmp.Diff(tc.wantTags, tagMap(desiredTags(tc.spec.Labels))); diff != "" {
				t.Errorf("%s\ndesiredTags(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestLocationRegion(t *testing.T) {
	cases := map[string]struct {
		reason string
		in     types.BucketLocationConstraint
		want   string
	}{
		"Empty":   {reason: "An empty location constraint means us-east-1.", in: "", want: "us-east-1"},
		"EU":      {reason: "EU is the old name of eu-west-1.", in: "EU", want: "eu-west-1"},
		"Regular": {reason: "Other constraints are region names.", in: "ap-south-1", want: "ap-south-1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := locationRegion(tc.in); got != tc.want {
				t.Errorf("%s\nlocationRegion(%q) = %q; want %q", tc.reason, tc.in, got, tc.want)
			}
		})
	}
}
