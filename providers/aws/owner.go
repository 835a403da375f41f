package aws

import (
	"maps"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// Ownership. Both clients write the owner mark of driver.Owner.Tags() as AWS
// tags: an RDS instance in CreateDBInstance itself, a bucket in the first
// call after CreateBucket. Observe reads the tags back into
// Observation.Owner and reports driver.OwnershipField as drift when the mark
// is not the request's; Update then writes it.
//
// A request without an owner (the zero driver.Owner: a caller that predates
// ownership) writes no mark, never removes or replaces the mark a resource
// carries, and reports no ownership drift: the driver cannot tell whose
// resource it is, and a mark made of empty names would look like another
// owner's to every later reconcile.

// knowsOwner reports whether the request names its owner.
func knowsOwner(o driver.Owner) bool { return o != driver.Owner{} }

// ownerTags returns the tags of o's owner mark, leaving out those with empty
// values (a UID or cluster that is not known), which read back the same
// through driver.MarkFromTags; nil for an unknown owner.
func ownerTags(o driver.Owner) map[string]string {
	if !knowsOwner(o) {
		return nil
	}
	tags := o.Tags()
	maps.DeleteFunc(tags, func(_, v string) bool { return v == "" })
	return tags
}

// withOwnerTags returns labels, without any key of the owner mark (which is
// the operator's and never a user's), and the tags of o's owner mark.
func withOwnerTags(labels map[string]string, o driver.Owner) map[string]string {
	out := driver.WithoutOwnerKeys(labels)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, ownerTags(o))
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
