package aws

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/google/go-cmp/cmp"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
	fakerds "github.com/stratus-operator/stratus/test/fakes/rds"
)

// The database driver's tests run it, through the SDK's real RDS client,
// against the fake RDS API of test/fakes/rds, one fake per test. The fake's
// instances change state when the test moves its clock: a minute per state.

const (
	rdsTestRegion = "us-east-1"
	// stateTime is how long each transitional state lasts on the fake's
	// clock.
	stateTime = time.Minute
	// deleteTime is when the tests' Delete names its final snapshot.
	deleteTime = 1700000000
)

func timeUnix(s int64) time.Time { return time.Unix(s, 0) }

// startRDS starts a fake RDS API for one test.
func startRDS(t *testing.T, opts ...fakerds.Option) *fakerds.Server {
	t.Helper()
	srv, err := fakerds.Start(append([]fakerds.Option{fakerds.WithTransitionDelay(stateTime)}, opts...)...)
	if err != nil {
		t.Fatalf("start the fake RDS API: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// connectRDS returns a database client for the fake with the given
// credentials, as a ProviderConfig with a credentials Secret configures it.
// The SDK tries each call once unless opts say otherwise.
func connectRDS(t *testing.T, srv *fakerds.Server, accessKey, secretKey string, opts ...Option) *databaseClient {
	t.Helper()
	cfg := driver.Config{
		Spec: stratusv1alpha1.ProviderConfigSpec{
			Provider:    stratusv1alpha1.ProviderAWS,
			Region:      rdsTestRegion,
			Endpoint:    srv.URL,
			Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret},
		},
		Credentials: map[string][]byte{
			KeyAccessKeyID:     []byte(accessKey),
			KeySecretAccessKey: []byte(secretKey),
		},
	}
	c, err := NewDatabaseDriver(append([]Option{WithMaxAttempts(1)}, opts...)...).Connect(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Connect(...): %v", err)
	}
	dc := c.(*databaseClient)
	dc.now = func() time.Time { return timeUnix(deleteTime) }
	return dc
}

func connectFakeRDS(t *testing.T, srv *fakerds.Server, opts ...Option) *databaseClient {
	t.Helper()
	return connectRDS(t, srv, fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, opts...)
}

// plainRDS returns an SDK client of its own for the fake, to read and change
// instances behind the driver's back.
func plainRDS(srv *fakerds.Server) *rds.Client {
	return rds.New(rds.Options{
		Region:           rdsTestRegion,
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(fakerds.DefaultAccessKeyID, fakerds.DefaultSecretAccessKey, ""),
		RetryMaxAttempts: 1,
	})
}

func newDatabase(name string, spec databasev1alpha1.DatabaseSpec) *databasev1alpha1.Database {
	db := &databasev1alpha1.Database{Spec: spec}
	db.Name, db.Namespace = name, "test"
	db.UID = testUID(db.Namespace, name)
	return db
}

// dbRequest is a request about db under externalName, with db's owner and
// with password in the connection Secret, as the reconciler sets them
// before Create.
func dbRequest(db *databasev1alpha1.Database, externalName, password string) databaseRequest {
	req := databaseRequest{
		Object: db, ExternalName: externalName, Region: rdsTestRegion, Connection: driver.ConnectionDetails{},
		Owner: testOwner(db.Namespace, db.Name),
	}
	if password != "" {
		req.Connection[driver.ConnectionPassword] = []byte(password)
	}
	return req
}

// generatePassword returns a password as the reconciler gets it, from the
// driver's registration.
func generatePassword(t *testing.T, _ *databaseClient) string {
	t.Helper()
	creds, err := NewDatabaseDriver().GenerateCredentials()
	if err != nil {
		t.Fatalf("GenerateCredentials(): %v", err)
	}
	return string(creds[driver.ConnectionPassword])
}

// createReady creates the instance and lets the fake finish creating it.
func createReady(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
	t.Helper()
	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	srv.Settle()
}

// observation is what the tests compare of an Observation.
type observation struct {
	Exists, Available bool
	State             string
	Drift             []stratusv1alpha1.DriftedField
	Connection        map[string]string
	AtProvider        databasev1alpha1.DatabaseObservation
	Owner             driver.OwnerMark
}

func observeDB(t *testing.T, c *databaseClient, req databaseRequest) observation {
	t.Helper()
	o, err := c.Observe(t.Context(), req)
	if err != nil {
		t.Fatalf("Observe(...): %v", err)
	}
	got := observation{Exists: o.Exists, Available: o.Available, State: o.State, Drift: o.Drift, AtProvider: req.Object.Status.AtProvider, Owner: o.Owner}
	if len(o.Connection) > 0 {
		got.Connection = map[string]string{}
		for k, v := range o.Connection {
			got.Connection[k] = string(v)
		}
	}
	return got
}

// readInstanceBack reads an instance with a plain SDK client.
func readInstanceBack(t *testing.T, srv *fakerds.Server, id string) types.DBInstance {
	t.Helper()
	out, err := plainRDS(srv).DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeDBInstances(%q): %v", id, err)
	}
	return out.DBInstances[0]
}

func TestDatabaseLifecycle(t *testing.T) {
	srv := startRDS(t)
	c := connectFakeRDS(t, srv)
	db := newDatabase("orders", databasev1alpha1.DatabaseSpec{
		Engine: databasev1alpha1.EnginePostgres, EngineVersion: "16", DatabaseName: "orders", Owner: "orders_admin",
		SizeClass: databasev1alpha1.SizeMedium, StorageGB: aws.Int32(50), BackupRetentionDays: aws.Int32(3),
		HighAvailability: aws.Bool(true), PubliclyAccessible: aws.Bool(false),
	})
	password := generatePassword(t, c)
	req := dbRequest(db, "team_a_orders", password)

	details, err := c.Create(t.Context(), req)
	if err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	noEndpoint := map[string]string{"user": "orders_admin", "password": password, "database": "orders", "sslmode": "require"}
	if diff := cmp.Diff(noEndpoint, detailStrings(details.Connection)); diff != "" {
		t.Errorf("Create(...) connection details, before RDS has an endpoint: -want, +got:\n%s", diff)
	}

	if ids := srv.Instances(rdsTestRegion); !cmp.Equal(ids, []string{"team-a-orders"}) {
		t.Fatalf("instances after Create: %v, want the external name with '_' made '-'", ids)
	}
	host := "" // learnt from the first observation that has it
	full := func(host string) map[string]string {
		return map[string]string{
			"host": host, "port": "5432", "user": "orders_admin", "password": password, "database": "orders", "sslmode": "require",
			"uri": "postgresql://orders_admin:" + password + "@" + host + ":5432/orders?sslmode=require",
		}
	}
	atProvider := func(host string, port int32, state string) databasev1alpha1.DatabaseObservation {
		return databasev1alpha1.DatabaseObservation{Name: "orders", Owner: "orders_admin", EngineVersion: "16.9", Host: host, Port: port, State: state}
	}

	// The instance carries the Database's owner mark from the start.
	mark := testOwner("test", "orders").Mark()
	steps := []struct {
		reason string
		want   func(host string) observation
	}{
		{
			reason: "Right after Create the instance is creating: it exists, is not available, has no endpoint yet and no drift; it carries the owner mark.",
			want: func(string) observation {
				return observation{Exists: true, State: "creating", Connection: noEndpoint, AtProvider: atProvider("", 0, "creating"), Owner: mark}
			},
		},
		{
			reason: "Then it is backing up: not available yet, but with an endpoint.",
			want: func(host string) observation {
				return observation{Exists: true, State: "backing-up", Connection: full(host), AtProvider: atProvider(host, 5432, "backing-up"), Owner: mark}
			},
		},
		{
			reason: "Then it is available, with every connection detail.",
			want: func(host string) observation {
				return observation{Exists: true, Available: true, State: "available", Connection: full(host), AtProvider: atProvider(host, 5432, "available"), Owner: mark}
			},
		},
	}
	for i, s := range steps {
		if i > 0 {
			srv.Advance(stateTime)
		}
		got := observeDB(t, c, req)
		if got.AtProvider.Host != "" {
			host = got.AtProvider.Host
		}
		if diff := cmp.Diff(s.want(host), got); diff != "" {
			t.Errorf("%s\nObserve(...): -want, +got:\n%s", s.reason, diff)
		}
	}
	if !strings.HasPrefix(host, "team-a-orders.") || !strings.HasSuffix(host, ".us-east-1.rds.amazonaws.com") {
		t.Errorf("host %q: want the instance's RDS endpoint address", host)
	}

	// Every portable field, read back with a plain client.
	d := readInstanceBack(t, srv, "team-a-orders")
	type readBack struct {
		Engine, Version, Class, DBName, User, StorageType string
		Storage, Retention                                int32
		MultiAZ, Encrypted, Public, Protection, CopyTags  bool
		Tags                                              map[string]string
	}
	want := readBack{
		Engine: "postgres", Version: "16.9", Class: "db.m6g.large", DBName: "orders", User: "orders_admin", StorageType: "gp3",
		Storage: 50, Retention: 3, MultiAZ: true, Encrypted: true, CopyTags: true,
		// The owner mark, written by CreateDBInstance itself.
		Tags: map[string]string{
			driver.OwnerTag: testOwner("test", "orders").ID(), driver.OwnerNamespaceTag: "test", driver.OwnerNameTag: "orders",
			driver.OwnerUIDTag: string(testUID("test", "orders")), driver.ClusterTag: testCluster,
		},
	}
	got := readBack{
		Engine: aws.ToString(d.Engine), Version: aws.ToString(d.EngineVersion), Class: aws.ToString(d.DBInstanceClass),
		DBName: aws.ToString(d.DBName), User: aws.ToString(d.MasterUsername), StorageType: aws.ToString(d.StorageType),
		Storage: aws.ToInt32(d.AllocatedStorage), Retention: aws.ToInt32(d.BackupRetentionPeriod),
		MultiAZ: aws.ToBool(d.MultiAZ), Encrypted: aws.ToBool(d.StorageEncrypted), Public: aws.ToBool(d.PubliclyAccessible),
		Protection: aws.ToBool(d.DeletionProtection), CopyTags: aws.ToBool(d.CopyTagsToSnapshot), Tags: map[string]string{},
	}
	for _, tag := range d.TagList {
		got.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the instance as a plain RDS client reads it: -want, +got:\n%s", diff)
	}
	if !srv.MasterPasswordIs(rdsTestRegion, "team-a-orders", password) {
		t.Errorf("the instance's master password is not the generated one")
	}
}

// detailStrings makes connection details readable in diffs.
func detailStrings(d driver.ConnectionDetails) map[string]string {
	out := map[string]string{}
	for k, v := range d {
		out[k] = string(v)
	}
	return out
}

func TestDatabaseCreateIsIdempotent(t *testing.T) {
	cases := map[string]struct {
		reason string
		settle bool // let the first instance become available before the second Create
	}{
		"WhileCreating": {reason: "A second Create while RDS is still creating the instance succeeds without a second instance."},
		"OnceAvailable": {reason: "A second Create of an available instance succeeds without a second instance.", settle: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t)
			c := connectFakeRDS(t, srv)
			req := dbRequest(newDatabase("twice", databasev1alpha1.DatabaseSpec{}), "twice", generatePassword(t, c))
			if _, err := c.Create(t.Context(), req); err != nil {
				t.Fatalf("Create(...): %v", err)
			}
			if tc.settle {
				srv.Settle()
			}
			details, err := c.Create(t.Context(), req)
			if err != nil {
				t.Errorf("%s\nsecond Create(...): %v", tc.reason, err)
			}
			if string(details.Connection[driver.ConnectionPassword]) == "" {
				t.Errorf("%s\nsecond Create(...) returned no password", tc.reason)
			}
			type got struct {
				Instances []string
				Creates   int
			}
			if diff := cmp.Diff(got{Instances: []string{"twice"}, Creates: 2},
				got{Instances: srv.Instances(rdsTestRegion), Creates: srv.Calls("CreateDBInstance")}); diff != "" {
				t.Errorf("%s\n-want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDatabaseUpdate(t *testing.T) {
	cases := map[string]struct {
		reason    string
		change    func(*databasev1alpha1.DatabaseSpec)
		wantDrift []stratusv1alpha1.DriftedField
		// wantState is the state right after Update.
		wantState string
		read      func(types.DBInstance) string
		wantRead  string
	}{
		"SizeClass": {
			reason:    "A new size class is a new instance class, applied while modifying.",
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.SizeClass = databasev1alpha1.SizeLarge },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.sizeClass", Desired: "Large (db.m6g.xlarge)", Observed: "Small (db.t4g.small)"}},
			wantState: "modifying",
			read:      func(d types.DBInstance) string { return aws.ToString(d.DBInstanceClass) },
			wantRead:  "db.m6g.xlarge",
		},
		"StorageGB": {
			reason:    "More storage is allocated while modifying.",
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.StorageGB = aws.Int32(40) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.storageGB", Desired: "40", Observed: "20"}},
			wantState: "modifying",
			read:      func(d types.DBInstance) string { return itoa(aws.ToInt32(d.AllocatedStorage)) },
			wantRead:  "40",
		},
		"BackupRetentionDays": {
			reason:    "A new backup retention is applied while modifying.",
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.BackupRetentionDays = aws.Int32(14) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.backupRetentionDays", Desired: "14", Observed: "7"}},
			wantState: "modifying",
			read:      func(d types.DBInstance) string { return itoa(aws.ToInt32(d.BackupRetentionPeriod)) },
			wantRead:  "14",
		},
		"HighAvailability": {
			reason:    "High availability is Multi-AZ, applied while modifying.",
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.HighAvailability = aws.Bool(true) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.highAvailability", Desired: "true", Observed: "false"}},
			wantState: "modifying",
			read:      func(d types.DBInstance) string { return btoa(aws.ToBool(d.MultiAZ)) },
			wantRead:  "true",
		},
		"PubliclyAccessible": {
			reason:    "Public accessibility changes while modifying.",
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.PubliclyAccessible = aws.Bool(true) },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.publiclyAccessible", Desired: "true", Observed: "false"}},
			wantState: "modifying",
			read:      func(d types.DBInstance) string { return btoa(aws.ToBool(d.PubliclyAccessible)) },
			wantRead:  "true",
		},
		"DeletionProtection": {
			reason:    "Deletion protection changes at once: the instance stays available.",
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.DeletionProtection = true },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.deletionProtection", Desired: "true", Observed: "false"}},
			wantState: "available",
			read:      func(d types.DBInstance) string { return btoa(aws.ToBool(d.DeletionProtection)) },
			wantRead:  "true",
		},
		"EngineVersion": {
			reason:    "A new major version is an upgrade RDS is allowed to make, applied while modifying.",
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.EngineVersion = "17" },
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.engineVersion", Desired: "17", Observed: "16.9"}},
			wantState: "modifying",
			read:      func(d types.DBInstance) string { return aws.ToString(d.EngineVersion) },
			wantRead:  "17.5",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t)
			c := connectFakeRDS(t, srv)
			db := newDatabase("upd", databasev1alpha1.DatabaseSpec{EngineVersion: "16"})
			req := dbRequest(db, "upd", generatePassword(t, c))
			createReady(t, srv, c, req)
			if o := observeDB(t, c, req); !o.Available || len(o.Drift) > 0 {
				t.Fatalf("Observe(...) after creation: available %t, drift %v; want available and in line", o.Available, o.Drift)
			}

			tc.change(&db.Spec)
			if diff := cmp.Diff(tc.wantDrift, observeDB(t, c, req).Drift); diff != "" {
				t.Errorf("%s\nObserve(...) after the spec changed: drift -want, +got:\n%s", tc.reason, diff)
			}
			if _, err := c.Update(t.Context(), req); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			type state struct {
				State     string
				Available bool
				Drift     []stratusv1alpha1.DriftedField
			}
			o := observeDB(t, c, req)
			if diff := cmp.Diff(state{State: tc.wantState, Available: tc.wantState == "available"}, state{o.State, o.Available, o.Drift}); diff != "" {
				t.Errorf("%s\nObserve(...) right after Update (a pending modification is not drift): -want, +got:\n%s", tc.reason, diff)
			}
			srv.Advance(stateTime)
			o = observeDB(t, c, req)
			if diff := cmp.Diff(state{State: "available", Available: true}, state{o.State, o.Available, o.Drift}); diff != "" {
				t.Errorf("%s\nObserve(...) once applied: -want, +got:\n%s", tc.reason, diff)
			}
			if got := tc.read(readInstanceBack(t, srv, "upd")); got != tc.wantRead {
				t.Errorf("%s\nread back %q, want %q", tc.reason, got, tc.wantRead)
			}
			if got := srv.Calls("ModifyDBInstance"); got != 1 {
				t.Errorf("%s\nModifyDBInstance calls: %d, want 1", tc.reason, got)
			}
		})
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func btoa(b bool) string { return strconv.FormatBool(b) }

func TestDatabaseDriftIsCorrected(t *testing.T) {
	cases := map[string]struct {
		reason    string
		outOfBand rds.ModifyDBInstanceInput
		wantDrift []stratusv1alpha1.DriftedField
		read      func(types.DBInstance) string
		wantRead  string
	}{
		"AppliedOutOfBand": {
			reason:    "A class changed behind the operator's back is drift, corrected by Update.",
			outOfBand: rds.ModifyDBInstanceInput{DBInstanceClass: aws.String("db.m6g.large"), ApplyImmediately: aws.Bool(true)},
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.sizeClass", Desired: "Small (db.t4g.small)", Observed: "Medium (db.m6g.large)"}},
			read:      func(d types.DBInstance) string { return aws.ToString(d.DBInstanceClass) },
			wantRead:  "db.t4g.small",
		},
		"QueuedForMaintenance": {
			reason:    "A change queued for the maintenance window is drift too; Update cancels it.",
			outOfBand: rds.ModifyDBInstanceInput{AllocatedStorage: aws.Int32(30)},
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.storageGB", Desired: "20", Observed: "20 (pending 30)"}},
			read: func(d types.DBInstance) string {
				return itoa(aws.ToInt32(d.AllocatedStorage)) + " pending " + itoa(aws.ToInt32(d.PendingModifiedValues.AllocatedStorage))
			},
			wantRead: "20 pending 0",
		},
		"BackupsTurnedOff": {
			reason:    "Backups turned off behind the operator's back are turned on again.",
			outOfBand: rds.ModifyDBInstanceInput{BackupRetentionPeriod: aws.Int32(0), ApplyImmediately: aws.Bool(true)},
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.backupRetentionDays", Desired: "7", Observed: "0"}},
			read:      func(d types.DBInstance) string { return itoa(aws.ToInt32(d.BackupRetentionPeriod)) },
			wantRead:  "7",
		},
		"PublicAccessTurnedOn": {
			reason:    "An instance made public behind the operator's back is made private again.",
			outOfBand: rds.ModifyDBInstanceInput{PubliclyAccessible: aws.Bool(true)},
			wantDrift: []stratusv1alpha1.DriftedField{{Field: "spec.publiclyAccessible", Desired: "false", Observed: "true"}},
			read:      func(d types.DBInstance) string { return btoa(aws.ToBool(d.PubliclyAccessible)) },
			wantRead:  "false",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t)
			c := connectFakeRDS(t, srv)
			req := dbRequest(newDatabase("drift", databasev1alpha1.DatabaseSpec{}), "drift", generatePassword(t, c))
			createReady(t, srv, c, req)

			in := tc.outOfBand
			in.DBInstanceIdentifier = aws.String("drift")
			if _, err := plainRDS(srv).ModifyDBInstance(t.Context(), &in); err != nil {
				t.Fatalf("out-of-band ModifyDBInstance(...): %v", err)
			}
			srv.Advance(stateTime)
			if diff := cmp.Diff(tc.wantDrift, observeDB(t, c, req).Drift); diff != "" {
				t.Errorf("%s\nObserve(...) after the out-of-band change: drift -want, +got:\n%s", tc.reason, diff)
			}
			if _, err := c.Update(t.Context(), req); err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tc.reason, err)
			}
			srv.Advance(stateTime)
			o := observeDB(t, c, req)
			if !o.Available || len(o.Drift) > 0 {
				t.Errorf("%s\nObserve(...) after Update: available %t, drift %v; want available, no drift", tc.reason, o.Available, o.Drift)
			}
			if got := tc.read(readInstanceBack(t, srv, "drift")); got != tc.wantRead {
				t.Errorf("%s\nread back %q, want %q", tc.reason, got, tc.wantRead)
			}
		})
	}
}

func TestDatabaseDelete(t *testing.T) {
	type want struct {
		Kind      string // of Delete's error, "" for none
		Err       string // a substring of it
		Exists    bool   // the instance exists after Delete
		State     string // its state
		Snapshots []string
		Deletes   int  // DeleteDBInstance calls
		Gone      bool // Delete says the instance is gone
	}
	finalSnapshot := "del-final-1700000000"
	cases := map[string]struct {
		reason string
		spec   databasev1alpha1.DatabaseSpec
		setup  func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest)
		want   want
	}{
		"Available": {
			reason: "Deleting an available instance asks for a final snapshot and starts the deletion.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				createReady(t, srv, c, req)
			},
			want: want{Exists: true, State: "deleting", Snapshots: []string{finalSnapshot}, Deletes: 1},
		},
		"AlreadyDeleting": {
			reason: "Deleting an instance being deleted is not an error, and takes no second snapshot.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				createReady(t, srv, c, req)
				if _, err := c.Delete(t.Context(), req); err != nil {
					t.Fatalf("first Delete(...): %v", err)
				}
			},
			want: want{Exists: true, State: "deleting", Snapshots: []string{finalSnapshot}, Deletes: 2},
		},
		"Gone": {
			reason: "Deleting an instance that does not exist is not an error, and says it is gone.",
			want:   want{Deletes: 1, Gone: true},
		},
		"StillCreating": {
			reason: "RDS takes no final snapshot of an instance still creating: retried later, not terminal.",
			setup: func(t *testing.T, _ *fakerds.Server, c *databaseClient, req databaseRequest) {
				if _, err := c.Create(t.Context(), req); err != nil {
					t.Fatal(err)
				}
			},
			want: want{Kind: "Retry", Err: `delete RDS instance "del": it is creating, and RDS takes the final snapshot "del-final-1700000000" only of an available instance; retrying`,
				Exists: true, State: "creating", Deletes: 1},
		},
		"DeletionProtection": {
			reason: "With spec.deletionProtection the deletion is blocked without a call, and the instance stays.",
			spec:   databasev1alpha1.DatabaseSpec{DeletionProtection: true},
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				createReady(t, srv, c, req)
			},
			want: want{Kind: "Blocked", Err: `deletionProtection is true: set spec.deletionProtection to false to delete RDS instance "del" (a final snapshot is kept), or set spec.deletionPolicy to Orphan to keep the instance`,
				Exists: true, State: "available"},
		},
		"ProtectedInRDS": {
			reason: "Deletion protection turned on in RDS blocks the deletion too.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				createReady(t, srv, c, req)
				if _, err := plainRDS(srv).ModifyDBInstance(t.Context(), &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("del"), DeletionProtection: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			},
			want: want{Kind: "Blocked", Err: `RDS instance "del" has deletion protection turned on in RDS although spec.deletionProtection is false`,
				Exists: true, State: "available", Deletes: 1},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t)
			c := connectFakeRDS(t, srv)
			req := dbRequest(newDatabase("del", tc.spec), "del", generatePassword(t, c))
			if tc.setup != nil {
				tc.setup(t, srv, c, req)
			}
			res, err := c.Delete(t.Context(), req)
			got := want{Gone: res.Gone}
			if err != nil {
				got.Kind, got.Err = kind(err), err.Error()
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			o := observeDB(t, c, req)
			got.Exists, got.State = o.Exists, o.State
			for _, s := range srv.Snapshots() {
				got.Snapshots = append(got.Snapshots, s.Identifier)
			}
			got.Deletes = srv.Calls("DeleteDBInstance")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nDelete(...): -want, +got:\n%s", tc.reason, diff)
			}

			if tc.want.State == "deleting" {
				srv.Advance(stateTime)
				if o := observeDB(t, c, req); o.Exists {
					t.Errorf("%s\nObserve(...) once RDS deleted it: exists in state %q", tc.reason, o.State)
				}
				if res, err := c.Delete(t.Context(), req); err != nil || !res.Gone {
					t.Errorf("%s\nDelete(...) once gone = %+v, %v; want it gone", tc.reason, res, err)
				}
			}
		})
	}
}

func TestDatabaseErrors(t *testing.T) {
	const wrongSecret = "wRoNg/SeCrEt+0123456789"
	type want struct {
		Kind string // of the error
		Err  string // a substring of it
	}
	type setupFunc func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest)
	ready := func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
		createReady(t, srv, c, req)
	}
	cases := map[string]struct {
		reason       string
		fakeOpts     []fakerds.Option
		accessKey    string // the fake's default unless set
		secretKey    string
		externalName string // "err" unless set
		spec         databasev1alpha1.DatabaseSpec
		noPassword   bool
		setup        setupFunc
		change       func(*databasev1alpha1.DatabaseSpec)
		call         string // Observe, Create or Update
		want         want
		// wantCalls are the calls the fake answered, when set: a terminal
		// Update computed by the driver reads and changes nothing.
		wantCalls map[string]int
	}{
		"Throttled": {
			reason: "RDS's 400 Throttling is throttling.",
			setup: func(_ *testing.T, srv *fakerds.Server, _ *databaseClient, _ databaseRequest) {
				srv.ThrottleNext(1)
			},
			call: "Observe",
			want: want{Kind: "Throttled", Err: `describe RDS instance "err" in region "us-east-1"`},
		},
		"UnknownAccessKey": {
			reason:    "An access key RDS does not know is bad credentials, and the secret is not in the error.",
			accessKey: "AKIAUNKNOWN000000000", secretKey: wrongSecret,
			call: "Observe",
			want: want{Kind: "BadCredentials", Err: "InvalidClientTokenId"},
		},
		"WrongSecret": {
			reason:    "A wrong secret is bad credentials, and the secret is not in the error.",
			secretKey: wrongSecret,
			call:      "Create",
			want:      want{Kind: "BadCredentials", Err: "SignatureDoesNotMatch"},
			wantCalls: map[string]int{},
		},
		"StorageEncryptedChange": {
			reason:    "RDS cannot change the encryption of an instance: terminal, and nothing is modified.",
			setup:     ready,
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.StorageEncrypted = aws.Bool(false) },
			call:      "Update",
			want:      want{Kind: "Terminal", Err: `spec.storageEncrypted is false but the storage of RDS instance "err" is encrypted, and RDS cannot decrypt an existing instance`},
			wantCalls: map[string]int{"DescribeDBInstances": 1},
		},
		"OwnerChange": {
			reason:    "RDS cannot rename the master user: terminal.",
			setup:     ready,
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.Owner = "someone_else" },
			call:      "Update",
			want:      want{Kind: "Terminal", Err: `spec.owner is "someone_else" but RDS instance "err" was created with master user "stratus_admin"`},
			wantCalls: map[string]int{"DescribeDBInstances": 1},
		},
		"StorageShrink": {
			reason:    "RDS cannot shrink storage: terminal.",
			spec:      databasev1alpha1.DatabaseSpec{StorageGB: aws.Int32(40)},
			setup:     ready,
			change:    func(s *databasev1alpha1.DatabaseSpec) { s.StorageGB = aws.Int32(30) },
			call:      "Update",
			want:      want{Kind: "Terminal", Err: `RDS cannot shrink storage: set spec.storageGB to 40 or more`},
			wantCalls: map[string]int{"DescribeDBInstances": 1},
		},
		"StorageGrowthTooSmall": {
			reason: "RDS refuses storage growth under 10 percent with InvalidParameterValue: terminal.",
			setup:  ready,
			change: func(s *databasev1alpha1.DatabaseSpec) { s.StorageGB = aws.Int32(21) },
			call:   "Update",
			want:   want{Kind: "Terminal", Err: "must be increased by at least 10 percent"},
		},
		"Busy": {
			reason: "Modifying an instance RDS is still creating is retried, not terminal.",
			setup: func(t *testing.T, _ *fakerds.Server, c *databaseClient, req databaseRequest) {
				if _, err := c.Create(t.Context(), req); err != nil {
					t.Fatal(err)
				}
			},
			change: func(s *databasev1alpha1.DatabaseSpec) { s.HighAvailability = aws.Bool(true) },
			call:   "Update",
			want:   want{Kind: "Retry", Err: `modify RDS instance "err": it is creating, and RDS modifies only available instances; retrying`},
		},
		"UnmappableName": {
			reason:       "An external name that is no RDS identifier is terminal, without a call.",
			externalName: "9_lives",
			call:         "Create",
			want:         want{Kind: "Terminal", Err: `external name "9_lives" cannot be an RDS instance identifier`},
			wantCalls:    map[string]int{},
		},
		"MissingPassword": {
			reason:     "Create without the generated password is an error, without a call.",
			noPassword: true,
			call:       "Create",
			want:       want{Kind: "Retry", Err: "the connection Secret has no password for the master user"},
			wantCalls:  map[string]int{},
		},
		"InvalidOwner": {
			reason:    "An owner RDS would refuse is terminal, without a call.",
			spec:      databasev1alpha1.DatabaseSpec{Owner: "_owner"},
			call:      "Create",
			want:      want{Kind: "Terminal", Err: `spec.owner "_owner" cannot be an RDS master user name`},
			wantCalls: map[string]int{},
		},
		"StorageBelowMinimum": {
			reason: "Storage RDS refuses (InvalidParameterValue) is terminal.",
			spec:   databasev1alpha1.DatabaseSpec{StorageGB: aws.Int32(10)},
			call:   "Create",
			want:   want{Kind: "Terminal", Err: "Invalid storage size for engine name postgres and storage type gp3: 10"},
		},
		"UnknownEngineVersion": {
			reason: "A version RDS does not offer (InvalidParameterCombination) is terminal.",
			spec:   databasev1alpha1.DatabaseSpec{EngineVersion: "9"},
			call:   "Create",
			want:   want{Kind: "Terminal", Err: "Cannot find version 9 for postgres"},
		},
		"StorageQuota": {
			reason:   "Storage beyond the account's quota is terminal.",
			fakeOpts: []fakerds.Option{fakerds.WithStorageQuotaGB(10)},
			call:     "Create",
			want:     want{Kind: "Terminal", Err: "StorageQuotaExceeded"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t, tc.fakeOpts...)
			good := connectFakeRDS(t, srv)
			accessKey, secretKey := tc.accessKey, tc.secretKey
			if accessKey == "" {
				accessKey = fakerds.DefaultAccessKeyID
			}
			if secretKey == "" {
				secretKey = fakerds.DefaultSecretAccessKey
			}
			c := connectRDS(t, srv, accessKey, secretKey)
			externalName := tc.externalName
			if externalName == "" {
				externalName = "err"
			}
			password := ""
			if !tc.noPassword {
				password = generatePassword(t, good)
			}
			db := newDatabase("err", tc.spec)
			req := dbRequest(db, externalName, password)
			if tc.setup != nil {
				tc.setup(t, srv, good, req)
			}
			if tc.change != nil {
				tc.change(&db.Spec)
			}
			srv.ResetCalls()

			var err error
			switch tc.call {
			case "Observe":
				_, err = c.Observe(t.Context(), req)
			case "Create":
				_, err = c.Create(t.Context(), req)
			case "Update":
				_, err = c.Update(t.Context(), req)
			}
			var got want
			if err != nil {
				got.Kind, got.Err = kind(err), err.Error()
				for _, secret := range []string{wrongSecret, fakerds.DefaultSecretAccessKey, password} {
					if secret != "" && strings.Contains(got.Err, secret) {
						t.Errorf("%s\nthe error holds a secret: %v", tc.reason, err)
					}
				}
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\n%s(...): -want, +got:\n%s", tc.reason, tc.call, diff)
			}
			if tc.wantCalls != nil {
				if diff := cmp.Diff(tc.wantCalls, srv.CallCounts()); diff != "" {
					t.Errorf("%s\ncalls the fake answered: -want, +got:\n%s", tc.reason, diff)
				}
			}
		})
	}
}

func TestDatabaseObserveMissing(t *testing.T) {
	cases := map[string]struct {
		reason       string
		externalName string
	}{
		"NoInstance":     {reason: "An instance that does not exist is reported so, with an empty atProvider.", externalName: "missing"},
		"UnmappableName": {reason: "A name no RDS instance can have names no instance.", externalName: "_missing"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t)
			c := connectFakeRDS(t, srv)
			db := newDatabase("missing", databasev1alpha1.DatabaseSpec{})
			db.Status.AtProvider.Host = "stale"
			if diff := cmp.Diff(observation{}, observeDB(t, c, dbRequest(db, tc.externalName, "pw"))); diff != "" {
				t.Errorf("%s\nObserve(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDatabaseRegion(t *testing.T) {
	srv := startRDS(t)
	c := connectFakeRDS(t, srv)
	req := dbRequest(newDatabase("eu", databasev1alpha1.DatabaseSpec{}), "eu", generatePassword(t, c))
	req.Region = "eu-west-1"
	createReady(t, srv, c, req)
	type got struct{ East, West []string }
	if diff := cmp.Diff(got{West: []string{"eu"}}, got{East: srv.Instances(rdsTestRegion), West: srv.Instances("eu-west-1")}); diff != "" {
		t.Errorf("the request's region, not the configuration's, holds the instance: -want, +got:\n%s", diff)
	}
	o := observeDB(t, c, req)
	if !o.Available || !strings.HasSuffix(o.AtProvider.Host, ".eu-west-1.rds.amazonaws.com") {
		t.Errorf("Observe(...) in eu-west-1: available %t, host %q", o.Available, o.AtProvider.Host)
	}
}

func TestDatabaseConnect(t *testing.T) {
	cases := map[string]struct {
		reason string
		cfg    driver.Config
		want   string
	}{
		"OtherProvider": {
			reason: "A GCP configuration cannot reach RDS: terminal.",
			cfg:    driver.Config{Spec: stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderGCP}},
			want:   "Terminal",
		},
		"NoSecretKeys": {
			reason: "A credentials Secret without the keys is bad credentials.",
			cfg: driver.Config{Spec: stratusv1alpha1.ProviderConfigSpec{Provider: stratusv1alpha1.ProviderAWS,
				Credentials: stratusv1alpha1.Credentials{Source: stratusv1alpha1.CredentialsSourceSecret}}},
			want: "BadCredentials",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewDatabaseDriver().Connect(context.Background(), tc.cfg)
			if got := kind(err); err == nil || got != tc.want {
				t.Errorf("%s\nConnect(...): %v (%s), want %s", tc.reason, err, got, tc.want)
			}
		})
	}
}

// tagsBack reads an instance's tags with a plain SDK client, both ways RDS
// offers: DescribeDBInstances's TagList and ListTagsForResource. The test
// fails when they differ.
func tagsBack(t *testing.T, srv *fakerds.Server, id string) map[string]string {
	t.Helper()
	d := readInstanceBack(t, srv, id)
	list, err := plainRDS(srv).ListTagsForResource(t.Context(), &rds.ListTagsForResourceInput{ResourceName: d.DBInstanceArn})
	if err != nil {
		t.Fatalf("ListTagsForResource(%q): %v", id, err)
	}
	described, listed := rdsTagMap(d.TagList), rdsTagMap(list.TagList)
	if diff := cmp.Diff(described, listed); diff != "" {
		t.Errorf("the tags of %q: DescribeDBInstances -, ListTagsForResource +:\n%s", id, diff)
	}
	return listed
}

// markTags are the tags of o's owner mark, every key written.
func markTags(o driver.Owner) map[string]string {
	return map[string]string{
		driver.OwnerTag: o.ID(), driver.OwnerNamespaceTag: o.Namespace, driver.OwnerNameTag: o.Name,
		driver.OwnerUIDTag: o.UID, driver.ClusterTag: o.Cluster,
	}
}

// addTags tags an instance behind the driver's back.
func addTags(t *testing.T, srv *fakerds.Server, id string, tags map[string]string) {
	t.Helper()
	d := readInstanceBack(t, srv, id)
	if _, err := plainRDS(srv).AddTagsToResource(t.Context(), &rds.AddTagsToResourceInput{ResourceName: d.DBInstanceArn, Tags: rdsTags(tags)}); err != nil {
		t.Fatalf("AddTagsToResource(%q): %v", id, err)
	}
}

func TestDatabaseOwnership(t *testing.T) {
	mine := testOwner("test", "own")
	theirs := testOwner("team-b", "orders")
	// bare is an owner as a reconciler without a cluster name or UID makes
	// it.
	bare := driver.Owner{Namespace: "test", Name: "own"}
	type want struct {
		Owner driver.OwnerMark // the mark Observe reads before Update
		Drift []stratusv1alpha1.DriftedField
		// Kind and Err are Update's error, if any.
		Kind, Err string
		// Calls are the calls Update made.
		Calls map[string]int
		// Tags are the instance's tags after Update, read back with the
		// SDK; nil for none.
		Tags map[string]string
	}
	cases := map[string]struct {
		reason string
		// owner is the request's owner; mine unless set.
		owner *driver.Owner
		// setup makes the instance "own", available.
		setup  func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest)
		change func(*databasev1alpha1.DatabaseSpec)
		want   want
	}{
		"CreatedMarked": {
			reason: "An instance the driver created carries the mark: no ownership drift, and Update has nothing to tag.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				createReady(t, srv, c, req)
			},
			want: want{Owner: mine.Mark(), Calls: map[string]int{"DescribeDBInstances": 1}, Tags: ownerTags(mine)},
		},
		"Unmarked": {
			reason: "An instance made before marks (by a request without an owner) is unmarked: ownership drift, and Update adds the mark without modifying the instance.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				req.Owner = driver.Owner{}
				createReady(t, srv, c, req)
				if tags := tagsBack(t, srv, "own"); len(tags) != 0 {
					t.Fatalf("a Create without an owner wrote tags %v; want none", tags)
				}
			},
			want: want{
				Drift: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField, Desired: mine.ID(), Observed: "None"}},
				Calls: map[string]int{"DescribeDBInstances": 1, "AddTagsToResource": 1},
				Tags:  markTags(mine),
			},
		},
		"OtherOwner": {
			reason: "Another owner's mark is ownership drift with that owner's ID; Update (which the reconciler calls only once it allowed the claim) replaces it, and leaves other tags.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				req.Owner = theirs
				createReady(t, srv, c, req)
				addTags(t, srv, "own", map[string]string{"cost-center": "42"})
			},
			want: want{
				Owner: theirs.Mark(),
				Drift: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField, Desired: mine.ID(), Observed: theirs.ID()}},
				Calls: map[string]int{"DescribeDBInstances": 1, "AddTagsToResource": 1},
				Tags: func() map[string]string {
					m := markTags(mine)
					m["cost-center"] = "42"
					return m
				}(),
			},
		},
		"OtherOwnerStaleKeys": {
			reason: "An owner without a UID or cluster writes those keys empty: nothing of the previous owner's mark is left.",
			owner:  &bare,
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				req.Owner = theirs
				createReady(t, srv, c, req)
			},
			want: want{
				Owner: theirs.Mark(),
				Drift: []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField, Desired: bare.ID(), Observed: theirs.ID()}},
				Calls: map[string]int{"DescribeDBInstances": 1, "AddTagsToResource": 1},
				Tags:  markTags(bare),
			},
		},
		"UnmarkedAndDrifted": {
			reason: "An unmarked instance whose settings drifted too is tagged and modified.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				req.Owner = driver.Owner{}
				createReady(t, srv, c, req)
			},
			change: func(s *databasev1alpha1.DatabaseSpec) { s.BackupRetentionDays = aws.Int32(14) },
			want: want{
				Drift: []stratusv1alpha1.DriftedField{
					{Field: "spec.backupRetentionDays", Desired: "14", Observed: "7"},
					{Field: driver.OwnershipField, Desired: mine.ID(), Observed: "None"},
				},
				Calls: map[string]int{"DescribeDBInstances": 1, "AddTagsToResource": 1, "ModifyDBInstance": 1},
				Tags:  markTags(mine),
			},
		},
		"UnmarkedImmutableChange": {
			reason: "A terminal Update changes nothing: not even the mark is written.",
			setup: func(t *testing.T, srv *fakerds.Server, c *databaseClient, req databaseRequest) {
				req.Owner = driver.Owner{}
				createReady(t, srv, c, req)
			},
			change: func(s *databasev1alpha1.DatabaseSpec) { s.Owner = "someone_else" },
			want: want{
				Drift: []stratusv1alpha1.DriftedField{
					{Field: "spec.owner", Desired: "someone_else", Observed: "stratus_admin"},
					{Field: driver.OwnershipField, Desired: mine.ID(), Observed: "None"},
				},
				Kind:  "Terminal",
				Err:   `spec.owner is "someone_else" but RDS instance "own" was created with master user "stratus_admin"`,
				Calls: map[string]int{"DescribeDBInstances": 1},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t)
			c := connectFakeRDS(t, srv)
			db := newDatabase("own", databasev1alpha1.DatabaseSpec{})
			req := dbRequest(db, "own", generatePassword(t, c))
			if tc.owner != nil {
				req.Owner = *tc.owner
			}
			tc.setup(t, srv, c, req)
			if tc.change != nil {
				tc.change(&db.Spec)
			}

			var got want
			o := observeDB(t, c, req)
			got.Owner, got.Drift = o.Owner, o.Drift
			srv.ResetCalls()
			if _, err := c.Update(t.Context(), req); err != nil {
				got.Kind, got.Err = kind(err), err.Error()
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			got.Calls = srv.CallCounts()
			got.Tags = tagsBack(t, srv, "own")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nObserve, then Update: -want, +got:\n%s", tc.reason, diff)
			}
			if tc.want.Kind != "" {
				return
			}
			// Once updated, the instance is the request's owner's.
			srv.Settle()
			after := observeDB(t, c, req)
			if diff := cmp.Diff(observation{Owner: req.Owner.Mark()}, observation{Owner: after.Owner, Drift: after.Drift}); diff != "" {
				t.Errorf("%s\nObserve(...) after Update: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestDatabaseCreateOverExisting(t *testing.T) {
	theirs := testOwner("team-b", "orders")
	cases := map[string]struct {
		reason string
		// setup creates the instance "exists", available, behind the
		// Database's back.
		setup     func(t *testing.T, srv *fakerds.Server)
		wantOwner driver.OwnerMark
	}{
		"OtherOwners": {
			reason: "Another Database's instance of the same name: Create neither fails nor changes it, and Observe shows whose it is.",
			setup: func(t *testing.T, srv *fakerds.Server) {
				other := connectFakeRDS(t, srv)
				req := dbRequest(newDatabase("orders", databasev1alpha1.DatabaseSpec{SizeClass: databasev1alpha1.SizeMedium}), "exists", generatePassword(t, other))
				req.Owner = theirs
				createReady(t, srv, other, req)
			},
			wantOwner: theirs.Mark(),
		},
		"Unmarked": {
			reason: "An instance made outside the operator, untagged: Create neither fails nor tags it.",
			setup: func(t *testing.T, srv *fakerds.Server) {
				in := &rds.CreateDBInstanceInput{
					DBInstanceIdentifier: aws.String("exists"), Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.m6g.large"),
					AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("stratus_admin"), MasterUserPassword: aws.String("Sup3rSecretPassw0rd"),
					DBName: aws.String("exists"), StorageEncrypted: aws.Bool(true),
				}
				if _, err := plainRDS(srv).CreateDBInstance(t.Context(), in); err != nil {
					t.Fatalf("CreateDBInstance(...): %v", err)
				}
				srv.Settle()
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startRDS(t)
			tc.setup(t, srv)
			before, beforeTags := readInstanceBack(t, srv, "exists"), tagsBack(t, srv, "exists")
			srv.ResetCalls()

			c := connectFakeRDS(t, srv)
			db := newDatabase("mine", databasev1alpha1.DatabaseSpec{})
			req := dbRequest(db, "exists", generatePassword(t, c))
			if _, err := c.Create(t.Context(), req); err != nil {
				t.Fatalf("%s\nCreate(...) over an existing instance: %v", tc.reason, err)
			}
			if diff := cmp.Diff(map[string]int{"CreateDBInstance": 1}, srv.CallCounts()); diff != "" {
				t.Errorf("%s\ncalls of Create: -want, +got:\n%s", tc.reason, diff)
			}
			type settings struct {
				Class, Status string
				Storage       int32
				Tags          map[string]string
			}
			after := readInstanceBack(t, srv, "exists")
			if diff := cmp.Diff(
				settings{aws.ToString(before.DBInstanceClass), aws.ToString(before.DBInstanceStatus), aws.ToInt32(before.AllocatedStorage), beforeTags},
				settings{aws.ToString(after.DBInstanceClass), aws.ToString(after.DBInstanceStatus), aws.ToInt32(after.AllocatedStorage), tagsBack(t, srv, "exists")},
			); diff != "" {
				t.Errorf("%s\nthe instance after Create: -before, +after:\n%s", tc.reason, diff)
			}

			o := observeDB(t, c, req)
			wantDrift := driver.OwnershipDrift(req.Owner, tc.wantOwner)
			if diff := cmp.Diff(observation{Owner: tc.wantOwner, Drift: wantDrift}, observation{Owner: o.Owner, Drift: filterField(o.Drift, driver.OwnershipField)}); diff != "" {
				t.Errorf("%s\nObserve(...) after Create: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// filterField returns the drifted fields named field.
func filterField(drift []stratusv1alpha1.DriftedField, field string) []stratusv1alpha1.DriftedField {
	var out []stratusv1alpha1.DriftedField
	for _, d := range drift {
		if d.Field == field {
			out = append(out, d)
		}
	}
	return out
}
