package aws

import (
	"maps"

	"github.com/stratus-operator/stratus/providers/driver"
)

// Ownership. Both clients write the owner mark of driver.Owner.Tags() as AWS
// tags: an RDS instance in CreateDBInstance itself, a bucket in the first
// call after CreateBucket. Observe reads the tags back into
// Observation.Owner and reports driver.OwnershipField as drift when the mark
// is not the request's; Update then writes it.
//
// A request whose owner is not Known writes no mark and never removes or
// replaces one (driver.Owner.Known).

// ownerTags returns the tags of o's owner mark, leaving out those with empty
// values (a UID or cluster that is not known), which read back the same
// through driver.MarkFromTags; nil for an unknown owner.
func ownerTags(o driver.Owner) map[string]string {
	if !o.Known() {
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
