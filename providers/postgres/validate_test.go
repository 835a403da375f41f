package postgres

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
)

func TestNamesFor(t *testing.T) {
	db := func(owner string) *databasev1alpha1.Database {
		return &databasev1alpha1.Database{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "orders", UID: "1234-abcd"},
			Spec:       databasev1alpha1.DatabaseSpec{Owner: owner},
		}
	}
	long := strings.Repeat("x", 63)
	tests := []struct {
		reason   string
		owner    string
		external string
		want     names
	}{
		{
			reason:   "The owner defaults to the database name and _owner.",
			external: "team_a_orders",
			want:     names{database: "team_a_orders", owner: "team_a_orders_owner", comment: "managed by stratus: team-a/orders 1234-abcd", uid: "1234-abcd"},
		},
		{
			reason:   "spec.owner names the owner.",
			owner:    "app",
			external: "team_a_orders",
			want:     names{database: "team_a_orders", owner: "app", comment: "managed by stratus: team-a/orders 1234-abcd", uid: "1234-abcd"},
		},
		{
			reason:   "A default owner is cut to 63 bytes, keeping _owner.",
			external: long,
			want:     names{database: long, owner: long[:57] + "_owner", comment: "managed by stratus: team-a/orders 1234-abcd", uid: "1234-abcd"},
		},
		{
			reason:   "A default owner is not cut inside a character.",
			external: strings.Repeat("x", 56) + "é",
			want:     names{database: strings.Repeat("x", 56) + "é", owner: strings.Repeat("x", 56) + "_owner", comment: "managed by stratus: team-a/orders 1234-abcd", uid: "1234-abcd"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			got, err := namesFor(db(tt.owner), tt.external, "postgres", "postgres")
			if err != nil {
				t.Fatalf("%s\nnamesFor(...): %v", tt.reason, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(names{})); diff != "" {
				t.Errorf("%s\nnamesFor(...): -want, +got:\n%s", tt.reason, diff)
			}
			if len(got.owner) > maxIdentifierLength {
				t.Errorf("%s\nnamesFor(...) owner is %d bytes", tt.reason, len(got.owner))
			}
		})
	}
}

func TestManagedBy(t *testing.T) {
	tests := []struct {
		reason  string
		comment string
		uid     string
		want    bool
	}{
		{reason: "This object's mark.", comment: "managed by stratus: ns/a 1234", uid: "1234", want: true},
		{reason: "Another object's mark.", comment: "managed by stratus: ns/b 5678", uid: "1234", want: false},
		{reason: "A uid that only ends the same.", comment: "managed by stratus: ns/b 01234", uid: "1234", want: false},
		{reason: "Someone else's comment.", comment: "payments team, do not drop 1234", uid: "1234", want: false},
		{reason: "An object without a uid owns nothing.", comment: "managed by stratus: ns/a ", uid: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			if got := managedBy(tt.comment, tt.uid); got != tt.want {
				t.Errorf("%s\nmanagedBy(%q, %q) = %t; want %t", tt.reason, tt.comment, tt.uid, got, tt.want)
			}
		})
	}
}
