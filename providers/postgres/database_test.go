package postgres

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

func TestLifecycle(t *testing.T) {
	tests := []struct {
		reason   string
		database string // the external name
	}{
		{reason: "A name the CRD's pattern allows.", database: "lifecycle_plain"},
		{reason: "A capital and a dash must be quoted to survive.", database: "Lifecycle-Odd"},
		{reason: "Quotes, a semicolon and spaces must not change any statement, nor the uri.", database: `odd"name'; DROP DATABASE postgres; --`},
	}
	for _, tt := range tests {
		t.Run(tt.database, func(t *testing.T) {
			t.Parallel()
			c := connectClient(t, superuserConfig())
			password := newPassword(t, c)
			db := newDatabase("lifecycle")
			req := newRequest(db, tt.database, password)
			owner := tt.database + "_owner"

			// Nothing yet.
			obs, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...) before Create: %v", tt.reason, err)
			}
			if diff := cmp.Diff(driver.Observation{}, obs); diff != "" {
				t.Errorf("%s\nObserve(...) before Create: -want, +got:\n%s", tt.reason, diff)
			}

			// Create, twice.
			detailsResult, err := c.Create(t.Context(), req)
			details := detailsResult.Connection
			if err != nil {
				t.Fatalf("%s\nCreate(...): %v", tt.reason, err)
			}
			if _, err := c.Create(t.Context(), req); err != nil {
				t.Fatalf("%s\nCreate(...) a second time: %v", tt.reason, err)
			}
			if got, exists := databaseOwner(t, tt.database); !exists || got != owner {
				t.Fatalf("%s\nafter Create, database %q exists=%t with owner %q; want owner %q", tt.reason, tt.database, exists, got, owner)
			}
			wantDetails := map[string]string{
				"host": pg.Host, "port": strconv.Itoa(pg.Port), "user": owner,
				"password": password, "database": tt.database, "sslmode": "disable",
			}
			gotDetails := map[string]string{}
			for k, v := range details {
				if k != driver.ConnectionURI {
					gotDetails[k] = string(v)
				}
			}
			if diff := cmp.Diff(wantDetails, gotDetails); diff != "" {
				t.Errorf("%s\nCreate(...) connection details: -want, +got:\n%s", tt.reason, diff)
			}
			loginAndCreateTable(t, string(details[driver.ConnectionURI]), "first")
			wantComment := req.Owner.Comment()
			if diff := cmp.Diff(map[string]string{"database": wantComment, "role": wantComment}, comments(t, tt.database, owner)); diff != "" {
				t.Errorf("%s\nafter Create, comments: -want, +got:\n%s", tt.reason, diff)
			}

			// Observe: up to date.
			obs, err = c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
			}
			want := driver.Observation{Exists: true, Available: true, State: "available", Connection: details, Owner: req.Owner.Mark()}
			if diff := cmp.Diff(want, obs); diff != "" {
				t.Errorf("%s\nObserve(...): -want, +got:\n%s", tt.reason, diff)
			}
			wantAtProvider := databasev1alpha1.DatabaseObservation{
				Name: tt.database, Owner: owner, EngineVersion: serverMajor(t),
				Host: pg.Host, Port: int32(pg.Port), State: "available",
			}
			if diff := cmp.Diff(wantAtProvider, db.Status.AtProvider); diff != "" {
				t.Errorf("%s\nObserve(...) status.atProvider: -want, +got:\n%s", tt.reason, diff)
			}

			// Changes behind the operator's back.
			intruder := "intruder_" + strings.ToLower(rand8(t))
			admin(t,
				"CREATE ROLE "+ident(intruder),
				"ALTER DATABASE "+ident(tt.database)+" OWNER TO "+ident(intruder),
				"ALTER ROLE "+ident(owner)+" PASSWORD 'changed behind our back'",
			)
			t.Cleanup(func() { admin(t, "DROP ROLE IF EXISTS "+ident(intruder)) })
			obs, err = c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...) after out-of-band changes: %v", tt.reason, err)
			}
			wantDrift := []stratusv1alpha1.DriftedField{
				{Field: "spec.owner", Desired: owner, Observed: intruder},
				{Field: "connection.password", Desired: "the password in the connection Secret", Observed: "a different password"},
			}
			if diff := cmp.Diff(wantDrift, obs.Drift); diff != "" {
				t.Errorf("%s\nObserve(...) drift after out-of-band changes: -want, +got:\n%s", tt.reason, diff)
			}
			for _, d := range obs.Drift {
				if strings.Contains(d.Desired+d.Observed, password) {
					t.Errorf("%s\nObserve(...) drift %s reveals the password", tt.reason, d.Field)
				}
			}

			// Update corrects both.
			updated, err := c.Update(t.Context(), req)
			details = updated.Connection
			if err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tt.reason, err)
			}
			obs, err = c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...) after Update: %v", tt.reason, err)
			}
			if diff := cmp.Diff([]stratusv1alpha1.DriftedField(nil), obs.Drift); diff != "" {
				t.Errorf("%s\nObserve(...) drift after Update: -want, +got:\n%s", tt.reason, diff)
			}
			loginAndCreateTable(t, string(details[driver.ConnectionURI]), "second")

			// Deletion protection changes nothing.
			db.Spec.DeletionProtection = true
			_, err = c.Delete(t.Context(), req)
			if !driver.IsBlocked(err) {
				t.Errorf("%s\nDelete(...) with deletionProtection: %v; want a Blocked error", tt.reason, err)
			}
			if err != nil && !strings.Contains(err.Error(), "spec.deletionProtection") {
				t.Errorf("%s\nDelete(...) with deletionProtection: %q does not say what to change", tt.reason, err)
			}
			if _, exists := databaseOwner(t, tt.database); !exists {
				t.Fatalf("%s\nDelete(...) with deletionProtection dropped the database", tt.reason)
			}

			// Delete, twice.
			db.Spec.DeletionProtection = false
			if err := deleteEventually(t, c, req); err != nil {
				t.Fatalf("%s\nDelete(...): %v", tt.reason, err)
			}
			if _, exists := databaseOwner(t, tt.database); exists {
				t.Errorf("%s\nafter Delete, database %q still exists", tt.reason, tt.database)
			}
			if roleExists(t, owner) {
				t.Errorf("%s\nafter Delete, role %q that the driver created still exists", tt.reason, owner)
			}
			if _, err := c.Delete(t.Context(), req); err != nil {
				t.Errorf("%s\nDelete(...) a second time: %v", tt.reason, err)
			}
			obs, err = c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...) after Delete: %v", tt.reason, err)
			}
			if diff := cmp.Diff(driver.Observation{}, obs); diff != "" {
				t.Errorf("%s\nObserve(...) after Delete: -want, +got:\n%s", tt.reason, diff)
			}
		})
	}
}

// rand8 is a short random suffix for names.
func rand8(t *testing.T) string {
	t.Helper()
	creds, err := driver.GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	return string(creds[driver.ConnectionPassword][:8])
}

func TestObserveOwnerRoleMissing(t *testing.T) {
	c := connectClient(t, superuserConfig())
	db := newDatabase("missing-role", func(db *databasev1alpha1.Database) { db.Spec.Owner = "missing_role_owner" })
	req := newRequest(db, "missing_role", newPassword(t, c))
	// A database whose owner is not the role the spec names, which does not
	// exist: as after DROP OWNED and DROP ROLE behind the operator's back.
	admin(t, "CREATE DATABASE missing_role")
	t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS missing_role", "DROP ROLE IF EXISTS missing_role_owner") })

	obs, err := c.Observe(t.Context(), req)
	if err != nil {
		t.Fatalf("Observe(...): %v", err)
	}
	// It was not created by this object either: it carries no owner mark.
	want := []stratusv1alpha1.DriftedField{
		{Field: driver.OwnershipField, Desired: req.Owner.ID(), Observed: driver.NoValue},
		{Field: "spec.owner", Desired: "missing_role_owner", Observed: "postgres (role missing_role_owner does not exist)"},
	}
	if diff := cmp.Diff(want, obs.Drift); diff != "" {
		t.Errorf("Observe(...) drift: -want, +got:\n%s", diff)
	}
	detailsResult, err := c.Update(t.Context(), req)
	details := detailsResult.Connection
	if err != nil {
		t.Fatalf("Update(...): %v", err)
	}
	if owner, _ := databaseOwner(t, "missing_role"); owner != "missing_role_owner" {
		t.Errorf("after Update, the owner is %q; want missing_role_owner", owner)
	}
	wantComments := map[string]string{"database": req.Owner.Comment(), "role": req.Owner.Comment()}
	if diff := cmp.Diff(wantComments, comments(t, "missing_role", "missing_role_owner")); diff != "" {
		t.Errorf("after Update, comments: -want, +got:\n%s", diff)
	}
	loginAndCreateTable(t, string(details[driver.ConnectionURI]), "t")
}

func TestValidation(t *testing.T) {
	c := connectClient(t, superuserConfig())
	major := serverMajor(t)
	next, _ := strconv.Atoi(major)
	int32p := func(v int32) *int32 { return &v }
	boolp := func(v bool) *bool { return &v }

	tests := []struct {
		reason       string
		externalName string
		mutate       func(*databasev1alpha1.Database)
		want         string // in the error message
	}{
		{reason: "MySQL is another provider's.", mutate: func(d *databasev1alpha1.Database) { d.Spec.Engine = databasev1alpha1.EngineMySQL }, want: "spec.engine"},
		{reason: "An existing server has its region.", mutate: func(d *databasev1alpha1.Database) { d.Spec.Region = "eu-west-1" }, want: "cannot honour spec.region: remove it, or use a ProviderConfig for AWS or GCP"},
		{reason: "An existing server has its size.", mutate: func(d *databasev1alpha1.Database) { d.Spec.SizeClass = databasev1alpha1.SizeSmall }, want: "cannot honour spec.sizeClass: remove it"},
		{reason: "An existing server has its storage.", mutate: func(d *databasev1alpha1.Database) { d.Spec.StorageGB = int32p(20) }, want: "spec.storageGB"},
		{reason: "Backups are the server's.", mutate: func(d *databasev1alpha1.Database) { d.Spec.BackupRetentionDays = int32p(0) }, want: "spec.backupRetentionDays"},
		{reason: "Standbys are the server's, even when set false.", mutate: func(d *databasev1alpha1.Database) { d.Spec.HighAvailability = boolp(false) }, want: "spec.highAvailability"},
		{reason: "Encryption at rest is the server's.", mutate: func(d *databasev1alpha1.Database) { d.Spec.StorageEncrypted = boolp(true) }, want: "spec.storageEncrypted"},
		{reason: "The address is the server's.", mutate: func(d *databasev1alpha1.Database) { d.Spec.PubliclyAccessible = boolp(false) }, want: "spec.publiclyAccessible"},
		{reason: "Several fields are named together.", mutate: func(d *databasev1alpha1.Database) {
			d.Spec.SizeClass = databasev1alpha1.SizeLarge
			d.Spec.StorageGB = int32p(100)
		}, want: "cannot honour spec.sizeClass, spec.storageGB: remove them"},
		{reason: "An older major version than the server's.", mutate: func(d *databasev1alpha1.Database) { d.Spec.EngineVersion = strconv.Itoa(next - 1) }, want: "set spec.engineVersion to \"" + major + "\" or remove it"},
		{reason: "A newer major version than the server's.", mutate: func(d *databasev1alpha1.Database) { d.Spec.EngineVersion = strconv.Itoa(next + 1) }, want: "spec.engineVersion"},
		{reason: "A minor version is not the major version.", mutate: func(d *databasev1alpha1.Database) { d.Spec.EngineVersion = major + ".3" }, want: "spec.engineVersion"},
		{reason: "The admin database is not the provider's to drop.", externalName: "postgres", want: "adminDatabase"},
		{reason: "Nor is a template.", externalName: "template1", want: "spec.databaseName"},
		{reason: "PostgreSQL would truncate a longer name.", externalName: strings.Repeat("x", 64), want: "63 bytes"},
		{reason: "The admin user's password must not be reset.", mutate: func(d *databasev1alpha1.Database) { d.Spec.Owner = pg.User }, want: "admin user"},
		{reason: "A predefined role is reserved.", mutate: func(d *databasev1alpha1.Database) { d.Spec.Owner = "pg_read_server_files" }, want: "reserved by PostgreSQL"},
		{reason: "PUBLIC is reserved.", mutate: func(d *databasev1alpha1.Database) { d.Spec.Owner = "public" }, want: "reserved by PostgreSQL"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			external := tt.externalName
			if external == "" {
				external = "validation_" + strings.ToLower(rand8(t))
			}
			db := newDatabase("validation")
			if tt.mutate != nil {
				tt.mutate(db)
			}
			req := newRequest(db, external, newPassword(t, c))
			calls := map[string]func() error{
				"Observe": func() error { _, err := c.Observe(t.Context(), req); return err },
				"Create":  func() error { _, err := c.Create(t.Context(), req); return err },
				"Update":  func() error { _, err := c.Update(t.Context(), req); return err },
				"Delete":  func() error { _, err := c.Delete(t.Context(), req); return err },
			}
			for name, call := range calls {
				err := call()
				if !driver.IsTerminal(err) {
					t.Errorf("%s\n%s(...): %v; want a terminal error", tt.reason, name, err)
					continue
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s\n%s(...): %q; want it to contain %q", tt.reason, name, err, tt.want)
				}
			}
			if external != tt.externalName {
				if _, exists := databaseOwner(t, external); exists {
					t.Errorf("%s\ndatabase %q was created despite the invalid spec", tt.reason, external)
				}
			}
		})
	}

	t.Run("the server's major version is accepted", func(t *testing.T) {
		db := newDatabase("validation", func(d *databasev1alpha1.Database) { d.Spec.EngineVersion = major })
		if _, err := c.Observe(t.Context(), newRequest(db, "validation_ok", "")); err != nil {
			t.Errorf("Observe(...) with engineVersion %q: %v", major, err)
		}
	})
}

func TestDeleteKeepsRolesItDidNotCreate(t *testing.T) {
	c := connectClient(t, superuserConfig())

	// Before owner marks, naming a pre-existing role as owner used the role;
	// it is now refused, and a database such a role owns (made by hand and
	// adopted) is dropped without the role.
	t.Run("a pre-existing role named as owner", func(t *testing.T) {
		admin(t, "CREATE ROLE preexisting_owner LOGIN")
		t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS preexisting_db", "DROP ROLE IF EXISTS preexisting_owner") })
		db := newDatabase("preexisting", func(d *databasev1alpha1.Database) { d.Spec.Owner = "preexisting_owner" })
		req := newRequest(db, "preexisting_db", newPassword(t, c))
		if _, err := c.Create(t.Context(), req); !driver.IsTerminal(err) {
			t.Fatalf("Create(...) naming a role this object did not create: %v; want a terminal error", err)
		}
		if _, exists := databaseOwner(t, "preexisting_db"); exists {
			t.Fatalf("Create(...) naming a role this object did not create made the database")
		}
		admin(t, "CREATE DATABASE preexisting_db OWNER preexisting_owner")
		if err := deleteEventually(t, c, req); err != nil {
			t.Fatalf("Delete(...): %v", err)
		}
		if _, exists := databaseOwner(t, "preexisting_db"); exists {
			t.Errorf("after Delete, the database still exists")
		}
		if !roleExists(t, "preexisting_owner") {
			t.Errorf("Delete(...) dropped role preexisting_owner, which existed before")
		}
	})

	// Another Database may no longer share the role; a role that still owns
	// a database blocks its own drop.
	t.Run("a role another Database created", func(t *testing.T) {
		t.Cleanup(func() {
			admin(t, "DROP DATABASE IF EXISTS shared_a", "DROP DATABASE IF EXISTS shared_b", "DROP ROLE IF EXISTS shared_owner")
		})
		shared := func(d *databasev1alpha1.Database) { d.Spec.Owner = "shared_owner" }
		password := newPassword(t, c)
		reqA := newRequest(newDatabase("a", shared), "shared_a", password)
		reqB := newRequest(newDatabase("b", shared), "shared_b", password)
		if _, err := c.Create(t.Context(), reqA); err != nil {
			t.Fatalf("Create(a): %v", err)
		}
		if _, err := c.Create(t.Context(), reqB); !driver.IsTerminal(err) {
			t.Fatalf("Create(b) naming a's role: %v; want a terminal error", err)
		}
		if _, exists := databaseOwner(t, "shared_b"); exists {
			t.Fatalf("Create(b) naming a's role made the database")
		}

		// A made the role, which still owns a database made by hand.
		admin(t, "CREATE DATABASE shared_b OWNER shared_owner")
		_, err := c.Delete(t.Context(), reqA)
		if !driver.IsBlocked(err) {
			t.Fatalf("Delete(a) while another database is owned by a's role: %v; want a Blocked error", err)
		}
		if !roleExists(t, "shared_owner") {
			t.Fatalf("Delete(a) dropped the role another database needs")
		}
		if err := deleteEventually(t, c, reqB); err != nil {
			t.Fatalf("Delete(b): %v", err)
		}
		if !roleExists(t, "shared_owner") {
			t.Errorf("Delete(b) dropped role shared_owner, which a created")
		}
		if err := deleteEventually(t, c, reqA); err != nil {
			t.Fatalf("Delete(a) once b is gone: %v", err)
		}
		if roleExists(t, "shared_owner") {
			t.Errorf("Delete(a) once b is gone kept role shared_owner, which a created")
		}
	})
}

func TestDeleteInUse(t *testing.T) {
	c := connectClient(t, superuserConfig())
	req := newRequest(newDatabase("in-use"), "in_use", newPassword(t, c))
	t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS in_use WITH (FORCE)", "DROP ROLE IF EXISTS in_use_owner") })
	detailsResult, err := c.Create(t.Context(), req)
	details := detailsResult.Connection
	if err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	session := connectURI(t, string(details[driver.ConnectionURI]))

	_, err = c.Delete(t.Context(), req)
	if err == nil || driver.IsTerminal(err) || driver.IsBlocked(err) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("Delete(...) with a session connected: %v; want a retryable error saying the database is in use", err)
	}
	if _, exists := databaseOwner(t, "in_use"); !exists {
		t.Fatalf("Delete(...) with a session connected dropped the database")
	}
	if !roleExists(t, "in_use_owner") {
		t.Fatalf("Delete(...) with a session connected dropped the role")
	}

	_ = session.Close(t.Context())
	if err := deleteEventually(t, c, req); err != nil {
		t.Fatalf("Delete(...) once the session is gone: %v", err)
	}
	if _, exists := databaseOwner(t, "in_use"); exists {
		t.Errorf("after Delete, the database still exists")
	}
}

func TestNonSuperuserAdmin(t *testing.T) {
	tests := []struct {
		reason     string
		admin      string
		attributes string
		wantErr    string // empty: Create succeeds
	}{
		{reason: "CREATEDB and CREATEROLE are enough, as on managed services.", admin: "limited_admin", attributes: "CREATEDB CREATEROLE"},
		{reason: "Without CREATEROLE the role cannot be made.", admin: "no_createrole_admin", attributes: "CREATEDB", wantErr: "CREATEROLE"},
		{reason: "Without CREATEDB the database cannot be made.", admin: "no_createdb_admin", attributes: "CREATEROLE", wantErr: "CREATEDB"},
	}
	for _, tt := range tests {
		t.Run(tt.admin, func(t *testing.T) {
			t.Parallel()
			database := tt.admin + "_db"
			admin(t, "CREATE ROLE "+tt.admin+" LOGIN "+tt.attributes+" PASSWORD 'admin-password'")
			t.Cleanup(func() {
				admin(t, "DROP DATABASE IF EXISTS "+database+" WITH (FORCE)", "DROP ROLE IF EXISTS "+database+"_owner", "DROP ROLE "+tt.admin)
			})
			c := connectClient(t, config(tt.admin, "admin-password"))
			req := newRequest(newDatabase(tt.admin), database, newPassword(t, c))

			detailsResult, err := c.Create(t.Context(), req)

			details := detailsResult.Connection
			if tt.wantErr != "" {
				if !driver.IsTerminal(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s\nCreate(...): %v; want a terminal error naming %s", tt.reason, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s\nCreate(...): %v", tt.reason, err)
			}
			loginAndCreateTable(t, string(details[driver.ConnectionURI]), "t")

			// pg_authid is out of reach: the password check is skipped,
			// silently.
			admin(t, "ALTER ROLE "+database+"_owner PASSWORD 'changed behind our back'")
			obs, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
			}
			if diff := cmp.Diff([]stratusv1alpha1.DriftedField(nil), obs.Drift); diff != "" {
				t.Errorf("%s\nObserve(...) drift without access to pg_authid: -want, +got:\n%s", tt.reason, diff)
			}

			if err := deleteEventually(t, c, req); err != nil {
				t.Fatalf("%s\nDelete(...): %v", tt.reason, err)
			}
			if _, exists := databaseOwner(t, database); exists {
				t.Errorf("%s\nafter Delete, the database still exists", tt.reason)
			}
			if roleExists(t, database+"_owner") {
				t.Errorf("%s\nafter Delete, the role still exists", tt.reason)
			}
		})
	}
}

func TestCreateNeedsPassword(t *testing.T) {
	c := connectClient(t, superuserConfig())
	req := newRequest(newDatabase("no-password"), "no_password", "")
	_, err := c.Create(t.Context(), req)
	if err == nil || !strings.Contains(err.Error(), "no password") {
		t.Fatalf("Create(...) without a password in the connection Secret: %v; want an error saying so", err)
	}
	if roleExists(t, "no_password_owner") {
		t.Errorf("Create(...) without a password made the role")
	}
}

// comments returns the comments on a database and a role.
func comments(t *testing.T, database, role string) map[string]string {
	t.Helper()
	var dbComment, roleComment *string
	err := adminConn(t).QueryRow(bg(t), `SELECT
		(SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1),
		(SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $2)`, database, role).Scan(&dbComment, &roleComment)
	if err != nil {
		t.Fatalf("read comments: %v", err)
	}
	got := map[string]string{}
	if dbComment != nil {
		got["database"] = *dbComment
	}
	if roleComment != nil {
		got["role"] = *roleComment
	}
	return got
}

func TestPasswordNeverReachesServerLog(t *testing.T) {
	// An admin whose every statement the server logs.
	admin(t,
		"CREATE ROLE logged_admin LOGIN SUPERUSER PASSWORD 'admin-password'",
		"ALTER ROLE logged_admin SET log_statement = 'all'",
	)
	t.Cleanup(func() {
		admin(t, "DROP DATABASE IF EXISTS logged_db", "DROP ROLE IF EXISTS logged_db_owner", "DROP ROLE logged_admin")
	})
	c := connectClient(t, config("logged_admin", "admin-password"))
	password := newPassword(t, c)
	req := newRequest(newDatabase("logged"), "logged_db", password)

	if _, err := c.Create(t.Context(), req); err != nil {
		t.Fatalf("Create(...): %v", err)
	}
	admin(t, "ALTER ROLE logged_db_owner PASSWORD 'changed behind our back'")
	detailsResult, err := c.Update(t.Context(), req)
	details := detailsResult.Connection
	if err != nil {
		t.Fatalf("Update(...): %v", err)
	}
	loginAndCreateTable(t, string(details[driver.ConnectionURI]), "t")
	if err := deleteEventually(t, c, req); err != nil {
		t.Fatalf("Delete(...): %v", err)
	}

	b, err := os.ReadFile(pg.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, stmt := range []string{`CREATE ROLE logged_db_owner LOGIN PASSWORD 'SCRAM-SHA-256$`, `ALTER ROLE logged_db_owner PASSWORD 'SCRAM-SHA-256$`} {
		if !strings.Contains(log, stmt) {
			t.Errorf("the server log has no statement starting %q: is log_statement working?", stmt)
		}
	}
	if strings.Contains(log, password) {
		t.Errorf("the server log contains the owner's password")
	}
}
