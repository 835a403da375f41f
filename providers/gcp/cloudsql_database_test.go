package gcp

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	sqladmin "google.golang.org/api/sqladmin/v1"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	"github.com/stratus-operator/stratus/test/fakes/cloudsql"
	"github.com/stratus-operator/stratus/test/fakes/googleauth"
)

func TestCloudSQLConnect(t *testing.T) {
	s := sqlStartFake(t)
	tests := []struct {
		reason string
		cfg    func() driver.Config
		check  func(t *testing.T, c sqlDBClient, err error)
	}{
		{
			reason: "A service-account key connects, to a client that generates credentials.",
			cfg:    func() driver.Config { return sqlTestConfig(s, s.ServiceAccountJSON()) },
			check: func(t *testing.T, c sqlDBClient, err error) {
				if err != nil {
					t.Fatalf("Connect(...): %v", err)
				}
				if NewDatabaseDriver().GenerateCredentials == nil {
					t.Errorf("the driver does not generate credentials")
				}
			},
		},
		{
			reason: "A configuration for another provider cannot work.",
			cfg: func() driver.Config {
				cfg := sqlTestConfig(s, s.ServiceAccountJSON())
				cfg.Spec.Provider = stratusv1alpha1.ProviderAWS
				return cfg
			},
			check: sqlWantConnectError(driver.IsTerminal, "terminal"),
		},
		{
			reason: "A Secret without credentials.json is bad credentials.",
			cfg: func() driver.Config {
				cfg := sqlTestConfig(s, nil)
				cfg.Credentials = map[string][]byte{"key.json": s.ServiceAccountJSON()}
				return cfg
			},
			check: sqlWantConnectError(driver.IsBadCredentials, "bad credentials"),
		},
		{
			reason: "A key whose private_key does not parse is bad credentials, and the error does not quote it.",
			cfg: func() driver.Config {
				var k map[string]string
				_ = json.Unmarshal(s.ServiceAccountJSON(), &k)
				k["private_key"] = "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END RSA PRIVATE KEY-----\n"
				key, _ := json.Marshal(k)
				return sqlTestConfig(s, key)
			},
			check: func(t *testing.T, c sqlDBClient, err error) {
				sqlWantConnectError(driver.IsBadCredentials, "bad credentials")(t, c, err)
				if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
					t.Errorf("the error quotes the key: %v", err)
				}
			},
		},
		{
			reason: "A key without project_id names no project to manage: bad credentials.",
			cfg: func() driver.Config {
				var k map[string]string
				_ = json.Unmarshal(s.ServiceAccountJSON(), &k)
				delete(k, "project_id")
				key, _ := json.Marshal(k)
				return sqlTestConfig(s, key)
			},
			check: sqlWantConnectError(driver.IsBadCredentials, "bad credentials"),
		},
		{
			reason: "An endpoint that is not an http(s) URL cannot work.",
			cfg: func() driver.Config {
				cfg := sqlTestConfig(s, s.ServiceAccountJSON())
				cfg.Spec.Endpoint = "ftp://127.0.0.1:1"
				return cfg
			},
			check: sqlWantConnectError(driver.IsTerminal, "terminal"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			c, err := NewDatabaseDriver().Connect(t.Context(), tt.cfg())
			if err == nil && c == nil {
				t.Fatalf("%s\nConnect(...) returned neither a client nor an error", tt.reason)
			}
			tt.check(t, c, err)
		})
	}
}

func sqlWantConnectError(is func(error) bool, what string) func(t *testing.T, c sqlDBClient, err error) {
	return func(t *testing.T, c sqlDBClient, err error) {
		t.Helper()
		if !is(err) || c != nil {
			t.Errorf("Connect(...) = %v, %v; want no client and a %s error", c, err, what)
		}
	}
}

func TestCloudSQLAmbientCredentials(t *testing.T) {
	s := sqlStartFake(t)
	file := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(file, s.ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Application Default Credentials from a key file: the project is the
	// key's.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", file)
	t.Setenv(sqlProjectEnv, "")
	cfg := sqlTestConfig(s, nil)
	cfg.Spec.Credentials = stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceAmbient}
	cfg.Credentials = nil
	c, err := NewDatabaseDriver().Connect(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Connect(...) with ambient credentials: %v", err)
	}
	db := sqlTestDatabase("ambient")
	if _, err := c.Create(t.Context(), sqlTestRequest(db, "pw")); err != nil {
		t.Fatalf("Create(...) with ambient credentials: %v", err)
	}
	if _, ok := s.Instance(sqlTestInstanceName(db)); !ok {
		t.Errorf("no instance was created in the key's project")
	}
}

func TestCloudSQLClientOutlivesConnectContext(t *testing.T) {
	s := sqlStartFake(t)
	ctx, cancel := context.WithCancel(t.Context())
	c, err := NewDatabaseDriver().Connect(ctx, sqlTestConfig(s, s.ServiceAccountJSON()))
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the reconcile that connected is over; the client is cached
	if _, err := c.Observe(t.Context(), sqlTestRequest(sqlTestDatabase("outlives"), "")); err != nil {
		t.Errorf("Observe(...) after the context of Connect is canceled: %v", err)
	}
}

func TestCloudSQLGenerateCredentials(t *testing.T) {
	c := sqlTestConnect(t, sqlStartFake(t))
	seen := map[string]bool{}
	for range 20 {
		p := sqlTestPassword(t, c)
		if len(p) != 32 || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("GenerateCredentials(): password %q, want 32 alphanumeric characters", p)
		}
		if seen[p] {
			t.Errorf("GenerateCredentials() repeated a password")
		}
		seen[p] = true
	}
}

func TestCloudSQLDatabaseLifecycle(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s)
	password := sqlTestPassword(t, c)
	db := sqlTestDatabase("lifecycle", func(db *databasev1alpha1.Database) {
		db.Spec.DatabaseName = "app"
		db.Spec.Owner = "app_owner"
		db.Spec.EngineVersion = "15"
		db.Spec.SizeClass = databasev1alpha1.SizeMedium
		db.Spec.StorageGB = sqlInt32(30)
		db.Spec.HighAvailability = sqlBool(true)
		db.Spec.BackupRetentionDays = sqlInt32(14)
		db.Spec.StorageEncrypted = sqlBool(true)
		db.Spec.PubliclyAccessible = sqlBool(true)
	})
	req := sqlTestRequest(db, password)
	req.ExternalName = "app"
	ctx := t.Context()

	type step struct {
		Obs   driver.Observation
		At    databasev1alpha1.DatabaseObservation
		Calls map[string]int
	}
	observe := func() step {
		t.Helper()
		s.ResetCalls()
		obs, err := c.Observe(ctx, req)
		if err != nil {
			t.Fatalf("Observe(...): %v", err)
		}
		return step{obs, db.Status.AtProvider, s.CallCounts()}
	}
	getOnly := map[string]int{cloudsql.MethodInstancesGet: 1}
	getAll := map[string]int{cloudsql.MethodInstancesGet: 1, cloudsql.MethodDatabasesGet: 1, cloudsql.MethodUsersList: 1}
	missing := func(field, name string) stratusv1alpha1.DriftedField {
		return stratusv1alpha1.DriftedField{Field: field, Desired: name, Observed: sqlMissing}
	}

	if diff := cmp.Diff(step{Calls: getOnly}, observe()); diff != "" {
		t.Fatalf("Observe(...) before Create: -want, +got:\n%s", diff)
	}

	s.ResetCalls()
	created, err := c.Create(ctx, req)
	if err != nil || created.Connection != nil || created.Observed != nil {
		t.Fatalf("Create(...) = %+v, %v; want no details yet, nothing observed", created, err)
	}
	if diff := cmp.Diff(map[string]int{cloudsql.MethodInstancesInsert: 1}, s.CallCounts()); diff != "" {
		t.Errorf("Create(...) calls -want, +got:\n%s", diff)
	}

	mark := req.Owner.Mark()
	pending := step{
		Obs:   driver.Observation{Exists: true, State: cloudsql.StatePendingCreate, Owner: mark},
		At:    databasev1alpha1.DatabaseObservation{EngineVersion: "15", State: cloudsql.StatePendingCreate},
		Calls: getOnly,
	}
	if diff := cmp.Diff(pending, observe()); diff != "" {
		t.Errorf("Observe(...) while the instance is created: -want, +got:\n%s", diff)
	}
	s.Advance() // the operation runs
	if diff := cmp.Diff(pending, observe()); diff != "" {
		t.Errorf("Observe(...) while the create operation runs: -want, +got:\n%s", diff)
	}

	s.Settle()
	in, _ := s.Instance("app")
	host := in.IpAddresses[0].IpAddress
	running := step{
		Obs: driver.Observation{Exists: true, State: cloudsql.StateRunnable, Owner: mark, Drift: []stratusv1alpha1.DriftedField{
			missing(sqlFieldDatabaseName, "app"), missing(sqlFieldOwner, "app_owner"),
		}},
		At:    databasev1alpha1.DatabaseObservation{EngineVersion: "15", Host: host, Port: 5432, State: cloudsql.StateRunnable},
		Calls: getAll,
	}
	if diff := cmp.Diff(running, observe()); diff != "" {
		t.Errorf("Observe(...) once the instance runs: -want, +got:\n%s", diff)
	}

	// The database first: its operation keeps the instance busy, so Update
	// stops there.
	if _, err := c.Update(ctx, req); err != nil {
		t.Fatalf("Update(...): %v", err)
	}
	s.Settle()
	running.Obs.Drift = running.Obs.Drift[1:]
	running.At.Name = "app"
	if diff := cmp.Diff(running, observe()); diff != "" {
		t.Errorf("Observe(...) after the database is created: -want, +got:\n%s", diff)
	}
	s.ResetCalls()
	if _, err := c.Update(ctx, req); err != nil {
		t.Fatalf("Update(...): %v", err)
	}
	if diff := cmp.Diff(map[string]int{cloudsql.MethodInstancesGet: 1, cloudsql.MethodDatabasesGet: 1, cloudsql.MethodUsersList: 1, cloudsql.MethodUsersInsert: 1}, s.CallCounts()); diff != "" {
		t.Errorf("Update(...) that creates the owner: calls -want, +got:\n%s", diff)
	}
	s.Settle()

	uri := "postgresql://app_owner:" + password + "@" + host + ":5432/app?sslmode=require"
	available := step{
		Obs: driver.Observation{Exists: true, Available: true, State: cloudsql.StateRunnable, Owner: mark, Connection: driver.ConnectionDetails{
			"host": []byte(host), "port": []byte("5432"), "user": []byte("app_owner"), "password": []byte(password),
			"database": []byte("app"), "sslmode": []byte("require"), "uri": []byte(uri),
		}},
		At:    databasev1alpha1.DatabaseObservation{Name: "app", Owner: "app_owner", EngineVersion: "15", Host: host, Port: 5432, State: cloudsql.StateRunnable},
		Calls: getAll,
	}
	if diff := cmp.Diff(available, observe()); diff != "" {
		t.Errorf("Observe(...) once everything exists: -want, +got:\n%s", diff)
	}

	want := sqlReadBack{
		Version: "POSTGRES_15", Region: sqlTestRegion, Edition: "ENTERPRISE", Tier: "db-custom-2-7680", DiskGB: 30,
		Availability: "REGIONAL", Backups: true, RetainedBackups: 14, PublicIP: true, SSLMode: "ENCRYPTED_ONLY",
	}
	if diff := cmp.Diff(want, sqlTestRead(t, admin, s, "app")); diff != "" {
		t.Errorf("the instance as a plain client reads it: -want, +got:\n%s", diff)
	}
	if _, err := admin.Databases.Get(s.ProjectID, "app", "app").Do(); err != nil {
		t.Errorf("the database as a plain client reads it: %v", err)
	}
	if got, ok := s.UserPassword("app", "app_owner"); !ok || got != password {
		t.Errorf("the owner's password in Cloud SQL is not the generated one (exists: %v)", ok)
	}
	if b, _ := json.Marshal(db.Status); strings.Contains(string(b), password) {
		t.Errorf("the status holds the password")
	}
}

func TestCloudSQLCreateIsIdempotent(t *testing.T) {
	s := sqlStartFake(t)
	c := sqlTestConnect(t, s)
	db := sqlTestDatabase("twice")
	req := sqlTestRequest(db, sqlTestPassword(t, c))
	for i := range 2 {
		if _, err := c.Create(t.Context(), req); err != nil {
			t.Fatalf("Create(...) #%d: %v", i+1, err)
		}
	}
	want := map[string]int{cloudsql.MethodInstancesInsert: 2, cloudsql.MethodInstancesGet: 1}
	if diff := cmp.Diff(want, s.CallCounts()); diff != "" {
		t.Errorf("calls -want, +got:\n%s", diff)
	}
	s.Settle()
	obs := sqlTestReady(t, s, c, req)
	if !obs.Available {
		t.Errorf("the database is not available after two Creates")
	}
	if in, ok := s.Instance(sqlTestInstanceName(db)); !ok || in.State != cloudsql.StateRunnable {
		t.Errorf("the instance: %v, %v", in, ok)
	}
}

func TestCloudSQLUpdate(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s, WithCloudSQLPrivateNetwork(sqlTestNetwork))

	tests := []struct {
		reason    string
		name      string
		mutate    func(*databasev1alpha1.Database)
		wantDrift []stratusv1alpha1.DriftedField
		want      func(*sqlReadBack)
	}{
		{
			reason:    "A larger size class is a larger tier.",
			name:      "size",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.SizeClass = databasev1alpha1.SizeLarge },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldSizeClass, Desired: "Large", Observed: "Small"}},
			want:      func(rb *sqlReadBack) { rb.Tier = "db-custom-4-15360" },
		},
		{
			reason:    "More storage grows the disk.",
			name:      "storage",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.StorageGB = sqlInt32(50) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldStorageGB, Desired: "50", Observed: "20"}},
			want:      func(rb *sqlReadBack) { rb.DiskGB = 50 },
		},
		{
			reason:    "High availability is a regional instance.",
			name:      "ha",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.HighAvailability = sqlBool(true) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldHighAvailability, Desired: "true", Observed: "false"}},
			want:      func(rb *sqlReadBack) { rb.Availability = "REGIONAL" },
		},
		{
			reason:    "A backup retention of 0 turns backups off.",
			name:      "nobackups",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.BackupRetentionDays = sqlInt32(0) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldBackupRetentionDays, Desired: "0", Observed: "7"}},
			want:      func(rb *sqlReadBack) { rb.Backups, rb.RetainedBackups = false, 0 },
		},
		{
			reason:    "A backup retention keeps that many daily backups.",
			name:      "retention",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.BackupRetentionDays = sqlInt32(30) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldBackupRetentionDays, Desired: "30", Observed: "7"}},
			want:      func(rb *sqlReadBack) { rb.RetainedBackups = 30 },
		},
		{
			reason:    "Deletion protection is Cloud SQL's.",
			name:      "protection",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.DeletionProtection = true },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldDeletionProtection, Desired: "true", Observed: "false"}},
			want:      func(rb *sqlReadBack) { rb.DeletionProtection = true },
		},
		{
			reason:    "An instance that is not publicly accessible has no public address.",
			name:      "private",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.PubliclyAccessible = sqlBool(false) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldPubliclyAccessible, Desired: "false", Observed: "true"}},
			want:      func(rb *sqlReadBack) { rb.PublicIP = false },
		},
		{
			reason:    "A newer engine version is a major version upgrade.",
			name:      "upgrade",
			mutate:    func(db *databasev1alpha1.Database) { db.Spec.EngineVersion = "17" },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: sqlFieldEngineVersion, Desired: "17", Observed: "16"}},
			want:      func(rb *sqlReadBack) { rb.Version = "POSTGRES_17" },
		},
		{
			reason: "Several fields change in one patch.",
			name:   "several",
			mutate: func(db *databasev1alpha1.Database) {
				db.Spec.SizeClass = databasev1alpha1.SizeXLarge
				db.Spec.StorageGB = sqlInt32(100)
				db.Spec.HighAvailability = sqlBool(true)
			},
			wantDrift: []stratusv1alpha1.DriftedField{
				{Field: sqlFieldSizeClass, Desired: "XLarge", Observed: "Small"},
				{Field: sqlFieldStorageGB, Desired: "100", Observed: "20"},
				{Field: sqlFieldHighAvailability, Desired: "true", Observed: "false"},
			},
			want: func(rb *sqlReadBack) { rb.Tier, rb.DiskGB, rb.Availability = "db-custom-8-30720", 100, "REGIONAL" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			db := sqlTestDatabase(tt.name)
			req := sqlTestRequest(db, sqlTestPassword(t, c))
			sqlTestReady(t, s, c, req)
			tt.mutate(db)

			obs, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("Observe(...): %v", err)
			}
			if diff := cmp.Diff(tt.wantDrift, obs.Drift); diff != "" {
				t.Errorf("%s\nObserve(...) drift: -want, +got:\n%s", tt.reason, diff)
			}
			s.ResetCalls()
			if _, err := c.Update(t.Context(), req); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tt.reason, err)
			}
			if n := s.Calls(cloudsql.MethodInstancesPatch); n != 1 {
				t.Errorf("%s\nUpdate(...) patched %d times, want once", tt.reason, n)
			}
			obs, err = c.Observe(t.Context(), req)
			if err != nil || obs.Available || obs.State != cloudsql.StateMaintenance || !obs.UpToDate() {
				t.Errorf("%s\nObserve(...) while the patch applies = %+v, %v; want unavailable, MAINTENANCE, no drift", tt.reason, obs, err)
			}
			s.Settle()
			obs, err = c.Observe(t.Context(), req)
			if err != nil || !obs.Available || !obs.UpToDate() {
				t.Errorf("%s\nObserve(...) after the update = %+v, %v; want available and up to date", tt.reason, obs, err)
			}
			want := sqlDefaultReadBack()
			tt.want(&want)
			if diff := cmp.Diff(want, sqlTestRead(t, admin, s, sqlTestInstanceName(db))); diff != "" {
				t.Errorf("%s\nthe instance as a plain client reads it: -want, +got:\n%s", tt.reason, diff)
			}
		})
	}
}

func TestCloudSQLDriftCorrected(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s, WithCloudSQLPrivateNetwork(sqlTestNetwork))
	password := sqlTestPassword(t, c)
	db := sqlTestDatabase("drift")
	req := sqlTestRequest(db, password)
	sqlTestReady(t, s, c, req)
	name := sqlTestInstanceName(db)

	// Behind the driver's back: a bigger tier, no backups, deletion
	// protection, no public address, a disk that grew on its own; then the
	// owner is dropped.
	_, err := admin.Instances.Patch(s.ProjectID, name, &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
		Tier:                      "db-custom-2-7680",
		DataDiskSizeGb:            64,
		DeletionProtectionEnabled: true,
		BackupConfiguration:       &sqladmin.BackupConfiguration{Enabled: false, ForceSendFields: []string{"Enabled"}},
		IpConfiguration:           &sqladmin.IpConfiguration{Ipv4Enabled: false, PrivateNetwork: sqlTestNetwork, ForceSendFields: []string{"Ipv4Enabled"}},
	}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	s.Settle()
	if _, err := admin.Users.Delete(s.ProjectID, name).Name(sqlDefaultOwner).Do(); err != nil {
		t.Fatal(err)
	}
	s.Settle()

	obs, err := c.Observe(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []stratusv1alpha1.DriftedField{
		{Field: sqlFieldSizeClass, Desired: "Small", Observed: "Medium"},
		{Field: sqlFieldBackupRetentionDays, Desired: "7", Observed: "0"},
		{Field: sqlFieldDeletionProtection, Desired: "false", Observed: "true"},
		{Field: sqlFieldPubliclyAccessible, Desired: "true", Observed: "false"},
		{Field: sqlFieldOwner, Desired: sqlDefaultOwner, Observed: sqlMissing},
	}
	if diff := cmp.Diff(want, obs.Drift); diff != "" {
		t.Errorf("Observe(...) drift: -want, +got:\n%s", diff)
	}
	if obs.Available || obs.Connection != nil {
		t.Errorf("Observe(...) without the owner: available %v, connection %v; want neither", obs.Available, obs.Connection != nil)
	}

	for range 3 {
		if _, err := c.Update(t.Context(), req); err != nil {
			t.Fatalf("Update(...): %v", err)
		}
		s.Settle()
	}
	obs, err = c.Observe(t.Context(), req)
	if err != nil || !obs.Available || !obs.UpToDate() {
		t.Errorf("Observe(...) after the corrections = %+v, %v; want available and up to date", obs, err)
	}
	wantRB := sqlDefaultReadBack()
	wantRB.DiskGB = 64 // grown disks stay: storageGB is a minimum
	if diff := cmp.Diff(wantRB, sqlTestRead(t, admin, s, name)); diff != "" {
		t.Errorf("the corrected instance: -want, +got:\n%s", diff)
	}
	if got, _ := s.UserPassword(name, sqlDefaultOwner); got != password {
		t.Errorf("the re-created owner does not have the password of the connection Secret")
	}
}

func TestCloudSQLBusyInstance(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s)
	db := sqlTestDatabase("busy")
	req := sqlTestRequest(db, sqlTestPassword(t, c))
	sqlTestReady(t, s, c, req)
	name := sqlTestInstanceName(db)

	wantPlain := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil || driver.IsTerminal(err) || driver.IsThrottled(err) || driver.IsBadCredentials(err) {
			t.Errorf("%s: %v; want a plain error, retried with backoff", what, err)
		}
	}

	t.Run("A patch in progress: Observe waits for it, Update fails to be retried.", func(t *testing.T) {
		if _, err := admin.Instances.Patch(s.ProjectID, name, &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{Tier: "db-custom-2-7680"}}).Do(); err != nil {
			t.Fatal(err)
		}
		s.ResetCalls()
		obs, err := c.Observe(t.Context(), req)
		want := driver.Observation{Exists: true, State: cloudsql.StateMaintenance, Owner: req.Owner.Mark()}
		if diff := cmp.Diff(want, obs); err != nil || diff != "" {
			t.Errorf("Observe(...) = %v; -want, +got:\n%s", err, diff)
		}
		if diff := cmp.Diff(map[string]int{cloudsql.MethodInstancesGet: 1}, s.CallCounts()); diff != "" {
			t.Errorf("Observe(...) of a busy instance: calls -want, +got:\n%s", diff)
		}
		_, err = c.Update(t.Context(), req)
		wantPlain(t, "Update(...) while the instance is in maintenance", err)
		s.Settle()
		if _, err := c.Update(t.Context(), req); err != nil {
			t.Fatalf("Update(...): %v", err)
		}
		s.Settle()
	})

	t.Run("409 operationInProgress is a plain error.", func(t *testing.T) {
		db.Spec.DatabaseName = "second"
		defer func() { db.Spec.DatabaseName = "" }()
		// Another operation runs on the instance, which stays RUNNABLE.
		if _, err := admin.Users.Insert(s.ProjectID, name, &sqladmin.User{Name: "someone"}).Do(); err != nil {
			t.Fatal(err)
		}
		obs, err := c.Observe(t.Context(), req)
		if err != nil || !sqlHasDriftField(obs.Drift, sqlFieldDatabaseName) {
			t.Fatalf("Observe(...) = %+v, %v; want spec.databaseName drift", obs, err)
		}
		_, err = c.Update(t.Context(), req)
		wantPlain(t, "Update(...) while another operation runs", err)
		if err != nil && !strings.Contains(err.Error(), "operationInProgress") {
			t.Errorf("Update(...): %v; want it to say operationInProgress", err)
		}
		s.Settle()
	})
}

func sqlHasDriftField(drift []stratusv1alpha1.DriftedField, field string) bool {
	for _, d := range drift {
		if d.Field == field {
			return true
		}
	}
	return false
}

func TestCloudSQLDelete(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s)
	ctx := t.Context()

	t.Run("spec.deletionProtection blocks the deletion and keeps the instance.", func(t *testing.T) {
		db := sqlTestDatabase("protected", func(db *databasev1alpha1.Database) { db.Spec.DeletionProtection = true })
		req := sqlTestRequest(db, sqlTestPassword(t, c))
		sqlTestReady(t, s, c, req)
		req.Purpose = driver.PurposeDelete
		s.ResetCalls()
		_, err := c.Delete(ctx, req)
		if !driver.IsBlocked(err) || !strings.Contains(err.Error(), "spec.deletionProtection") {
			t.Errorf("Delete(...): %v; want blocked, saying how to proceed", err)
		}
		if n := s.Calls(cloudsql.MethodInstancesDelete) + s.Calls(cloudsql.MethodInstancesPatch); n != 0 {
			t.Errorf("Delete(...) of a protected database changed the cloud (%d calls)", n)
		}
		s.Settle()
		if in, ok := s.Instance(sqlTestInstanceName(db)); !ok || in.State != cloudsql.StateRunnable {
			t.Errorf("the protected instance is gone or not running: %v", in)
		}

		// Turning spec.deletionProtection off does not turn Cloud SQL's
		// off: the deletion is still blocked, and nothing changes.
		db.Spec.DeletionProtection = false
		s.ResetCalls()
		_, err = c.Delete(ctx, req)
		if !driver.IsBlocked(err) || !strings.Contains(err.Error(), "deletion protection turned on in Cloud SQL") {
			t.Errorf("Delete(...) with Cloud SQL's protection on: %v; want blocked, saying how to proceed", err)
		}
		if diff := cmp.Diff(map[string]int{cloudsql.MethodInstancesGet: 1}, s.CallCounts()); diff != "" {
			t.Errorf("Delete(...) of an instance with Cloud SQL's protection on: calls -want, +got:\n%s", diff)
		}

		// Once it is turned off in Cloud SQL, the deletion proceeds.
		if _, err := admin.Instances.Patch(s.ProjectID, sqlTestInstanceName(db), &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
			DeletionProtectionEnabled: false, ForceSendFields: []string{"DeletionProtectionEnabled"},
		}}).Do(); err != nil {
			t.Fatal(err)
		}
		s.Settle()
		if _, err := c.Delete(ctx, req); err != nil {
			t.Fatalf("Delete(...): %v", err)
		}
		obs, err := c.Observe(ctx, req)
		if err != nil || !obs.Exists || obs.State != cloudsql.StatePendingDelete || obs.Available {
			t.Errorf("Observe(...) while the instance is deleted = %+v, %v; want it to exist, PENDING_DELETE", obs, err)
		}
		s.ResetCalls()
		if _, err := c.Delete(ctx, req); err != nil {
			t.Errorf("Delete(...) while the instance is deleted: %v", err)
		}
		if n := s.Calls(cloudsql.MethodInstancesDelete); n != 0 {
			t.Errorf("Delete(...) while the instance is deleted deleted again")
		}
		s.Settle()
		if obs, err := c.Observe(ctx, req); err != nil || obs.Exists {
			t.Errorf("Observe(...) after the deletion = %+v, %v; want it gone", obs, err)
		}
	})

	t.Run("Delete deletes; deleting what is gone is not an error.", func(t *testing.T) {
		db := sqlTestDatabase("doomed")
		req := sqlTestRequest(db, sqlTestPassword(t, c))
		sqlTestReady(t, s, c, req)
		req.Purpose = driver.PurposeDelete
		db.Spec.StorageEncrypted = sqlBool(false) // an invalid spec does not hold up a deletion
		if res, err := c.Delete(ctx, req); err != nil || res.Gone {
			t.Fatalf("Delete(...) = %+v, %v; want the deletion started, not done", res, err)
		}
		s.Settle()
		_, err := admin.Instances.Get(s.ProjectID, sqlTestInstanceName(db)).Do()
		if !sqlIsNotFound(err) {
			t.Errorf("instances.get after the deletion: %v; want 404", err)
		}
		if obs, err := c.Observe(ctx, req); err != nil || obs.Exists {
			t.Errorf("Observe(...) = %+v, %v; want it gone", obs, err)
		}
		if res, err := c.Delete(ctx, req); err != nil || !res.Gone {
			t.Errorf("Delete(...) of a deleted instance = %+v, %v; want it gone", res, err)
		}
	})
}

func TestCloudSQLErrors(t *testing.T) {
	s := sqlStartFake(t)
	c := sqlTestConnect(t, s)
	ctx := t.Context()
	ready := sqlTestDatabase("ready")
	readyReq := sqlTestRequest(ready, sqlTestPassword(t, c))
	sqlTestReady(t, s, c, readyReq)

	other, err := googleauth.Start("intruder@elsewhere.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	otherKey := other.ServiceAccountJSON(s.ProjectID)
	var forged map[string]string
	_ = json.Unmarshal(otherKey, &forged)
	forged["token_uri"] = s.Auth.TokenURI()
	forgedKey, _ := json.Marshal(forged)

	noKeyMaterial := func(t *testing.T, err error, keys ...[]byte) {
		t.Helper()
		for _, key := range keys {
			var k map[string]string
			_ = json.Unmarshal(key, &k)
			pem := strings.Split(k["private_key"], "\n")
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), pem[1]) {
				t.Errorf("the error reveals key material: %v", err)
			}
		}
	}

	tests := []struct {
		reason string
		setup  func()
		call   func() error
		check  func(t *testing.T, err error)
	}{
		{
			reason: "429 rateLimitExceeded is throttling.",
			setup:  func() { s.ThrottleNext(1) },
			call:   func() error { _, err := c.Observe(ctx, readyReq); return err },
			check:  sqlWant(driver.IsThrottled, "throttled"),
		},
		{
			reason: "503 is throttling.",
			setup: func() {
				s.FailNext(1, cloudsql.APIError{Code: http.StatusServiceUnavailable, Reason: "backendError", Message: "The service is currently unavailable."})
			},
			call:  func() error { _, err := c.Update(ctx, readyReq); return err },
			check: sqlWant(driver.IsThrottled, "throttled"),
		},
		{
			reason: "A key from another token endpoint gets a token the API refuses (401): bad credentials.",
			call: func() error {
				cl, err := NewDatabaseDriver().Connect(ctx, sqlTestConfig(s, otherKey))
				if err != nil {
					return err
				}
				_, err = cl.Observe(ctx, readyReq)
				return err
			},
			check: func(t *testing.T, err error) {
				sqlWant(driver.IsBadCredentials, "bad credentials")(t, err)
				noKeyMaterial(t, err, otherKey)
			},
		},
		{
			reason: "A key the token endpoint refuses (invalid_grant) is bad credentials.",
			call: func() error {
				cl, err := NewDatabaseDriver().Connect(ctx, sqlTestConfig(s, forgedKey))
				if err != nil {
					return err
				}
				_, err = cl.Create(ctx, readyReq)
				return err
			},
			check: func(t *testing.T, err error) {
				sqlWant(driver.IsBadCredentials, "bad credentials")(t, err)
				noKeyMaterial(t, err, forgedKey)
			},
		},
		{
			reason: "storageEncrypted false cannot be honoured, and nothing is called.",
			setup:  s.ResetCalls,
			call: func() error {
				db := sqlTestDatabase("plain", func(db *databasev1alpha1.Database) { db.Spec.StorageEncrypted = sqlBool(false) })
				_, err := c.Create(ctx, sqlTestRequest(db, "pw"))
				return err
			},
			check: func(t *testing.T, err error) {
				sqlWant(driver.IsTerminal, "terminal")(t, err)
				if err != nil && !strings.Contains(err.Error(), "cannot honour spec.storageEncrypted") {
					t.Errorf("the error does not say why: %v", err)
				}
				if calls := s.CallCounts(); len(calls) != 0 {
					t.Errorf("calls %v, want none", calls)
				}
			},
		},
		{
			reason: "An external name that is no valid instance name is terminal.",
			call: func() error {
				req := sqlTestRequest(sqlTestDatabase("x"), "pw")
				req.ExternalName = "9lives"
				_, err := c.Observe(ctx, req)
				return err
			},
			check: sqlWant(driver.IsTerminal, "terminal"),
		},
		{
			reason: "No public address without a private network is terminal.",
			call: func() error {
				db := sqlTestDatabase("private", func(db *databasev1alpha1.Database) { db.Spec.PubliclyAccessible = sqlBool(false) })
				_, err := c.Create(ctx, sqlTestRequest(db, "pw"))
				return err
			},
			check: sqlWant(driver.IsTerminal, "terminal"),
		},
		{
			reason: "A version Cloud SQL refuses (400 invalid) is terminal.",
			call: func() error {
				db := sqlTestDatabase("future", func(db *databasev1alpha1.Database) { db.Spec.EngineVersion = "99" })
				_, err := c.Create(ctx, sqlTestRequest(db, "pw"))
				return err
			},
			check: sqlWant(driver.IsTerminal, "terminal"),
		},
		{
			reason: "An instance in another region than the spec's is terminal.",
			call: func() error {
				req := readyReq
				req.Region = "us-east1"
				_, err := c.Observe(ctx, req)
				return err
			},
			check: sqlWant(driver.IsTerminal, "terminal"),
		},
		{
			reason: "Create without a generated password is retried: the reconciler generates one.",
			call: func() error {
				_, err := c.Create(ctx, sqlTestRequest(sqlTestDatabase("nopassword"), ""))
				return err
			},
			check: func(t *testing.T, err error) {
				if err == nil || driver.IsTerminal(err) {
					t.Errorf("got %v, want a plain error", err)
				}
			},
		},
		{
			reason: "The name of an instance deleted within the week cannot be used: terminal.",
			call: func() error {
				db := sqlTestDatabase("reused")
				req := sqlTestRequest(db, "pw")
				if _, err := c.Create(ctx, req); err != nil {
					return err
				}
				s.Settle()
				if _, err := c.Delete(ctx, req); err != nil {
					return err
				}
				s.Settle()
				_, err := c.Create(ctx, req)
				return err
			},
			check: func(t *testing.T, err error) {
				sqlWant(driver.IsTerminal, "terminal")(t, err)
				if err != nil && !strings.Contains(err.Error(), "week") {
					t.Errorf("the error does not say why: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			tt.check(t, tt.call())
		})
	}
}

func sqlWant(is func(error) bool, what string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !is(err) {
			t.Errorf("got %v, want a %s error", err, what)
		}
	}
}

func TestCloudSQLMySQL(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s)
	password := sqlTestPassword(t, c)
	db := sqlTestDatabase("shop", func(db *databasev1alpha1.Database) { db.Spec.Engine = databasev1alpha1.EngineMySQL })
	obs := sqlTestReady(t, s, c, sqlTestRequest(db, password))

	in, _ := s.Instance("test-shop")
	host := in.IpAddresses[0].IpAddress
	want := driver.ConnectionDetails{
		"host": []byte(host), "port": []byte("3306"), "user": []byte(sqlDefaultOwner), "password": []byte(password),
		"database": []byte("test_shop"), "uri": []byte("mysql://" + sqlDefaultOwner + ":" + password + "@" + host + ":3306/test_shop?ssl-mode=REQUIRED"),
	}
	if diff := cmp.Diff(want, obs.Connection); diff != "" {
		t.Errorf("MySQL connection details -want, +got:\n%s", diff)
	}
	if in.DatabaseVersion != "MYSQL_8_0" || db.Status.AtProvider.EngineVersion != "8.0" {
		t.Errorf("database version %s, atProvider.engineVersion %s; want MYSQL_8_0, 8.0", in.DatabaseVersion, db.Status.AtProvider.EngineVersion)
	}
	users, err := admin.Users.List(s.ProjectID, "test-shop").Do()
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]string{}
	for _, u := range users.Items {
		hosts[u.Name] = u.Host
	}
	if diff := cmp.Diff(map[string]string{"root": "%", sqlDefaultOwner: "%"}, hosts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("MySQL users and hosts -want, +got:\n%s", diff)
	}
}

func TestCloudSQLPrivateInstance(t *testing.T) {
	s := sqlStartFake(t)
	admin := sqlTestAdmin(t, s)
	c := sqlTestConnect(t, s, WithCloudSQLPrivateNetwork(sqlTestNetwork))
	db := sqlTestDatabase("private", func(db *databasev1alpha1.Database) { db.Spec.PubliclyAccessible = sqlBool(false) })
	obs := sqlTestReady(t, s, c, sqlTestRequest(db, sqlTestPassword(t, c)))

	want := sqlDefaultReadBack()
	want.PublicIP = false
	if diff := cmp.Diff(want, sqlTestRead(t, admin, s, "test-private")); diff != "" {
		t.Errorf("the instance as a plain client reads it: -want, +got:\n%s", diff)
	}
	in, _ := s.Instance("test-private")
	if len(in.IpAddresses) != 1 || in.IpAddresses[0].Type != "PRIVATE" {
		t.Fatalf("ipAddresses %+v, want one PRIVATE address", in.IpAddresses)
	}
	if got, want := string(obs.Connection[driver.ConnectionHost]), in.IpAddresses[0].IpAddress; got != want {
		t.Errorf("connection host %q, want the private address %q", got, want)
	}
}
