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
//     stored in the connection Secret before Create, and marks it with the
//     comment "managed by stratus: <namespace>/<name> <uid>".
//   - Delete drops the database, then the owner role only when that comment
//     names the same object (by uid): a role that existed before, or that
//     another Database created, is never dropped. Deletion protection blocks
//     the delete without changing anything.
//
// Observe reports drift in spec.owner (the database is owned by another role,
// or the role is gone) and in connection.password (the role's password no
// longer matches the connection Secret). The password check reads the role's
// SCRAM-SHA-256 (or md5) verifier from pg_authid, which only a superuser may
// read; with a less privileged admin user, as on managed services, the check
// is skipped.
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
