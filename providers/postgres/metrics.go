package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	stratusv1alpha1 "github.com/stratus-operator/stratus/apis/stratus/v1alpha1"
	"github.com/stratus-operator/stratus/providers/apimetrics"
)

// serviceSQL is the service label of the statements the driver runs.
const serviceSQL = "sql"

// SQLSTATE codes of objects that do not exist.
const (
	codeInvalidCatalogName = "3D000" // invalid_catalog_name: no such database
	codeUndefinedObject    = "42704" // undefined_object: no such role
)

// callTracer is the pgx query tracer, set on the connection configuration of
// every pool the driver opens, that counts each statement in
// stratus_cloud_api_calls_total. As every statement of the driver passes
// through it, wherever it is run (pool, transaction, execFormat), the
// statements need no counting of their own.
//
// What counts as one call: one statement (Query, QueryRow or Exec), the
// BEGIN and COMMIT or ROLLBACK of a transaction included. Establishing and
// pinging connections is not counted.
type callTracer struct{}

var _ pgx.QueryTracer = callTracer{}

// operationKey is the context key of a traced statement's operation name.
type operationKey struct{}

// TraceQueryStart names the statement's operation.
func (callTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, operationKey{}, statementOperation(data.SQL))
}

// TraceQueryEnd counts the statement with its result.
func (callTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	op, _ := ctx.Value(operationKey{}).(string)
	apimetrics.Record(stratusv1alpha1.ProviderPostgreSQL, serviceSQL, op, statementResult(data.Err))
}

// objectKinds are the kinds of object whose CREATE, ALTER, DROP and COMMENT
// ON statements are told apart.
var objectKinds = map[string]bool{"DATABASE": true, "ROLE": true, "USER": true, "SCHEMA": true, "EXTENSION": true, "TABLE": true}

// selectSubjects name SELECT statements by what they read, the first match
// winning.
var selectSubjects = []struct{ needle, name string }{
	{"FROM PG_DATABASE", "select_database"},
	{"FROM PG_AUTHID", "select_password"},
	{"FROM PG_ROLES", "select_role"},
	{"CURRENT_SETTING(", "select_setting"},
	{"FORMAT(", "select_format"},
}

// statementOperation names a statement by its kind, such as create_database,
// alter_role, comment_role, drop_database, grant, begin, or, for a SELECT,
// by what it reads: select_database (pg_database), select_role (pg_roles),
// select_password (pg_authid), select_setting (current_setting) or
// select_format (format, which builds the statements that take no
// parameters). Other statements are "select" or "other". The name never holds
// any part of the statement but these fixed words.
func statementOperation(sql string) string {
	words := strings.Fields(strings.ToUpper(skipComments(sql)))
	if len(words) == 0 {
		return "other"
	}
	verb := strings.ToLower(words[0])
	switch words[0] {
	case "BEGIN", "START":
		return "begin"
	case "COMMIT", "END":
		return "commit"
	case "ROLLBACK", "ABORT":
		return "rollback"
	case "GRANT", "REVOKE":
		return verb
	case "CREATE", "ALTER", "DROP":
		if len(words) > 1 && objectKinds[words[1]] {
			return verb + "_" + strings.ToLower(words[1])
		}
		return verb
	case "COMMENT":
		if len(words) > 2 && words[1] == "ON" && objectKinds[words[2]] {
			return verb + "_" + strings.ToLower(words[2])
		}
		return verb
	case "SELECT", "WITH":
		joined := strings.Join(words, " ")
		for _, s := range selectSubjects {
			if strings.Contains(joined, s.needle) {
				return s.name
			}
		}
		return "select"
	}
	return "other"
}

// skipComments returns sql without its leading comments and whitespace.
func skipComments(sql string) string {
	for {
		sql = strings.TrimSpace(sql)
		switch {
		case strings.HasPrefix(sql, "--"):
			_, rest, ok := strings.Cut(sql, "\n")
			if !ok {
				return ""
			}
			sql = rest
		case strings.HasPrefix(sql, "/*"):
			_, rest, ok := strings.Cut(sql, "*/")
			if !ok {
				return ""
			}
			sql = rest
		default:
			return sql
		}
	}
}

// statementResult classifies the error of a statement, nil for success: the
// server refusing work for now (as classify says) is throttled, a missing
// database or role is not found, and anything else is an error.
func statementResult(err error) apimetrics.Result {
	if err == nil {
		return apimetrics.Success
	}
	switch sqlState(err) {
	case codeTooManyConnections, codeCannotConnectNow:
		return apimetrics.Throttled
	case codeInvalidCatalogName, codeUndefinedObject:
		return apimetrics.NotFound
	}
	return apimetrics.Error
}
