package gcp

import (
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sqladmin "google.golang.org/api/sqladmin/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/test/fakes/cloudsql"
)

// sqlTestInsertBehind creates, behind the driver's back, the instance the
// driver would create for req, without an owner mark but with labels and
// what mutate changes, and waits for it to run.
func sqlTestInsertBehind(t *testing.T, s *cloudsql.Server, admin *sqladmin.Service, c sqlDBClient, req sqlDBRequest, labels map[string]string, mutate func(*sqladmin.DatabaseInstance)) {
	t.Helper()
	target, err := c.(*sqlClient).target(req)
	if err != nil {
		t.Fatal(err)
	}
	in := target.newInstance(driver.Owner{})
	in.Settings.UserLabels = labels
	if mutate != nil {
		mutate(in)
	}
	if _, err := admin.Instances.Insert(s.ProjectID, in).Do(); err != nil {
		t.Fatalf("instances.insert behind the driver's back: %v", err)
	}
	s.Settle()
}

// sqlTestLabels reads an instance's userLabels with a plain client.
func sqlTestLabels(t *testing.T, admin *sqladmin.Service, s *cloudsql.Server, name string) map[string]string {
	t.Helper()
	in, err := admin.Instances.Get(s.ProjectID, name).Do()
	if err != nil {
		t.Fatalf("instances.get %q: %v", name, err)
	}
	return in.Settings.UserLabels
}

// sqlOwnershipDrift returns the drift of the ownership field in drift.
func sqlOwnershipDrift(drift []stratusv1alpha1.DriftedField) []stratusv1alpha1.DriftedField {
	var out []stratusv1alpha1.DriftedField
	for _, d := range drift {
		if d.Field == driver.OwnershipField {
			out = append(out, d)
		}
	}
	return out
}

// withLabels returns m with the entries of more over it.
func withLabels(m map[string]string, more map[string]string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, more)
	return out
}

func TestCloudSQLOwnerMark(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s)
	other := driver.Owner{Cluster: sqlTestCluster, Namespace: "other", Name: "someone-else", UID: "0f0f0f0f-1111"}

	tests := []struct {
		reason string
		name   string
		// behind, unless nil, are the userLabels of an instance created
		// behind the driver's back before Create; nil: Create makes it.
		behind map[string]string
		// wantMark is what Observe reports the instance carries before
		// Update, for owner, the request's.
		wantMark func(owner driver.Owner) driver.OwnerMark
		// wantObserved is the observed value of the ownership drift, ""
		// for none.
		wantObserved func(owner driver.Owner) string
		// wantLabels are the instance's userLabels once Update is done.
		wantLabels func(owner driver.Owner) map[string]string
	}{
		{
			reason:       "Create stamps the owner mark in instances.insert itself: Observe reports it, without ownership drift.",
			name:         "stamped",
			wantMark:     func(o driver.Owner) driver.OwnerMark { return o.Mark() },
			wantObserved: func(driver.Owner) string { return "" },
			wantLabels:   func(o driver.Owner) map[string]string { return o.Labels() },
		},
		{
			reason:       "An unmarked instance is reported without a mark, with ownership drift; Update stamps it, keeping its labels.",
			name:         "unmarked",
			behind:       map[string]string{"team": "data"},
			wantMark:     func(driver.Owner) driver.OwnerMark { return driver.OwnerMark{} },
			wantObserved: func(driver.Owner) string { return driver.NoValue },
			wantLabels: func(o driver.Owner) map[string]string {
				return withLabels(map[string]string{"team": "data"}, o.Labels())
			},
		},
		{
			reason:       "An unmarked instance without labels is reported the same, and Update stamps it.",
			name:         "bare",
			behind:       map[string]string{},
			wantMark:     func(driver.Owner) driver.OwnerMark { return driver.OwnerMark{} },
			wantObserved: func(driver.Owner) string { return driver.NoValue },
			wantLabels:   func(o driver.Owner) map[string]string { return o.Labels() },
		},
		{
			reason:       "Another owner's mark is reported as it is, with ownership drift; Update (once the reconciler decides the instance is this object's) writes the mark over it, key by key.",
			name:         "other-owner",
			behind:       withLabels(map[string]string{"team": "data"}, other.Labels()),
			wantMark:     func(driver.Owner) driver.OwnerMark { return other.Mark() },
			wantObserved: func(driver.Owner) string { return other.ID() },
			wantLabels: func(o driver.Owner) map[string]string {
				return withLabels(map[string]string{"team": "data"}, o.Labels())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			db := sqlTestDatabase(tt.name)
			req := sqlTestRequest(db, sqlTestPassword(t, c))
			owner := req.Owner
			name := sqlTestInstanceName(db)
			ctx := t.Context()

			if tt.behind != nil {
				sqlTestInsertBehind(t, s, admin, c, req, tt.behind, nil)
			}
			before, _ := s.Instance(name)
			s.ResetCalls()
			if _, err := c.Create(ctx, req); err != nil {
				t.Fatalf("%s\nCreate(...): %v", tt.reason, err)
			}
			if tt.behind != nil {
				// An existing instance is only read: nothing changes.
				want := map[string]int{cloudsql.MethodInstancesInsert: 1, cloudsql.MethodInstancesGet: 1}
				if diff := cmp.Diff(want, s.CallCounts()); diff != "" {
					t.Errorf("%s\nCreate(...) over an existing instance: calls -want, +got:\n%s", tt.reason, diff)
				}
				after, _ := s.Instance(name)
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("%s\nCreate(...) over an existing instance changed it: -before, +after:\n%s", tt.reason, diff)
				}
			} else {
				// The mark is there from the start, before the instance runs.
				if diff := cmp.Diff(map[string]int{cloudsql.MethodInstancesInsert: 1}, s.CallCounts()); diff != "" {
					t.Errorf("%s\nCreate(...): calls -want, +got:\n%s", tt.reason, diff)
				}
				if diff := cmp.Diff(owner.Labels(), sqlTestLabels(t, admin, s, name)); diff != "" {
					t.Errorf("%s\nuserLabels right after Create: -want, +got:\n%s", tt.reason, diff)
				}
				s.Settle()
			}

			obs, err := c.Observe(ctx, req)
			if err != nil {
				t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
			}
			if diff := cmp.Diff(tt.wantMark(owner), obs.Owner); diff != "" {
				t.Errorf("%s\nObserve(...) owner mark: -want, +got:\n%s", tt.reason, diff)
			}
			var wantDrift []stratusv1alpha1.DriftedField
			if observed := tt.wantObserved(owner); observed != "" {
				wantDrift = []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField, Desired: owner.ID(), Observed: observed}}
			}
			if diff := cmp.Diff(wantDrift, sqlOwnershipDrift(obs.Drift)); diff != "" {
				t.Errorf("%s\nObserve(...) ownership drift: -want, +got:\n%s", tt.reason, diff)
			}

			// Update as the reconciler would, until the database is ready.
			for i := 0; ; i++ {
				if i == 10 {
					t.Fatalf("%s\nthe database is not ready after 10 rounds: %+v", tt.reason, obs)
				}
				if obs.Available && obs.UpToDate() {
					break
				}
				if _, err := c.Update(ctx, req); err != nil {
					t.Fatalf("%s\nUpdate(...): %v", tt.reason, err)
				}
				s.Settle()
				if obs, err = c.Observe(ctx, req); err != nil {
					t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
				}
			}
			if diff := cmp.Diff(owner.Mark(), obs.Owner); diff != "" {
				t.Errorf("%s\nObserve(...) owner mark once up to date: -want, +got:\n%s", tt.reason, diff)
			}
			if diff := cmp.Diff(tt.wantLabels(owner), sqlTestLabels(t, admin, s, name)); diff != "" {
				t.Errorf("%s\nuserLabels once up to date: -want, +got:\n%s", tt.reason, diff)
			}

			// Create again changes nothing.
			before, _ = s.Instance(name)
			if _, err := c.Create(ctx, req); err != nil {
				t.Errorf("%s\nCreate(...) of an instance that exists: %v", tt.reason, err)
			}
			if after, _ := s.Instance(name); !cmp.Equal(before, after) {
				t.Errorf("%s\nCreate(...) of an instance that exists changed it: %s", tt.reason, cmp.Diff(before, after))
			}
		})
	}

	t.Run("A request without an owner writes no mark and keeps the one there is.", func(t *testing.T) {
		db := sqlTestDatabase("ownerless")
		req := sqlTestRequest(db, sqlTestPassword(t, c))
		sqlTestInsertBehind(t, s, admin, c, req, other.Labels(), nil)
		req.Owner = driver.Owner{}
		obs, err := c.Observe(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if obs.Owner != other.Mark() || len(sqlOwnershipDrift(obs.Drift)) != 0 {
			t.Errorf("Observe(...) = owner %+v, drift %+v; want the other owner's mark and no ownership drift", obs.Owner, obs.Drift)
		}
		s.ResetCalls()
		for range 3 {
			if _, err := c.Update(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			s.Settle()
		}
		if n := s.Calls(cloudsql.MethodInstancesPatch); n != 0 {
			t.Errorf("Update(...) patched the instance %d times; want never", n)
		}
		if diff := cmp.Diff(other.Labels(), sqlTestLabels(t, admin, s, sqlTestInstanceName(db))); diff != "" {
			t.Errorf("userLabels: -want, +got:\n%s", diff)
		}
	})
}

func TestCloudSQLDeleteProtectedInCloud(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s)
	protect := func(t *testing.T, name string) {
		t.Helper()
		if _, err := admin.Instances.Patch(s.ProjectID, name, &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{DeletionProtectionEnabled: true}}).Do(); err != nil {
			t.Fatal(err)
		}
		s.Settle()
	}

	tests := []struct {
		reason string
		name   string
		// setup makes the instance, protected in Cloud SQL, for db.
		setup func(t *testing.T, db *databasev1alpha1.Database, req sqlDBRequest)
	}{
		{
			reason: "Deletion protection turned on in Cloud SQL behind the spec's back blocks the deletion.",
			name:   "protected-behind",
			setup: func(t *testing.T, db *databasev1alpha1.Database, req sqlDBRequest) {
				sqlTestReady(t, s, c, req)
				protect(t, sqlTestInstanceName(db))
			},
		},
		{
			reason: "Turning spec.deletionProtection off before the deletion does not turn Cloud SQL's off: the deletion is blocked.",
			name:   "spec-turned-off",
			setup: func(t *testing.T, db *databasev1alpha1.Database, req sqlDBRequest) {
				db.Spec.DeletionProtection = true
				sqlTestReady(t, s, c, req)
				db.Spec.DeletionProtection = false
			},
		},
		{
			reason: "An instance created protected behind the driver's back is not deleted.",
			name:   "created-protected",
			setup: func(t *testing.T, db *databasev1alpha1.Database, req sqlDBRequest) {
				sqlTestInsertBehind(t, s, admin, c, req, req.Owner.Labels(), func(in *sqladmin.DatabaseInstance) {
					in.Settings.DeletionProtectionEnabled = true
				})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			db := sqlTestDatabase(tt.name)
			req := sqlTestRequest(db, sqlTestPassword(t, c))
			tt.setup(t, db, req)
			name := sqlTestInstanceName(db)
			before, _ := s.Instance(name)
			req.Purpose = driver.PurposeDelete

			for i := range 2 { // blocked every time, not only the first
				s.ResetCalls()
				_, err := c.Delete(t.Context(), req)
				if !driver.IsBlocked(err) {
					t.Fatalf("%s\nDelete(...) #%d = %v; want a Blocked error", tt.reason, i+1, err)
				}
				for _, want := range []string{name, "deletion protection turned on in Cloud SQL", "turn it off in Cloud SQL", "spec.deletionPolicy to Orphan"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s\nDelete(...) = %q; want it to say %q", tt.reason, err, want)
					}
				}
				if diff := cmp.Diff(map[string]int{cloudsql.MethodInstancesGet: 1}, s.CallCounts()); diff != "" {
					t.Errorf("%s\nDelete(...) #%d: calls -want, +got:\n%s", tt.reason, i+1, diff)
				}
				s.Settle()
			}
			after, ok := s.Instance(name)
			if !ok || after.State != cloudsql.StateRunnable || !after.Settings.DeletionProtectionEnabled {
				t.Fatalf("%s\nafter a blocked Delete the instance is %+v (exists %v); want it RUNNABLE with deletion protection on", tt.reason, after, ok)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("%s\na blocked Delete changed the instance: -before, +after:\n%s", tt.reason, diff)
			}
			// Observe of an object being deleted reports the mark, which the
			// reconciler checks before it deletes.
			if obs, err := c.Observe(t.Context(), req); err != nil || !obs.Exists || obs.Owner != req.Owner.Mark() {
				t.Errorf("%s\nObserve(...) after a blocked Delete = %+v, %v; want the instance, with the owner's mark", tt.reason, obs, err)
			}
		})
	}
}
