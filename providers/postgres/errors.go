package postgres

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratus-operator/stratus/providers/driver"
)

// SQLSTATE codes the driver acts on.
const (
	codeTooManyConnections    = "53300" // too_many_connections
	codeCannotConnectNow      = "57P03" // cannot_connect_now
	codeInsufficientPrivilege = "42501" // insufficient_privilege
	codeDuplicateDatabase     = "42P04" // duplicate_database
	codeDuplicateObject       = "42710" // duplicate_object
	codeObjectInUse           = "55006" // object_in_use
	codeDependentObjects      = "2BP01" // dependent_objects_still_exist
	classInvalidAuthorization = "28"    // invalid_authorization_specification, invalid_password
)

// sqlState returns the SQLSTATE of err, or "" when it carries none.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// classify wraps err, which happened doing what, and marks it for the
// reconciler: the server refusing connections for now is throttling, an
// authentication failure is bad credentials, and a missing privilege is
// terminal, with a message naming privilege (what the admin user lacks) when
// it is known.
func classify(err error, what, privilege string) error {
	wrapped := fmt.Errorf("%s: %w", what, err)
	switch code := sqlState(err); {
	case code == codeTooManyConnections || code == codeCannotConnectNow:
		return driver.Throttled(wrapped)
	case strings.HasPrefix(code, classInvalidAuthorization):
		return driver.BadCredentials(wrapped)
	case code == codeInsufficientPrivilege:
		if privilege == "" {
			return driver.Terminal(wrapped)
		}
		return driver.Terminal(fmt.Errorf("%s: the ProviderConfig's admin user lacks %s: grant it, or use a superuser: %w", what, privilege, err))
	}
	return wrapped
}
