package gcp

import (
	"maps"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Ownership. Both clients write the owner mark of driver.Owner.Labels() as
// Google Cloud labels, in the create call itself: a bucket's labels in
// buckets.insert, an instance's settings.userLabels in instances.insert.
// Observe reads the labels back into Observation.Owner, keeps the mark's
// keys out of status.atProvider and of label drift, and reports
// driver.OwnershipField as drift when the mark is not the request's; Update
// then writes it. No write ever deletes a label of the mark.
//
// A request without an owner (the zero driver.Owner: a caller that predates
// ownership) writes no mark, never removes or replaces the mark a resource
// carries, and reports no ownership drift: the driver cannot tell whose
// resource it is, and a mark made of empty names would look like another
// owner's to every later reconcile.

// knowsOwner reports whether the request names its owner.
func knowsOwner(o driver.Owner) bool { return o != driver.Owner{} }

// ownerLabels returns the labels of o's owner mark; nil for an unknown
// owner.
func ownerLabels(o driver.Owner) map[string]string {
	if !knowsOwner(o) {
		return nil
	}
	return o.Labels()
}

// withOwnerLabels returns labels without any key of the owner mark (the
// operator's, never a user's) plus the labels of o's owner mark; nil when
// that is none.
func withOwnerLabels(labels map[string]string, o driver.Owner) map[string]string {
	out := driver.WithoutOwnerKeys(labels)
	if mark := ownerLabels(o); len(mark) > 0 {
		if out == nil {
			out = map[string]string{}
		}
		maps.Copy(out, mark)
	}
	return out
}

// ownershipDrift is driver.OwnershipDrift for a request that knows its
// owner, and none for one that does not.
func ownershipDrift(o driver.Owner, mark driver.OwnerMark) []stratusv1alpha1.DriftedField {
	if !knowsOwner(o) {
		return nil
	}
	return driver.OwnershipDrift(o, mark)
}

// hasOwnershipDrift reports whether the resource lacks o's mark, as
// ownershipDrift reports it.
func hasOwnershipDrift(o driver.Owner, mark driver.OwnerMark) bool {
	return len(ownershipDrift(o, mark)) > 0
}
