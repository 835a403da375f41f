package postgres

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// The tests of this file check owner marks and tenant isolation: what a
// Database may do to databases and roles on a server that others share.

// lit quotes s as an SQL string literal, for the tests' own statements.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// otherOwner is the identity of another object, in another namespace.
func otherOwner(name string) driver.Owner {
	return driver.Owner{Cluster: testCluster, Namespace: "ho-a", Name: name, UID: "uid-of-" + name}
}

// roleSnapshot is everything about a role that the driver must not change
// in a role it does not own.
type roleSnapshot struct {
	Super, Inherit, CreateRole, CreateDB, CanLogin, Replication, BypassRLS bool
	ConnLimit                                                              int32
	Password, Comment                                                      string
	MemberOf, Members, Databases                                           []string
}

// snapshotRole reads role as the superuser.
func snapshotRole(t *testing.T, role string) roleSnapshot {
	t.Helper()
	var s roleSnapshot
	err := adminConn(t).QueryRow(bg(t), `SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,
		rolconnlimit, coalesce(rolpassword, ''), coalesce(shobj_description(oid, 'pg_authid'), ''),
		ARRAY(SELECT roleid::regrole::text FROM pg_auth_members WHERE member = a.oid ORDER BY 1),
		ARRAY(SELECT member::regrole::text FROM pg_auth_members WHERE roleid = a.oid ORDER BY 1),
		ARRAY(SELECT datname::text FROM pg_database WHERE datdba = a.oid ORDER BY 1)
		FROM pg_authid a WHERE rolname = $1`, role).Scan(
		&s.Super, &s.Inherit, &s.CreateRole, &s.CreateDB, &s.CanLogin, &s.Replication, &s.BypassRLS,
		&s.ConnLimit, &s.Password, &s.Comment, &s.MemberOf, &s.Members, &s.Databases)
	if err != nil {
		t.Fatalf("read role %q: %v", role, err)
	}
	return s
}

// databaseComment returns the comment on database name, "" when it has none.
func databaseComment(t *testing.T, name string) string {
	t.Helper()
	return comments(t, name, "")["database"]
}

// login logs in as role with password over TCP, as an application would.
func login(t *testing.T, role, password string) error {
	t.Helper()
	u := url.URL{
		Scheme: "postgres", User: url.UserPassword(role, password),
		Host: net.JoinHostPort(pg.Host, strconv.Itoa(pg.Port)), Path: "/postgres", RawQuery: "sslmode=disable",
	}
	conn, err := pgx.Connect(bg(t), u.String())
	if err != nil {
		return err
	}
	return conn.Close(context.Background())
}

// roleStatements are the operations of statements that change a role or
// give it a database.
var roleStatements = []string{"create_role", "alter_role", "comment_role", "drop_role", "grant", "revoke", "alter_database", "create_database"}

// countChanges returns how many statements of roleStatements do counted.
func countChanges(t *testing.T, do func()) map[string]float64 {
	t.Helper()
	before := statementCounts(roleStatements...)
	do()
	got := map[string]float64{}
	for k, v := range statementCounts(roleStatements...) {
		if d := v - before[k]; d != 0 {
			got[k] = d
		}
	}
	return got
}

func TestCreateMarksDatabaseAndRole(t *testing.T) {
	tests := []struct {
		reason string
		admin  string // attributes of a dedicated admin user; empty: the superuser
		owner  string // spec.owner
	}{
		{reason: "The default owner role, with the superuser."},
		{reason: "spec.owner names a role that does not exist yet.", owner: "marks_app"},
		{reason: "An admin user with CREATEDB and CREATEROLE, as on managed services.", admin: "CREATEDB CREATEROLE"},
	}
	for i, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			database := "marks_" + strconv.Itoa(i)
			cfg := superuserConfig()
			if tt.admin != "" {
				adminUser := "marks_admin_" + strconv.Itoa(i)
				admin(t, "CREATE ROLE "+adminUser+" LOGIN "+tt.admin+" PASSWORD 'admin-password'")
				t.Cleanup(func() { admin(t, "DROP ROLE IF EXISTS "+adminUser) })
				cfg = config(adminUser, "admin-password")
			}
			c := connectClient(t, cfg)
			db := newDatabase("marks", func(d *databasev1alpha1.Database) { d.Spec.Owner = tt.owner })
			req := newRequest(db, database, newPassword(t, c))
			role := tt.owner
			if role == "" {
				role = database + "_owner"
			}
			t.Cleanup(func() {
				admin(t, "DROP DATABASE IF EXISTS "+database+" WITH (FORCE)", "DROP ROLE IF EXISTS "+role)
			})

			detailsResult, err := c.Create(t.Context(), req)

			details := detailsResult.Connection
			if err != nil {
				t.Fatalf("%s\nCreate(...): %v", tt.reason, err)
			}
			want := map[string]string{"database": req.Owner.Comment(), "role": req.Owner.Comment()}
			got := comments(t, database, role)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s\nafter Create, comments: -want, +got:\n%s", tt.reason, diff)
			}
			for what, comment := range got {
				if mark := driver.MarkFromComment(comment); mark != req.Owner.Mark() {
					t.Errorf("%s\nthe %s's comment reads back as mark %+v; want %+v", tt.reason, what, mark, req.Owner.Mark())
				}
			}
			loginAndCreateTable(t, string(details[driver.ConnectionURI]), "t")

			obs, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
			}
			if obs.Owner != req.Owner.Mark() || len(obs.Drift) != 0 {
				t.Errorf("%s\nObserve(...) owner %+v, drift %v; want owner %+v and no drift", tt.reason, obs.Owner, obs.Drift, req.Owner.Mark())
			}
			// Update of a resource this object owns still works: it is what
			// the reconciler calls on drift.
			if _, err := c.Update(t.Context(), req); err != nil {
				t.Errorf("%s\nUpdate(...): %v", tt.reason, err)
			}
			if err := deleteEventually(t, c, req); err != nil {
				t.Fatalf("%s\nDelete(...): %v", tt.reason, err)
			}
			if roleExists(t, role) {
				t.Errorf("%s\nafter Delete, role %q that the driver created still exists", tt.reason, role)
			}
		})
	}
}

func TestRefusesOwnerRolesItMustNotUse(t *testing.T) {
	const oldPassword = "old-Passw0rd-of-the-role"
	tests := []struct {
		reason string
		// admin holds the attributes of a dedicated admin user; empty: the
		// superuser.
		admin string
		// attributes of the role, besides LOGIN and its password.
		attributes string
		// comment on the role; mine stands for this object's mark.
		comment string
		// setup runs as the superuser once the role exists, with its name.
		setup   func(t *testing.T, role, adminUser string)
		foreign bool   // the role is not this object's
		want    string // in the error message
	}{
		{
			reason:  "The attack: another namespace's Database created the role.",
			comment: otherOwner("orders").Comment(), foreign: true, want: "belongs to another object",
		},
		{reason: "A role without a comment.", foreign: true, want: "carries no owner mark"},
		{reason: "A role with someone's comment.", comment: "payments team, do not touch", foreign: true, want: "carries no owner mark"},
		{
			reason:  "Another object's role, marked before owner marks.",
			comment: "managed by stratus: ho-a/orders 1234-abcd", foreign: true, want: "did not create it",
		},
		{reason: "A superuser.", attributes: "SUPERUSER", foreign: true, want: "did not create it"},
		{reason: "A superuser carrying this object's mark.", attributes: "SUPERUSER", comment: "mine", want: "SUPERUSER"},
		{reason: "CREATEROLE, even marked.", attributes: "CREATEROLE", comment: "mine", want: "CREATEROLE"},
		{reason: "REPLICATION, even marked.", attributes: "REPLICATION", comment: "mine", want: "REPLICATION"},
		{reason: "BYPASSRLS, even marked.", attributes: "BYPASSRLS", comment: "mine", want: "BYPASSRLS"},
		{
			reason: "A member of pg_read_server_files, even marked.", comment: "mine", want: "membership in pg_read_server_files",
			setup: func(t *testing.T, role, _ string) { admin(t, "GRANT pg_read_server_files TO "+role) },
		},
		{
			reason: "A member of pg_execute_server_program through a group, even marked.", comment: "mine", want: "membership in pg_execute_server_program",
			setup: func(t *testing.T, role, _ string) {
				group := role + "_group"
				admin(t, "CREATE ROLE "+group, "GRANT pg_execute_server_program TO "+group, "GRANT "+group+" TO "+role)
				t.Cleanup(func() { admin(t, "DROP ROLE IF EXISTS "+group) })
			},
		},
		{
			reason: "A member of a role the admin user cannot grant, even marked.", admin: "CREATEDB CREATEROLE", comment: "mine",
			want: "_team",
			setup: func(t *testing.T, role, adminUser string) {
				team := role + "_team"
				admin(t, "CREATE ROLE "+team, "GRANT "+team+" TO "+role, "GRANT "+role+" TO "+adminUser)
				t.Cleanup(func() { admin(t, "DROP ROLE IF EXISTS "+team) })
			},
		},
		{
			reason: "CREATEDB that the admin user lacks, even marked.", admin: "CREATEROLE", attributes: "CREATEDB", comment: "mine",
			want:  "CREATEDB, which the admin user lacks",
			setup: func(t *testing.T, role, adminUser string) { admin(t, "GRANT "+role+" TO "+adminUser) },
		},
	}
	for i, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			role := "refused_" + strconv.Itoa(i)
			database := role + "_db"
			cfg, adminUser := superuserConfig(), pg.User
			if tt.admin != "" {
				adminUser = role + "_admin"
				admin(t, "CREATE ROLE "+adminUser+" LOGIN "+tt.admin+" PASSWORD 'admin-password'")
				t.Cleanup(func() { admin(t, "DROP ROLE IF EXISTS "+adminUser) })
				cfg = config(adminUser, "admin-password")
			}
			c := connectClient(t, cfg)
			db := newDatabase("refused", func(d *databasev1alpha1.Database) { d.Spec.Owner = role })
			req := newRequest(db, database, newPassword(t, c))
			comment := tt.comment
			if comment == "mine" {
				comment = req.Owner.Comment()
			}
			admin(t, "CREATE ROLE "+role+" LOGIN "+tt.attributes+" PASSWORD "+lit(oldPassword))
			t.Cleanup(func() {
				admin(t, "DROP DATABASE IF EXISTS "+database+" WITH (FORCE)", "DROP ROLE IF EXISTS "+role)
			})
			if comment != "" {
				admin(t, "COMMENT ON ROLE "+role+" IS "+lit(comment))
			}
			if tt.setup != nil {
				tt.setup(t, role, adminUser)
			}
			before := snapshotRole(t, role)

			wantRefused := func(call string, err error) {
				t.Helper()
				if !driver.IsTerminal(err) {
					t.Errorf("%s\n%s(...): %v; want a terminal error", tt.reason, call, err)
					return
				}
				for _, s := range []string{tt.want, role, "spec.owner"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("%s\n%s(...): %q; want it to contain %q", tt.reason, call, err, s)
					}
				}
			}
			changes := countChanges(t, func() {
				// Create, while the database does not exist.
				_, err := c.Create(t.Context(), req)
				wantRefused("Create", err)
				if _, exists := databaseOwner(t, database); exists {
					t.Errorf("%s\nCreate(...) made the database", tt.reason)
				}

				// Update of the object's own database (adopted, or made
				// before owner marks), as the reconciler calls it on the
				// drift Observe reports.
				// The database is owned by the role, so that an admin user
				// that is not a superuser may drop it.
				admin(t, "CREATE DATABASE "+database+" OWNER "+role, "COMMENT ON DATABASE "+database+" IS "+lit(req.Owner.Comment()))
				obs, err := c.Observe(t.Context(), req)
				if err != nil {
					t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
				}
				if tt.foreign {
					// The role is refused, in spec.owner; its password is
					// not compared.
					want := []stratusv1alpha1.DriftedField{{Field: "spec.owner", Desired: role, Observed: role + " (role " + role + " was not created by this object)"}}
					if diff := cmp.Diff(want, obs.Drift); diff != "" {
						t.Errorf("%s\nObserve(...) drift: -want, +got:\n%s", tt.reason, diff)
					}
				}
				_, err = c.Update(t.Context(), req)
				wantRefused("Update", err)

				// Delete drops the object's database, not the role.
				if err := deleteEventually(t, c, req); err != nil {
					t.Fatalf("%s\nDelete(...): %v", tt.reason, err)
				}
			})
			if len(changes) != 0 {
				t.Errorf("%s\nstatements that change roles or give databases were run: %v", tt.reason, changes)
			}
			if _, exists := databaseOwner(t, database); exists {
				t.Errorf("%s\nafter Delete, the object's database still exists", tt.reason)
			}
			if !roleExists(t, role) {
				t.Fatalf("%s\nDelete(...) dropped role %q", tt.reason, role)
			}
			if diff := cmp.Diff(before, snapshotRole(t, role)); diff != "" {
				t.Errorf("%s\nthe role changed: -before, +after:\n%s", tt.reason, diff)
			}
			if err := login(t, role, oldPassword); err != nil {
				t.Errorf("%s\nlogging in as %q with its old password: %v", tt.reason, role, err)
			}
		})
	}
}

func TestAnotherNamespaceCannotTakeOver(t *testing.T) {
	c := connectClient(t, superuserConfig())
	// ho-a's Database, created by the operator.
	dbA := newDatabase("orders", func(d *databasev1alpha1.Database) { d.Namespace = "ho-a" })
	reqA := newRequest(dbA, "ho_a_orders", newPassword(t, c))
	t.Cleanup(func() {
		admin(t, "DROP DATABASE IF EXISTS ho_a_orders WITH (FORCE)", "DROP ROLE IF EXISTS ho_a_orders_owner", "DROP ROLE IF EXISTS ho_b_app")
	})
	detailsAResult, err := c.Create(t.Context(), reqA)
	detailsA := detailsAResult.Connection
	if err != nil {
		t.Fatalf("Create(ho-a): %v", err)
	}
	roleBefore := snapshotRole(t, "ho_a_orders_owner")

	tests := []struct {
		reason       string
		externalName string
		owner        string // spec.owner
		want         string // in Create's error; empty: no error
	}{
		{reason: "ho-b names ho-a's owner role as its own.", externalName: "ho_b_orders", owner: "ho_a_orders_owner", want: "belongs to another object"},
		{reason: "ho-b names ho-a's database, with the same default owner role.", externalName: "ho_a_orders"},
		{reason: "ho-b names ho-a's database, with an owner role of its own.", externalName: "ho_a_orders", owner: "ho_b_app"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			dbB := newDatabase("orders", func(d *databasev1alpha1.Database) {
				d.Namespace = "ho-b"
				d.Spec.Owner = tt.owner
			})
			reqB := newRequest(dbB, tt.externalName, newPassword(t, c))
			t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS ho_b_orders") })

			changes := countChanges(t, func() {
				detailsResult, err := c.Create(t.Context(), reqB)
				details := detailsResult.Connection
				switch {
				case tt.want == "" && err != nil:
					t.Errorf("%s\nCreate(ho-b): %v; want no error (the reconciler checks the owner)", tt.reason, err)
				case tt.want != "" && (!driver.IsTerminal(err) || !strings.Contains(err.Error(), tt.want)):
					t.Errorf("%s\nCreate(ho-b): %v; want a terminal error containing %q", tt.reason, err, tt.want)
				}
				if len(details) != 0 {
					t.Errorf("%s\nCreate(ho-b) returned connection details %v", tt.reason, details)
				}
			})
			if len(changes) != 0 {
				t.Errorf("%s\nCreate(ho-b) ran statements that change roles or databases: %v", tt.reason, changes)
			}
			if tt.owner == "ho_b_app" && roleExists(t, "ho_b_app") {
				t.Errorf("%s\nCreate(ho-b) over an existing database made role ho_b_app", tt.reason)
			}
			if tt.externalName == "ho_a_orders" {
				// What the reconciler sees: ho-a's mark, not ho-b's.
				obs, err := c.Observe(t.Context(), reqB)
				if err != nil {
					t.Fatalf("%s\nObserve(ho-b): %v", tt.reason, err)
				}
				if obs.Owner.ID != reqA.Owner.ID() {
					t.Errorf("%s\nObserve(ho-b) reports owner %+v; want ho-a's mark %+v", tt.reason, obs.Owner, reqA.Owner.Mark())
				}
				wantDrift := stratusv1alpha1.DriftedField{Field: driver.OwnershipField, Desired: reqB.Owner.ID(), Observed: reqA.Owner.ID()}
				if len(obs.Drift) == 0 || obs.Drift[0] != wantDrift {
					t.Errorf("%s\nObserve(ho-b) drift %v; want first %v", tt.reason, obs.Drift, wantDrift)
				}
			}
		})
	}

	if diff := cmp.Diff(roleBefore, snapshotRole(t, "ho_a_orders_owner")); diff != "" {
		t.Errorf("ho-a's owner role changed: -before, +after:\n%s", diff)
	}
	if diff := cmp.Diff(reqA.Owner.Comment(), databaseComment(t, "ho_a_orders")); diff != "" {
		t.Errorf("ho-a's database comment changed: -want, +got:\n%s", diff)
	}
	loginAndCreateTable(t, string(detailsA[driver.ConnectionURI]), "still_mine")
}

func TestCreateOverExistingDatabase(t *testing.T) {
	c := connectClient(t, superuserConfig())
	tests := []struct {
		reason  string
		comment string // on the existing database
	}{
		{reason: "A database made by hand, without a comment."},
		{reason: "A database with someone's comment.", comment: "payments team"},
		{reason: "A database another object created.", comment: otherOwner("billing").Comment()},
	}
	for i, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			database := "existing_" + strconv.Itoa(i)
			role := database + "_owner"
			admin(t, "CREATE DATABASE "+database)
			t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+database, "DROP ROLE IF EXISTS "+role) })
			if tt.comment != "" {
				admin(t, "COMMENT ON DATABASE "+database+" IS "+lit(tt.comment))
			}
			req := newRequest(newDatabase("existing"), database, newPassword(t, c))

			changes := countChanges(t, func() {
				detailsResult, err := c.Create(t.Context(), req)
				details := detailsResult.Connection
				if err != nil {
					t.Errorf("%s\nCreate(...): %v; want no error", tt.reason, err)
				}
				if len(details) != 0 {
					t.Errorf("%s\nCreate(...) returned connection details %v", tt.reason, details)
				}
			})
			if len(changes) != 0 {
				t.Errorf("%s\nCreate(...) ran statements that change roles or databases: %v", tt.reason, changes)
			}
			if owner, _ := databaseOwner(t, database); owner != pg.User {
				t.Errorf("%s\nafter Create, the owner is %q; want it unchanged, %q", tt.reason, owner, pg.User)
			}
			if got := databaseComment(t, database); got != tt.comment {
				t.Errorf("%s\nafter Create, the comment is %q; want it unchanged, %q", tt.reason, got, tt.comment)
			}
			if roleExists(t, role) {
				t.Errorf("%s\nCreate(...) over an existing database made role %q", tt.reason, role)
			}

			obs, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
			}
			mark := driver.MarkFromComment(tt.comment)
			if obs.Owner != mark {
				t.Errorf("%s\nObserve(...) owner %+v; want %+v", tt.reason, obs.Owner, mark)
			}
			if want := driver.OwnershipDrift(req.Owner, mark); len(obs.Drift) == 0 || obs.Drift[0] != want[0] {
				t.Errorf("%s\nObserve(...) drift %v; want first %v", tt.reason, obs.Drift, want)
			}
		})
	}
}

func TestUpdateStampsOwnerMark(t *testing.T) {
	c := connectClient(t, superuserConfig())
	tests := []struct {
		reason string
		// unmark, run as the superuser, takes the mark off what Create made.
		unmark func(t *testing.T, database, role string, n names)
		// changePassword changes the role's password behind the operator's
		// back too.
		changePassword bool
	}{
		{
			reason: "A database whose comment was removed.",
			unmark: func(t *testing.T, database, _ string, _ names) {
				admin(t, "COMMENT ON DATABASE "+ident(database)+" IS NULL")
			},
		},
		{
			reason: "A database and role made before owner marks, whose password changed since.",
			unmark: func(t *testing.T, database, role string, n names) {
				admin(t, "COMMENT ON DATABASE "+ident(database)+" IS "+lit(n.legacyComment),
					"COMMENT ON ROLE "+ident(role)+" IS "+lit(n.legacyComment))
			},
			changePassword: true,
		},
	}
	for i, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			database := "stamp_" + strconv.Itoa(i)
			role := database + "_owner"
			t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+database+" WITH (FORCE)", "DROP ROLE IF EXISTS "+role) })
			db := newDatabase("stamp")
			password := newPassword(t, c)
			req := newRequest(db, database, password)
			if _, err := c.Create(t.Context(), req); err != nil {
				t.Fatalf("%s\nCreate(...): %v", tt.reason, err)
			}
			n, err := namesFor(db, database, "postgres", pg.User)
			if err != nil {
				t.Fatal(err)
			}
			tt.unmark(t, database, role, n)
			if tt.changePassword {
				admin(t, "ALTER ROLE "+ident(role)+" PASSWORD 'changed behind our back'")
			}

			obs, err := c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...): %v", tt.reason, err)
			}
			if obs.Owner.Marked() {
				t.Errorf("%s\nObserve(...) owner %+v; want no mark", tt.reason, obs.Owner)
			}
			wantDrift := []stratusv1alpha1.DriftedField{{Field: driver.OwnershipField, Desired: req.Owner.ID(), Observed: driver.NoValue}}
			if tt.changePassword {
				wantDrift = append(wantDrift, stratusv1alpha1.DriftedField{Field: "connection.password", Desired: "the password in the connection Secret", Observed: "a different password"})
			}
			if diff := cmp.Diff(wantDrift, obs.Drift); diff != "" {
				t.Errorf("%s\nObserve(...) drift: -want, +got:\n%s", tt.reason, diff)
			}

			detailsResult, err := c.Update(t.Context(), req)

			details := detailsResult.Connection
			if err != nil {
				t.Fatalf("%s\nUpdate(...): %v", tt.reason, err)
			}
			want := map[string]string{"database": req.Owner.Comment(), "role": req.Owner.Comment()}
			if diff := cmp.Diff(want, comments(t, database, role)); diff != "" {
				t.Errorf("%s\nafter Update, comments: -want, +got:\n%s", tt.reason, diff)
			}
			obs, err = c.Observe(t.Context(), req)
			if err != nil {
				t.Fatalf("%s\nObserve(...) after Update: %v", tt.reason, err)
			}
			if obs.Owner != req.Owner.Mark() || len(obs.Drift) != 0 {
				t.Errorf("%s\nObserve(...) after Update: owner %+v, drift %v; want owner %+v and no drift", tt.reason, obs.Owner, obs.Drift, req.Owner.Mark())
			}
			loginAndCreateTable(t, string(details[driver.ConnectionURI]), "t")

			if err := deleteEventually(t, c, req); err != nil {
				t.Fatalf("%s\nDelete(...): %v", tt.reason, err)
			}
			if roleExists(t, role) {
				t.Errorf("%s\nafter Delete, role %q that the driver created still exists", tt.reason, role)
			}
		})
	}
}

func TestCreateResumesWithItsOwnRole(t *testing.T) {
	c := connectClient(t, superuserConfig())
	const database, role = "resume_db", "resume_db_owner"
	t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+database+" WITH (FORCE)", "DROP ROLE IF EXISTS "+role) })
	password := newPassword(t, c)
	req := newRequest(newDatabase("resume"), database, password)
	// A manager killed after it created the role, before the database.
	admin(t, "CREATE ROLE "+role+" LOGIN PASSWORD "+lit(password), "COMMENT ON ROLE "+role+" IS "+lit(req.Owner.Comment()))

	detailsResult, err := c.Create(t.Context(), req)

	details := detailsResult.Connection
	if err != nil {
		t.Fatalf("Create(...) with the role this object made: %v", err)
	}
	if owner, _ := databaseOwner(t, database); owner != role {
		t.Errorf("after Create, the owner is %q; want %q", owner, role)
	}
	if got := databaseComment(t, database); got != req.Owner.Comment() {
		t.Errorf("after Create, the database comment is %q; want %q", got, req.Owner.Comment())
	}
	loginAndCreateTable(t, string(details[driver.ConnectionURI]), "t")
}

func TestDeleteKeepsRolesWithoutThisMark(t *testing.T) {
	c := connectClient(t, superuserConfig())
	tests := []struct {
		reason     string
		attributes string
		comment    string // mine stands for this object's mark
	}{
		{reason: "A role another object created.", comment: otherOwner("orders").Comment()},
		{reason: "A role without a comment."},
		{reason: "Another object's role, marked before owner marks.", comment: "managed by stratus: ho-a/orders 1234-abcd"},
		{reason: "A superuser carrying this object's mark.", attributes: "SUPERUSER", comment: "mine"},
	}
	for i, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			database := "keep_" + strconv.Itoa(i)
			role := database + "_owner"
			req := newRequest(newDatabase("keep"), database, newPassword(t, c))
			comment := tt.comment
			if comment == "mine" {
				comment = req.Owner.Comment()
			}
			admin(t, "CREATE ROLE "+role+" LOGIN "+tt.attributes)
			t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+database, "DROP ROLE IF EXISTS "+role) })
			if comment != "" {
				admin(t, "COMMENT ON ROLE "+role+" IS "+lit(comment))
			}
			// The object's own database, owned by that role.
			admin(t, "CREATE DATABASE "+database+" OWNER "+role, "COMMENT ON DATABASE "+database+" IS "+lit(req.Owner.Comment()))
			before := snapshotRole(t, role)
			before.Databases = nil

			if err := deleteEventually(t, c, req); err != nil {
				t.Fatalf("%s\nDelete(...): %v", tt.reason, err)
			}
			if _, exists := databaseOwner(t, database); exists {
				t.Errorf("%s\nafter Delete, the database still exists", tt.reason)
			}
			if !roleExists(t, role) {
				t.Fatalf("%s\nDelete(...) dropped role %q", tt.reason, role)
			}
			if diff := cmp.Diff(before, snapshotRole(t, role), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nthe role changed: -before, +after:\n%s", tt.reason, diff)
			}
		})
	}
}
