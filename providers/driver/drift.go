package driver

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// MaxDriftValueLength is the longest desired or observed value a
// DriftedField holds: the API's limit.
const MaxDriftValueLength = 1024

// NoValue stands, in drift values, for a setting that is not configured.
const NoValue = "None"

// Drifted returns a drifted field whose values are cut to
// MaxDriftValueLength, marked with "...", without splitting a UTF-8
// sequence.
func Drifted(field, desired, observed string) stratusv1alpha1.DriftedField {
	return stratusv1alpha1.DriftedField{
		Field:    field,
		Desired:  truncate(desired, MaxDriftValueLength),
		Observed: truncate(observed, MaxDriftValueLength),
	}
}

// FormatLabels formats labels or tags as "k=v, k=v" in key order, or
// NoValue when there are none.
func FormatLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return NoValue
	}
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "..."
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
