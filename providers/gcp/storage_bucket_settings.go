package gcp

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/storage"

	storagev1alpha1 "github.com/stratus-operator/stratus/apis/storage/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// The spec fields Observe compares.
const (
	fieldVersioning   = "spec.versioning"
	fieldEncryption   = "spec.encryption"
	fieldPublicAccess = "spec.publicAccess"
	fieldLifecycle    = "spec.lifecycle"
	fieldLabels       = "spec.labels"
)

// The encryption atProvider reports: Google-managed keys, or a Cloud KMS
// key.
const (
	encryptionGoogleManaged = "GoogleManaged"
	encryptionCloudKMS      = "CloudKMS"
)

// none stands for a setting that is not configured.
const none = driver.NoValue

// maxLabelLength is the most characters a Cloud Storage label key or value
// may have.
const maxLabelLength = 63

// validateSpec refuses a spec Cloud Storage cannot honour, with a terminal
// error naming the field, rather than dropping part of it.
func validateSpec(spec storagev1alpha1.BucketSpec) error {
	for _, k := range slices.Sorted(maps.Keys(spec.Labels)) {
		if driver.IsOwnerKey(k) {
			return driver.Terminalf("label %q in spec.labels is reserved: keys that start with %s or stratus.dev/ are the operator's owner mark; remove it", k, driver.OwnerLabel)
		}
		if err := validateLabel(k, spec.Labels[k]); err != nil {
			return err
		}
	}
	return nil
}

// validateLabel checks a label against Cloud Storage's rules: keys of 1 to
// 63 characters that start with a lowercase letter, values of at most 63
// characters, both of lowercase letters, digits, underscores and dashes
// (international lowercase letters are allowed).
func validateLabel(key, value string) error {
	const chars = "lowercase letters, digits, underscores and dashes"
	bad := func(format string, args ...any) error {
		return driver.Terminalf("label %q in spec.labels cannot be a Cloud Storage label: %s", key, fmt.Sprintf(format, args...))
	}
	if n := utf8.RuneCountInString(key); n == 0 || n > maxLabelLength {
		return bad("a key must be 1 to %d characters long", maxLabelLength)
	}
	if first, _ := utf8.DecodeRuneInString(key); !isLowerLetter(first) {
		return bad("a key must start with a lowercase letter")
	}
	if !validLabelText(key) {
		return bad("a key may hold only %s", chars)
	}
	if utf8.RuneCountInString(value) > maxLabelLength {
		return bad("its value must be at most %d characters long", maxLabelLength)
	}
	if !validLabelText(value) {
		return bad("its value %q may hold only %s", value, chars)
	}
	return nil
}

func validLabelText(s string) bool {
	for _, r := range s {
		if !isLowerLetter(r) && !('0' <= r && r <= '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// isLowerLetter reports whether r is a lowercase letter or a letter without
// case.
func isLowerLetter(r rune) bool {
	return unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsTitle(r)
}

// desiredAttrs returns the attributes of a new bucket for the spec, labelled
// with the spec's labels and owner's mark.
func desiredAttrs(spec storagev1alpha1.BucketSpec, owner driver.Owner, location string) *storage.BucketAttrs {
	attrs := &storage.BucketAttrs{
		Location:          location,
		VersioningEnabled: desiredVersioning(spec) == storagev1alpha1.VersioningEnabled,
		Lifecycle:         storage.Lifecycle{Rules: desiredLifecycleRules(spec.Lifecycle)},
		Labels:            withOwnerLabels(spec.Labels, owner),
	}
	if mode, keyID := desiredEncryption(spec); mode == storagev1alpha1.EncryptionCustomerManaged {
		attrs.Encryption = &storage.BucketEncryption{DefaultKMSKeyName: keyID}
	}
	if desiredPublicAccess(spec) == storagev1alpha1.PublicAccessBlocked {
		attrs.PublicAccessPrevention = storage.PublicAccessPreventionEnforced
		attrs.UniformBucketLevelAccess = storage.UniformBucketLevelAccess{Enabled: true}
	} else {
		attrs.PublicAccessPrevention = storage.PublicAccessPreventionInherited
	}
	return attrs
}

// desiredUpdate returns the patch that writes every setting of the spec to
// a bucket that has the given labels. It sets the spec's labels and those of
// owner's mark, and deletes the other labels but those of any owner mark,
// which are the operator's and never a spec's. Allowed public access only lifts
// public access prevention: uniform bucket-level access, which Blocked
// enables, is left as it is, since Cloud Storage refuses to disable it 90
// days after it was enabled and it does not keep a bucket from being public.
func desiredUpdate(spec storagev1alpha1.BucketSpec, owner driver.Owner, current map[string]string) storage.BucketAttrsToUpdate {
	ua := storage.BucketAttrsToUpdate{
		VersioningEnabled: desiredVersioning(spec) == storagev1alpha1.VersioningEnabled,
		Lifecycle:         &storage.Lifecycle{Rules: desiredLifecycleRules(spec.Lifecycle)},
		// An empty key name removes the default KMS key.
		Encryption: &storage.BucketEncryption{},
	}
	if mode, keyID := desiredEncryption(spec); mode == storagev1alpha1.EncryptionCustomerManaged {
		ua.Encryption.DefaultKMSKeyName = keyID
	}
	if desiredPublicAccess(spec) == storagev1alpha1.PublicAccessBlocked {
		ua.PublicAccessPrevention = storage.PublicAccessPreventionEnforced
		ua.UniformBucketLevelAccess = &storage.UniformBucketLevelAccess{Enabled: true}
	} else {
		ua.PublicAccessPrevention = storage.PublicAccessPreventionInherited
	}
	desired := withOwnerLabels(spec.Labels, owner)
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		ua.SetLabel(k, desired[k])
	}
	for _, k := range slices.Sorted(maps.Keys(current)) {
		if _, ok := desired[k]; !ok && !driver.IsOwnerKey(k) {
			ua.DeleteLabel(k)
		}
	}
	return ua
}

// drift returns the fields in which a bucket differs from its spec.
func drift(spec storagev1alpha1.BucketSpec, attrs *storage.BucketAttrs) []stratusv1alpha1.DriftedField {
	var out []stratusv1alpha1.DriftedField
	add := func(field, desired, observed string) {
		out = append(out, driver.Drifted(field, desired, observed))
	}
	if desired, observed := desiredVersioning(spec), observedVersioning(attrs); desired != observed {
		add(fieldVersioning, string(desired), string(observed))
	}
	if desired, observed := desiredEncryptionString(spec), encryptionString(attrs); desired != observed {
		add(fieldEncryption, desired, observed)
	}
	if desired := desiredPublicAccess(spec); !publicAccessMatches(desired, attrs) {
		add(fieldPublicAccess, string(desired), publicAccessString(attrs))
	}
	desiredRules := lifecycleString(desiredLifecycleRules(spec.Lifecycle))
	if observed := lifecycleString(attrs.Lifecycle.Rules); desiredRules != observed {
		add(fieldLifecycle, desiredRules, observed)
	}
	// The owner mark's labels are the operator's: ownership drift is
	// reported apart.
	if desired, observed := driver.FormatLabels(spec.Labels), driver.FormatLabels(driver.WithoutOwnerKeys(attrs.Labels)); desired != observed {
		add(fieldLabels, desired, observed)
	}
	return out
}

// desiredVersioning returns the spec's versioning, Disabled when unset.
func desiredVersioning(spec storagev1alpha1.BucketSpec) storagev1alpha1.Versioning {
	if spec.Versioning == storagev1alpha1.VersioningEnabled {
		return storagev1alpha1.VersioningEnabled
	}
	return storagev1alpha1.VersioningDisabled
}

// observedVersioning returns a bucket's versioning in the spec's terms.
func observedVersioning(attrs *storage.BucketAttrs) storagev1alpha1.Versioning {
	if attrs.VersioningEnabled {
		return storagev1alpha1.VersioningEnabled
	}
	return storagev1alpha1.VersioningDisabled
}

// desiredEncryption returns the spec's encryption mode and key, with the
// default ProviderManaged when the spec names none.
func desiredEncryption(spec storagev1alpha1.BucketSpec) (storagev1alpha1.EncryptionMode, string) {
	if spec.Encryption == nil || spec.Encryption.Mode != storagev1alpha1.EncryptionCustomerManaged {
		return storagev1alpha1.EncryptionProviderManaged, ""
	}
	return storagev1alpha1.EncryptionCustomerManaged, spec.Encryption.KeyID
}

// desiredEncryptionString describes the spec's encryption the way
// encryptionString describes a bucket's.
func desiredEncryptionString(spec storagev1alpha1.BucketSpec) string {
	mode, keyID := desiredEncryption(spec)
	return encryptionDescription(mode, keyID)
}

// observedEncryption returns what atProvider reports of a bucket's default
// encryption: the kind of key and the Cloud KMS key, if any.
func observedEncryption(attrs *storage.BucketAttrs) (algorithm, keyID string) {
	if attrs.Encryption != nil && attrs.Encryption.DefaultKMSKeyName != "" {
		return encryptionCloudKMS, attrs.Encryption.DefaultKMSKeyName
	}
	return encryptionGoogleManaged, ""
}

// encryptionString describes a bucket's default encryption: ProviderManaged
// without a default KMS key, CustomerManaged with its key otherwise.
func encryptionString(attrs *storage.BucketAttrs) string {
	if _, keyID := observedEncryption(attrs); keyID != "" {
		return encryptionDescription(storagev1alpha1.EncryptionCustomerManaged, keyID)
	}
	return encryptionDescription(storagev1alpha1.EncryptionProviderManaged, "")
}

func encryptionDescription(mode storagev1alpha1.EncryptionMode, keyID string) string {
	if mode == storagev1alpha1.EncryptionCustomerManaged {
		return fmt.Sprintf("%s (key %s)", mode, keyID)
	}
	return string(mode)
}

// desiredPublicAccess returns the spec's public access, Blocked when unset.
func desiredPublicAccess(spec storagev1alpha1.BucketSpec) storagev1alpha1.PublicAccess {
	if spec.PublicAccess == storagev1alpha1.PublicAccessAllowed {
		return storagev1alpha1.PublicAccessAllowed
	}
	return storagev1alpha1.PublicAccessBlocked
}

// publicAccessBlocked reports whether a bucket can never be made public:
// public access prevention enforced, and uniform bucket-level access, so
// that no object ACL can grant access either.
func publicAccessBlocked(attrs *storage.BucketAttrs) bool {
	return attrs.PublicAccessPrevention == storage.PublicAccessPreventionEnforced && attrs.UniformBucketLevelAccess.Enabled
}

// publicAccessMatches reports whether a bucket has the desired public
// access: Blocked needs public access prevention enforced and uniform
// bucket-level access; Allowed needs public access prevention lifted,
// whatever uniform bucket-level access is.
func publicAccessMatches(desired storagev1alpha1.PublicAccess, attrs *storage.BucketAttrs) bool {
	if desired == storagev1alpha1.PublicAccessBlocked {
		return publicAccessBlocked(attrs)
	}
	return attrs.PublicAccessPrevention != storage.PublicAccessPreventionEnforced
}

// publicAccessString describes a bucket's public access: Blocked, Allowed,
// or which half of Blocked is missing.
func publicAccessString(attrs *storage.BucketAttrs) string {
	enforced := attrs.PublicAccessPrevention == storage.PublicAccessPreventionEnforced
	switch {
	case enforced && attrs.UniformBucketLevelAccess.Enabled:
		return string(storagev1alpha1.PublicAccessBlocked)
	case enforced:
		return "Partially blocked (public access prevention enforced, uniform bucket-level access disabled)"
	}
	return string(storagev1alpha1.PublicAccessAllowed)
}

// desiredLifecycleRules returns the Cloud Storage lifecycle rules for the
// spec's. Cloud Storage rules have no names, and a rule's conditions must
// all hold, so a spec rule becomes one Delete rule per expiration it sets:
// expirationDays deletes live objects (isLive) of that age;
// noncurrentVersionExpirationDays deletes versions that many days after
// they became noncurrent. Both are limited to the rule's prefix.
func desiredLifecycleRules(rules []storagev1alpha1.LifecycleRule) []storage.LifecycleRule {
	var out []storage.LifecycleRule
	for _, r := range rules {
		var prefix []string
		if r.Prefix != "" {
			prefix = []string{r.Prefix}
		}
		if r.ExpirationDays != nil {
			out = append(out, storage.LifecycleRule{
				Action: storage.LifecycleAction{Type: storage.DeleteAction},
				Condition: storage.LifecycleCondition{
					AgeInDays:     int64(*r.ExpirationDays),
					Liveness:      storage.Live,
					MatchesPrefix: prefix,
				},
			})
		}
		if r.NoncurrentVersionExpirationDays != nil {
			out = append(out, storage.LifecycleRule{
				Action: storage.LifecycleAction{Type: storage.DeleteAction},
				Condition: storage.LifecycleCondition{
					DaysSinceNoncurrentTime: int64(*r.NoncurrentVersionExpirationDays),
					MatchesPrefix:           prefix,
				},
			})
		}
	}
	return out
}

// lifecycleString describes lifecycle rules compactly, sorted, such as
// "Delete: age=30d live prefix=logs/; Delete: noncurrent=7d". It mentions
// whatever a rule holds beyond what the spec can express, so that such a
// rule never compares equal to a spec's.
func lifecycleString(rules []storage.LifecycleRule) string {
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

func lifecycleRuleString(r storage.LifecycleRule) string {
	var attrs []string
	add := func(format string, args ...any) { attrs = append(attrs, fmt.Sprintf(format, args...)) }
	c := r.Condition
	switch {
	case c.AllObjects:
		add("age=0d")
	case c.AgeInDays > 0:
		add("age=%dd", c.AgeInDays)
	}
	switch c.Liveness {
	case storage.Live:
		add("live")
	case storage.Archived:
		add("noncurrent-only")
	}
	if c.DaysSinceNoncurrentTime > 0 {
		add("noncurrent=%dd", c.DaysSinceNoncurrentTime)
	}
	if len(c.MatchesPrefix) > 0 {
		add("prefix=%s", strings.Join(c.MatchesPrefix, ","))
	}
	if len(c.MatchesSuffix) > 0 {
		add("suffix=%s", strings.Join(c.MatchesSuffix, ","))
	}
	if len(c.MatchesStorageClasses) > 0 {
		add("storageClasses=%s", strings.Join(c.MatchesStorageClasses, ","))
	}
	if c.NumNewerVersions > 0 {
		add("newerVersions=%d", c.NumNewerVersions)
	}
	if c.DaysSinceCustomTime > 0 {
		add("sinceCustomTime=%dd", c.DaysSinceCustomTime)
	}
	if !c.CreatedBefore.IsZero() {
		add("createdBefore=%s", c.CreatedBefore.Format("2006-01-02"))
	}
	if !c.CustomTimeBefore.IsZero() {
		add("customTimeBefore=%s", c.CustomTimeBefore.Format("2006-01-02"))
	}
	if !c.NoncurrentTimeBefore.IsZero() {
		add("noncurrentTimeBefore=%s", c.NoncurrentTimeBefore.Format("2006-01-02"))
	}
	action := r.Action.Type
	if r.Action.StorageClass != "" {
		action += " to " + r.Action.StorageClass
	}
	if len(attrs) == 0 {
		return action
	}
	return action + ": " + strings.Join(attrs, " ")
}
