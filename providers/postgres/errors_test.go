package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratus-operator/stratus/providers/driver"
)

func TestClassify(t *testing.T) {
	pgErr := func(code string) error {
		// As pgx returns them: wrapped on the way.
		return fmt.Errorf("query: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: "message " + code})
	}
	type kind string
	const (
		plain     kind = "plain"
		throttled kind = "throttled"
		badCreds  kind = "bad credentials"
		terminal  kind = "terminal"
	)
	kindOf := func(err error) kind {
		switch {
		case driver.IsThrottled(err):
			return throttled
		case driver.IsBadCredentials(err):
			return badCreds
		case driver.IsTerminal(err):
			return terminal
		}
		return plain
	}
	tests := []struct {
		reason    string
		err       error
		privilege string
		want      kind
		wantMsg   string
	}{
		{reason: "The server has no connection slot left.", err: pgErr("53300"), want: throttled},
		{reason: "The server is starting or stopping.", err: pgErr("57P03"), want: throttled},
		{reason: "A wrong password.", err: pgErr("28P01"), want: badCreds},
		{reason: "No pg_hba.conf entry, or an unknown role.", err: pgErr("28000"), want: badCreds},
		{reason: "A missing privilege is named.", err: pgErr("42501"), privilege: "the CREATEROLE privilege", want: terminal, wantMsg: "lacks the CREATEROLE privilege"},
		{reason: "A missing privilege that is not known.", err: pgErr("42501"), want: terminal, wantMsg: "message 42501"},
		{reason: "Other SQL errors are retried.", err: pgErr("40001"), want: plain},
		{reason: "So are network errors.", err: errors.New("connection reset by peer"), want: plain},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			got := classify(tt.err, "cannot do it", tt.privilege)
			if k := kindOf(got); k != tt.want {
				t.Errorf("%s\nclassify(...) = %v, %s; want %s", tt.reason, got, k, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("%s\nclassify(...) does not wrap the error", tt.reason)
			}
			if !strings.HasPrefix(got.Error(), "cannot do it: ") || !strings.Contains(got.Error(), tt.wantMsg) {
				t.Errorf("%s\nclassify(...) = %q; want it to start with the action and contain %q", tt.reason, got, tt.wantMsg)
			}
		})
	}
}
