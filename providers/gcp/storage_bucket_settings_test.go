package gcp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/storage"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/googleapi"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// inSync is a bucket that matches an empty (all defaults) spec.
func inSync() *storage.BucketAttrs {
	return &storage.BucketAttrs{
		Location:                 "EUROPE-WEST1",
		PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
		UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
	}
}

func deleteRule(age int64, live storage.Liveness, noncurrent int64, prefix ...string) storage.LifecycleRule {
	return storage.LifecycleRule{
		Action:    storage.LifecycleAction{Type: storage.DeleteAction},
		Condition: storage.LifecycleCondition{AgeInDays: age, Liveness: live, DaysSinceNoncurrentTime: noncurrent, MatchesPrefix: prefix},
	}
}

func TestDrift(t *testing.T) {
	with := func(f func(*storage.BucketAttrs)) *storage.BucketAttrs {
		a := inSync()
		f(a)
		return a
	}
	full := storagev1alpha1.BucketSpec{
		Versioning:   storagev1alpha1.VersioningEnabled,
		Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
		PublicAccess: storagev1alpha1.PublicAccessAllowed,
		Lifecycle:    []storagev1alpha1.LifecycleRule{rule("b", "", 0, 7), rule("a", "logs/", 30, 0)},
		Labels:       map[string]string{"env": "prod", "team": "data"},
	}
	cases := map[string]struct {
		reason string
		spec   storagev1alpha1.BucketSpec
		attrs  *storage.BucketAttrs
		want   []stratusv1alpha1.DriftedField
	}{
		"DefaultsInSync": {
			reason: "An empty spec means unversioned, Google-managed keys, public access blocked, no rules, no labels.",
			attrs:  inSync(),
		},
		"EverythingInSync": {
			reason: "A bucket whose settings all match a full spec has no drift, whatever the order of its rules.",
			spec:   full,
			attrs: with(func(a *storage.BucketAttrs) {
				a.VersioningEnabled = true
				a.Encryption = &storage.BucketEncryption{DefaultKMSKeyName: "projects/p/locations/l/keyRings/r/cryptoKeys/k"}
				a.PublicAccessPrevention = storage.PublicAccessPreventionInherited
				a.Lifecycle.Rules = []storage.LifecycleRule{deleteRule(30, storage.Live, 0, "logs/"), deleteRule(0, storage.LiveAndArchived, 7)}
				a.Labels = map[string]string{"team": "data", "env": "prod"}
			}),
		},
		"AllowedMatchesUniformAccess": {
			reason: "Allowed public access only needs public access prevention lifted: uniform access may stay on.",
			spec:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed},
			attrs:  with(func(a *storage.BucketAttrs) { a.PublicAccessPrevention = storage.PublicAccessPreventionInherited }),
		},
		"AllowedButEnforced": {
			reason: "Allowed public access does not match enforced prevention.",
			spec:   storagev1alpha1.BucketSpec{PublicAccess: storagev1alpha1.PublicAccessAllowed},
			attrs:  inSync(),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Allowed", Observed: "Blocked"}},
		},
		"BlockedWithoutUniformAccess": {
			reason: "Blocked needs uniform access too.",
			attrs:  with(func(a *storage.BucketAttrs) { a.UniformBucketLevelAccess.Enabled = false }),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked",
				Observed: "Partially blocked (public access prevention enforced, uniform bucket-level access disabled)"}},
		},
		"BlockedButInherited": {
			reason: "Blocked needs public access prevention enforced.",
			attrs:  with(func(a *storage.BucketAttrs) { a.PublicAccessPrevention = storage.PublicAccessPreventionInherited }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Allowed"}},
		},
		"BlockedButUnknown": {
			reason: "A bucket that reports no public access prevention is not blocked.",
			attrs:  with(func(a *storage.BucketAttrs) { a.PublicAccessPrevention = storage.PublicAccessPreventionUnknown }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.publicAccess", Desired: "Blocked", Observed: "Allowed"}},
		},
		"VersioningOff": {
			reason: "Enabled versioning does not match a bucket without it.",
			spec:   storagev1alpha1.BucketSpec{Versioning: storagev1alpha1.VersioningEnabled},
			attrs:  inSync(),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Enabled", Observed: "Disabled"}},
		},
		"VersioningOn": {
			reason: "Disabled versioning does not match a versioned bucket.",
			attrs:  with(func(a *storage.BucketAttrs) { a.VersioningEnabled = true }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.versioning", Desired: "Disabled", Observed: "Enabled"}},
		},
		"UnexpectedKMSKey": {
			reason: "ProviderManaged does not match a default KMS key.",
			attrs:  with(func(a *storage.BucketAttrs) { a.Encryption = &storage.BucketEncryption{DefaultKMSKeyName: "k"} }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.encryption", Desired: "ProviderManaged", Observed: "CustomerManaged (key k)"}},
		},
		"EmptyEncryption": {
			reason: "An encryption block without a key is Google-managed keys.",
			attrs:  with(func(a *storage.BucketAttrs) { a.Encryption = &storage.BucketEncryption{} }),
		},
		"MissingKMSKey": {
			reason: "CustomerManaged does not match Google-managed keys.",
			spec:   storagev1alpha1.BucketSpec{Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "k"}},
			attrs:  inSync(),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.encryption", Desired: "CustomerManaged (key k)", Observed: "ProviderManaged"}},
		},
		"RuleWithoutLiveness": {
			reason: "An age rule that also deletes noncurrent versions is not the spec's expiration of live objects.",
			spec:   storagev1alpha1.BucketSpec{Lifecycle: []storagev1alpha1.LifecycleRule{rule("a", "", 30, 0)}},
			attrs: with(func(a *storage.BucketAttrs) {
				a.Lifecycle.Rules = []storage.LifecycleRule{deleteRule(30, storage.LiveAndArchived, 0)}
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle", Desired: "Delete: age=30d live", Observed: "Delete: age=30d"}},
		},
		"RuleBeyondTheSpec": {
			reason: "A rule with conditions the spec cannot express never matches.",
			spec:   storagev1alpha1.BucketSpec{Lifecycle: []storagev1alpha1.LifecycleRule{rule("a", "", 30, 0)}},
			attrs: with(func(a *storage.BucketAttrs) {
				r := deleteRule(30, storage.Live, 0)
				r.Condition.NumNewerVersions = 2
				r.Condition.CreatedBefore = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
				a.Lifecycle.Rules = []storage.LifecycleRule{r}
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle", Desired: "Delete: age=30d live",
				Observed: "Delete: age=30d live newerVersions=2 createdBefore=2026-01-02"}},
		},
		"ExtraRule": {
			reason: "A rule the spec does not have is drift.",
			attrs: with(func(a *storage.BucketAttrs) {
				a.Lifecycle.Rules = []storage.LifecycleRule{deleteRule(0, storage.LiveAndArchived, 3, "tmp/")}
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.lifecycle", Desired: "None", Observed: "Delete: noncurrent=3d prefix=tmp/"}},
		},
		"LabelsDiffer": {
			reason: "Labels are compared as a whole.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "prod"}},
			attrs:  with(func(a *storage.BucketAttrs) { a.Labels = map[string]string{"env": "prod", "extra": ""} }),
			want:   []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=prod", Observed: "env=prod, extra="}},
		},
		"OwnerLabelsAreNotLabelDrift": {
			reason: "The owner mark's labels are the operator's: they are not compared with spec.labels.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "prod"}},
			attrs: with(func(a *storage.BucketAttrs) {
				a.Labels = map[string]string{"env": "prod", driver.OwnerLabel: "0123", driver.OwnerNameLabel: "x", driver.OwnerUIDLabel: "u"}
			}),
		},
		"OwnerLabelsAreNotShown": {
			reason: "Label drift shows neither side's owner mark.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "prod"}},
			attrs: with(func(a *storage.BucketAttrs) {
				a.Labels = map[string]string{"env": "test", driver.OwnerLabel: "0123", driver.OwnerNamespaceLabel: "ns"}
			}),
			want: []stratusv1alpha1.DriftedField{{Field: "spec.labels", Desired: "env=prod", Observed: "env=test"}},
		},
		"OnlyOwnerLabels": {
			reason: "A bucket whose only labels are an owner mark has no labels, as a spec without labels.",
			attrs:  with(func(a *storage.BucketAttrs) { a.Labels = map[string]string{driver.OwnerLabel: "0123"} }),
		},
		"EverythingDiffers": {
			reason: "Every field that differs is reported, in a fixed order.",
			spec:   full,
			attrs:  inSync(),
			want: []stratusv1alpha1.DriftedField{
				{Field: "spec.versioning", Desired: "Enabled", Observed: "Disabled"},
				{Field: "spec.encryption", Desired: "CustomerManaged (key projects/p/locations/l/keyRings/r/cryptoKeys/k)", Observed: "ProviderManaged"},
				{Field: "spec.publicAccess", Desired: "Allowed", Observed: "Blocked"},
				{Field: "spec.lifecycle", Desired: "Delete: age=30d live prefix=logs/; Delete: noncurrent=7d", Observed: "None"},
				{Field: "spec.labels", Desired: "env=prod, team=data", Observed: "None"},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := drift(tc.spec, tc.attrs)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ndrift(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDriftValuesAreBounded(t *testing.T) {
	labels := map[string]string{}
	for i := range 50 {
		labels[fmt.Sprintf("key-%02d-%s", i, strings.Repeat("k", 40))] = strings.Repeat("v", 60)
	}
	got := drift(storagev1alpha1.BucketSpec{Labels: labels}, inSync())
	if len(got) != 1 {
		t.Fatalf("drift(...) = %v; want one drifted field", got)
	}
	if n := len(got[0].Desired); n > driver.MaxDriftValueLength || !strings.HasSuffix(got[0].Desired, "...") {
		t.Errorf("desired value of %d bytes, ending %q; want at most %d, marked as cut", n, got[0].Desired[n-10:], driver.MaxDriftValueLength)
	}
}

func TestDesiredAttrs(t *testing.T) {
	owner := driver.Owner{Cluster: "c", Namespace: "team-a", Name: "logs", UID: "0b7e5e0c-2f4b-4f59-9a53-3c4c1f1a2b3c"}
	cases := map[string]struct {
		reason string
		spec   storagev1alpha1.BucketSpec
		owner  driver.Owner
		want   *storage.BucketAttrs
	}{
		"Defaults": {
			reason: "An empty spec blocks public access and sets nothing else.",
			want: &storage.BucketAttrs{
				Location:                 "EU",
				PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
				UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
			},
		},
		"Everything": {
			reason: "Every setting maps to its Cloud Storage attribute; a rule with both expirations becomes two rules.",
			spec: storagev1alpha1.BucketSpec{
				Versioning:   storagev1alpha1.VersioningEnabled,
				Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "k"},
				PublicAccess: storagev1alpha1.PublicAccessAllowed,
				Lifecycle:    []storagev1alpha1.LifecycleRule{rule("a", "logs/", 30, 7)},
				Labels:       map[string]string{"env": "prod"},
			},
			want: &storage.BucketAttrs{
				Location:               "EU",
				VersioningEnabled:      true,
				Encryption:             &storage.BucketEncryption{DefaultKMSKeyName: "k"},
				PublicAccessPrevention: storage.PublicAccessPreventionInherited,
				Lifecycle: storage.Lifecycle{Rules: []storage.LifecycleRule{
					deleteRule(30, storage.Live, 0, "logs/"),
					deleteRule(0, storage.LiveAndArchived, 7, "logs/"),
				}},
				Labels: map[string]string{"env": "prod"},
			},
		},
		"OwnerMark": {
			reason: "The owner's mark is labelled with the spec's labels, in the create call itself.",
			spec:   storagev1alpha1.BucketSpec{Labels: map[string]string{"env": "prod"}},
			owner:  owner,
			want: &storage.BucketAttrs{
				Location:                 "EU",
				PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
				UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
				Labels: map[string]string{
					"env": "prod", driver.OwnerLabel: owner.ID(), driver.OwnerNamespaceLabel: "team-a",
					driver.OwnerNameLabel: "logs", driver.OwnerUIDLabel: owner.UID,
				},
			},
		},
		"OwnerMarkWithoutLabels": {
			reason: "A spec without labels still gets the owner's mark.",
			owner:  owner,
			want: &storage.BucketAttrs{
				Location:                 "EU",
				PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
				UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
				Labels:                   owner.Labels(),
			},
		},
		"ProviderManaged": {
			reason: "ProviderManaged sets no default KMS key, even with a key ID.",
			spec:   storagev1alpha1.BucketSpec{Encryption: &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionProviderManaged, KeyID: "ignored"}},
			want: &storage.BucketAttrs{
				Location:                 "EU",
				PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
				UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := desiredAttrs(tc.spec, tc.owner, "EU")
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\ndesiredAttrs(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDesiredUpdate(t *testing.T) {
	type update struct {
		Versioning    any
		KMSKey        string
		Prevention    storage.PublicAccessPrevention
		UniformAccess *storage.UniformBucketLevelAccess
		Rules         []storage.LifecycleRule
	}
	summarize := func(ua storage.BucketAttrsToUpdate) update {
		u := update{Versioning: ua.VersioningEnabled, Prevention: ua.PublicAccessPrevention, UniformAccess: ua.UniformBucketLevelAccess}
		if ua.Encryption == nil || ua.Lifecycle == nil {
			t.Fatalf("desiredUpdate(...) leaves out encryption or lifecycle: %+v", ua)
		}
		u.KMSKey = ua.Encryption.DefaultKMSKeyName
		u.Rules = ua.Lifecycle.Rules
		return u
	}
	cases := map[string]struct {
		reason  string
		spec    storagev1alpha1.BucketSpec
		current map[string]string
		want    update
	}{
		"Defaults": {
			reason: "Every field is written: versioning off, no KMS key, public access blocked, no rules.",
			want: update{Versioning: false, Prevention: storage.PublicAccessPreventionEnforced,
				UniformAccess: &storage.UniformBucketLevelAccess{Enabled: true}},
		},
		"AllowedLeavesUniformAccess": {
			reason: "Allowed lifts public access prevention and leaves uniform access alone.",
			spec: storagev1alpha1.BucketSpec{
				Versioning:   storagev1alpha1.VersioningEnabled,
				Encryption:   &storagev1alpha1.Encryption{Mode: storagev1alpha1.EncryptionCustomerManaged, KeyID: "k"},
				PublicAccess: storagev1alpha1.PublicAccessAllowed,
				Lifecycle:    []storagev1alpha1.LifecycleRule{rule("a", "", 0, 3)},
			},
			want: update{Versioning: true, KMSKey: "k", Prevention: storage.PublicAccessPreventionInherited,
				Rules: []storage.LifecycleRule{deleteRule(0, storage.LiveAndArchived, 3)}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := summarize(desiredUpdate(tc.spec, driver.Owner{}, tc.current))
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\ndesiredUpdate(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}

	// The labels a patch sets and deletes are unexported fields: read them
	// with reflection.
	labelChanges := func(ua storage.BucketAttrsToUpdate) map[string]string {
		v := reflect.ValueOf(ua)
		got := map[string]string{}
		set, del := v.FieldByName("setLabels"), v.FieldByName("deleteLabels")
		for _, k := range set.MapKeys() {
			got[k.String()] = "set " + set.MapIndex(k).String()
		}
		for _, k := range del.MapKeys() {
			got[k.String()] = "delete"
		}
		return got
	}
	owner := driver.Owner{Cluster: "c", Namespace: "team-a", Name: "logs", UID: "uid-1"}
	other := driver.Owner{Cluster: "c", Namespace: "team-b", Name: "logs"}
	labelCases := map[string]struct {
		reason  string
		spec    map[string]string
		owner   driver.Owner
		current map[string]string
		want    map[string]string
	}{
		"SpecLabels": {
			reason:  "The spec's labels are set, the others deleted.",
			spec:    map[string]string{"env": "prod", "new": ""},
			current: map[string]string{"env": "test", "old": "x"},
			want:    map[string]string{"env": "set prod", "new": "set ", "old": "delete"},
		},
		"OwnerMarkWritten": {
			reason:  "The owner's mark is written with the spec's labels, on a bucket without one.",
			spec:    map[string]string{"env": "prod"},
			owner:   owner,
			current: map[string]string{"env": "prod", "old": "x"},
			want: map[string]string{
				"env": "set prod", "old": "delete", driver.OwnerLabel: "set " + owner.ID(),
				driver.OwnerNamespaceLabel: "set team-a", driver.OwnerNameLabel: "set logs", driver.OwnerUIDLabel: "set uid-1",
			},
		},
		"OwnerMarkNeverDeleted": {
			reason: "A spec without labels deletes every label but the owner mark's, of whichever owner.",
			owner:  owner,
			current: map[string]string{
				"env": "prod", driver.OwnerLabel: other.ID(), driver.OwnerNamespaceLabel: "team-b",
				driver.OwnerNameLabel: "logs", driver.OwnerUIDLabel: "uid-0",
			},
			want: map[string]string{
				"env": "delete", driver.OwnerLabel: "set " + owner.ID(),
				driver.OwnerNamespaceLabel: "set team-a", driver.OwnerNameLabel: "set logs", driver.OwnerUIDLabel: "set uid-1",
			},
		},
		"UnknownOwner": {
			reason:  "A request without an owner writes no mark and deletes none.",
			current: map[string]string{"env": "prod", driver.OwnerLabel: other.ID(), driver.OwnerNameLabel: "logs"},
			want:    map[string]string{"env": "delete"},
		},
	}
	for name, tc := range labelCases {
		t.Run(name, func(t *testing.T) {
			got := labelChanges(desiredUpdate(storagev1alpha1.BucketSpec{Labels: tc.spec}, tc.owner, tc.current))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ndesiredUpdate(...) label changes: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestValidateSpec(t *testing.T) {
	cases := map[string]struct {
		reason string
		labels map[string]string
		// want is in the error; empty means no error.
		want string
	}{
		"NoLabels":      {reason: "No labels, nothing to refuse."},
		"GoodLabels":    {reason: "Lowercase keys and values with digits, dashes and underscores.", labels: map[string]string{"env": "prod-1", "cost_center": "", "équipe": "données"}},
		"MaxLength":     {reason: "63 characters fit.", labels: map[string]string{"k" + strings.Repeat("x", 62): strings.Repeat("v", 63)}},
		"UpperKey":      {reason: "Uppercase keys are refused, naming the key.", labels: map[string]string{"Env": "prod"}, want: `label "Env" in spec.labels`},
		"UpperValue":    {reason: "Uppercase values are refused, naming the key.", labels: map[string]string{"env": "Prod"}, want: `label "env" in spec.labels`},
		"DigitFirst":    {reason: "Keys start with a letter.", labels: map[string]string{"9lives": "x"}, want: "start with a lowercase letter"},
		"UnderscoreKey": {reason: "Keys start with a letter, not an underscore.", labels: map[string]string{"_k": "x"}, want: "start with a lowercase letter"},
		"LongKey":       {reason: "Keys are at most 63 characters.", labels: map[string]string{strings.Repeat("k", 64): "x"}, want: "1 to 63 characters"},
		"LongValue":     {reason: "Values are at most 63 characters.", labels: map[string]string{"k": strings.Repeat("v", 64)}, want: "at most 63 characters"},
		"DotInKey":      {reason: "Dots are refused in keys (Kubernetes-style keys do not fit).", labels: map[string]string{"app.kubernetes.io": "x"}, want: "may hold only"},
		"SlashInValue":  {reason: "Slashes are refused in values.", labels: map[string]string{"path": "a/b"}, want: "may hold only"},
		"FirstBadKey":   {reason: "The first bad key in sorted order is named, the same every time.", labels: map[string]string{"Zeta": "x", "Alpha": "x"}, want: `"Alpha"`},
		"OwnerKey":      {reason: "The owner mark's keys are the operator's.", labels: map[string]string{driver.OwnerLabel: "x"}, want: "reserved"},
		"OwnerNameKey":  {reason: "Every key that starts with stratus-owner is the operator's.", labels: map[string]string{"stratus-owner-name": "x"}, want: "reserved"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := validateSpec(storagev1alpha1.BucketSpec{Labels: tc.labels})
			if tc.want == "" {
				if err != nil {
					t.Errorf("%s\nvalidateSpec(...) = %v; want nil", tc.reason, err)
				}
				return
			}
			if !driver.IsTerminal(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s\nvalidateSpec(...) = %v; want a Terminal error with %q", tc.reason, err, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tokenError := func(status int, body string) error {
		return &url.Error{Op: "Get", URL: "https://storage.example/b", Err: &auth.Error{
			Response: &http.Response{StatusCode: status}, Body: []byte(body),
		}}
	}
	type class struct{ Terminal, Throttled, BadCredentials, Blocked bool }
	cases := map[string]struct {
		reason string
		err    error
		want   class
	}{
		"TooManyRequests": {reason: "429 asks to slow down.", err: &googleapi.Error{Code: 429}, want: class{Throttled: true}},
		"Unavailable":     {reason: "503 asks to slow down.", err: &googleapi.Error{Code: 503}, want: class{Throttled: true}},
		"Unauthorized":    {reason: "401 refuses the credentials.", err: &googleapi.Error{Code: 401}, want: class{BadCredentials: true}},
		"BadRequest":      {reason: "400 cannot succeed until the spec changes.", err: &googleapi.Error{Code: 400}, want: class{Terminal: true}},
		"Forbidden":       {reason: "403 may be fixed by granting a role: retried.", err: &googleapi.Error{Code: 403}},
		"ServerError":     {reason: "500 is retried.", err: &googleapi.Error{Code: 500}},
		"InvalidGrant": {
			reason: "The token endpoint refusing the key (invalid_grant) is bad credentials.",
			err:    tokenError(400, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`),
			want:   class{BadCredentials: true},
		},
		"InvalidClient": {
			reason: "The token endpoint refusing the client is bad credentials.",
			err:    tokenError(401, `{"error":"invalid_client"}`),
			want:   class{BadCredentials: true},
		},
		"TokenEndpointDown": {
			reason: "A token endpoint that fails is retried.",
			err:    tokenError(503, `unavailable`),
		},
		"InvalidGrantText": {
			reason: "invalid_grant in the message is bad credentials, whatever the type.",
			err:    errors.New(`oauth2: "invalid_grant" "Invalid grant: account not found"`),
			want:   class{BadCredentials: true},
		},
		"Wrapped": {
			reason: "The status is found through wrapping.",
			err:    fmt.Errorf("storage: retry failed after 3 attempts; last error: %w", &googleapi.Error{Code: 429}),
			want:   class{Throttled: true},
		},
		"Other": {reason: "Anything else is left alone.", err: errors.New("connection refused")},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := wrapf(tc.err, "get bucket %q", "b")
			got := class{driver.IsTerminal(err), driver.IsThrottled(err), driver.IsBadCredentials(err), driver.IsBlocked(err)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nclassify(%v): -want, +got:\n%s", tc.reason, tc.err, diff)
			}
			if !strings.HasPrefix(err.Error(), `get bucket "b": `) || !errors.Is(err, tc.err) {
				t.Errorf("%s\nwrapf(...) = %q; want the message first and the error wrapped", tc.reason, err)
			}
		})
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}

func TestOptions(t *testing.T) {
	cases := map[string]struct {
		reason string
		opts   []Option
		want   options
	}{
		"Default":       {reason: "Without options, DefaultMaxAttempts.", want: options{maxAttempts: DefaultMaxAttempts}},
		"MaxAttempts":   {reason: "WithMaxAttempts sets the attempts.", opts: []Option{WithMaxAttempts(1)}, want: options{maxAttempts: 1}},
		"BadAttempts":   {reason: "WithMaxAttempts ignores values below 1.", opts: []Option{WithMaxAttempts(0)}, want: options{maxAttempts: DefaultMaxAttempts}},
		"LastOneCounts": {reason: "A later option overrides an earlier one.", opts: []Option{WithMaxAttempts(2), WithMaxAttempts(5)}, want: options{maxAttempts: 5}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, newOptions(tc.opts), cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("%s\nnewOptions(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestTarget(t *testing.T) {
	type result struct{ Name, Location string }
	cases := map[string]struct {
		reason       string
		configRegion string
		req          bucketRequest
		want         result
		wantErr      string
	}{
		"ExternalName": {
			reason: "The external name and the request's region, upper-cased.",
			req:    bucketRequest{Object: newBucket("spec-name", storagev1alpha1.BucketSpec{}), ExternalName: "external", Region: "europe-west1"},
			want:   result{"external", "EUROPE-WEST1"},
		},
		"SpecName": {
			reason:       "Without an external name, spec.bucketName; without a region, the configuration's.",
			configRegion: "eu",
			req:          bucketRequest{Object: newBucket("spec-name", storagev1alpha1.BucketSpec{})},
			want:         result{"spec-name", "EU"},
		},
		"DefaultLocation": {
			reason: "Without any region, US.",
			req:    bucketRequest{Object: newBucket("spec-name", storagev1alpha1.BucketSpec{})},
			want:   result{"spec-name", "US"},
		},
		"NoName": {
			reason:  "A bucket without a name cannot be managed.",
			req:     bucketRequest{Object: &storagev1alpha1.Bucket{}},
			wantErr: "spec.bucketName",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &bucketClient{region: tc.configRegion}
			var got result
			var err error
			got.Name, got.Location, err = c.target(tc.req)
			if tc.wantErr != "" {
				if !driver.IsTerminal(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("%s\ntarget(...) = %v; want a Terminal error with %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\ntarget(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
