package aws

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	ktypes "k8s.io/apimachinery/pkg/types"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// testCluster is the cluster the tests' owners are in.
const testCluster = "stratus-test"

// testUID is a UID, shaped as Kubernetes makes them, that stands for the
// object namespace/name in the tests.
func testUID(namespace, name string) ktypes.UID {
	s := sha256.Sum256([]byte(namespace + "/" + name))
	return ktypes.UID(fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16]))
}

// testOwner is the owner of the tests' object namespace/name, as the
// reconciler puts it in a request.
func testOwner(namespace, name string) driver.Owner {
	return driver.Owner{Cluster: testCluster, Namespace: namespace, Name: name, UID: string(testUID(namespace, name))}
}

func TestOwnerTags(t *testing.T) {
	full := testOwner("team-a", "orders")
	cases := map[string]struct {
		reason     string
		owner      driver.Owner
		labels     map[string]string
		wantOwner  map[string]string
		wantMerged map[string]string
	}{
		"FullOwner": {
			reason: "Every part of the owner is a tag; the labels come along.",
			owner:  full,
			labels: map[string]string{"env": "prod"},
			wantOwner: map[string]string{
				driver.OwnerTag: full.ID(), driver.OwnerNamespaceTag: "team-a", driver.OwnerNameTag: "orders",
				driver.OwnerUIDTag: full.UID, driver.ClusterTag: testCluster,
			},
			wantMerged: map[string]string{
				"env": "prod", driver.OwnerTag: full.ID(), driver.OwnerNamespaceTag: "team-a", driver.OwnerNameTag: "orders",
				driver.OwnerUIDTag: full.UID, driver.ClusterTag: testCluster,
			},
		},
		"NoUIDNoCluster": {
			reason:     "Parts without a value are left out: they read back the same.",
			owner:      driver.Owner{Namespace: "team-a", Name: "orders"},
			wantOwner:  map[string]string{driver.OwnerTag: driver.Owner{Namespace: "team-a", Name: "orders"}.ID(), driver.OwnerNamespaceTag: "team-a", driver.OwnerNameTag: "orders"},
			wantMerged: map[string]string{driver.OwnerTag: driver.Owner{Namespace: "team-a", Name: "orders"}.ID(), driver.OwnerNamespaceTag: "team-a", driver.OwnerNameTag: "orders"},
		},
		"UnknownOwner": {
			reason:     "A request without an owner writes no mark, only the labels.",
			labels:     map[string]string{"env": "prod"},
			wantMerged: map[string]string{"env": "prod"},
		},
		"ForgedMarkInLabels": {
			reason: "Labels cannot hold a mark (the API refuses such keys): they are dropped, and the request's mark is written.",
			owner:  full,
			labels: map[string]string{driver.OwnerTag: "forged", "stratus-owner": "x", "env": "prod"},
			wantOwner: map[string]string{
				driver.OwnerTag: full.ID(), driver.OwnerNamespaceTag: "team-a", driver.OwnerNameTag: "orders",
				driver.OwnerUIDTag: full.UID, driver.ClusterTag: testCluster,
			},
			wantMerged: map[string]string{
				"env": "prod", driver.OwnerTag: full.ID(), driver.OwnerNamespaceTag: "team-a", driver.OwnerNameTag: "orders",
				driver.OwnerUIDTag: full.UID, driver.ClusterTag: testCluster,
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.wantOwner, ownerTags(tc.owner)); diff != "" {
				t.Errorf("%s\nownerTags(...): -want, +got:\n%s", tc.reason, diff)
			}
			merged := withOwnerTags(tc.labels, tc.owner)
			if diff := cmp.Diff(tc.wantMerged, merged); diff != "" {
				t.Errorf("%s\nwithOwnerTags(...): -want, +got:\n%s", tc.reason, diff)
			}
			// The mark reads back as the owner's, and the labels without it.
			wantMark := driver.OwnerMark{}
			if tc.owner.Known() {
				wantMark = tc.owner.Mark()
			}
			if diff := cmp.Diff(wantMark, driver.MarkFromTags(merged)); diff != "" {
				t.Errorf("%s\nthe mark read back: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(driver.WithoutOwnerKeys(tc.labels), driver.WithoutOwnerKeys(merged)); diff != "" {
				t.Errorf("%s\nthe labels read back: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestOwnershipDrift(t *testing.T) {
	mine := testOwner("team-a", "orders")
	theirs := testOwner("team-b", "orders")
	cases := map[string]struct {
		reason string
		owner  driver.Owner
		mark   driver.OwnerMark
		want   []stratusv1alpha1.DriftedField
	}{
		"Mine": {
			reason: "A resource with the request's mark has no ownership drift.",
			owner:  mine, mark: mine.Mark(),
		},
		"Unmarked": {
			reason: "An unmarked resource drifts in the ownership field.",
			owner:  mine,
			want:   []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField, Desired: mine.ID(), Observed: "None"}},
		},
		"Theirs": {
			reason: "Another owner's mark is drift, with that owner's ID observed.",
			owner:  mine, mark: theirs.Mark(),
			want: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField, Desired: mine.ID(), Observed: theirs.ID()}},
		},
		"UnknownOwner": {
			reason: "A request without an owner cannot tell: no drift.",
			mark:   theirs.Mark(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := driver.OwnershipDrift(tc.owner, tc.mark)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nownershipDrift(...): -want, +got:\n%s", tc.reason, diff)
			}
			if (len(driver.OwnershipDrift(tc.owner, tc.mark)) > 0) != (len(tc.want) > 0) {
				t.Errorf("%s\nhasOwnershipDrift(...) = %t", tc.reason, !(len(tc.want) > 0))
			}
		})
	}
}
