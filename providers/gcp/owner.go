package gcp

import (
	"maps"

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
// A request whose owner is not Known writes no mark and never removes or
// replaces one (driver.Owner.Known).

// ownerLabels returns the labels of o's owner mark; nil for an unknown
// owner.
func ownerLabels(o driver.Owner) map[string]string {
	if !o.Known() {
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
