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

// Observe reads the database and its owner role.
func (c *client) Observe(ctx context.Context, req request) (driver.Observation, error) {
	n, v, err := c.prepare(ctx, req)
	if err != nil {
		return driver.Observation{}, err
	}
	var owner *string
	var roleExists bool
	err = c.pool.QueryRow(ctx, `SELECT
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)`, n.database, n.owner).Scan(&owner, &roleExists)
	if err != nil {
		return driver.Observation{}, classify(err, fmt.Sprintf("cannot observe database %q", n.database), "")
	}
	if owner == nil {
		return driver.Observation{}, nil
	}

	obs := driver.Observation{Exists: true, Available: true, State: stateAvailable}
	if !roleExists || *owner != n.owner {
		observed := *owner
		if !roleExists {
			observed += fmt.Sprintf(" (role %s does not exist)", n.owner)
		}
		obs.Drift = append(obs.Drift, stratusv1alpha1.DriftedField{Field: fieldOwner, Desired: n.owner, Observed: observed})
	}
	password := string(req.Connection[driver.ConnectionPassword])
	if password != "" && roleExists {
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

// Create creates the owner role, if missing, and the database.
func (c *client) Create(ctx context.Context, req request) (driver.ConnectionDetails, error) {
	n, _, err := c.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	password := string(req.Connection[driver.ConnectionPassword])
	if password == "" {
		return nil, fmt.Errorf("cannot create database %q: %w", n.database, errNoPassword)
	}
	if _, err := c.ensureRole(ctx, n, password); err != nil {
		return nil, err
	}
	if err := c.createDatabase(ctx, n); err != nil {
		return nil, err
	}
	return c.connectionDetails(n, password), nil
}

// Update creates the owner role if missing, resets its password if it
// drifted, and gives it the database.
func (c *client) Update(ctx context.Context, req request) (driver.ConnectionDetails, error) {
	n, _, err := c.prepare(ctx, req)
	if err != nil {
		return nil, err
	}
	password := string(req.Connection[driver.ConnectionPassword])
	if password == "" {
		return nil, fmt.Errorf("cannot update database %q: %w", n.database, errNoPassword)
	}
	created, err := c.ensureRole(ctx, n, password)
	if err != nil {
		return nil, err
	}
	if !created {
		drifted, err := c.passwordDrifted(ctx, n.owner, password)
		if err != nil {
			return nil, err
		}
		if drifted {
			if err := c.setPassword(ctx, n.owner, password); err != nil {
				return nil, err
			}
		}
	}
	if _, err := c.pool.Exec(ctx, "ALTER DATABASE "+ident(n.database)+" OWNER TO "+ident(n.owner)); err != nil {
		return nil, classify(err, fmt.Sprintf("cannot make role %q the owner of database %q", n.owner, n.database), privAlterOwner)
	}
	return c.connectionDetails(n, password), nil
}

// Delete drops the database, and its owner role if the driver created that
// role for this object.
func (c *client) Delete(ctx context.Context, req request) error {
	n, _, err := c.prepare(ctx, req)
	if err != nil {
		return err
	}
	if req.Object.Spec.DeletionProtection {
		return driver.Blockedf("deletionProtection is true: set spec.deletionProtection to false to delete database %q, or set deletionPolicy Orphan to keep it", n.database)
	}
	logger := log.FromContext(ctx).WithValues("database", n.database, "role", n.owner)

	tag, err := c.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(n.database))
	if sqlState(err) == codeObjectInUse {
		return fmt.Errorf("cannot drop database %q: it is in use by other sessions, and is dropped once they disconnect: %w", n.database, err)
	}
	if err != nil {
		return classify(err, fmt.Sprintf("cannot drop database %q", n.database), privOwnDB)
	}
	if tag.String() == "DROP DATABASE" {
		logger.Info("Dropped database")
	}

	var comment *string
	err = c.pool.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, n.owner).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return classify(err, fmt.Sprintf("cannot read the comment of role %q", n.owner), "")
	}
	if comment == nil || !managedBy(*comment, n.uid) {
		logger.V(1).Info("Keeping the owner role, which this object did not create")
		return nil
	}
	_, err = c.pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident(n.owner))
	if sqlState(err) == codeDependentObjects {
		return driver.Blockedf("cannot drop role %q: it still owns objects or holds privileges elsewhere, such as another Database that names it as owner; drop or reassign them: %w", n.owner, err)
	}
	if err != nil {
		return classify(err, fmt.Sprintf("cannot drop role %q", n.owner), privCreateRole)
	}
	logger.Info("Dropped owner role")
	return nil
}

// ensureRole creates the owner role with password unless it exists, and
// reports whether it did. The role is created, marked as managed and (for an
// admin user that is not a superuser) granted to the admin user in one
// transaction, so that a role is never left without the mark.
func (c *client) ensureRole(ctx context.Context, n names, password string) (bool, error) {
	var exists bool
	if err := c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, n.owner).Scan(&exists); err != nil {
		return false, classify(err, fmt.Sprintf("cannot look up role %q", n.owner), "")
	}
	if exists {
		return false, nil
	}
	secret, err := passwordForServer(password)
	if err != nil {
		return false, fmt.Errorf("cannot create role %q: %w", n.owner, err)
	}
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if err := execFormat(ctx, tx, "CREATE ROLE %I LOGIN PASSWORD %L", n.owner, secret); err != nil {
			return err
		}
		if err := execFormat(ctx, tx, "COMMENT ON ROLE %I IS %L", n.owner, n.comment); err != nil {
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
		return false, nil // created concurrently
	}
	if err != nil {
		return false, classify(err, fmt.Sprintf("cannot create role %q", n.owner), privCreateRole)
	}
	log.FromContext(ctx).Info("Created owner role", "role", n.owner)
	return true, nil
}

// setPassword resets role's password.
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

// createDatabase creates the database owned by the owner role, unless it
// exists, and marks it as managed.
func (c *client) createDatabase(ctx context.Context, n names) error {
	// CREATE DATABASE cannot run in a transaction; Exec without arguments
	// sends it alone, with the simple protocol.
	_, err := c.pool.Exec(ctx, "CREATE DATABASE "+ident(n.database)+" OWNER "+ident(n.owner))
	switch code := sqlState(err); {
	case code == codeDuplicateDatabase:
	case err != nil:
		return classify(err, fmt.Sprintf("cannot create database %q owned by role %q", n.database, n.owner), privCreateDB)
	default:
		log.FromContext(ctx).Info("Created database", "database", n.database, "role", n.owner)
	}
	if err := execFormat(ctx, c.pool, "COMMENT ON DATABASE %I IS %L", n.database, n.comment); err != nil {
		return classify(err, fmt.Sprintf("cannot comment on database %q", n.database), privOwnDB)
	}
	return nil
}

// execFormat runs the statement that PostgreSQL's format(fmt, args...) makes,
// for statements that take no parameters: %I quotes an identifier and %L a
// literal, on the server, so no argument can change the statement. Errors
// never include the arguments.
func execFormat(ctx context.Context, q querier, format string, args ...string) error {
	placeholders := make([]string, len(args))
	params := make([]any, 0, len(args)+1)
	params = append(params, format)
	for i, a := range args {
		placeholders[i] = fmt.Sprintf("$%d::text", i+2)
		params = append(params, a)
	}
	var stmt string
	if err := q.QueryRow(ctx, "SELECT format($1::text, "+strings.Join(placeholders, ", ")+")", params...).Scan(&stmt); err != nil {
		return err
	}
	_, err := q.Exec(ctx, stmt)
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
