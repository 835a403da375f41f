// Package postgres is the PostgreSQL provider's Database driver: it manages a
// database and the role that owns it on an existing PostgreSQL server, reached
// with the connection block and credentials of a ProviderConfig whose provider
// is PostgreSQL.
//
// A Database maps to the server like this:
//
//   - The database is named by the managed resource's external name, which
//     the reconciler computes (from spec.databaseName or the object's name).
//   - Its owner is the role spec.owner, else "<database>_owner". The driver
//     creates the role when it is missing, with LOGIN and the password the
//     reconciler generated (the client is a [driver.CredentialGenerator]) and
//     stored in the connection Secret before Create.
//
// Ownership is proven on the server, never by anything a user can write in
// Kubernetes. The driver marks what it creates with the object's identity,
// [driver.Owner.Comment] (JSON), as a comment: the role in the transaction
// that creates it, the database right after CREATE DATABASE (which cannot run
// in a transaction) and before anything else. Observe reads the database's
// comment back as [driver.Observation.Owner] and reports
// [driver.OwnershipField] as drift when it is not this object's; the
// reconciler checks the mark before it updates, adopts or deletes, and Update
// writes it. Create over a database that exists changes nothing: the
// reconciler observes it and checks its mark.
//
// Roles are the driver's own judgement, as the reconciler does not see them:
//
//   - An existing owner role is used only if it carries this object's mark
//     (a manager that crashed after making it resumes with it). Any other
//     role named by spec.owner, such as the owner role of another
//     namespace's Database, is refused with a terminal error before any
//     statement touches it: its password is never set, it is never altered
//     nor given a database. Databases therefore no longer share an owner role.
//   - A role that may do more than the provider grants an owner role is never
//     changed, even if it carries the mark: SUPERUSER, REPLICATION,
//     BYPASSRLS, CREATEROLE, CREATEDB when the admin user lacks it, or
//     membership (direct or not) in a predefined pg_* role, in the admin user,
//     in a role with one of those attributes, or in a role the admin user has
//     no ADMIN OPTION on.
//   - Reserved names are refused: postgres, public, none, pg_* and the admin
//     user's own name as owner, and the admin database, postgres and the
//     templates as database.
//   - Delete drops the database, then the owner role only when it carries
//     this object's mark and nothing of the above. Deletion protection blocks
//     the delete without changing anything.
//
// A role or database the driver made before owner marks carries the comment
// "managed by stratus: <namespace>/<name> <uid>". For a role, that comment
// naming this very object (uid included) counts as its mark, and Update
// rewrites it as an owner mark; for a database it is no mark, and the
// reconciler decides, as for any unmarked database.
//
// Observe reports drift in spec.owner (the database is owned by another role,
// the role is gone, or it was not created by this object) and in
// connection.password (the role's password no longer matches the connection
// Secret). The password check reads the role's SCRAM-SHA-256 (or md5)
// verifier from pg_authid, which only a superuser may read; with a less
// privileged admin user, as on managed services, the check is skipped. Only
// the password of a role this object created is ever compared.
//
// The instance fields of the portable Database spec (region, sizeClass,
// storageGB, backupRetentionDays, highAvailability, storageEncrypted,
// publiclyAccessible) describe a database server, which this provider does not
// manage: a Database that sets any of them is rejected with a terminal error,
// and so is one whose engineVersion is not the server's major version.
//
// Identifiers are always quoted. Statements that cannot take parameters
// (CREATE ROLE ... PASSWORD, COMMENT ON ...) are built on the server by
// format() with %I and %L from bound parameters, so no name or password can
// change a statement. Passwords of printable ASCII, as generated ones are,
// are sent as SCRAM-SHA-256 verifiers computed here, as psql's \password
// does, so the plain text never reaches the server's statement logs; no
// password ever appears in an error.
//
// The admin user needs CREATEDB and CREATEROLE (a superuser has both). When it
// is not a superuser, it grants itself membership in each role it creates,
// which PostgreSQL requires to create a database owned by that role.
package postgres
