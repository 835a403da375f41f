package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stratus-operator/stratus/providers/apimetrics"
)

func TestStatementOperation(t *testing.T) {
	cases := []struct {
		sql  string
		want string
	}{
		// The driver's own statements.
		{`SELECT current_setting('server_version_num')::int, current_setting('server_version')`, "select_setting"},
		{`SELECT
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)`, "select_database"},
		{`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, "select_password"},
		{`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, "select_role"},
		{`SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, "select_role"},
		{`SELECT current_setting('is_superuser')::bool`, "select_setting"},
		{`SELECT format($1::text, $2::text, $3::text)`, "select_format"},
		{`CREATE ROLE "app_owner" LOGIN PASSWORD 'SCRAM-SHA-256$4096:...'`, "create_role"},
		{`COMMENT ON ROLE "app_owner" IS 'managed by stratus: ns/app uid'`, "comment_role"},
		{`COMMENT ON DATABASE "app" IS 'managed by stratus: ns/app uid'`, "comment_database"},
		{`GRANT "app_owner" TO CURRENT_USER`, "grant"},
		{`CREATE DATABASE "app" OWNER "app_owner"`, "create_database"},
		{`ALTER DATABASE "app" OWNER TO "app_owner"`, "alter_database"},
		{`ALTER ROLE "app_owner" PASSWORD 'SCRAM-SHA-256$4096:...'`, "alter_role"},
		{`DROP DATABASE IF EXISTS "app"`, "drop_database"},
		{`DROP ROLE IF EXISTS "app_owner"`, "drop_role"},
		// What pgx sends for a transaction.
		{"begin", "begin"},
		{"begin isolation level serializable", "begin"},
		{"commit", "commit"},
		{"rollback", "rollback"},
		// Others.
		{"  -- a comment\n  /* another */ create database x", "create_database"},
		{"CREATE INDEX i ON t (c)", "create"},
		{"SELECT 1", "select"},
		{"INSERT INTO t VALUES (1)", "other"},
		{"-- ping", "other"},
		{"", "other"},
	}
	for _, tc := range cases {
		if got := statementOperation(tc.sql); got != tc.want {
			t.Errorf("statementOperation(%q) = %q, want %q", tc.sql, got, tc.want)
		}
	}
}

func TestStatementResult(t *testing.T) {
	pgErr := func(code string) error {
		return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code, Message: "message of " + code})
	}
	cases := map[string]struct {
		err  error
		want apimetrics.Result
	}{
		"Success":            {err: nil, want: apimetrics.Success},
		"TooManyConnections": {err: pgErr("53300"), want: apimetrics.Throttled},
		"CannotConnectNow":   {err: pgErr("57P03"), want: apimetrics.Throttled},
		"NoSuchDatabase":     {err: pgErr("3D000"), want: apimetrics.NotFound},
		"NoSuchRole":         {err: pgErr("42704"), want: apimetrics.NotFound},
		"DuplicateDatabase":  {err: pgErr("42P04"), want: apimetrics.Error},
		"NoPrivilege":        {err: pgErr("42501"), want: apimetrics.Error},
		"NoSQLSTATE":         {err: errors.New("connection reset by peer"), want: apimetrics.Error},
		"Canceled":           {err: context.Canceled, want: apimetrics.Error},
	}
	for name, tc := range cases {
		if got := statementResult(tc.err); got != tc.want {
			t.Errorf("%s: statementResult(%v) = %s, want %s", name, tc.err, got, tc.want)
		}
	}
}

// statementCounts reads stratus_cloud_api_calls_total of the PostgreSQL
// driver's statements, by operation and result.
func statementCounts(ops ...string) map[string]float64 {
	got := map[string]float64{}
	for _, op := range ops {
		for _, r := range []apimetrics.Result{apimetrics.Success, apimetrics.NotFound, apimetrics.Throttled, apimetrics.Error} {
			got[op+"/"+string(r)] = testutil.ToFloat64(apimetrics.CallsTotal.WithLabelValues("PostgreSQL", serviceSQL, op, string(r)))
		}
	}
	return got
}

// TestStatementsAreCounted runs the driver against the test server and
// checks what its tracer counts. It reads the package-wide counter, so it
// must not run in parallel with other tests of the driver; it does not.
func TestStatementsAreCounted(t *testing.T) {
	ops := []string{"select_setting", "select_database", "select_role", "create_role", "create_database", "alter_database", "drop_database", "drop_role", "begin", "commit"}
	// step runs do and checks the statements counted meanwhile; others may
	// be counted too.
	step := func(t *testing.T, what string, do func() error, want map[string]float64) {
		t.Helper()
		before := statementCounts(ops...)
		if err := do(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := map[string]float64{}
		for k, v := range statementCounts(ops...) {
			if d := v - before[k]; d != 0 {
				got[k] = d
			}
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: counted %v statements %s, want %v (all counted: %v)", what, got[k], k, n, got)
			}
		}
	}

	c := connectClient(t, superuserConfig())
	password := newPassword(t, c)
	req := newRequest(newDatabase("metrics"), "metrics_counted", password)
	missing := newRequest(newDatabase("metrics-missing"), "metrics_missing", password)

	step(t, "Observe", func() error { _, err := c.Observe(t.Context(), req); return err },
		map[string]float64{"select_setting/success": 1, "select_database/success": 1})
	step(t, "Create", func() error { _, err := c.Create(t.Context(), req); return err },
		map[string]float64{"create_role/success": 1, "create_database/success": 1, "begin/success": 1, "commit/success": 1})
	step(t, "Update of a missing database", func() error {
		if _, err := c.Update(t.Context(), missing); err == nil {
			return errors.New("Update of a missing database succeeded")
		}
		return nil
	}, map[string]float64{"alter_database/not_found": 1})
	step(t, "Delete", func() error { _, err := c.Delete(t.Context(), req); return err },
		map[string]float64{"drop_database/success": 1, "drop_role/success": 1})
	// Update made the missing database's owner role before it failed.
	step(t, "Delete of the missing database", func() error { _, err := c.Delete(t.Context(), missing); return err },
		map[string]float64{"drop_database/success": 1, "drop_role/success": 1})
}
