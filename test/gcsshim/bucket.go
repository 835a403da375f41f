package gcsshim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The public access prevention values Cloud Storage returns.
const (
	papEnforced  = "enforced"
	papInherited = "inherited"
	// papUnspecified is the older name of inherited, accepted on input.
	papUnspecified = "unspecified"
)

// defaultLocation is where Cloud Storage creates a bucket that names none.
const defaultLocation = "US"

// uniformAccessLockDelay is how long after it is enabled uniform
// bucket-level access can still be disabled on Cloud Storage.
const uniformAccessLockDelay = 90 * 24 * time.Hour

// maxLabels is the most labels a bucket may have.
const maxLabels = 64

// maxLabelLength is the most characters a label key or value may have.
const maxLabelLength = 63

// multiRegions and dualRegions are the predefined locations that are not
// regions; every other location names a region, such as us-east1.
var (
	multiRegions = []string{"ASIA", "EU", "US"}
	dualRegions  = []string{"ASIA1", "EUR4", "EUR5", "EUR7", "EUR8", "NAM4"}
	regionRegexp = regexp.MustCompile(`^[A-Z]+-[A-Z]+[0-9]+$`)
)

// kmsKeyRegexp matches a Cloud KMS crypto key's resource name.
var kmsKeyRegexp = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// lifecycleActions are the lifecycle action types Cloud Storage knows.
var lifecycleActions = []string{"Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"}

// The bucket resource's fields the shim implements.
const (
	fieldLocation   = "location"
	fieldLabels     = "labels"
	fieldIAM        = "iamConfiguration"
	fieldLifecycle  = "lifecycle"
	fieldEncryption = "encryption"
)

// bucketState is what the shim keeps of one bucket.
type bucketState struct {
	// location is upper-case; empty for a bucket created behind the shim's
	// back, whose location is the emulator's.
	location string
	labels   map[string]string
	// uniformAccessSince is when uniform bucket-level access was enabled;
	// zero when it is disabled.
	uniformAccessSince     time.Time
	publicAccessPrevention string
	lifecycle              []lifecycleRule
	kmsKeyName             string
}

// newBucketState returns the state of a new bucket in Cloud Storage's
// defaults.
func newBucketState() *bucketState {
	return &bucketState{publicAccessPrevention: papInherited}
}

func (s *bucketState) clone() *bucketState {
	c := *s
	c.labels = maps.Clone(s.labels)
	c.lifecycle = slices.Clone(s.lifecycle)
	return &c
}

// The wire format of the fields, as the Cloud Storage JSON API has them.
type (
	iamConfigurationJSON struct {
		BucketPolicyOnly         *uniformAccessJSON `json:"bucketPolicyOnly,omitempty"`
		UniformBucketLevelAccess *uniformAccessJSON `json:"uniformBucketLevelAccess,omitempty"`
		PublicAccessPrevention   string             `json:"publicAccessPrevention,omitempty"`
	}
	uniformAccessJSON struct {
		Enabled    bool   `json:"enabled"`
		LockedTime string `json:"lockedTime,omitempty"`
	}
	lifecycleJSON struct {
		Rule []lifecycleRule `json:"rule"`
	}
	lifecycleRule struct {
		Action    lifecycleAction    `json:"action"`
		Condition lifecycleCondition `json:"condition"`
	}
	lifecycleAction struct {
		Type         string `json:"type"`
		StorageClass string `json:"storageClass,omitempty"`
	}
	lifecycleCondition struct {
		Age                     *int64   `json:"age,omitempty"`
		CreatedBefore           string   `json:"createdBefore,omitempty"`
		CustomTimeBefore        string   `json:"customTimeBefore,omitempty"`
		DaysSinceCustomTime     *int64   `json:"daysSinceCustomTime,omitempty"`
		DaysSinceNoncurrentTime *int64   `json:"daysSinceNoncurrentTime,omitempty"`
		IsLive                  *bool    `json:"isLive,omitempty"`
		MatchesPattern          string   `json:"matchesPattern,omitempty"`
		MatchesPrefix           []string `json:"matchesPrefix,omitempty"`
		MatchesStorageClass     []string `json:"matchesStorageClass,omitempty"`
		MatchesSuffix           []string `json:"matchesSuffix,omitempty"`
		NoncurrentTimeBefore    string   `json:"noncurrentTimeBefore,omitempty"`
		NumNewerVersions        *int64   `json:"numNewerVersions,omitempty"`
	}
	encryptionJSON struct {
		DefaultKmsKeyName string `json:"defaultKmsKeyName,omitempty"`
	}
)

// invalidError is a request Cloud Storage would refuse with 400.
type invalidError struct {
	reason string
	msg    string
}

func (e *invalidError) Error() string { return e.msg }

func invalidf(format string, args ...any) error {
	return &invalidError{reason: "invalid", msg: fmt.Sprintf(format, args...)}
}

// isNull reports whether a raw JSON value is null.
func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// decodeStrict decodes raw into v, refusing fields v does not have.
func decodeStrict(raw json.RawMessage, v any, field string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidf("Invalid value for %s: %v (gcsshim implements only part of this field)", field, err)
	}
	return nil
}

// decodeObject decodes a JSON object into its members.
func decodeObject(raw json.RawMessage, field string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalidf("Invalid value for %s: %v", field, err)
	}
	return m, nil
}

// applyInsert sets the fields of a bucket resource sent with an insert on a
// new bucket's state. Null fields count as absent.
func applyInsert(st *bucketState, res map[string]json.RawMessage, now time.Time) error {
	st.location = defaultLocation
	if raw, ok := res[fieldLocation]; ok && !isNull(raw) {
		var loc string
		if err := json.Unmarshal(raw, &loc); err != nil {
			return invalidf("Invalid value for location: %v", err)
		}
		loc, err := normalizeLocation(loc)
		if err != nil {
			return err
		}
		st.location = loc
	}
	return applyPatch(st, res, now)
}

// applyPatch applies a patch of the bucket resource to st, with Cloud
// Storage's patch semantics. Location is left alone: it cannot change.
func applyPatch(st *bucketState, patch map[string]json.RawMessage, now time.Time) error {
	if raw, ok := patch[fieldLabels]; ok {
		if err := patchLabels(st, raw); err != nil {
			return err
		}
	}
	if raw, ok := patch[fieldIAM]; ok {
		if err := patchIAM(st, raw, now); err != nil {
			return err
		}
	}
	if raw, ok := patch[fieldLifecycle]; ok {
		if err := patchLifecycle(st, raw); err != nil {
			return err
		}
	}
	if raw, ok := patch[fieldEncryption]; ok {
		if err := patchEncryption(st, raw); err != nil {
			return err
		}
	}
	return nil
}

// applyUpdate replaces every field of st, but its location, with those of a
// full bucket resource, as an update (PUT) does.
func applyUpdate(st *bucketState, res map[string]json.RawMessage, now time.Time) error {
	fresh := newBucketState()
	fresh.location = st.location
	if err := applyPatch(fresh, res, now); err != nil {
		return err
	}
	// Uniform access that stays enabled keeps the time it was enabled.
	if !fresh.uniformAccessSince.IsZero() && !st.uniformAccessSince.IsZero() {
		fresh.uniformAccessSince = st.uniformAccessSince
	}
	*st = *fresh
	return nil
}

func patchLabels(st *bucketState, raw json.RawMessage) error {
	if isNull(raw) {
		st.labels = nil
		return nil
	}
	var labels map[string]*string
	if err := json.Unmarshal(raw, &labels); err != nil {
		return invalidf("Invalid value for labels: %v", err)
	}
	next := maps.Clone(st.labels)
	if next == nil {
		next = map[string]string{}
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		v := labels[k]
		if v == nil {
			delete(next, k)
			continue
		}
		if err := validateLabel(k, *v); err != nil {
			return err
		}
		next[k] = *v
	}
	if len(next) > maxLabels {
		return invalidf("A bucket may have at most %d labels, not %d.", maxLabels, len(next))
	}
	if len(next) == 0 {
		next = nil
	}
	st.labels = next
	return nil
}

// validateLabel checks a label against Cloud Storage's rules: keys of 1 to
// 63 characters that start with a lowercase letter, values of up to 63
// characters, both of lowercase letters, digits, underscores and dashes
// (international letters allowed).
func validateLabel(key, value string) error {
	if n := utf8.RuneCountInString(key); n == 0 || n > maxLabelLength {
		return invalidf("Label key %q must be 1 to %d characters long.", key, maxLabelLength)
	}
	if first, _ := utf8.DecodeRuneInString(key); !isLowerLetter(first) {
		return invalidf("Label key %q must start with a lowercase letter.", key)
	}
	for _, s := range []struct{ what, text string }{{"key", key}, {"value", value}} {
		if utf8.RuneCountInString(s.text) > maxLabelLength {
			return invalidf("Label %s %q must be at most %d characters long.", s.what, s.text, maxLabelLength)
		}
		for _, r := range s.text {
			if !isLowerLetter(r) && !('0' <= r && r <= '9') && r != '_' && r != '-' {
				return invalidf("Label %s %q may contain only lowercase letters, digits, underscores and dashes.", s.what, s.text)
			}
		}
	}
	return nil
}

// isLowerLetter reports whether r is a lowercase letter or a letter without
// case.
func isLowerLetter(r rune) bool {
	return unicode.IsLetter(r) && !unicode.IsUpper(r) && !unicode.IsTitle(r)
}

func patchIAM(st *bucketState, raw json.RawMessage, now time.Time) error {
	if isNull(raw) {
		st.uniformAccessSince = time.Time{}
		st.publicAccessPrevention = papInherited
		return nil
	}
	m, err := decodeObject(raw, fieldIAM)
	if err != nil {
		return err
	}
	for member := range m {
		switch member {
		case "uniformBucketLevelAccess", "bucketPolicyOnly", "publicAccessPrevention":
		default:
			return invalidf("gcsshim does not implement iamConfiguration.%s", member)
		}
	}
	// bucketPolicyOnly is the old name of uniformBucketLevelAccess.
	for _, member := range []string{"bucketPolicyOnly", "uniformBucketLevelAccess"} {
		raw, ok := m[member]
		if !ok {
			continue
		}
		enabled := false
		if !isNull(raw) {
			var u struct {
				Enabled    *bool  `json:"enabled"`
				LockedTime string `json:"lockedTime"`
			}
			if err := decodeStrict(raw, &u, fieldIAM+"."+member); err != nil {
				return err
			}
			if u.Enabled == nil {
				continue
			}
			enabled = *u.Enabled
		}
		switch {
		case enabled && st.uniformAccessSince.IsZero():
			st.uniformAccessSince = now
		case !enabled:
			st.uniformAccessSince = time.Time{}
		}
	}
	if raw, ok := m["publicAccessPrevention"]; ok {
		pap := papInherited
		if !isNull(raw) {
			if err := json.Unmarshal(raw, &pap); err != nil {
				return invalidf("Invalid value for iamConfiguration.publicAccessPrevention: %v", err)
			}
		}
		switch pap {
		case papEnforced, papInherited:
		case papUnspecified:
			pap = papInherited
		default:
			return invalidf("Invalid value for iamConfiguration.publicAccessPrevention: %q; want %q or %q", pap, papEnforced, papInherited)
		}
		st.publicAccessPrevention = pap
	}
	return nil
}

func patchLifecycle(st *bucketState, raw json.RawMessage) error {
	if isNull(raw) {
		st.lifecycle = nil
		return nil
	}
	m, err := decodeObject(raw, fieldLifecycle)
	if err != nil {
		return err
	}
	for member := range m {
		if member != "rule" {
			return invalidf("gcsshim does not implement lifecycle.%s", member)
		}
	}
	rulesRaw, ok := m["rule"]
	if !ok {
		return nil // an empty patch of the lifecycle changes nothing
	}
	var rules []lifecycleRule
	if !isNull(rulesRaw) {
		if err := decodeStrict(rulesRaw, &rules, "lifecycle.rule"); err != nil {
			return err
		}
	}
	if len(rules) > 100 {
		return invalidf("A bucket may have at most 100 lifecycle rules, not %d.", len(rules))
	}
	for i, r := range rules {
		if err := validateRule(r); err != nil {
			return invalidf("Invalid lifecycle rule %d: %v", i, err)
		}
	}
	st.lifecycle = rules
	if len(rules) == 0 {
		st.lifecycle = nil
	}
	return nil
}

// validateRule checks a lifecycle rule as Cloud Storage does.
func validateRule(r lifecycleRule) error {
	if !slices.Contains(lifecycleActions, r.Action.Type) {
		return fmt.Errorf("action.type %q is not one of %s", r.Action.Type, strings.Join(lifecycleActions, ", "))
	}
	if (r.Action.Type == "SetStorageClass") != (r.Action.StorageClass != "") {
		return fmt.Errorf("action.storageClass is required with SetStorageClass and only with it")
	}
	c := r.Condition
	if c.Age == nil && c.CreatedBefore == "" && c.CustomTimeBefore == "" && c.DaysSinceCustomTime == nil &&
		c.DaysSinceNoncurrentTime == nil && c.IsLive == nil && c.MatchesPattern == "" && len(c.MatchesPrefix) == 0 &&
		len(c.MatchesStorageClass) == 0 && len(c.MatchesSuffix) == 0 && c.NoncurrentTimeBefore == "" && c.NumNewerVersions == nil {
		return fmt.Errorf("the condition is empty")
	}
	for name, v := range map[string]*int64{
		"age": c.Age, "daysSinceCustomTime": c.DaysSinceCustomTime,
		"daysSinceNoncurrentTime": c.DaysSinceNoncurrentTime, "numNewerVersions": c.NumNewerVersions,
	} {
		if v != nil && *v < 0 {
			return fmt.Errorf("condition.%s must not be negative", name)
		}
	}
	for name, v := range map[string]string{
		"createdBefore": c.CreatedBefore, "customTimeBefore": c.CustomTimeBefore, "noncurrentTimeBefore": c.NoncurrentTimeBefore,
	} {
		if _, err := time.Parse(time.DateOnly, v); v != "" && err != nil {
			return fmt.Errorf("condition.%s %q is not a date (YYYY-MM-DD)", name, v)
		}
	}
	return nil
}

func patchEncryption(st *bucketState, raw json.RawMessage) error {
	if isNull(raw) {
		st.kmsKeyName = ""
		return nil
	}
	m, err := decodeObject(raw, fieldEncryption)
	if err != nil {
		return err
	}
	for member := range m {
		if member != "defaultKmsKeyName" {
			return invalidf("gcsshim does not implement encryption.%s", member)
		}
	}
	keyRaw, ok := m["defaultKmsKeyName"]
	if !ok {
		return nil
	}
	key := ""
	if !isNull(keyRaw) {
		if err := json.Unmarshal(keyRaw, &key); err != nil {
			return invalidf("Invalid value for encryption.defaultKmsKeyName: %v", err)
		}
	}
	if key != "" && !kmsKeyRegexp.MatchString(key) {
		return invalidf("Invalid value for encryption.defaultKmsKeyName: %q is not a Cloud KMS key name "+
			"(projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY)", key)
	}
	st.kmsKeyName = key
	return nil
}

// normalizeLocation returns a location upper-case, as Cloud Storage stores
// it, or an error if it names no location.
func normalizeLocation(loc string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(loc))
	if slices.Contains(multiRegions, up) || slices.Contains(dualRegions, up) || regionRegexp.MatchString(up) {
		return up, nil
	}
	return "", &invalidError{reason: "invalid", msg: fmt.Sprintf("The specified location constraint is not valid: %q.", loc)}
}

// locationType returns the locationType Cloud Storage reports for a location.
func locationType(loc string) string {
	switch {
	case slices.Contains(multiRegions, loc):
		return "multi-region"
	case slices.Contains(dualRegions, loc):
		return "dual-region"
	}
	return "region"
}

// render merges st into a bucket resource the emulator returned.
func render(res map[string]json.RawMessage, st *bucketState) error {
	set := func(key string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		res[key] = b
		return nil
	}
	if st.location != "" {
		if err := set(fieldLocation, st.location); err != nil {
			return err
		}
		if err := set("locationType", locationType(st.location)); err != nil {
			return err
		}
	}
	delete(res, fieldLabels)
	if len(st.labels) > 0 {
		if err := set(fieldLabels, st.labels); err != nil {
			return err
		}
	}
	ubla := &uniformAccessJSON{Enabled: !st.uniformAccessSince.IsZero()}
	if ubla.Enabled {
		ubla.LockedTime = st.uniformAccessSince.Add(uniformAccessLockDelay).UTC().Format(time.RFC3339Nano)
	}
	if err := set(fieldIAM, iamConfigurationJSON{
		BucketPolicyOnly:         ubla,
		UniformBucketLevelAccess: ubla,
		PublicAccessPrevention:   st.publicAccessPrevention,
	}); err != nil {
		return err
	}
	delete(res, fieldLifecycle)
	if len(st.lifecycle) > 0 {
		if err := set(fieldLifecycle, lifecycleJSON{Rule: st.lifecycle}); err != nil {
			return err
		}
	}
	delete(res, fieldEncryption)
	if st.kmsKeyName != "" {
		if err := set(fieldEncryption, encryptionJSON{DefaultKmsKeyName: st.kmsKeyName}); err != nil {
			return err
		}
	}
	return nil
}
