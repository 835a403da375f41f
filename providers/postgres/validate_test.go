package postgres

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
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
			want:     names{database: "team_a_orders", owner: "team_a_orders_owner", legacyComment: "managed by stratus: team-a/orders 1234-abcd"},
		},
		{
			reason:   "spec.owner names the owner.",
			owner:    "app",
			external: "team_a_orders",
			want:     names{database: "team_a_orders", owner: "app", legacyComment: "managed by stratus: team-a/orders 1234-abcd"},
		},
		{
			reason:   "A default owner is cut to 63 bytes, keeping _owner.",
			external: long,
			want:     names{database: long, owner: long[:57] + "_owner", legacyComment: "managed by stratus: team-a/orders 1234-abcd"},
		},
		{
			reason:   "A default owner is not cut inside a character.",
			external: strings.Repeat("x", 56) + "é",
			want:     names{database: strings.Repeat("x", 56) + "é", owner: strings.Repeat("x", 56) + "_owner", legacyComment: "managed by stratus: team-a/orders 1234-abcd"},
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

func TestNamesForRefusesReservedOwners(t *testing.T) {
	db := func(owner string) *databasev1alpha1.Database {
		return &databasev1alpha1.Database{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "orders", UID: "1234-abcd"},
			Spec:       databasev1alpha1.DatabaseSpec{Owner: owner},
		}
	}
	tests := []struct {
		reason   string
		owner    string
		external string
		want     string // in the error message
	}{
		{reason: "The bootstrap superuser's name.", owner: "postgres", external: "team_a_orders", want: "reserved"},
		{reason: "A predefined role.", owner: "pg_read_server_files", external: "team_a_orders", want: "reserved"},
		{reason: "Any pg_ name.", owner: "pg_anything", external: "team_a_orders", want: "reserved"},
		{reason: "PUBLIC is no role.", owner: "public", external: "team_a_orders", want: "reserved"},
		{reason: "The admin user.", owner: "stratus_admin", external: "team_a_orders", want: "admin user"},
		{reason: "A default owner named pg_ is refused, saying what to change.", external: "pg_stats", want: "choose another database name"},
		{reason: "An ordinary name is fine.", owner: "orders_app", external: "team_a_orders"},
		{reason: "The postgres database is the server's.", external: "postgres", want: "server's own"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			_, err := namesFor(db(tt.owner), tt.external, "admin_db", "stratus_admin")
			if tt.want == "" {
				if err != nil {
					t.Errorf("%s\nnamesFor(...): %v", tt.reason, err)
				}
				return
			}
			if !driver.IsTerminal(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s\nnamesFor(...): %v; want a terminal error containing %q", tt.reason, err, tt.want)
			}
		})
	}
}

func TestCarriesLegacyMark(t *testing.T) {
	n := names{legacyComment: "managed by stratus: ns/a 1234"}
	tests := []struct {
		reason  string
		comment string
		names   names
		want    bool
	}{
		{reason: "This object's mark.", comment: "managed by stratus: ns/a 1234", names: n, want: true},
		{reason: "Another object's mark.", comment: "managed by stratus: ns/b 5678", names: n, want: false},
		{reason: "Another object's mark with the same uid.", comment: "managed by stratus: ns/b 1234", names: n, want: false},
		{reason: "A uid that only ends the same.", comment: "managed by stratus: ns/a 01234", names: n, want: false},
		{reason: "Someone else's comment.", comment: "payments team, do not drop 1234", names: n, want: false},
		{reason: "An object without a uid owns nothing.", comment: "", names: names{}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			if got := carriesLegacyMark(tt.comment, tt.names); got != tt.want {
				t.Errorf("%s\ncarriesLegacyMark(%q) = %t; want %t", tt.reason, tt.comment, got, tt.want)
			}
		})
	}
}
