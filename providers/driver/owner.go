package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
)

// Owner is the Kubernetes object a cloud resource belongs to. Every driver
// writes it on each resource it creates (a tag, a label, a comment: whatever
// the service offers), and Observe reads it back, so that ownership is proven
// in the cloud and not by an annotation a user can write.
type Owner struct {
	// Cluster names the cluster the operator runs in.
	Cluster string
	// Namespace and Name of the managed resource.
	Namespace, Name string
	// UID of the managed resource, for people; the identity is cluster,
	// namespace and name, so that an object recreated under the same name
	// (after Orphan, or restored from a backup) is the same owner.
	UID string
}

// OwnerMark is what a cloud resource says about its owner, as Observe read
// it. The zero value is a resource without a mark.
type OwnerMark struct {
	// ID is the owner's Owner.ID; "" when the resource carries no mark.
	ID string
	// Namespace, Name and UID of the owner, where the cloud could store them.
	Namespace, Name, UID string
}

// Marked reports whether the resource carries an owner mark.
func (m OwnerMark) Marked() bool { return m.ID != "" }

// Keys of the owner mark. Tags (AWS) take the first form, labels (Google
// Cloud) the second, whose keys and values allow only lowercase letters,
// digits, '-' and '_' and at most 63 characters.
const (
	OwnerTag          = "stratus.dev/owner"
	OwnerNamespaceTag = "stratus.dev/owner-namespace"
	OwnerNameTag      = "stratus.dev/owner-name"
	OwnerUIDTag       = "stratus.dev/owner-uid"
	ClusterTag        = "stratus.dev/cluster"

	OwnerLabel          = "stratus-owner"
	OwnerNamespaceLabel = "stratus-owner-namespace"
	OwnerNameLabel      = "stratus-owner-name"
	OwnerUIDLabel       = "stratus-owner-uid"
)

// ownerIDLength is the length of an owner ID in hex digits: 128 bits.
const ownerIDLength = 32

// ID is a digest of the owner's cluster, namespace and name: 32 lowercase
// hex digits, a valid tag and label value everywhere.
func (o Owner) ID() string {
	sum := sha256.Sum256([]byte(o.Cluster + "\x00" + o.Namespace + "\x00" + o.Name))
	return hex.EncodeToString(sum[:])[:ownerIDLength]
}

// Known reports whether o names an object. A request with the zero Owner
// (a caller that predates ownership) writes no mark, never removes or
// replaces the mark a resource carries, and gets no ownership drift: a mark
// made of empty names would look like another owner's to every later
// reconcile.
func (o Owner) Known() bool { return o != Owner{} }

// Mark is the mark o writes.
func (o Owner) Mark() OwnerMark {
	return OwnerMark{ID: o.ID(), Namespace: o.Namespace, Name: o.Name, UID: o.UID}
}

// Names reports whether the mark's namespace and name, in cluster, are the
// ones its ID was made from: the mark then names an object of that cluster,
// which may be looked up.
func (m OwnerMark) Names(cluster string) bool {
	return m.ID != "" && m.Name != "" && Owner{Cluster: cluster, Namespace: m.Namespace, Name: m.Name}.ID() == m.ID
}

// Tags returns the owner mark as AWS tags.
func (o Owner) Tags() map[string]string {
	t := map[string]string{OwnerTag: o.ID(), OwnerNamespaceTag: o.Namespace, OwnerNameTag: o.Name, OwnerUIDTag: o.UID}
	if o.Cluster != "" {
		t[ClusterTag] = o.Cluster
	}
	return t
}

// MarkFromTags reads an owner mark from AWS tags.
func MarkFromTags(tags map[string]string) OwnerMark {
	return OwnerMark{ID: tags[OwnerTag], Namespace: tags[OwnerNamespaceTag], Name: tags[OwnerNameTag], UID: tags[OwnerUIDTag]}
}

// labelValue matches what a Google Cloud label value may hold.
var labelValue = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)

// Labels returns the owner mark as Google Cloud labels. The namespace, name
// and UID are left out where they are not valid label values (a name with
// dots, or longer than 63 characters): the ID alone still proves ownership.
func (o Owner) Labels() map[string]string {
	l := map[string]string{OwnerLabel: o.ID()}
	for k, v := range map[string]string{OwnerNamespaceLabel: o.Namespace, OwnerNameLabel: o.Name, OwnerUIDLabel: o.UID} {
		if v != "" && labelValue.MatchString(v) {
			l[k] = v
		}
	}
	return l
}

// MarkFromLabels reads an owner mark from Google Cloud labels.
func MarkFromLabels(labels map[string]string) OwnerMark {
	return OwnerMark{ID: labels[OwnerLabel], Namespace: labels[OwnerNamespaceLabel], Name: labels[OwnerNameLabel], UID: labels[OwnerUIDLabel]}
}

// IsOwnerKey reports whether a tag or label key belongs to the owner mark,
// which is the operator's and never part of a spec's labels.
func IsOwnerKey(key string) bool {
	return strings.HasPrefix(key, "stratus.dev/") || strings.HasPrefix(key, OwnerLabel)
}

// WithoutOwnerKeys returns tags or labels without the owner mark's keys.
func WithoutOwnerKeys(m map[string]string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if IsOwnerKey(k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// commentPrefix starts a comment that holds an owner mark.
const commentPrefix = "stratus.dev/owner "

// Comment returns the owner mark as a SQL comment (PostgreSQL COMMENT ON).
func (o Owner) Comment() string {
	b, _ := json.Marshal(map[string]string{"id": o.ID(), "cluster": o.Cluster, "namespace": o.Namespace, "name": o.Name, "uid": o.UID})
	return commentPrefix + string(b)
}

// MarkFromComment reads an owner mark from a SQL comment; a comment the
// operator did not write is no mark.
func MarkFromComment(comment string) OwnerMark {
	rest, ok := strings.CutPrefix(comment, commentPrefix)
	if !ok {
		return OwnerMark{}
	}
	var m map[string]string
	if json.Unmarshal([]byte(rest), &m) != nil {
		return OwnerMark{}
	}
	return OwnerMark{ID: m["id"], Namespace: m["namespace"], Name: m["name"], UID: m["uid"]}
}

// OwnershipField is the drift field Observe reports for a resource that
// lacks this object's owner mark (one the operator claims, adopts, or made
// before it wrote marks): Update then writes the mark.
const OwnershipField = "metadata.owner"

// OwnershipDrift is the drift of a resource whose mark is not want's: none
// when it is (or want is not Known), one field when it is not (Update then
// writes want's mark).
func OwnershipDrift(want Owner, got OwnerMark) []stratusv1alpha1.DriftedField {
	if !want.Known() || got.ID == want.ID() {
		return nil
	}
	observed := got.ID
	if observed == "" {
		observed = NoValue
	}
	return []stratusv1alpha1.DriftedField{Drifted(OwnershipField, want.ID(), observed)}
}
