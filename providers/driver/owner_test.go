package driver

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOwnerMarks(t *testing.T) {
	labelValue := regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	cases := []struct {
		reason string
		owner  Owner
		// inLabels is what the Google Cloud labels can hold of the mark.
		inLabels OwnerMark
	}{
		{
			reason:   "a plain name fits every encoding",
			owner:    Owner{Cluster: "c1", Namespace: "team-a", Name: "logs", UID: "0b1c2d3e-aaaa-bbbb-cccc-000000000001"},
			inLabels: OwnerMark{Namespace: "team-a", Name: "logs", UID: "0b1c2d3e-aaaa-bbbb-cccc-000000000001"},
		},
		{
			reason:   "a dotted name is no label value: the ID alone proves ownership there",
			owner:    Owner{Cluster: "c1", Namespace: "team-a", Name: "app.v1", UID: "u1"},
			inLabels: OwnerMark{Namespace: "team-a", UID: "u1"},
		},
		{
			reason:   "a name longer than 63 characters likewise",
			owner:    Owner{Cluster: "c1", Namespace: "ns", Name: strings.Repeat("n", 100), UID: "u2"},
			inLabels: OwnerMark{Namespace: "ns", UID: "u2"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			want := tc.owner.Mark()
			if !labelValue.MatchString(want.ID) || len(want.ID) != ownerIDLength {
				t.Errorf("ID %q is not a 32-character label value", want.ID)
			}
			if diff := cmp.Diff(want, MarkFromTags(tc.owner.Tags())); diff != "" {
				t.Errorf("tags round trip: -want, +got:\n%s", diff)
			}
			if diff := cmp.Diff(want, MarkFromComment(tc.owner.Comment())); diff != "" {
				t.Errorf("comment round trip: -want, +got:\n%s", diff)
			}
			labels := tc.owner.Labels()
			for k, v := range labels {
				if !labelValue.MatchString(k) || !labelValue.MatchString(v) {
					t.Errorf("label %s=%s is not valid on Google Cloud", k, v)
				}
			}
			tc.inLabels.ID = want.ID
			if diff := cmp.Diff(tc.inLabels, MarkFromLabels(labels)); diff != "" {
				t.Errorf("labels round trip: -want, +got:\n%s", diff)
			}
			if !want.Names(tc.owner.Cluster) || want.Names("another-cluster") {
				t.Errorf("Names: the mark must name its object in its own cluster only")
			}
			if len(OwnershipDrift(tc.owner, want)) != 0 || len(OwnershipDrift(tc.owner, OwnerMark{})) != 1 {
				t.Errorf("OwnershipDrift: none for the owner's own mark, one field for no mark")
			}
		})
	}
}

func TestOwnerIdentity(t *testing.T) {
	a := Owner{Cluster: "c1", Namespace: "team", Name: "a-logs"}
	for _, other := range []Owner{
		{Cluster: "c1", Namespace: "team-a", Name: "logs"},
		{Cluster: "c2", Namespace: "team", Name: "a-logs"},
		{Cluster: "c1", Namespace: "team", Name: "a-log"},
	} {
		if a.ID() == other.ID() {
			t.Errorf("%+v and %+v share the owner ID %s", a, other, a.ID())
		}
	}
	if recreated := (Owner{Cluster: "c1", Namespace: "team", Name: "a-logs", UID: "new"}); recreated.ID() != a.ID() {
		t.Error("an object recreated under the same name must be the same owner")
	}
	for _, foreign := range []string{"", "a comment a user wrote", "stratus.dev/owner not-json"} {
		if m := MarkFromComment(foreign); m.Marked() {
			t.Errorf("comment %q read as a mark %+v", foreign, m)
		}
	}
	if got := WithoutOwnerKeys(map[string]string{"team": "a", OwnerTag: "x", OwnerLabel: "y", OwnerUIDLabel: "z"}); !cmp.Equal(got, map[string]string{"team": "a"}) {
		t.Errorf("WithoutOwnerKeys = %v", got)
	}
}
