package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"sigs.k8s.io/controller-runtime/pkg/log"

	databasev1alpha1 "github.com/stratus-operator/stratus/apis/database/v1alpha1"
	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/driver"
)

// stateAvailable is the state Observe reports for a database that exists.
const stateAvailable = "available"

// Fields Observe reports as drifted.
const (
	fieldOwner    = "spec.owner"
	fieldPassword = "connection.password"
)

// Privileges the admin user may lack, named in terminal errors.
const (
	privCreateRole = "the CREATEROLE privilege"
	privCreateDB   = "the CREATEDB privilege or membership in the owner role"
	privOwnDB      = "ownership of the database (membership in its owner role)"
	privAlterOwner = "ownership of the database and membership in the new owner role"
)

// request is what the client is asked to act on.
type request = driver.Request[*databasev1alpha1.Database]

// querier runs statements on a pool or in a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ident quotes a name for use as an SQL identifier.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// prepare validates req, first without and then with the server, and returns
// the names it maps to.
func (c *client) prepare(ctx context.Context, req request) (names, serverVersion, error) {
	db := req.Object
	if err := validateSpec(&db.Spec); err != nil {
		return names{}, serverVersion{}, err
	}
	n, err := namesFor(db, req.ExternalName, c.server.adminDatabase, c.adminUser)
	if err != nil {
		return names{}, serverVersion{}, err
	}
	if req.Owner.Name == "" {
		// A bug of the caller, not of the spec: every request carries the
		// identity the driver marks and checks what it manages with.
		return names{}, serverVersion{}, fmt.Errorf("cannot act on database %q: the request carries no owner identity", n.database)
	}
	var v serverVersion
	err = c.pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_setting('server_version')`).Scan(&v.num, &v.text)
	if err != nil {
		return names{}, serverVersion{}, classify(err, fmt.Sprintf("cannot read the version of PostgreSQL server %s", c.server.address()), "")
	}
	if err := checkEngineVersion(db.Spec.EngineVersion, v, c.server.address()); err != nil {
		return names{}, serverVersion{}, err
	}
	return n, v, nil
}

// observeQuery reads, in one round trip, the database's owner and comment
// (which holds its owner mark) and whether the owner role exists, with its
// comment.
const observeQuery = `SELECT
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1),
		(SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2),
		(SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $2)`

// Observe reads the database, its owner mark and its owner role.
func (c *client) Observe(ctx context.Context, req request) (driver.Observation, error) {
	n, v, err := c.prepare(ctx, req)
	if err != nil {
		return driver.Observation{}, err
	}
	var owner, dbComment, roleComment *string
	var roleExists bool
	err = c.pool.QueryRow(ctx, observeQuery, n.database, n.owner).Scan(&owner, &dbComment, &roleExists, &roleComment)
	if err != nil {
		return driver.Observation{}, classify(err, fmt.Sprintf("cannot observe database %q", n.database), "")
	}
	if owner == nil {
		return driver.Observation{}, nil
	}

	mark := driver.MarkFromComment(deref(dbComment))
	obs := driver.Observation{Exists: true, Available: true, State: stateAvailable, Owner: mark}
	obs.Drift = append(obs.Drift, driver.OwnershipDrift(req.Owner, mark)...)
	roleIsOurs := roleExists && ownsRole(deref(roleComment), req.Owner, n)
	if !roleExists || !roleIsOurs || *owner != n.owner {
		observed := *owner
		switch {
		case !roleExists:
			observed += fmt.Sprintf(" (role %s does not exist)", n.owner)
		case !roleIsOurs:
			// Update refuses such a role, and says why.
			observed += fmt.Sprintf(" (role %s was not created by this object)", n.owner)
		}
		obs.Drift = append(obs.Drift, driver.Drifted(fieldOwner, n.owner, observed))
	}
	password := string(req.Connection[driver.ConnectionPassword])
	// Only the password of a role this object created is compared: the
	// drift of another's would tell whether a password of the user's choice
	// is that role's.
	if password != "" && roleIsOurs {
		drifted, err := c.passwordDrifted(ctx, n.owner, password)
		if err != nil {
			return driver.Observation{}, err
		}
		if drifted {
			// Neither password is ever reported.
			obs.Drift = append(obs.Drift, stratusv1alpha1.DriftedField{
				Field:    fieldPassword,
				Desired:  "the password in the connection Secret",
				Observed: "a different password",
			})
		}
	}

	req.Object.Status.AtProvider = databasev1alpha1.DatabaseObservation{
		Name:          n.database,
		Owner:         *owner,
		EngineVersion: strconv.Itoa(v.major()),
		Host:          c.server.host,
		Port:          c.server.port,
		State:         stateAvailable,
	}
	if password != "" {
		obs.Connection = c.connectionDetails(n, password)
	}
	return obs, nil
}

// deref is *s, or "" when s is nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// passwordDrifted reports whether role's password is not password. When the
// admin user may not read pg_authid (it is not a superuser) or the verifier
// is in a format the driver does not know, it cannot tell and reports false.
func (c *client) passwordDrifted(ctx context.Context, role, password string) (bool, error) {
	var verifier *string
	err := c.pool.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&verifier)
	switch {
	case sqlState(err) == codeInsufficientPrivilege:
		log.FromContext(ctx).V(1).Info("Cannot read pg_authid, not checking the owner's password", "role", role)
		return false, nil
	case errors.Is(err, pgx.ErrNoRows):
		return true, nil
	case err != nil:
		return false, classify(err, fmt.Sprintf("cannot read the password verifier of role %q", role), "")
	case verifier == nil:
		return true, nil // the role has no password
	}
	ok, err := passwordMatches(*verifier, role, password)
	if err != nil {
		log.FromContext(ctx).V(1).Info("Cannot check the owner's password", "role", role, "reason", err.Error())
		return false, nil
	}
	return !ok, nil
}

// Create creates the owner role, if missing, and the database, and marks both
// with req.Owner. A database that exists already is left as it is: the
// reconciler observes it and checks its owner mark.
func (c *client) Create(ctx context.Context, req request) (driver.CreateResult, error) {
	n, _, err := c.prepare(ctx, req)
	if err != nil {
		return driver.CreateResult{}, err
	}
	password := string(req.Connection[driver.ConnectionPassword])
	if password == "" {
		return driver.CreateResult{}, fmt.Errorf("cannot create database %q: %w", n.database, errNoPassword)
	}
	st, err := c.readState(ctx, n)
	if err != nil {
		return driver.CreateResult{}, err
	}
	if st.databaseExists {
		log.FromContext(ctx).V(1).Info("Database exists already, not changing it", "database", n.database)
		return driver.CreateResult{}, nil
	}
	if _, err := c.ensureRole(ctx, req, n, password, st.role); err != nil {
		return driver.CreateResult{}, err
	}
	created, err := c.createDatabase(ctx, req, n)
	if err != nil || !created {
		return driver.CreateResult{}, err
	}
	return driver.CreateResult{Connection: c.connectionDetails(n, password)}, nil
}

// Update marks the database with req.Owner when it is not, creates the owner
// role if missing, resets its password if it drifted, and gives it the
// database. An owner role that this object did not create, or that holds
// privileges the provider does not grant, is refused before anything changes.
func (c *client) Update(ctx context.Context, req request) (driver.UpdateResult, error) {
	n, _, err := c.prepare(ctx, req)
	if err != nil {
		return driver.UpdateResult{}, err
	}
	password := string(req.Connection[driver.ConnectionPassword])
	if password == "" {
		return driver.UpdateResult{}, fmt.Errorf("cannot update database %q: %w", n.database, errNoPassword)
	}
	st, err := c.readState(ctx, n)
	if err != nil {
		return driver.UpdateResult{}, err
	}
	if st.role.exists {
		if err := checkRole(req.Owner, n, st.role); err != nil {
			return driver.UpdateResult{}, err
		}
	}
	if st.databaseExists && st.databaseMark.ID != req.Owner.ID() {
		if err := execFormat(ctx, c.pool, "COMMENT ON DATABASE %I IS %L", n.database, req.Owner.Comment()); err != nil {
			return driver.UpdateResult{}, classify(err, fmt.Sprintf("cannot mark database %q with its owner", n.database), privOwnDB)
		}
		log.FromContext(ctx).Info("Marked the database with its owner", "database", n.database)
	}
	created, err := c.ensureRole(ctx, req, n, password, st.role)
	if err != nil {
		return driver.UpdateResult{}, err
	}
	if !created {
		drifted, err := c.passwordDrifted(ctx, n.owner, password)
		if err != nil {
			return driver.UpdateResult{}, err
		}
		if drifted {
			if err := c.setPassword(ctx, n.owner, password); err != nil {
				return driver.UpdateResult{}, err
			}
		}
	}
	if _, err := c.pool.Exec(ctx, "ALTER DATABASE "+ident(n.database)+" OWNER TO "+ident(n.owner)); err != nil {
		return driver.UpdateResult{}, classify(err, fmt.Sprintf("cannot make role %q the owner of database %q", n.owner, n.database), privAlterOwner)
	}
	return driver.UpdateResult{Connection: c.connectionDetails(n, password)}, nil
}

// Delete drops the database, and its owner role if that role carries this
// object's mark and no privilege the provider does not grant. The reconciler
// has checked the database's mark. The result does not vouch that the
// database is gone: the reconciler observes once more.
func (c *client) Delete(ctx context.Context, req request) (driver.DeleteResult, error) {
	n, _, err := c.prepare(ctx, req)
	if err != nil {
		return driver.DeleteResult{}, err
	}
	if req.Object.Spec.DeletionProtection {
		return driver.DeleteResult{}, driver.Blockedf("deletionProtection is true: set spec.deletionProtection to false to delete database %q, or set deletionPolicy Orphan to keep it", n.database)
	}
	logger := log.FromContext(ctx).WithValues("database", n.database, "role", n.owner)

	tag, err := c.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(n.database))
	if sqlState(err) == codeObjectInUse {
		return driver.DeleteResult{}, fmt.Errorf("cannot drop database %q: it is in use by other sessions, and is dropped once they disconnect: %w", n.database, err)
	}
	if err != nil {
		return driver.DeleteResult{}, classify(err, fmt.Sprintf("cannot drop database %q", n.database), privOwnDB)
	}
	if tag.String() == "DROP DATABASE" {
		logger.Info("Dropped database")
	}

	st, err := c.readState(ctx, n)
	if err != nil {
		return driver.DeleteResult{}, err
	}
	switch {
	case !st.role.exists:
		return driver.DeleteResult{}, nil
	case !ownsRole(st.role.comment, req.Owner, n):
		logger.V(1).Info("Keeping the owner role, which this object did not create")
		return driver.DeleteResult{}, nil
	case len(st.role.excess) > 0:
		logger.Info("Keeping the owner role, which holds privileges the provider does not grant", "privileges", strings.Join(st.role.excess, ", "))
		return driver.DeleteResult{}, nil
	}
	_, err = c.pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident(n.owner))
	if sqlState(err) == codeDependentObjects {
		return driver.DeleteResult{}, driver.Blockedf("cannot drop role %q: it still owns objects or holds privileges elsewhere; drop or reassign them: %w", n.owner, err)
	}
	if err != nil {
		return driver.DeleteResult{}, classify(err, fmt.Sprintf("cannot drop role %q", n.owner), privCreateRole)
	}
	logger.Info("Dropped owner role")
	return driver.DeleteResult{}, nil
}

// stateQuery reads, in one round trip, whether the database exists and its
// comment, and the owner role: whether it exists, its comment, and what it
// may do beyond what the provider grants an owner role, which is LOGIN and
// its databases. Excess are the attributes SUPERUSER, REPLICATION,
// BYPASSRLS and CREATEROLE, CREATEDB when the admin user lacks it, and
// membership (direct or not) in a predefined pg_* role, in the admin user,
// in a role with one of those attributes, or in a role the admin user may not
// grant (it lacks ADMIN OPTION on it, which a superuser always has).
const stateQuery = `SELECT
		EXISTS (SELECT 1 FROM pg_database WHERE datname = $1),
		(SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1),
		r.oid IS NOT NULL,
		shobj_description(r.oid, 'pg_authid'),
		coalesce(r.rolsuper, false),
		coalesce(r.rolreplication, false),
		coalesce(r.rolbypassrls, false),
		coalesce(r.rolcreaterole, false),
		coalesce(r.rolcreatedb AND NOT (a.rolsuper OR a.rolcreatedb), false),
		ARRAY(SELECT g.rolname::text FROM pg_roles g
			WHERE pg_has_role(r.oid, g.oid, 'MEMBER') AND g.oid <> r.oid
			AND (left(g.rolname, 3) = 'pg_' OR g.oid = a.oid
				OR g.rolsuper OR g.rolreplication OR g.rolbypassrls OR g.rolcreaterole
				OR (g.rolcreatedb AND NOT (a.rolsuper OR a.rolcreatedb))
				OR NOT pg_has_role(a.oid, g.oid, 'MEMBER WITH ADMIN OPTION'))
			ORDER BY 1)
	FROM pg_roles a LEFT JOIN pg_roles r ON r.rolname = $2
	WHERE a.rolname = current_user`

// state is what the server holds for a Database.
type state struct {
	databaseExists bool
	// databaseMark is the database's owner mark.
	databaseMark driver.OwnerMark
	role         roleState
}

// roleState is what the server says of an owner role.
type roleState struct {
	exists bool
	// comment is the role's comment, which holds its owner mark.
	comment string
	// excess names what the role may do beyond what the provider grants an
	// owner role, such as "SUPERUSER" or "membership in pg_read_server_files".
	excess []string
}

// readState reads the database and the owner role.
func (c *client) readState(ctx context.Context, n names) (state, error) {
	var (
		st                                        state
		dbComment, roleComment                    *string
		super, replication, bypassRLS, createRole bool
		createDB                                  bool
		memberOf                                  []string
	)
	err := c.pool.QueryRow(ctx, stateQuery, n.database, n.owner).Scan(
		&st.databaseExists, &dbComment, &st.role.exists, &roleComment,
		&super, &replication, &bypassRLS, &createRole, &createDB, &memberOf)
	if err != nil {
		return state{}, classify(err, fmt.Sprintf("cannot read database %q and role %q", n.database, n.owner), "")
	}
	st.databaseMark = driver.MarkFromComment(deref(dbComment))
	st.role.comment = deref(roleComment)
	for _, a := range []struct {
		name string
		set  bool
	}{{"SUPERUSER", super}, {"REPLICATION", replication}, {"BYPASSRLS", bypassRLS}, {"CREATEROLE", createRole}, {"CREATEDB, which the admin user lacks", createDB}} {
		if a.set {
			st.role.excess = append(st.role.excess, a.name)
		}
	}
	for _, g := range memberOf {
		st.role.excess = append(st.role.excess, "membership in "+g)
	}
	return st, nil
}

// ownsRole reports whether a role's comment is owner's mark, or the mark the
// driver wrote for the same object before it wrote owner marks.
func ownsRole(comment string, owner driver.Owner, n names) bool {
	return driver.MarkFromComment(comment).ID == owner.ID() || carriesLegacyMark(comment, n)
}

// checkRole returns a terminal error when the existing owner role rs must not
// be used by owner: it does not carry owner's mark, or it may do more than the
// provider grants an owner role. The provider never changes such a role, sets
// its password or gives it a database.
func checkRole(owner driver.Owner, n names, rs roleState) error {
	if !ownsRole(rs.comment, owner, n) {
		whose := "it belongs to another object"
		if !driver.MarkFromComment(rs.comment).Marked() {
			whose = "it carries no owner mark of the provider"
		}
		return driver.Terminalf("cannot use role %q as the owner of database %q: the role exists and this Database did not create it (%s); "+
			"the provider never changes a role it did not create for this Database, sets its password or gives it a database: "+
			"set spec.owner to the name of a role that does not exist yet, which the provider then creates", n.owner, n.database, whose)
	}
	if len(rs.excess) > 0 {
		return driver.Terminalf("cannot use role %q as the owner of database %q: the role holds privileges the provider does not grant an owner role (%s), "+
			"and the provider never changes such a role: revoke them, or set spec.owner to the name of a role that does not exist yet",
			n.owner, n.database, strings.Join(rs.excess, ", "))
	}
	return nil
}

// ensureRole creates the owner role with password unless it exists, and
// reports whether it did. The role is created, marked with req.Owner and (for
// an admin user that is not a superuser) granted to the admin user in one
// transaction, so that a role is never left without the mark. An existing
// role (rs, or one created meanwhile) is checked with checkRole; one that
// still carries the mark of before owner marks is marked anew.
func (c *client) ensureRole(ctx context.Context, req request, n names, password string, rs roleState) (bool, error) {
	if !rs.exists {
		created, err := c.createRole(ctx, req, n, password)
		if err != nil || created {
			return created, err
		}
		// Created meanwhile, maybe by another object: look again.
		st, err := c.readState(ctx, n)
		if err != nil {
			return false, err
		}
		if rs = st.role; !rs.exists {
			return false, fmt.Errorf("role %q was created and dropped by someone else meanwhile", n.owner)
		}
	}
	if err := checkRole(req.Owner, n, rs); err != nil {
		return false, err
	}
	if driver.MarkFromComment(rs.comment).ID != req.Owner.ID() {
		if err := execFormat(ctx, c.pool, "COMMENT ON ROLE %I IS %L", n.owner, req.Owner.Comment()); err != nil {
			return false, classify(err, fmt.Sprintf("cannot mark role %q with its owner", n.owner), privCreateRole)
		}
		log.FromContext(ctx).Info("Marked the owner role with its owner", "role", n.owner)
	}
	return false, nil
}

// createRole creates the owner role, marked with req.Owner, and reports
// whether it did: false when the role was created meanwhile.
func (c *client) createRole(ctx context.Context, req request, n names, password string) (bool, error) {
	secret, err := passwordForServer(password)
	if err != nil {
		return false, fmt.Errorf("cannot create role %q: %w", n.owner, err)
	}
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if err := execFormat(ctx, tx, "CREATE ROLE %I LOGIN PASSWORD %L", n.owner, secret); err != nil {
			return err
		}
		if err := execFormat(ctx, tx, "COMMENT ON ROLE %I IS %L", n.owner, req.Owner.Comment()); err != nil {
			return err
		}
		// CREATE DATABASE ... OWNER, ALTER DATABASE ... OWNER TO and DROP
		// DATABASE need membership in the owner role, which a superuser
		// has implicitly.
		var superuser bool
		if err := tx.QueryRow(ctx, `SELECT current_setting('is_superuser')::bool`).Scan(&superuser); err != nil {
			return err
		}
		if superuser {
			return nil
		}
		_, err := tx.Exec(ctx, "GRANT "+ident(n.owner)+" TO CURRENT_USER")
		return err
	})
	if sqlState(err) == codeDuplicateObject {
		return false, nil
	}
	if err != nil {
		return false, classify(err, fmt.Sprintf("cannot create role %q", n.owner), privCreateRole)
	}
	log.FromContext(ctx).Info("Created owner role", "role", n.owner)
	return true, nil
}

// setPassword resets role's password. The caller has checked that the role
// carries the object's mark.
func (c *client) setPassword(ctx context.Context, role, password string) error {
	secret, err := passwordForServer(password)
	if err != nil {
		return fmt.Errorf("cannot reset the password of role %q: %w", role, err)
	}
	if err := execFormat(ctx, c.pool, "ALTER ROLE %I PASSWORD %L", role, secret); err != nil {
		return classify(err, fmt.Sprintf("cannot reset the password of role %q", role), privCreateRole)
	}
	log.FromContext(ctx).Info("Reset the owner role's password", "role", role)
	return nil
}

// createDatabase creates the database owned by the owner role and marks it
// with req.Owner right away, and reports whether it did: false, with nothing
// changed, when the database exists. CREATE DATABASE cannot run in a
// transaction: the mark's statement is made before it, so that only one
// round trip separates the two.
func (c *client) createDatabase(ctx context.Context, req request, n names) (bool, error) {
	mark, err := formatStatement(ctx, c.pool, "COMMENT ON DATABASE %I IS %L", n.database, req.Owner.Comment())
	if err != nil {
		return false, classify(err, fmt.Sprintf("cannot create database %q", n.database), "")
	}
	// Exec without arguments sends the statement alone, with the simple
	// protocol.
	_, err = c.pool.Exec(ctx, "CREATE DATABASE "+ident(n.database)+" OWNER "+ident(n.owner))
	switch {
	case sqlState(err) == codeDuplicateDatabase:
		log.FromContext(ctx).V(1).Info("Database exists already, not changing it", "database", n.database)
		return false, nil
	case err != nil:
		return false, classify(err, fmt.Sprintf("cannot create database %q owned by role %q", n.database, n.owner), privCreateDB)
	}
	if _, err := c.pool.Exec(ctx, mark); err != nil {
		return false, classify(err, fmt.Sprintf("cannot mark database %q with its owner", n.database), privOwnDB)
	}
	log.FromContext(ctx).Info("Created database", "database", n.database, "role", n.owner)
	return true, nil
}

// formatStatement returns the statement that PostgreSQL's format(fmt,
// args...) makes, for statements that take no parameters: %I quotes an
// identifier and %L a literal, on the server, so no argument can change the
// statement. Errors never include the arguments.
func formatStatement(ctx context.Context, q querier, format string, args ...string) (string, error) {
	placeholders := make([]string, len(args))
	params := make([]any, 0, len(args)+1)
	params = append(params, format)
	for i, a := range args {
		placeholders[i] = fmt.Sprintf("$%d::text", i+2)
		params = append(params, a)
	}
	var stmt string
	if err := q.QueryRow(ctx, "SELECT format($1::text, "+strings.Join(placeholders, ", ")+")", params...).Scan(&stmt); err != nil {
		return "", err
	}
	return stmt, nil
}

// execFormat runs the statement formatStatement makes.
func execFormat(ctx context.Context, q querier, format string, args ...string) error {
	stmt, err := formatStatement(ctx, q, format, args...)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, stmt)
	return err
}

// connectionDetails are what a client needs to connect as the owner.
func (c *client) connectionDetails(n names, password string) driver.ConnectionDetails {
	return driver.DatabaseConnection{
		Scheme:   "postgresql",
		Host:     c.server.host,
		Port:     c.server.port,
		User:     n.owner,
		Password: password,
		Database: n.database,
		SSLMode:  c.server.sslMode,
	}.Details()
}
